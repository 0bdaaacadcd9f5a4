"""How much data and which peak rate the Quick recipe needs: its final test accuracy over seeds.

    python -m benchmarks.quick_sizes [--images 18000 20000 22000] [--lr 5e-3 7e-3 1e-2]
                                     [--batch 64] [--seeds 0 1 2] [--dtype float32] [--json]

Quick is one epoch with a one-cycle schedule; what a lesson can afford is one epoch of as few
images as still reach 98% on all 10,000 test images, for every seed, not only the lucky one.
Each combination trains the tutorial's network in-process (`cnn_demo.training.train.fit`, as the Train
page's worker does) and prints its accuracy per seed, the worst of them and the mean seconds.
`--dtype float32` trains as an AVX2-only CPU does (bf16 is slower there, and the calibration
keeps fp32); `--dtype auto` uses this machine's calibrated settings. The seconds are this
machine's; the accuracies are what a slower CPU gets too, only later.
"""

import argparse
import itertools
import json
import time

from cnn_demo.storage.data import load_mnist
from cnn_demo.training.calibrate import Settings, settings
from cnn_demo.training.device import use_threads
from cnn_demo.training.train import Epoch, TrainConfig, fit, networks


def final_accuracy(config: TrainConfig, sets, tuned: Settings) -> tuple[float, float]:
    """One run of `config`: (accuracy on the whole test set after the last epoch, seconds)."""
    start, accuracy = time.perf_counter(), None
    for event in fit(networks(config)[0], config, *sets, tuned=tuned):
        if isinstance(event, Epoch):
            accuracy = event.accuracies[0]
    return accuracy, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.quick_sizes", description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, nargs="+", default=[18_000, 20_000, 22_000])
    p.add_argument("--lr", type=float, nargs="+", default=[5e-3, 7e-3, 1e-2], help="the one-cycle schedule's peak")
    p.add_argument("--batch", type=int, nargs="+", default=[64])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--dtype", choices=["float32", "auto"], default="float32")
    p.add_argument("--json", action="store_true", help="end with one JSON line")
    args = p.parse_args(argv)
    tuned = settings("cpu")
    if args.dtype == "float32":
        tuned = Settings(channels_last=tuned.channels_last, dtype="float32", threads=tuned.threads)
    use_threads(tuned.threads)
    sets = load_mnist("train"), load_mnist("test")
    rows = []
    print(f"{tuned.describe()}; accuracy on all 10,000 test images after one epoch of Quick")
    for images, lr, batch in itertools.product(args.images, args.lr, args.batch):
        runs = []
        for seed in args.seeds:
            config = TrainConfig.from_recipe("quick", train_images=images, lr=lr, batch_size=batch, seed=seed)
            runs.append(final_accuracy(config, sets, tuned))
        accuracies = [round(100 * a, 2) for a, _ in runs]
        row = {
            "images": images,
            "lr": lr,
            "batch": batch,
            "accuracies": accuracies,
            "worst": min(accuracies),
            "seconds": round(sum(s for _, s in runs) / len(runs), 1),
        }
        rows.append(row)
        shown = ", ".join(f"{a:.2f}" for a in accuracies)
        print(
            f"{images:6d} images  lr {lr:g}  batch {batch:4d}: {shown}% (worst {row['worst']:.2f}%), {row['seconds']} s"
        )
    if args.json:
        print(json.dumps({"settings": tuned.describe(), "seeds": args.seeds, "runs": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
