"""What each channel looks for: ask the network to draw it, and find the test images it likes most.

`unit_pictures(model, "conv2")` starts from a grey 28 x 28 image per channel and changes its
pixels by gradient ascent until that channel's output at the centre of its map is as high as it
can be (feature
visualisation, as in Distill's "Feature Visualization"). Every channel of a stage is one image of
ONE batch: image n is pushed to make channel n fire, and since no layer mixes the images of a
batch, the N ascents are independent but share every matrix multiply.

The regularisers that keep a picture readable, not a pattern of noise:
  - jitter (hidden units and outputs): the image is shifted by a random pixel or two before each
    step, so a stroke must work wherever it lands, not only at one exact position;
  - a total-variation penalty: neighbouring pixels are kept alike (no high-frequency speckle);
  - the pixels clamped to [0, 1], the range of the images the network learned from.

A unit is a conv channel ("conv1".., its value at the centre of its map, before the
activation: its mean over the map made conv1's pictures flat black or white blocks, since a 5 x 5
filter averaged over a whole image asks only for more or less ink; at one position it draws the
edge or stroke it looks for, within its receptive field), a hidden
unit ("hidden", before its ReLU) or an output ("logits": "what the network thinks a perfect 3
is"). `top_images` ranks the given images by the same number.
"""

from collections.abc import Callable

import numpy as np
import torch

from cnn_demo.inside.ablation import BATCH, as_inputs
from cnn_demo.network.model import CLASSES, Net, conv_layers
from cnn_demo.training.device import CPU_CORES, threads

STEPS = 160  # of Adam; the pictures change little after ~120
LEARNING_RATE = 0.05  # per step, in pixel values (0..1)
JITTER = 2  # pixels, at most, each way
TV_WEIGHT = 0.05  # of the total-variation penalty, against the unit's mean output
STILL_STEPS = 20  # the last steps without jitter: the picture is then best exactly where it is


def unit_names(model: Net) -> list[str]:
    """What can be drawn: each conv stage's name, then "hidden" and "logits"."""
    return [*conv_layers(model), "hidden", "logits"]


def unit_count(model: Net, unit: str) -> int:
    convs = conv_layers(model)
    if unit in convs:
        return model.layer[convs[unit]].out_channels
    if unit == "hidden":
        return model.spec.hidden
    if unit == "logits":
        return CLASSES
    raise ValueError(f"{unit} is none of this network's units ({', '.join(unit_names(model))})")


def unit_values(model: Net, unit: str, x: torch.Tensor) -> torch.Tensor:
    """x: (B, 1, 28, 28) -> (B, N): each unit's value, a conv channel's at the centre of its map."""
    convs = conv_layers(model)
    if unit in convs:
        maps = model.layer[: convs[unit] + 1](x)  # (B, C, H, W)
        return maps[:, :, maps.shape[2] // 2, maps.shape[3] // 2]  # (B, C): the centre position
    flat = model.layer(x).flatten(1)  # (B, C·H·W), or (B, 784) for a fully connected net
    if unit == "hidden":
        return model.fc_layer[0](flat)  # (B, hidden), before the ReLU: its gradient never stops at 0
    if unit == "logits":
        return model.fc_layer(flat)  # (B, 10)
    raise ValueError(f"{unit} is none of this network's units ({', '.join(unit_names(model))})")


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) -> (B,): the mean absolute difference between neighbouring pixels."""
    across = (x[..., :, 1:] - x[..., :, :-1]).abs().mean(dim=(1, 2, 3))
    down = (x[..., 1:, :] - x[..., :-1, :]).abs().mean(dim=(1, 2, 3))
    return across + down


def unit_pictures(
    model: Net,
    unit: str,
    steps: int = STEPS,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """(N, 28, 28) float32 in [0, 1]: picture n makes unit n of `unit` fire as strongly as this
    ascent can. progress(done, steps) every tenth step. The model is only read: its parameters'
    gradients are never computed (requires_grad is not touched; the ascent asks torch.autograd
    for the input's gradient alone)."""
    count = unit_count(model, unit)
    # A conv channel is asked at one position: shifting the picture would only smear its stroke
    # over the patch it sees. The hidden units and outputs see the whole image: jitter keeps their
    # pictures from being a pattern that works at one exact place only.
    jitter = unit not in conv_layers(model)
    generator = torch.Generator().manual_seed(seed)
    x = (0.5 + 0.01 * torch.randn(count, 1, 28, 28, generator=generator)).requires_grad_()  # grey, a little noise
    optimiser = torch.optim.Adam([x], lr=LEARNING_RATE)
    pick = torch.arange(count)
    with threads(CPU_CORES):
        for step in range(steps):
            if jitter and step < steps - STILL_STEPS:
                dy, dx = torch.randint(-JITTER, JITTER + 1, (2,), generator=generator).tolist()
                seen = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
            else:
                seen = x
            own = unit_values(model, unit, seen)[pick, pick]  # (N,): image n's unit n
            loss = -(own - TV_WEIGHT * own.detach().abs().clamp(min=1) * total_variation(x)).sum()
            (grad,) = torch.autograd.grad(loss, x)  # only the input's: the shared model is left alone
            optimiser.zero_grad(set_to_none=True)
            x.grad = grad
            optimiser.step()
            with torch.no_grad():
                x.clamp_(0, 1)
            if progress is not None and ((step + 1) % 10 == 0 or step + 1 == steps):
                progress(step + 1, steps)
    return x.detach()[:, 0].numpy().astype(np.float32)


@torch.inference_mode()
def unit_activations(model: Net, unit: str, images: torch.Tensor) -> np.ndarray:
    """(N_images, N_units): each unit's value (as unit_pictures maximises it) for each image,
    uint8 (N, 28, 28) or float images in [0, 1]."""
    x = as_inputs(images)
    with threads(CPU_CORES):
        return torch.cat([unit_values(model, unit, x[i : i + BATCH]) for i in range(0, len(x), BATCH)]).numpy()


def top_images(model: Net, unit: str, images: torch.Tensor, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """For each unit, the k images (indices into `images`) that make it fire most, strongest first,
    and their values: two (N_units, k) arrays."""
    values = unit_activations(model, unit, images).T  # (N_units, N_images)
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(values, order, axis=1)


@torch.inference_mode()
def picture_values(model: Net, unit: str, pictures: np.ndarray) -> np.ndarray:
    """(N,) unit n's value for picture n: how strongly each picture makes its own unit fire."""
    values = unit_activations(model, unit, torch.as_tensor(pictures))
    return values[np.arange(len(values)), np.arange(len(values))]
