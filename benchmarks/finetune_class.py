"""The Train page's "Fine-tune on our digits" on a stand-in class: its seconds, and its accuracies
on the class's held-out digits and on MNIST's test set, before and after.

    python -m benchmarks.finetune_class [--digits 500] [--students 25] [--rounds 3] [--plain] [--json]

The class is made by the project's own drawing generator (`cnn_demo.drawings.drawn`): each
student a random generator of its own (so a hand of its own: size, slant, brush), drawing the
digits 0-9 in turn, each canvas read as the Draw page reads it (`preprocess.canvas_to_mnist`).
The Draw page centres and scales a digit as MNIST's were (fit=True), and the shipped model reads
the generator's digits so made nearly all right: the honest stand-in, with little left to learn.
`--plain` reads each canvas by a plain resize instead (fit=False: the digit as placed and sized on
the canvas, which MNIST never shows), a class whose digits the model reads far worse: whether a
fine-tune learns them shows there. One student in five is held out, by student, as on the page (`ClassDigits.split`). Each round
fine-tunes the shipped model (`checkpoints/default.safetensors`) with the "finetune" recipe, in
this process, through the training worker's own calls (`train.networks`, `train.fit`) and with
this machine's kept calibration, as the app's worker would; rounds differ in the shuffling seed.
Figures are medians over the rounds: `seconds` from the first event (the "before" scoring) to the
last epoch's end, as the class waits for it; `train_seconds` the optimiser steps alone.
"""

import argparse
import json
import statistics
import time

import numpy as np
import torch

from cnn_demo.classroom.digits import ClassDigits
from cnn_demo.drawings.drawn import draw_digit
from cnn_demo.drawings.preprocess import canvas_to_mnist
from cnn_demo.storage import checkpoint
from cnn_demo.storage.data import load_mnist
from cnn_demo.training.calibrate import cpu_model, settings
from cnn_demo.training.device import use_threads
from cnn_demo.training.train import FineTune, History, TrainConfig, fit, networks


def stand_in_class(digits: int, students: int, seed: int = 0, fit: bool = True) -> ClassDigits:
    """digits drawings from `students` students (as even a share each as divides), each student's
    rng its own; images uint8 (N, 28, 28), MNIST-like, as the store keeps them."""
    images, labels, who = [], [], []
    for i in range(digits):
        student = i % students
        rng = np.random.default_rng([seed, student, i // students])
        label = (i // students) % 10
        image = canvas_to_mnist(draw_digit(label, rng).canvas, fit=fit)  # (28, 28) float32 in [0, 1]
        images.append((np.clip(image, 0, 1) * 255).round().astype(np.uint8))
        labels.append(label)
        who.append(f"student{student:02d}")
    return ClassDigits(images=np.stack(images), labels=np.array(labels, np.int64), students=np.array(who))


def one_round(fine: FineTune, config: TrainConfig, sets, tuned, device) -> dict:
    (model,) = networks(config, fine)
    history = History()
    start = time.perf_counter()
    for _ in fit(model, config, *sets, history=history, tuned=tuned, device=device, fine_tune=fine):
        pass
    seconds = time.perf_counter() - start
    meta = history.meta(config, device)["fine_tune"]
    return {
        "seconds": seconds,
        "train_seconds": history.train_seconds,
        "steps": len(history.losses),
        "held_out_before": meta["held_out_accuracy_before"],
        "held_out_after": meta["held_out_accuracy_after"],
        "test_before": meta["test_accuracy_before"],
        "test_after": meta["test_accuracy_after"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.finetune_class", description=__doc__.split("\n")[0])
    p.add_argument("--digits", type=int, default=500, help="the stand-in class's digits")
    p.add_argument("--students", type=int, default=25, help="who drew them (one in five held out)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--model", default=str(checkpoint.DEFAULT), help="the model fine-tuned")
    p.add_argument("--plain", action="store_true", help="read the canvases by a plain resize (fit=False)")
    p.add_argument("--json", action="store_true", help="end with one JSON line")
    args = p.parse_args(argv)

    device = torch.device("cpu")
    tuned = settings(device)  # this machine's kept calibration, as the app's worker reads it
    use_threads(tuned.threads)
    sets = load_mnist("train"), load_mnist("test")
    made = time.perf_counter()
    digits = stand_in_class(args.digits, args.students, fit=not args.plain)
    made = time.perf_counter() - made
    model, _ = checkpoint.load(args.model)
    fine = FineTune.of(model, checkpoint.Path(args.model).stem, digits)
    config = TrainConfig.from_recipe("finetune", device="cpu", net=fine.spec)
    print(f"CPU: {cpu_model()} · {torch.get_num_threads()} threads · {tuned.describe()}")
    print(
        f"stand-in class: {len(digits)} digits from {fine.students} students ({made:.1f} s to draw); "
        f"learns from {len(fine.learn[1])}, holds out {len(fine.held_out[1])} from {fine.held_out_students} students"
    )
    print(f"recipe finetune: {config.train_images} MNIST images + the class's, {config.epochs} epoch, lr {config.lr:g}")
    rounds = []
    for r in range(args.rounds):
        result = one_round(
            fine, TrainConfig.from_recipe("finetune", device="cpu", net=fine.spec, seed=r), sets, tuned, device
        )
        rounds.append(result)
        print(
            f"round {r + 1}: {result['seconds']:.1f} s ({result['train_seconds']:.1f} s of steps, {result['steps']} steps) · "
            f"held-out {100 * result['held_out_before']:.1f}% -> {100 * result['held_out_after']:.1f}% · "
            f"MNIST test {100 * result['test_before']:.2f}% -> {100 * result['test_after']:.2f}%"
        )
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    print(
        f"median of {args.rounds}: {median['seconds']:.1f} s · held-out {100 * median['held_out_before']:.1f}% -> "
        f"{100 * median['held_out_after']:.1f}% · MNIST test {100 * median['test_before']:.2f}% -> "
        f"{100 * median['test_after']:.2f}%"
    )
    if args.json:
        summary = {
            "cpu": cpu_model(),
            "threads": torch.get_num_threads(),
            "settings": tuned.describe(),
            "digits": len(digits),
            "plain": args.plain,
            "students": fine.students,
            "learn_from": len(fine.learn[1]),
            "held_out": len(fine.held_out[1]),
            "recipe": {k: getattr(config, k) for k in ("epochs", "batch_size", "lr", "train_images", "augment")},
            "rounds": rounds,
            "median": median,
        }
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
