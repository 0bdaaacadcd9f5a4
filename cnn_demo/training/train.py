"""Train a network (the tutorial's CNN by default) on MNIST: one loop for the app, the command line and notebooks.

    python -m cnn_demo train                         # the tutorial's recipe, 10 epochs: 98.72% (the tutorial: 98.54%)
    python -m cnn_demo train --recipe best           # this project's recipe: 99.52% (the shipped model)
    python -m cnn_demo train --train-images 3000 --epochs 1 --out quick.safetensors
    python -m cnn_demo train --recipe quick --net fully_connected   # any of model.PRESETS
    python -m cnn_demo train --recipe quick --race fully_connected  # two networks on the same batches
    python -m cnn_demo train --recipe finetune --class-digits class_digits.npz  # the shipped model, further

`fit` is a generator: it yields a `Step` after every optimiser step and an `Epoch` after
every epoch, so a caller can draw a chart, pause (by not asking for the next event) or
stop (by closing the generator) between any two steps. It knows nothing of any UI. Each
event holds one value per network (a race trains several). A loss that is not finite, or
above DIVERGED_LOSS, ends it with `Diverged`, whoever runs it.

Speed: the whole training set sits on the device as one uint8 tensor (60000, 28, 28);
each batch is a slice of a shuffled index, scaled to [0, 1] on the device. The memory
layout and the dtype (bf16 autocast or fp32) are this machine's, measured by
`cnn_demo.training.calibrate`.

While it trains, a fixed held-out slice of the test set (PROBE_IMAGES) is scored every
PROBE_EVERY_S seconds of training, so a short run's accuracy moves on the chart; every
epoch ends with the whole test set, and that is the figure saved.

A fine-tune (`FineTune`, the "finetune" recipe) starts from a saved model's weights, trains on
MNIST mixed with a class's own digits, and scores a held-out part of those digits beside the
test set: before the first step, at every probe and every epoch's end.
"""

import argparse
import importlib.metadata
import json
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cnn_demo.classroom.digits import ClassDigits, ImportRefused
from cnn_demo.inside.hidden_map import pca_points, probe_indices
from cnn_demo.network.model import PRESETS, SEED, Net, NetSpec, build, conv_weights, net_name
from cnn_demo.storage import checkpoint
from cnn_demo.storage.data import DataError, load_mnist
from cnn_demo.training.calibrate import Settings, settings
from cnn_demo.training.device import pick_device, use_threads
from cnn_demo.training.evaluate import accuracy
from cnn_demo.training.jobs import restart_with

# Same model in all; what differs is how it is taught. "quick" and "quick99" are sized for a
# lesson on a laptop CPU (one epoch, a one-cycle schedule, small batches: many steps for
# the time), "seed" is the tutorial's, "best" this project's longest (the shipped model).
# The README's performance table has what each reaches, in how many seconds, on which CPU.
RECIPES = {
    "quick": dict(epochs=1, batch_size=64, lr=5e-3, schedule="onecycle", augment=False, train_images=20_000),
    "quick99": dict(epochs=1, batch_size=128, lr=5e-3, schedule="onecycle", augment=True, train_images=60_000),
    "seed": dict(epochs=10, batch_size=256, lr=2e-4, schedule="constant", augment=False),
    "best": dict(epochs=16, batch_size=128, lr=3e-3, schedule="onecycle", augment=True),
    # Further training of a model that already reads MNIST (FineTune): a few seconds, a small
    # constant lr so that it adjusts what it knows instead of starting again, augmented so that
    # the class's digits, repeated in the mix, are not learned by heart.
    "finetune": dict(epochs=1, batch_size=64, lr=5e-4, schedule="constant", augment=True, train_images=3_000),
}
PROBE_IMAGES = 2_000  # every 5th test image (the set's two halves differ in difficulty); 1/5 of a full evaluation
PROBE_EVERY_S = 4.0  # of training time: with the scoring itself, a point at least every 5 s
FINETUNE_PROBE_EVERY_S = 1.0  # a fine-tune lasts seconds: a point every second, or its chart shows two
DIVERGED_LOSS = 50.0  # cross-entropy of 10 classes starts near ln 10 = 2.3; 50 is a blow-up
CONFIG_LIMITS = {  # (lowest, highest) of each number a TrainConfig takes: what the command line and the app accept
    "epochs": (1, 100),
    "batch_size": (1, 8192),
    "lr": (1e-6, 1.0),
    "train_images": (1, 60_000),
}
MIN_CLASS_DIGITS = 50  # a fine-tune needs this many of the class's digits (and two students, to hold one out)
# The class's digits' share of a fine-tune's training images: a few hundred beside 4,000 MNIST
# images would be one in ten of a batch, and a run of 80 steps would barely see them; repeated
# to about a quarter, each batch has ~16 of them, while the three quarters of MNIST keep the
# network from forgetting what it knew.
CLASS_SHARE = 0.25


@dataclass
class TrainConfig:
    recipe: str = "seed"  # a key of RECIPES; its values override the defaults below
    epochs: int = 10
    batch_size: int = 256  # images per step
    lr: float = 2e-4  # Adam learning rate (the peak, with the one-cycle schedule)
    schedule: str = "constant"  # "constant" or "onecycle"
    augment: bool = False  # random affine jitter of each training batch
    train_images: int = 60_000  # train on the first N of the 60,000
    seed: int = 0  # for the initial weights and the shuffling
    device: str = "auto"  # "auto", "cuda", "mps" or "cpu"
    net: NetSpec = SEED  # the network to train
    race: NetSpec | None = None  # a second network, trained on the same batches in turn

    @classmethod
    def from_recipe(cls, recipe: str = "seed", validate: bool = True, **overrides) -> "TrainConfig":
        """The recipe's values, then the overrides that are not None. validate=False leaves the
        check to whoever runs it (live.RunManager.start checks what the Train page's Start gives it)."""
        if recipe not in RECIPES:
            raise ValueError(f"recipe must be one of {', '.join(RECIPES)}, not {recipe!r}")
        values = {**RECIPES[recipe], **{k: v for k, v in overrides.items() if v is not None}}
        config = cls(recipe=recipe, **values)
        return config.validated() if validate else config

    def validated(self) -> "TrainConfig":
        """Return self, or raise ValueError saying which value is out of range."""
        for name, (low, high) in CONFIG_LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a number, not {value!r}")
            if name != "lr" and value != int(value):
                raise ValueError(f"{name} must be a whole number, not {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low:g} and {high:g}, not {value:g}")
        for spec in (self.net, self.race):
            if spec is not None and not isinstance(spec, NetSpec):
                raise ValueError(f"a network must be a NetSpec, not {type(spec).__name__}")
            if spec is not None:
                spec.check()  # SpecError (a ValueError) naming the stage and the arithmetic
        if self.schedule not in ("constant", "onecycle"):
            raise ValueError(f"schedule must be 'constant' or 'onecycle', not {self.schedule!r}")
        self.epochs, self.batch_size, self.train_images = int(self.epochs), int(self.batch_size), int(self.train_images)
        return self


# What `fit` yields. Every per-network field is a tuple with one value per network, in the
# order of train.specs(config): (1,) for a run of one, (2,) for a race.


@dataclass(frozen=True)
class Step:
    """After every optimiser step."""

    epoch: int  # 1-based
    step: int  # 1-based, counted over the whole run
    total_steps: int  # steps in the whole run
    losses: tuple[float, ...]  # this batch's cross-entropy, per network
    samples_per_s: float  # images per second over the run so far, evaluation excluded


@dataclass(frozen=True)
class Probe:
    """Every PROBE_EVERY_S seconds of training, between two epochs' ends."""

    step: int  # measured after this step (0: before the first, a fine-tune's "before")
    accuracies: tuple[float, ...]  # fraction right of the PROBE_IMAGES held-out test images, per network
    held_out: tuple[float, ...] = ()  # a fine-tune's: fraction right of the class's held-out digits, per network
    whole: bool = False  # accuracies are of the whole test set (step 0: compared with the last epoch's)


@dataclass(frozen=True)
class Epoch:
    """After every epoch: the whole test set."""

    epoch: int  # 1-based
    step: int  # the step it ended on
    accuracies: tuple[float, ...]  # fraction of the test images right, per network
    train_losses: tuple[float, ...]  # mean loss over the epoch's steps, per network
    seconds: float  # since the start of the run, evaluation included
    # per network, the probe images' hidden layer mapped by PCA: (PROBE_IMAGES, 2) float16
    # (hidden_map.pca_points), in the order of hidden_map.probe_indices(len(test set))
    maps: tuple = ()
    held_out: tuple[float, ...] = ()  # a fine-tune's: fraction right of the class's held-out digits, per network


class Diverged(ArithmeticError):
    """How `fit` ends when a step's loss is NaN, infinite or above DIVERGED_LOSS: the learning
    rate is too large. `reason` and `values` are the app's message code and its {values}
    (locales' [run] table); str() is the command line's English."""

    def __init__(self, step: int, loss: float, lr: float):
        super().__init__(step, loss, lr)  # args: pickled and shown whole
        self.step, self.loss, self.lr = step, loss, lr

    @property
    def reason(self) -> str:
        return "diverged_nan" if math.isnan(self.loss) else "diverged"

    @property
    def values(self) -> dict:
        return {"loss": f"{self.loss:.3g}", "step": self.step, "lr": f"{self.lr:g}", "try_lr": f"{self.lr / 10:g}"}

    def __str__(self) -> str:
        v = self.values
        how = "became NaN" if self.reason == "diverged_nan" else f"exploded to {v['loss']}"
        too_large = f"learning rate {v['lr']} is too large, try lr {v['try_lr']}"
        return f"training diverged: the loss {how} at step {v['step']}; {too_large}"


class TooFewDigits(ValueError):
    """A fine-tune asked for with fewer than MIN_CLASS_DIGITS of the class's digits, or with digits
    from one student only (nothing can be held out by student). `values`: the {values} of the
    app's message (locales' [train] finetune_too_few...); str() is the English."""

    def __init__(self, have: int, students: int):
        super().__init__(have, students)
        self.have, self.students = have, students

    @property
    def values(self) -> dict:
        return {
            "have": self.have,
            "need": MIN_CLASS_DIGITS,
            "more": MIN_CLASS_DIGITS - self.have,
            "students": self.students,
        }

    def __str__(self) -> str:
        if self.have < MIN_CLASS_DIGITS:
            more = MIN_CLASS_DIGITS - self.have
            return f"a fine-tune needs at least {MIN_CLASS_DIGITS} of the class's digits: there are {self.have}, {more} more are needed"
        return (
            f"a fine-tune needs digits from at least 2 students (one in five is held out, by student): "
            f"these {self.have} are from {self.students}"
        )


@dataclass(frozen=True)
class FineTune:
    """A fine-tune's start and its class digits. Plain numpy, so that it travels to the training
    process inside live.RunJob, through the pipe the data sets take."""

    source: str  # the start model's name, e.g. "default"
    spec: NetSpec  # its network: the run's config.net
    weights: dict[str, np.ndarray]  # its state dict, on the CPU
    learn: tuple[np.ndarray, np.ndarray]  # the class's digits it trains on: uint8 (N, 28, 28), int64 (N,)
    held_out: tuple[np.ndarray, np.ndarray]  # never trained on, only scored: uint8 (M, 28, 28), int64 (M,)
    students: int  # how many students drew them
    held_out_students: int  # how many of them have all their digits held out

    @classmethod
    def of(cls, model: Net, source: str, digits) -> "FineTune":
        """From a model and the class's digits (classroom.digits.ClassDigits), held out by student
        (ClassDigits.split); TooFewDigits when a fine-tune cannot be measured on them."""
        students = digits.student_count()
        if len(digits) < MIN_CLASS_DIGITS or students < 2:
            raise TooFewDigits(len(digits), students)
        learn, held = digits.split()
        weights = {k: v.detach().cpu().clone().numpy() for k, v in model.state_dict().items()}
        return cls(
            source=source,
            spec=model.spec,
            weights=weights,
            learn=(np.asarray(learn.images, np.uint8), np.asarray(learn.labels, np.int64)),
            held_out=(np.asarray(held.images, np.uint8), np.asarray(held.labels, np.int64)),
            students=students,
            held_out_students=held.student_count(),
        )

    def summary(self) -> dict:
        """What the checkpoint says of it (History.meta)."""
        return {
            "from": self.source,
            "class_digits": len(self.learn[1]),
            "held_out_digits": len(self.held_out[1]),
            "students": self.students,
            "held_out_students": self.held_out_students,
        }


def mixed(
    images: torch.Tensor, labels: torch.Tensor, extra_images: torch.Tensor, extra_labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST's training images (N, 28, 28) with the class's (M, 28, 28) repeated k times, so that
    they are about CLASS_SHARE of the whole: (N + k M, 28, 28) and (N + k M,). fit shuffles them
    together, so every batch holds about that share of them."""
    repeats = max(1, round(CLASS_SHARE * len(images) / ((1 - CLASS_SHARE) * len(extra_images))))
    extra_images = extra_images.to(images.device, images.dtype).repeat(repeats, 1, 1)
    extra_labels = extra_labels.to(labels.device, labels.dtype).repeat(repeats)
    return torch.cat([images, extra_images]), torch.cat([labels, extra_labels])


@dataclass
class History:
    """What a run has done so far; `fit` appends to it and the checkpoint stores it."""

    losses: list[float] = field(default_factory=list)  # every step
    test_accuracy: list[float] = field(default_factory=list)  # every epoch, the whole test set
    probes: list[tuple[int, float]] = field(default_factory=list)  # (step, accuracy on PROBE_IMAGES)
    epoch_steps: list[int] = field(default_factory=list)  # the step each epoch ended on
    train_loss: list[float] = field(default_factory=list)  # every epoch
    filters: list[dict[str, torch.Tensor]] = field(default_factory=list)  # conv kernels, epoch 0..E
    seconds: float = 0.0  # training time, evaluation included
    train_seconds: float = 0.0  # optimiser steps only
    samples: int = 0  # images seen
    # A fine-tune's: where it started (FineTune.summary), the whole test set before the first
    # step, and (step, fraction right of the class's held-out digits) from step 0 on
    fine_tune: dict = field(default_factory=dict)
    start_accuracy: float | None = None
    held_out: list[tuple[int, float]] = field(default_factory=list)

    def meta(self, config: TrainConfig, device: torch.device, stopped: str | None = None) -> dict:
        meta = {
            "model": net_name(config.net),
            "recipe": config.recipe,
            "config": asdict(config),
            "epochs_done": len(self.test_accuracy),
            "test_accuracy": self.test_accuracy[-1] if self.test_accuracy else None,
            "test_accuracy_per_epoch": self.test_accuracy,
            "probe_accuracy": [[step, round(acc, 5)] for step, acc in self.probes],
            "train_loss_per_epoch": self.train_loss,
            "loss_history": [round(x, 5) for x in self.losses],
            "device": str(device),
            "seconds": round(self.seconds, 1),
            "samples_per_s": round(self.samples / self.train_seconds, 1) if self.train_seconds else None,
            "stopped": stopped,
            "versions": {
                "torch": torch.__version__,
                "torchvision": installed_version("torchvision"),
                "python": sys.version.split()[0],
            },
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if self.fine_tune:
            meta["fine_tune"] = {
                **self.fine_tune,
                "test_accuracy_before": self.start_accuracy,
                "test_accuracy_after": meta["test_accuracy"],
                "held_out_accuracy_before": self.held_out[0][1] if self.held_out else None,
                "held_out_accuracy_after": self.held_out[-1][1] if len(self.held_out) > 1 else None,
            }
        return meta


def installed_version(package: str) -> str | None:
    """A package's version as installed (its metadata; no local tag such as "+cu130"), without
    importing it: importing torchvision takes seconds, and every run's first save waited for it."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def augment(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random small affine warps of a batch, on its own device. x: (B, 1, 28, 28) -> same.

    Up to 12 degrees of turn, 10% zoom, 0.15 shear and 2 pixels of shift: digits people
    draw vary this much even after MNIST-style centring.
    """
    b = x.shape[0]
    rand = torch.rand(b, 5, device=x.device, generator=generator) * 2 - 1  # uniform in [-1, 1)
    angle, scale, shear = rand[:, 0] * math.radians(12), 1 + rand[:, 1] * 0.1, rand[:, 2] * 0.15
    shift = rand[:, 3:5] * (2 / 14)  # 2 pixels in grid units (the image spans [-1, 1])
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin + shear, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def fit(
    model: Net | list[Net],
    config: TrainConfig,
    train_set: tuple[torch.Tensor, torch.Tensor],
    test_set: tuple[torch.Tensor, torch.Tensor],
    history: History | list[History] | None = None,
    tuned: Settings | None = None,
    device: torch.device | None = None,
    fine_tune: FineTune | None = None,
) -> Iterator[Step | Probe | Epoch]:
    """Train `model` in place, yielding a Step per batch, a Probe every PROBE_EVERY_S seconds of
    training and an Epoch per epoch; raises Diverged when a step's loss blows up (after yielding
    that step). `tuned`: layout and dtype, by default this machine's calibrated ones.
    `device`: where to train, already resolved by the caller; by default pick_device(config.device).

    A race: `model` a list of networks and `history` a list of Histories, one each. Every batch
    (shuffled and augmented once) is given to each network in turn, each with its own optimiser
    and schedule of the same recipe. Every event holds one value per network, in order.

    A fine-tune (`fine_tune`; the models already hold its weights: networks(config, fine_tune)):
    its class digits to learn from are mixed into the training images (`mixed`), and its held-out
    digits are only ever scored: before the first step (a Probe at step 0, with the whole test
    set), at every probe and at every epoch's end, in each event's `held_out`."""
    models = [model] if isinstance(model, torch.nn.Module) else list(model)
    if history is None:
        history = [History() for _ in models]
    histories = [history] if isinstance(history, History) else list(history)
    if len(histories) != len(models):
        raise ValueError(f"{len(models)} networks need {len(models)} histories, not {len(histories)}")
    device = pick_device(config.device) if device is None else device
    tuned = tuned or settings(device)
    amp, layout = tuned.autocast, tuned.memory_format
    generator = torch.Generator(device=device).manual_seed(config.seed)

    images, labels = train_set
    images, labels = images[: config.train_images].to(device), labels[: config.train_images].to(device)
    probe_every_s = PROBE_EVERY_S
    if fine_tune is not None:
        images, labels = mixed(images, labels, *(torch.as_tensor(a) for a in fine_tune.learn))
        held_images, held_labels = (torch.as_tensor(a).to(device) for a in fine_tune.held_out)
        probe_every_s = FINETUNE_PROBE_EVERY_S

    def score_held_out() -> tuple[float, ...]:  # () unless a fine-tune
        if fine_tune is None:
            return ()
        return tuple(accuracy(net, held_images, held_labels.to(torch.int64), autocast=amp) for net in models)

    test_images, test_labels = test_set[0].to(device), test_set[1].to(device)
    probe = torch.as_tensor(probe_indices(len(test_images), PROBE_IMAGES), device=device)
    probe_images, probe_labels = test_images[probe], test_labels[probe]
    n = len(images)
    steps_per_epoch = math.ceil(n / config.batch_size)  # the short last batch is kept
    total_steps = steps_per_epoch * config.epochs

    optimizers, schedules = [], []
    for net, hist in zip(models, histories):
        net.to(device, memory_format=layout).train()
        optimizers.append(torch.optim.Adam(net.parameters(), lr=config.lr))
        schedules.append(
            # At least 8 steps in the cycle: with 4 its warm-up ends at step 0 and OneCycleLR
            # divides by zero (a run of 256 images in batches of 64); a shorter run stops part-way.
            torch.optim.lr_scheduler.OneCycleLR(
                optimizers[-1], max_lr=config.lr, total_steps=max(total_steps, 8), pct_start=0.25
            )
            if config.schedule == "onecycle"
            else None
        )
        hist.filters.append({k: v.cpu().clone() for k, v in conv_weights(net).items()})
    lanes = list(zip(models, optimizers, schedules, histories))

    start = time.perf_counter()
    step, trained_since_probe, run_seconds = 0, 0.0, histories[0].train_seconds
    if fine_tune is not None:  # "before": the start model on the whole test set and on the held-out digits
        accuracies, held = (
            tuple(accuracy(net, test_images, test_labels, autocast=amp) for net in models),
            score_held_out(),
        )
        for hist, test_now, held_now in zip(histories, accuracies, held):
            hist.fine_tune, hist.start_accuracy = fine_tune.summary(), test_now
            hist.held_out.append((0, held_now))
        yield Probe(0, accuracies, held, whole=True)
    for epoch in range(1, config.epochs + 1):
        for net in models:
            net.train()
        order = torch.randperm(n, device=device, generator=generator)
        epoch_losses = [[] for _ in models]
        for i in range(0, n, config.batch_size):
            t0 = time.perf_counter()
            idx = order[i : i + config.batch_size]
            x = images[idx].unsqueeze(1).float().div_(255)  # (B, 1, 28, 28) in [0, 1]
            if config.augment:
                x = augment(x, generator)
            x = x.contiguous(memory_format=layout)
            y = labels[idx]
            batch_seconds = time.perf_counter() - t0  # counted in each network's time: each needs the batch
            step += 1
            losses = []
            for (net, optimizer, schedule, hist), lane_losses in zip(lanes, epoch_losses):
                t1 = time.perf_counter()
                with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                    loss = F.cross_entropy(net(x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if schedule is not None:
                    schedule.step()
                loss_value = loss.item()  # one sync per step; the chart needs every loss
                seconds = time.perf_counter() - t1
                hist.train_seconds += batch_seconds + seconds
                hist.samples += len(idx)
                hist.losses.append(loss_value)
                lane_losses.append(loss_value)
                losses.append(loss_value)
                run_seconds += seconds
                trained_since_probe += seconds
            run_seconds += batch_seconds
            trained_since_probe += batch_seconds
            samples_per_s = histories[0].samples / run_seconds  # images through the whole race per second
            yield Step(epoch, step, total_steps, tuple(losses), samples_per_s)  # the chart shows a blow-up too
            worst = max(losses, key=lambda x: math.inf if math.isnan(x) else x)  # NaN counts as the worst
            if not math.isfinite(worst) or worst > DIVERGED_LOSS:
                raise Diverged(step, worst, config.lr)
            last_of_epoch = i + config.batch_size >= n  # the whole test set comes next anyway
            if trained_since_probe >= probe_every_s and not last_of_epoch:
                accuracies = []
                for net, hist in zip(models, histories):
                    accuracies.append(accuracy(net, probe_images, probe_labels, autocast=amp))  # keeps train mode
                    hist.probes.append((step, accuracies[-1]))
                held = score_held_out()
                for hist, held_now in zip(histories, held):
                    hist.held_out.append((step, held_now))
                trained_since_probe = 0.0
                yield Probe(step, tuple(accuracies), held)
        accuracies, maps = [], []
        for net, hist, lane_losses in zip(models, histories, epoch_losses):
            accuracies.append(accuracy(net, test_images, test_labels, autocast=amp))
            maps.append(pca_points(net, probe_images, autocast=amp))  # the clouds, as they stand now
            hist.test_accuracy.append(accuracies[-1])
            hist.epoch_steps.append(step)
            hist.train_loss.append(sum(lane_losses) / len(lane_losses))
            hist.filters.append({k: v.cpu().clone() for k, v in conv_weights(net).items()})
            hist.seconds = time.perf_counter() - start
        held = score_held_out()
        for hist, held_now in zip(histories, held):
            hist.held_out.append((step, held_now))
            hist.seconds = time.perf_counter() - start
        trained_since_probe = 0.0
        train_losses = tuple(hist.train_loss[-1] for hist in histories)
        yield Epoch(epoch, step, tuple(accuracies), train_losses, histories[0].seconds, tuple(maps), held)
    for net in models:
        net.eval()


def default_out(config: TrainConfig, spec: NetSpec | None = None, stamp: str | None = None) -> Path:
    """checkpoints/runs/<time>-<recipe>[-<network>].safetensors (the network's name unless the tutorial's)."""
    stamp = stamp or datetime.now().strftime("%Y%m%d-%H%M%S")
    name = net_name(spec or config.net)
    return checkpoint.RUNS_DIR / f"{stamp}-{config.recipe}{'' if name == 'seed' else '-' + name}.safetensors"


def specs(config: TrainConfig) -> list[NetSpec]:
    """The networks a run trains: config.net, then config.race if it is a race."""
    return [config.net] if config.race is None else [config.net, config.race]


def networks(config: TrainConfig, fine_tune: FineTune | None = None) -> list[Net]:
    """The run's networks with fresh weights, made in order after seeding with config.seed: the
    first of a race starts from the weights it would have alone. A fine-tune's one network starts
    from its model's weights instead."""
    torch.manual_seed(config.seed)
    models = [build(spec) for spec in specs(config)]
    if fine_tune is not None:
        if config.race is not None or config.net != fine_tune.spec:
            raise ValueError("a fine-tune trains its own model's network, alone (no race)")
        models[0].load_state_dict({k: torch.as_tensor(v) for k, v in fine_tune.weights.items()})
    return models


def default_outs(config: TrainConfig) -> list[Path]:
    """One checkpoint per network (default_out's names, one time stamp); a network raced against
    its own kind gets "-2" on the second file."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    outs = [default_out(config, spec, stamp) for spec in specs(config)]
    if len(outs) == 2 and outs[0] == outs[1]:
        outs[1] = outs[1].with_name(f"{outs[1].stem}-2{checkpoint.SUFFIX}")
    return outs


def lane_meta(history: History, config: TrainConfig, lane: int, outs: list[Path], device, stopped=None) -> dict:
    """A race's network's metadata: its own spec as config.net, the other as config.race, and the
    other's file ("raced_with"). For a run of one network, history.meta as it is."""
    nets = specs(config)
    if len(nets) == 1:
        return history.meta(config, device, stopped)
    other = 1 - lane
    meta = history.meta(replace(config, net=nets[lane], race=nets[other]), device, stopped)
    meta["raced_with"] = outs[other].name
    return meta


def save_networks(
    models: list[Net],
    histories: list[History],
    config: TrainConfig,
    outs: list[Path],
    device: torch.device,
    stopped: str | None = None,
    finals: list[float | None] | None = None,
) -> list[Path | None]:
    """Write each network of a run to its file (atomically: checkpoint.save), with its history and
    its lane's metadata; `stopped` says why a run ended early ("interrupted" while it goes on).
    finals: each network's test accuracy to record, when it is not the last epoch's; a None there
    (NaN weights) keeps that network unsaved. The paths written, None for one not saved.
    The models stay where they train: checkpoint.save copies the weights to the CPU."""
    saved = []
    for lane, (model, history, out) in enumerate(zip(models, histories, outs)):
        meta = lane_meta(history, config, lane, outs, device, stopped)
        if finals is not None:
            if finals[lane] is None:
                saved.append(None)
                continue
            meta["test_accuracy"] = finals[lane]
            if "fine_tune" in meta:
                meta["fine_tune"]["test_accuracy_after"] = finals[lane]
        saved.append(checkpoint.save(model, out, meta, history.filters))
    return saved


def parse_net(text: str, option: str = "--net") -> NetSpec:
    """A preset's name, a NetSpec as JSON, or the path of a .json file holding one; a
    ValueError (SpecError) that says what is wrong otherwise."""
    if text in PRESETS:
        return PRESETS[text].spec
    source = text
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if path.suffix != ".json" or not path.is_file():
            raise ValueError(f"{option}: {text!r} is not a preset ({', '.join(PRESETS)}), a JSON spec or a .json file")
        source = path.read_text()
    try:
        data = json.loads(source)
    except ValueError as e:
        raise ValueError(f"{option}: not valid JSON ({e})") from None
    return NetSpec.from_dict(data).check()


def class_fine_tune(start: Path, class_digits: Path) -> FineTune:
    """The command line's fine-tune: the model saved at `start`, further on the class's digits
    exported to `class_digits` (ClassDigits.to_npz), held out by student as on the Train page.
    A ValueError says what is wrong: CheckpointError, TooFewDigits, or the digits' file (unread, or
    refused by ClassDigits.from_npz), named."""
    model, _ = checkpoint.load(start)
    class_digits = Path(class_digits)
    try:
        digits = ClassDigits.from_npz(class_digits.read_bytes())
    except (OSError, ImportRefused) as e:
        raise ValueError(f"{class_digits.name}: {e.strerror if isinstance(e, OSError) else e}") from None
    return FineTune.of(model, Path(start).stem, digits)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m cnn_demo train", description="Train a network on MNIST.")
    p.add_argument(
        "--recipe",
        choices=list(RECIPES),
        default="seed",
        help="quick: 98%% in seconds; quick99: 99%% in under a minute; seed: the tutorial's; best: this project's; "
        "finetune: a saved model (--start) further, on MNIST and a class's digits (--class-digits)",
    )
    p.add_argument(
        "--net",
        default="seed",
        metavar="PRESET|JSON|FILE",
        help="the network: a preset ("
        + ", ".join(PRESETS)
        + '), or a NetSpec as JSON, inline or in a .json file: {"convs": [{"out_channels": 8, "kernel_size": 3}], "hidden": 64}',
    )
    p.add_argument(
        "--race",
        metavar="PRESET|JSON|FILE",
        help="a second network (as --net), trained on the same batches in turn, one step of each; both are saved",
    )
    p.add_argument("--epochs", type=int, help="default: the recipe's (seed 10)")
    p.add_argument("--batch-size", type=int, help="default: the recipe's (seed 256)")
    p.add_argument("--lr", type=float, help="Adam learning rate; default: the recipe's (seed 0.0002)")
    p.add_argument("--train-images", type=int, help="train on the first N training images (default all 60000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cuda, mps or cpu")
    p.add_argument(
        "--out", type=Path, help="checkpoint to write (default checkpoints/runs/<time>-<recipe>.safetensors)"
    )
    p.add_argument("--min-accuracy", type=float, help="exit 1 if the final test accuracy (in %%) is below this")
    p.add_argument(
        "--class-digits",
        type=Path,
        metavar="FILE.npz",
        help="finetune: the class's digits, as the Class page exports them (x_class, y_class, students)",
    )
    p.add_argument(
        "--start",
        type=Path,
        default=checkpoint.DEFAULT,
        metavar="CHECKPOINT",
        help="finetune: the model to train further (default: the shipped one)",
    )
    args = p.parse_args(argv)
    args.fine_tune = None
    if args.recipe == "finetune":
        if args.class_digits is None:
            p.error("--recipe finetune needs --class-digits FILE.npz (the Class page's export of the class's digits)")
        if args.race or args.net != "seed":
            p.error("a fine-tune trains its --start model's own network, alone: no --net or --race")
        try:
            args.fine_tune = class_fine_tune(args.start, args.class_digits)
        except ValueError as e:
            p.error(str(e))
        args.net = args.fine_tune.spec
    elif args.class_digits is not None:
        p.error("--class-digits is for --recipe finetune")
    try:
        args.config = TrainConfig.from_recipe(
            args.recipe,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            train_images=args.train_images,
            seed=args.seed,
            device=args.device,
            net=args.net if args.fine_tune else parse_net(args.net),
            race=parse_net(args.race, "--race") if args.race else None,
        )
        args.torch_device = pick_device(args.device)  # resolved once: an error here for a device this machine lacks
    except ValueError as e:  # SpecError too: it names the stage and the arithmetic
        p.error(str(e))
    if args.out is not None and args.race:
        p.error("--out names one file; a race saves two under checkpoints/runs/")
    return args


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    args = parse_args(argv)
    config, device = args.config, args.torch_device
    tuned = settings(device, measure=True)  # measured the first time on this machine (~20 s)
    restart_with(tuned, device)  # from the command line: again, with the measured OpenMP wait policy
    use_threads(tuned.threads)
    try:
        train_set, test_set = load_mnist("train"), load_mnist("test")
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    fine_tune = args.fine_tune
    models = networks(config, fine_tune)
    histories = [History() for _ in models]
    names = [net_name(spec) for spec in specs(config)]
    described = " against ".join(f"{name} ({spec.describe()})" for name, spec in zip(names, specs(config)))
    print(f"training {described}, recipe {config.recipe}: {asdict(config)} on {device} ({tuned.describe()})")
    if fine_tune is not None:
        summary = fine_tune.summary()
        print(
            f"fine-tuning {args.start} on {summary['class_digits']} of the class's digits; "
            f"{summary['held_out_digits']} held out (the digits of {summary['held_out_students']} "
            f"of {summary['students']} students), only scored"
        )
    bar = tqdm(
        total=math.ceil(min(config.train_images, len(train_set[0])) / config.batch_size) * config.epochs, unit="step"
    )

    def each(values, fmt) -> str:  # "0.1234" alone, "seed 0.1234 · fully_connected 0.2345" in a race
        return fmt(values[0]) if len(values) == 1 else " · ".join(f"{n} {fmt(v)}" for n, v in zip(names, values))

    def held_out(event: Probe | Epoch) -> str:  # a fine-tune's held-out class digits; "" otherwise
        return f", {100 * event.held_out[0]:.1f}% of the held-out class digits" if event.held_out else ""

    stopped = None
    try:
        for event in fit(models, config, train_set, test_set, histories, tuned, device, fine_tune):
            match event:
                case Step():
                    bar.total = event.total_steps  # a fine-tune's class digits make the epoch longer
                    bar.update(1)
                    bar.set_postfix(
                        epoch=f"{event.epoch}/{config.epochs}",
                        loss=each(event.losses, lambda x: f"{x:.4f}"),
                        img_s=f"{event.samples_per_s:.0f}",
                    )
                case Probe():
                    accuracies = each(event.accuracies, lambda a: f"{100 * a:.2f}%")
                    images = "the whole test set" if event.whole else f"{PROBE_IMAGES} test images"
                    bar.write(f"step {event.step}: {accuracies} of {images}{held_out(event)}")
                case Epoch():
                    bar.write(
                        f"epoch {event.epoch}: test accuracy {each(event.accuracies, lambda a: f'{100 * a:.2f}%')}"
                        f"  train loss {each(event.train_losses, lambda x: f'{x:.4f}')}  {event.seconds:.0f}s"
                        + held_out(event)
                    )
    except KeyboardInterrupt:
        stopped = "interrupted"
        bar.write("interrupted: saving what was trained so far")
    except Diverged as e:  # nothing worth keeping: the weights may be NaN already
        bar.close()
        print(f"error: {e}", file=sys.stderr)
        return 1
    bar.close()
    outs = [args.out] if args.out else default_outs(config)
    saved = save_networks(models, histories, config, outs, device, stopped)
    finals = [history.test_accuracy[-1] if history.test_accuracy else float("nan") for history in histories]
    for path, history, final in zip(saved, histories, finals):
        rate = history.samples / max(history.train_seconds, 1e-9)
        print(f"saved {path}  test accuracy {100 * final:.2f}%  {rate:.0f} images/s")
    if fine_tune is not None and histories[0].held_out:
        history = histories[0]
        print(
            f"fine-tune: test set {100 * history.start_accuracy:.2f}% -> {100 * finals[0]:.2f}%, "
            f"held-out class digits {100 * history.held_out[0][1]:.1f}% -> {100 * history.held_out[-1][1]:.1f}%"
        )
    final = finals[0]
    if args.min_accuracy is not None and not (100 * final >= args.min_accuracy):
        print(f"error: test accuracy {100 * final:.2f}% is below --min-accuracy {args.min_accuracy}", file=sys.stderr)
        return 1
    return 0
