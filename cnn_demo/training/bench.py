"""Benchmark: the tutorial's training pipeline against this project's, in one process.

    python -m cnn_demo bench                  # CPU (or the best device), human-readable
    python -m cnn_demo bench --device cuda --json

(a) the tutorial: a torchvision-style dataset turning each image into a PIL image and
    then a tensor with ToTensor, a DataLoader(num_workers=2, shuffle=True), a plain fp32
    step; (b) this project: `cnn_demo.training.train.fit`'s step (the set on the device as one
    tensor; layout, dtype and threads as `cnn_demo.training.calibrate` measured them here). Same
    model, batch size and number of steps; (c) the device's fp32 matrix-multiply rate
    (2048 x 2048), the yardstick for (b): `fraction_of_peak` is (b)'s rate of useful
    floating-point work (cnn_demo.network.arithmetic.training_flop_per_image, 43.05 MFLOP) over it.
Each round measures all three, one after the other; the figures are medians over rounds, and
the ratios are medians of each round's ratio (this machine is shared and noisy). Then the
Draw page's path: preprocess a drawn canvas + predict, p50/p95.
With --json the last line is one JSON object.
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from cnn_demo.network.arithmetic import training_flop_per_image
from cnn_demo.network.model import build
from cnn_demo.storage.data import load_mnist
from cnn_demo.training.calibrate import Settings, cpu_model, settings
from cnn_demo.training.device import pick_device, threads, use_threads
from cnn_demo.training.jobs import restart_with
from cnn_demo.training.train import Step, TrainConfig, fit


class TutorialMNIST(Dataset):
    """What torchvision.datasets.MNIST does per item: uint8 array -> PIL image -> ToTensor."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        from torchvision import transforms

        self.images, self.labels = images.numpy(), labels.numpy()
        self.to_tensor = transforms.ToTensor()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        return self.to_tensor(Image.fromarray(self.images[i], mode="L")), int(self.labels[i])


def tutorial_samples_per_s(train_set, device: torch.device, steps: int, batch_size: int, warmup: int) -> float:
    # The tutorial's own loop, kept on purpose: it is what (a) measures. The project's step is
    # train.fit's (project_samples_per_s), not a copy of it.
    torch.manual_seed(0)
    model = build().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    loader = DataLoader(TutorialMNIST(*train_set), batch_size=batch_size, shuffle=True, num_workers=2, drop_last=True)
    seen, start = 0, None
    batches = iter(loader)
    for i, (x, y) in enumerate(batches):
        if i == warmup:
            _sync(device)
            start, seen = time.perf_counter(), 0
        if i == warmup + steps:
            break
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()  # the tutorial read the loss every step too
        seen += len(x)
    _sync(device)
    rate = seen / (time.perf_counter() - start)
    batches._shutdown_workers()  # now, not when collected: they would take cores from what is timed next
    return rate


def project_samples_per_s(
    train_set, test_set, device: torch.device, steps: int, batch_size: int, warmup: int, tuned: Settings
) -> float:
    torch.manual_seed(0)
    n = (steps + warmup) * batch_size
    config = TrainConfig.from_recipe("seed", epochs=1, batch_size=batch_size, train_images=n, device=str(device))
    seen, start = 0, None
    # A tiny test set: the benchmark times training steps, not the end-of-epoch evaluation.
    events = fit(build(), config, train_set, (test_set[0][:10], test_set[1][:10]), tuned=tuned, device=device)
    for event in events:
        if isinstance(event, Step):
            if event.step == warmup:
                _sync(device)
                start, seen = time.perf_counter(), 0
            elif event.step > warmup:
                seen += batch_size
            if event.step == warmup + steps:
                _sync(device)
                return seen / (time.perf_counter() - start)
    raise RuntimeError("ran out of steps")


def matmul_gflops(device: torch.device, seconds: float = 0.5, n: int = 2048) -> float:
    """The device's fp32 matrix-multiply rate, GFLOP/s: n x n by n x n, repeated for `seconds`."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(2):
        a @ b
    _sync(device)
    start, done = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        a @ b
        done += 1
    _sync(device)
    return 2 * n**3 * done / (time.perf_counter() - start) / 1e9


def predict_ms(repeats: int = 200) -> tuple[float, float] | tuple[None, None]:
    """p50 and p95 of preprocess + forward for a drawn 280x280 canvas, on the CPU."""
    try:
        from cnn_demo.drawings.preprocess import canvas_to_mnist
        from cnn_demo.inside.predict import predict_proba
    except ImportError:  # the Draw page's preprocessing is not there yet
        return None, None
    from cnn_demo.storage import checkpoint

    use_threads(1)  # as the app's page threads answer a drawing
    model = checkpoint.load(checkpoint.DEFAULT)[0] if checkpoint.DEFAULT.exists() else build().eval()
    canvas = _drawn_canvas()
    times = []
    for i in range(repeats + 10):
        t0 = time.perf_counter()
        predict_proba(model, canvas_to_mnist(canvas))
        if i >= 10:
            times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def _drawn_canvas() -> np.ndarray:
    """A 280x280 RGBA canvas with a 7 drawn the way people draw, as the Draw page returns it."""
    from cnn_demo.drawings.drawn import draw_digit

    return draw_digit(7, np.random.default_rng(0)).canvas


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cnn_demo bench", description=__doc__.split("\n")[0])
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--steps", type=int, default=40, help="timed training steps of each pipeline, each round")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--rounds", type=int, default=3, help="rounds of the three measurements; medians are reported")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    args = p.parse_args(argv)
    try:
        device = pick_device(args.device)
    except ValueError as e:
        p.error(str(e))
    tuned = settings(device, measure=True)  # measured the first time on this machine (~20 s)
    restart_with(tuned, device)  # from the command line: again, with the measured OpenMP wait policy
    train_set, test_set = load_mnist("train"), load_mnist("test")
    cpu = cpu_model()
    flop = training_flop_per_image(build())
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu
    print(
        f"{name}: device {device}, torch {torch.__version__}, batch {args.batch_size}, {args.steps} steps x {args.rounds} rounds"
    )
    print(f"this project's settings (cnn_demo.training.calibrate): {tuned.describe()}")
    with threads(tuned.threads):  # the first steps of a process are slow (pages faulted in, kernels built)
        project_samples_per_s(train_set, test_set, device, 5, args.batch_size, 1, tuned)
    rounds = []
    for r in range(args.rounds):
        seed = tutorial_samples_per_s(train_set, device, args.steps, args.batch_size, args.warmup)
        with threads(tuned.threads):
            ours = project_samples_per_s(train_set, test_set, device, args.steps, args.batch_size, args.warmup, tuned)
            peak = matmul_gflops(device)
        rounds.append({"seed": seed, "ours": ours, "peak": peak})
        print(
            f"round {r + 1}: tutorial {seed:6.0f} images/s, this project {ours:6.0f} images/s, "
            f"matmul {peak:5.1f} GFLOP/s, step at {ours * flop / 1e9 / peak:.0%} of it"
        )
    median = lambda f: statistics.median(f(x) for x in rounds)
    seed, ours, peak = median(lambda x: x["seed"]), median(lambda x: x["ours"]), median(lambda x: x["peak"])
    speedup = median(lambda x: x["ours"] / x["seed"])
    fraction = median(lambda x: x["ours"] * flop / 1e9 / x["peak"])
    print(f"tutorial pipeline (PIL + ToTensor, DataLoader, fp32): {seed:9.0f} images/s")
    print(f"this project (tensors on device, {tuned.describe()}): {ours:9.0f} images/s")
    print(f"speedup: {speedup:.2f}x   (an epoch of 60,000 images: {60000 / ours:.1f} s)")
    print(f"fp32 matmul {peak:.1f} GFLOP/s; the step does {ours * flop / 1e9:.1f} GFLOP/s of it: {fraction:.0%}")
    p50, p95 = predict_ms()
    if p50 is not None:
        print(f"drawn digit, preprocess + predict: p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    if args.json:
        print(
            json.dumps(
                {
                    "device": str(device),
                    "cpu": cpu,
                    "device_name": name,
                    "isa": f"{torch.backends.cpu.get_cpu_capability()}/{os.environ.get('ONEDNN_MAX_CPU_ISA', 'native')}",
                    "settings": tuned.describe(),
                    "rounds": args.rounds,
                    "seed_samples_per_s": round(seed, 1),
                    "samples_per_s": round(ours, 1),
                    "speedup": round(speedup, 3),
                    "epoch_s": round(60000 / ours, 2),
                    "flop_per_image": flop,
                    "peak_gflops": round(peak, 1),
                    "fraction_of_peak": round(fraction, 3),
                    "predict_ms_p50": None if p50 is None else round(p50, 3),
                    "predict_ms_p95": None if p95 is None else round(p95, 3),
                }
            )
        )
    return 0
