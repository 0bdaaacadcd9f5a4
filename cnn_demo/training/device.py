"""Which device to train and predict on: CUDA when present, then Apple MPS, then the CPU,
and how many CPU threads each kind of work uses. (Whether to use bf16 is measured, not read
from the device: cnn_demo.training.calibrate, which imports this module.)"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

# All the cores this process may use; a training run takes them all.
CPU_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def use_threads(n: int) -> None:
    """Set the calling thread's number of intra-op threads (OpenMP's setting is per thread,
    so a training run in another thread or process keeps its own).

    One image is ~1 ms of work, too little to split: with two threads on a busy 2-core
    machine, each parallel region waits at a barrier for the second thread to be scheduled
    on a core the training run holds, and the app measured 100-200 ms spikes per call
    (2-4 ms on one thread). So the app's page
    threads answer single images on one thread, and the training worker takes every core.
    """
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


@contextmanager
def threads(n: int) -> Iterator[None]:
    """Run the block on n intra-op threads of the calling thread, then restore its count.

    with threads(1): ...          # one image: see use_threads
    with threads(CPU_CORES): ...  # a batched pass over thousands of images is worth sharing
    """
    before = torch.get_num_threads()
    use_threads(n)
    try:
        yield
    finally:
        use_threads(before)


def available_devices() -> list[str]:
    """The devices this machine has, best first, e.g. ["cuda", "cpu"]."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    return found + ["cpu"]


def pick_device(name: str = "auto") -> torch.device:
    """ "auto" takes the best device; anything else must be one this machine has."""
    if name == "auto":
        return torch.device(available_devices()[0])
    if name.split(":")[0] not in available_devices():
        raise ValueError(f"device {name!r} is not available here; this machine has {', '.join(available_devices())}")
    return torch.device(name)
