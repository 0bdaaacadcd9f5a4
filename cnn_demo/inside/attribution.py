"""Where the model looks for one image: gradients of a class logit, as (28, 28) maps in [0, 1].

    saliency(model, image28, target)          # |d logit / d pixel|
    grad_cam(model, image28, target, "relu2")  # Grad-CAM on a conv stage, placed on the input
    cam_stages(model)                          # the stages Grad-CAM can use: each conv stage's activation

A fully connected network has no maps with places in them, so no Grad-CAM: only saliency.

The model is shared by every browser session: gradients are taken with torch.autograd.grad
w.r.t. the input or an activation, so no .grad is ever left on its parameters.
"""

import numpy as np
import torch
import torch.nn.functional as F

from cnn_demo.inside.features import as_input, capture, chains
from cnn_demo.network.arithmetic import stage_geometry
from cnn_demo.network.model import Net
from cnn_demo.training.device import threads


def saliency(model: Net, image28: np.ndarray | torch.Tensor, target: int | None = None) -> np.ndarray:
    """|d logit[target] / d input|, scaled to [0, 1]: (28, 28). target None = the predicted class."""
    x = as_input(image28).requires_grad_(True)
    with threads(1), torch.enable_grad():  # one image: see device.use_threads
        logits = model(x)[0]  # (10,)
        target = int(logits.argmax()) if target is None else int(target)
        (grad,) = torch.autograd.grad(logits[target], x)
    s = grad[0, 0].abs()
    peak = s.max()
    return (s / peak if peak > 0 else s).numpy()


def cam_stages(model: Net) -> list[str]:
    """Each conv stage's activation, in data order: relu1 relu2 relu3 for the tutorial's, [] without convs."""
    return [chain.activation for chain in chains(model)]


def grad_cam(
    model: Net, image28: np.ndarray | torch.Tensor, target: int | None = None, stage: str | None = None
) -> np.ndarray:
    """Grad-CAM on a conv stage, placed on the 28 x 28 input, scaled to [0, 1].

    Each channel of the stage's map (C, H, W) is weighted by the mean gradient of the class
    logit over its positions; the weighted sum, kept where positive, says which parts of
    the map argue for the class. stage None is the last conv stage's activation (relu3 for
    the tutorial's): the most class-specific maps, but the coarsest grid, 6 x 6 units each
    seeing 18 x 18 pixels, so blobs that cover half the digit; relu2's 20 x 20 units see
    9 x 9 pixels and follow the strokes. A fully connected net has no such maps: ValueError.
    The map is placed by the receptive-field geometry (relu2 unit i is centred on image
    coordinate 4.5 + i), not stretched over the whole image; beyond the outermost units
    the nearest one's value is kept.
    """
    geometry = stage_geometry(model)
    if not geometry:
        raise ValueError("a fully connected network has no conv maps for Grad-CAM: use saliency")
    stage = cam_stages(model)[-1] if stage is None else stage
    if stage not in geometry:
        raise ValueError(f"grad_cam needs a conv, activation or pool stage ({', '.join(geometry)}), not {stage!r}")
    geometry = geometry[stage]

    x = as_input(image28)
    with threads(1):  # one image: see device.use_threads
        with torch.enable_grad(), capture(model, [stage], keep_graph=True) as captured:
            logits = model(x)[0]  # (10,)
        target = int(logits.argmax()) if target is None else int(target)
        act = captured[stage]  # (1, C, H, W)
        (grad,) = torch.autograd.grad(logits[target], act)
    weights = grad.mean(dim=(2, 3), keepdim=True)  # (1, C, 1, 1): how much each channel helps
    cam = F.relu((weights * act).sum(1, keepdim=True)).detach()  # (1, 1, H, W)

    # Bilinear resampling at each image pixel's centre, in map-unit coordinates:
    # unit u is centred on image coordinate first_centre + u·jump.
    n = cam.shape[-1]
    units = (torch.arange(28) + 0.5 - geometry.first_centre) / geometry.jump  # (28,)
    g = units / (n - 1) * 2 - 1  # to grid_sample's [-1, 1] with align_corners=True
    grid = torch.stack(torch.meshgrid(g, g, indexing="xy"), -1)[None]  # (1, 28, 28, 2) as (x, y)
    up = F.grid_sample(cam, grid.float(), mode="bilinear", padding_mode="border", align_corners=True)[0, 0]
    peak = up.max()
    return (up / peak if peak > 0 else up).numpy()
