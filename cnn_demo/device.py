"""Which device to train and predict on: CUDA when present, then Apple MPS, then the CPU,
and how many CPU threads each kind of work uses."""

import os

import torch

# All the cores this process may use; a training run takes them all.
CPU_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def use_threads(n: int) -> None:
    """Set the calling thread's number of intra-op threads.

    In the app, page threads answer single images: too little work to share between cores,
    and with more than one thread every layer waits at a barrier for a core the training run
    holds. So pages use one thread, and the training worker sets its own count when it starts.
    """
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


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


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 where the hardware runs it natively (CUDA with bf16, CPUs with AMX or AVX-512 BF16), else None."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if device.type == "cpu":
        # oneDNN reports the ISA it will use; bf16 convolutions are only fast with native bf16.
        isa = str(torch.backends.cpu.get_cpu_capability()).lower()
        flags = _cpu_flags()
        if "amx_bf16" in flags or "avx512_bf16" in flags or "amx" in isa:
            return torch.bfloat16
    return None


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()
