"""Benchmark: the tutorial's training pipeline against this project's, in one process.

    python -m cnn_demo.bench                  # CPU (or the best device), human-readable
    python -m cnn_demo.bench --device cuda --json

(a) the tutorial: a torchvision-style dataset turning each image into a PIL image and
    then a tensor with ToTensor, a DataLoader(num_workers=2, shuffle=True), a plain fp32
    step; (b) this project: `cnn_demo.train.fit`'s step (the set on the device as one
    tensor, channels_last, bf16 autocast where native). Same model, batch size and number
    of steps. Then the Draw page's path: preprocess a drawn canvas + predict, p50/p95.
With --json the last line is one JSON object.
"""

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from cnn_demo.data import load_mnist
from cnn_demo.device import pick_device, use_threads
from cnn_demo.model import SeedCNN
from cnn_demo.train import Step, TrainConfig, fit


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
    torch.manual_seed(0)
    model = SeedCNN().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    loader = DataLoader(TutorialMNIST(*train_set), batch_size=batch_size, shuffle=True, num_workers=2, drop_last=True)
    seen, start = 0, None
    for i, (x, y) in enumerate(loader):
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
    return seen / (time.perf_counter() - start)


def project_samples_per_s(train_set, test_set, device: torch.device, steps: int, batch_size: int, warmup: int) -> float:
    torch.manual_seed(0)
    n = (steps + warmup) * batch_size
    config = TrainConfig.from_recipe("seed", epochs=1, batch_size=batch_size, train_images=n, device=str(device))
    seen, start = 0, None
    # A tiny test set: the benchmark times training steps, not the end-of-epoch evaluation.
    for event in fit(SeedCNN(), config, train_set, (test_set[0][:10], test_set[1][:10])):
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


def predict_ms(repeats: int = 200) -> tuple[float, float] | tuple[None, None]:
    """p50 and p95 of preprocess + forward for a drawn 280x280 canvas, on the CPU."""
    try:
        from cnn_demo.predict import predict_proba
        from cnn_demo.preprocess import canvas_to_mnist
    except ImportError:  # the Draw page's preprocessing is not there yet
        return None, None
    from cnn_demo import checkpoint

    use_threads(1)  # as the app's page threads answer a drawing
    model = checkpoint.load(checkpoint.DEFAULT)[0] if checkpoint.DEFAULT.exists() else SeedCNN().eval()
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
    from cnn_demo.drawn import draw_digit

    return draw_digit(7, np.random.default_rng(0)).canvas


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cnn_demo.bench", description=__doc__.split("\n")[0])
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--steps", type=int, default=40, help="timed training steps of each pipeline")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    args = p.parse_args(argv)
    try:
        device = pick_device(args.device)
    except ValueError as e:
        p.error(str(e))
    train_set, test_set = load_mnist("train"), load_mnist("test")
    print(
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}, {args.steps} steps"
    )
    seed = tutorial_samples_per_s(train_set, device, args.steps, args.batch_size, args.warmup)
    print(f"tutorial pipeline (PIL + ToTensor, DataLoader, fp32): {seed:9.0f} images/s")
    ours = project_samples_per_s(train_set, test_set, device, args.steps, args.batch_size, args.warmup)
    print(f"this project (tensors on device, channels_last, amp): {ours:9.0f} images/s")
    print(f"speedup: {ours / seed:.2f}x   (an epoch of 60,000 images: {60000 / ours:.1f} s)")
    p50, p95 = predict_ms()
    if p50 is not None:
        print(f"drawn digit, preprocess + predict: p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    if args.json:
        print(
            json.dumps(
                {
                    "device": str(device),
                    "seed_samples_per_s": round(seed, 1),
                    "samples_per_s": round(ours, 1),
                    "speedup": round(ours / seed, 3),
                    "epoch_s": round(60000 / ours, 2),
                    "predict_ms_p50": None if p50 is None else round(p50, 3),
                    "predict_ms_p95": None if p95 is None else round(p95, 3),
                }
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
