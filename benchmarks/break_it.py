"""Seconds for Inspect's "Break it" and "What each channel looks for" on this machine, engine only.

    python -m benchmarks.break_it [--json]

With the shipped model (checkpoints/default.safetensors) and the Train page's 2,000 held-out
test images:
  change          one change of the damage: the damaged copy, its accuracy on the 2,000 images
                  (overall and per digit) and the digit in view's probabilities (median of 5
                  different damages; nothing cached, as for a damage nobody asked for before)
  matter_conv3    "which channels matter" for the 64-channel stage: each channel alone off
  pictures_conv3  what each of conv3's 64 channels looks for (one batch of 64 ascents), with
                  the top test images of each
Also the load average: when more processes want the CPU than there are cores, this gets
cores / load of it.
"""

import argparse
import json
import os
import statistics
import time

import torch

from cnn_demo.inside.ablation import Damage, channel_importance, damaged_copy, probe_set, score_of
from cnn_demo.inside.feature_vis import top_images, unit_pictures
from cnn_demo.inside.predict import predict_proba
from cnn_demo.storage import checkpoint
from cnn_demo.storage.data import load_mnist
from cnn_demo.training.device import CPU_CORES

DAMAGES = [
    Damage.make(channels={"conv1": [3]}),
    Damage.make(channels={"conv3": [0, 5, 9]}),
    Damage.make(hidden=[1, 2, 3]),
    Damage.make(noise=0.3),
    Damage.make(biases_off=True),
]


def measure() -> dict:
    model, _ = checkpoint.load(checkpoint.DEFAULT)
    model.eval()
    images, labels = probe_set(*load_mnist("test"))
    digit = images[0].float().div(255).numpy()
    score_of(model, images[:100], labels[:100])  # warm up

    changes = []
    for damage in DAMAGES:
        t0 = time.perf_counter()
        broken = damaged_copy(model, damage)
        score_of(broken, images, labels)
        predict_proba(broken, digit)
        changes.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    channel_importance(model, "conv3", images, labels)
    matter = time.perf_counter() - t0

    t0 = time.perf_counter()
    unit_pictures(model, "conv3")
    top_images(model, "conv3", images)
    pictures = time.perf_counter() - t0
    return {
        "change_s": round(statistics.median(changes), 3),
        "change_max_s": round(max(changes), 3),
        "matter_conv3_s": round(matter, 2),
        "pictures_conv3_s": round(pictures, 2),
        "cores": CPU_CORES,
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    args = parser.parse_args()
    result = measure()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
