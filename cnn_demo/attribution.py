"""Where the model looks for one image: gradients of a class logit, as (28, 28) maps in [0, 1].

    saliency(model, image28, target)          # |d logit / d pixel|
    grad_cam(model, image28, target, "relu2")  # Grad-CAM on a conv stage, placed on the input

The model is shared by every browser session: gradients are taken with torch.autograd.grad
w.r.t. the input or an activation, so no .grad is ever left on its parameters.
"""

import numpy as np
import torch
import torch.nn.functional as F

from cnn_demo.arithmetic import layer_arithmetic
from cnn_demo.device import threads
from cnn_demo.features import as_input, capture
from cnn_demo.model import Net


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


def grad_cam(
    model: Net, image28: np.ndarray | torch.Tensor, target: int | None = None, stage: str = "relu2"
) -> np.ndarray:
    """Grad-CAM on a conv stage, placed on the 28 x 28 input, scaled to [0, 1].

    Each channel of the stage's map (C, H, W) is weighted by the mean gradient of the class
    logit over its positions; the weighted sum, kept where positive, says which parts of
    the map argue for the class. relu2 (32, 20, 20) is the default: its units see 9 x 9
    pixels, so the result follows the strokes, and it is still clearly class-specific
    (everything after it is in the gradient). relu3's 6 x 6 grid, each unit seeing 18 x 18
    of the 28 x 28 pixels, gives blobs that cover half the digit.
    The map is placed by the receptive-field geometry (relu2 unit i is centred on image
    coordinate 4.5 + i), not stretched over the whole image; beyond the outermost units
    the nearest one's value is kept.
    """
    layer = {row.name: row for row in layer_arithmetic(model)}
    conv_name = {"relu1": "conv1", "relu2": "conv2", "relu3": "conv3"}.get(stage, stage)
    if conv_name not in layer:
        raise ValueError(f"grad_cam needs a conv or pool stage, not {stage!r}")
    geometry = layer[conv_name]

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
