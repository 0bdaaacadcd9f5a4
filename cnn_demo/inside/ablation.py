"""Break it: a damaged copy of a network, and what the damage costs in accuracy.

A `Damage` says what is broken (frozen and hashable, so a page can keep it in a session and
cache results by it); `damaged_copy(model, damage)` applies it to a deep copy, never to the
model passed in, which every browser shares. `Damage()` is the intact network ("Restore").

    damage = Damage.make(channels={"conv2": [3, 7]}, noise=0.2)
    broken = damaged_copy(model, damage)
    images, labels = probe_set(*load_mnist("test"))       # the Train page's 2,000 test images
    score_of(broken, images, labels).overall                # 0.97, say, against 0.995 intact
    channel_importance(model, "conv3", images, labels)     # accuracy lost per channel alone off

Switching a conv channel off zeroes its kernel and bias, so the conv's output for that channel
is 0 (and after ReLU still 0); a hidden unit likewise, through its row of the first Linear. Noise
is Gaussian, scaled to each weight tensor's own spread, from a seeded generator: the same damage
gives the same network every time, in every session.
"""

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from cnn_demo.network.model import CLASSES, Net, conv_layers
from cnn_demo.training.device import CPU_CORES, threads
from cnn_demo.training.train import PROBE_IMAGES

BATCH = 1000  # images per forward pass: (1000, 16, 24, 24) floats is 37 MB
# What probe_set returns, named for the pages that pass it on without touching torch
Images = torch.Tensor  # uint8 (N, 28, 28): MNIST images as stored
Labels = torch.Tensor  # int64 (N,): their digits


@dataclass(frozen=True)
class Damage:
    """What is broken. Every field is a tuple or a number, so a Damage is hashable."""

    channels: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (("conv2", (3, 7)), ...): those channels off
    hidden: tuple[int, ...] = ()  # hidden units off
    layer: str | None = None  # "conv2" or "hidden": every channel or unit of that layer off
    noise: float = 0.0  # Gaussian noise on every weight, in units of that tensor's standard deviation
    seed: int = 0  # of the noise
    biases_off: bool = False  # every bias set to 0

    @classmethod
    def make(
        cls,
        channels: Mapping[str, Iterable[int]] | None = None,
        hidden: Iterable[int] = (),
        layer: str | None = None,
        noise: float = 0.0,
        seed: int = 0,
        biases_off: bool = False,
    ) -> "Damage":
        """From plain values (lists, dicts), sorted so that equal damage gives equal Damages."""
        stages = tuple(sorted((name, tuple(sorted({int(c) for c in cs}))) for name, cs in (channels or {}).items()))
        return cls(
            channels=tuple((name, cs) for name, cs in stages if cs),
            hidden=tuple(sorted({int(u) for u in hidden})),
            layer=layer or None,
            noise=float(noise),
            seed=int(seed),
            biases_off=bool(biases_off),
        )

    @property
    def intact(self) -> bool:
        return self == Damage(seed=self.seed)

    def channels_of(self, stage: str) -> tuple[int, ...]:
        return dict(self.channels).get(stage, ())


def check_damage(model: Net, damage: Damage) -> None:
    """A ValueError naming what does not exist in this network (a page's stale choice, say)."""
    convs = conv_layers(model)
    for stage, cs in damage.channels:
        if stage not in convs:
            raise ValueError(f"{stage} is not a conv stage of this network ({', '.join(convs) or 'none'})")
        out = model.layer[convs[stage]].out_channels
        if any(not 0 <= c < out for c in cs):
            raise ValueError(f"{stage} has channels 0 to {out - 1}, not {list(cs)}")
    if any(not 0 <= u < model.spec.hidden for u in damage.hidden):
        raise ValueError(f"the hidden layer has units 0 to {model.spec.hidden - 1}, not {list(damage.hidden)}")
    if damage.layer is not None and damage.layer not in (*convs, "hidden"):
        raise ValueError(f"{damage.layer} is not a layer that can be switched off ({', '.join([*convs, 'hidden'])})")
    if not 0 <= damage.noise <= 10:
        raise ValueError(f"noise must be between 0 and 10 standard deviations, not {damage.noise}")


def damaged_copy(model: Net, damage: Damage) -> Net:
    """A deep copy of `model` with `damage` done to it; `model` itself is never changed. For the
    intact Damage the copy computes exactly what `model` does."""
    check_damage(model, damage)
    broken = copy.deepcopy(model).eval()
    generator = torch.Generator().manual_seed(damage.seed)
    convs = conv_layers(broken)
    first = broken.fc_layer[0]  # Linear(flat -> hidden): its row u makes hidden unit u
    with torch.no_grad():
        if damage.noise > 0:
            for name, p in broken.named_parameters():  # in a fixed order: the same noise every time
                if name.endswith("weight"):
                    spread = p.std() if p.numel() > 1 else p.abs().mean()
                    p.add_(torch.randn(p.shape, generator=generator) * damage.noise * spread)
        if damage.biases_off:
            for name, p in broken.named_parameters():
                if name.endswith("bias"):
                    p.zero_()
        off = dict(damage.channels)
        if damage.layer in convs:
            off[damage.layer] = range(broken.layer[convs[damage.layer]].out_channels)
        for stage, cs in off.items():
            conv = broken.layer[convs[stage]]
            index = torch.as_tensor(list(cs), dtype=torch.long)
            conv.weight[index] = 0  # (C_out, C_in, K, K): the channel's kernels
            conv.bias[index] = 0
        units = range(broken.spec.hidden) if damage.layer == "hidden" else damage.hidden
        index = torch.as_tensor(list(units), dtype=torch.long)
        first.weight[index] = 0  # (hidden, flat)
        first.bias[index] = 0
    return broken


@dataclass(frozen=True)
class Score:
    """Accuracy on a labelled set, overall and for the images of each digit 0..9."""

    overall: float
    per_class: tuple[float, ...]  # 10 values; NaN for a digit with no image in the set


def probe_set(images, labels) -> tuple[Images, Labels]:
    """The held-out images the Train page scores while a model trains: every fifth test image,
    2,000 of MNIST's 10,000 (as cnn_demo.training.train.fit picks them). images uint8
    (N, 28, 28) and labels (N,), tensors or numpy arrays (copied: an app's cached array is
    read-only, and a tensor must not share it)."""
    every = max(1, len(images) // PROBE_IMAGES)
    images, labels = images[::every][:PROBE_IMAGES], labels[::every][:PROBE_IMAGES]
    return tuple(a if isinstance(a, torch.Tensor) else torch.tensor(a) for a in (images, labels))


def as_inputs(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1]; float images are taken as they are."""
    images = torch.as_tensor(images)
    x = images.float().div(255) if images.dtype == torch.uint8 else images.float()
    return x.reshape(-1, 1, 28, 28)


def score_from_predictions(predictions: torch.Tensor, labels: torch.Tensor) -> Score:
    labels = torch.as_tensor(labels)
    right = predictions == labels

    def share(of: torch.Tensor) -> float:  # counted exactly, in float64: no float32 rounding
        return of.sum().item() / len(of) if len(of) else float("nan")

    return Score(share(right), tuple(share(right[labels == c]) for c in range(CLASSES)))


@torch.inference_mode()
def score_of(model: Net, images: torch.Tensor, labels: torch.Tensor) -> Score:
    """The model's accuracy on images (uint8 (N, 28, 28)) with these labels, in batches on every
    core: one pass over 2,000 images is worth sharing between them."""
    x = as_inputs(images)
    with threads(CPU_CORES):
        predictions = torch.cat([model(x[i : i + BATCH]).argmax(1) for i in range(0, len(x), BATCH)])
    return score_from_predictions(predictions, labels)


@torch.inference_mode()
def channel_importance(
    model: Net,
    stage: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """(C,) accuracy lost (intact minus with that channel alone off, 0..1) for each channel of a
    conv stage; progress(done, total) after each channel.

    The layers before the stage's conv are the same for every channel, so its output (N, C, H, W)
    is computed once; each channel then zeroes its own slice of it (what zeroed kernel and bias
    give) and only the rest of the network runs again."""
    convs = conv_layers(model)
    if stage not in convs:
        raise ValueError(f"{stage} is not a conv stage of this network ({', '.join(convs) or 'none'})")
    at = convs[stage]
    head, tail = model.layer[: at + 1], model.layer[at + 1 :]
    x, labels = as_inputs(images), torch.as_tensor(labels)

    def rest(z: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) conv output -> (B,) answers
        return model.fc_layer(tail(z).flatten(1)).argmax(1)

    with threads(CPU_CORES):
        conv_out = torch.cat([head(x[i : i + BATCH]) for i in range(0, len(x), BATCH)])  # (N, C, H, W)
        intact = torch.cat([rest(conv_out[i : i + BATCH]) for i in range(0, len(x), BATCH)])
        base = (intact == labels).sum().item() / len(x)
        count = conv_out.shape[1]
        lost = np.zeros(count)
        for c in range(count):
            right = 0
            for i in range(0, len(x), BATCH):
                z = conv_out[i : i + BATCH].clone()
                z[:, c] = 0
                right += (rest(z) == labels[i : i + BATCH]).sum().item()
            lost[c] = base - right / len(x)
            if progress is not None:
                progress(c + 1, count)
    return lost
