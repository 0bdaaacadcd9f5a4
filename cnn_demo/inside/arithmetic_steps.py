"""The arithmetic behind one value, with the real numbers: where a value of a conv map, a pooled
map, a logit or a probability comes from.

    inputs = layer_input(model, "conv2", image28, maps)       # (16, 24, 24): what conv2 reads
    step = conv_step(model, "conv2", inputs, channel=3, row=5, col=7)
    step.products.sum() + step.bias == step.result == maps["conv2"][3, 5, 7]   # to float rounding
    pool_step(model, "pool1", layer_input(model, "pool1", image28, maps), 0, 2, 2)
    end_step(model, maps["hidden"])            # the 10 logits as sums, then the softmax's numbers
    unit_step(model, image28, unit=4)          # a fully connected net: 784 products as 28 x 28
    positions = window_positions(24, 24)       # the order a window walks an output, row by row
    partial_map(maps["conv1"][0], 30)          # the map after 30 steps, NaN where not yet computed
    slide_kernel(image, kernel, stride, padding)   # the sandbox: one kernel over one picture

Everything reads the model's weights and the maps the caller already has (`feature_maps`): nothing
runs the network again. Sums are taken in float64, so a shown total is the exact sum of the
products shown; the map itself was computed in float32, so the two agree to about 1e-5.
"""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnn_demo.network.model import ACTIVATIONS, Net, output_size, spatial_stages, stage_module


def layer_input(model: Net, layer: str, image28: np.ndarray, maps: dict[str, np.ndarray]) -> np.ndarray:
    """What `layer` (a conv or a pool) reads, (C, H, W): the stage before it in `maps`, or the
    image (1, 28, 28) for the first conv. maps: feature_maps(model, image28)."""
    names = spatial_stages(model)
    i = names.index(layer)
    return np.asarray(maps[names[i - 1]]) if i else np.asarray(image28, dtype=np.float32)[None]


def activation_of(model: Net, conv: str) -> tuple[str, str]:
    """("relu2", "relu") for "conv2": the stage name after the conv and its function."""
    function = model.spec.convs[int(conv.removeprefix("conv")) - 1].activation
    return f"{function}{conv.removeprefix('conv')}", function


def activate(function: str, value: float) -> float:
    """One value through the layer's own activation module (relu, tanh, sigmoid)."""
    return float(ACTIVATIONS[function]()(torch.tensor(value, dtype=torch.float64)))


@dataclass(frozen=True)
class ConvStep:
    """One output value of a conv layer, worked out: channel `channel` at (row, col)."""

    layer: str  # "conv2"
    channel: int
    row: int
    col: int
    kernel: int  # K
    stride: int  # S
    padding: int  # P
    padded: np.ndarray  # (C_in, H + 2P, W + 2P): the input with its zeros around it
    top: int  # the window's top-left in padded coordinates: row·S, col·S
    left: int
    window: np.ndarray  # (C_in, K, K): the values the window reads
    weights: np.ndarray  # (C_in, K, K): the kernel of this output channel
    products: np.ndarray  # (C_in, K, K): window × weights
    channel_sums: np.ndarray  # (C_in,) float64: each input channel's products summed
    total: float  # all products summed
    bias: float
    result: float  # total + bias: the conv map's value (before the activation)
    function: str  # "relu", "tanh" or "sigmoid"
    activated: float  # the value after the activation


def conv_step(model: Net, layer: str, inputs: np.ndarray, channel: int, row: int, col: int) -> ConvStep:
    """The value of `layer`'s map `channel` at (row, col), from its input (C_in, H, W)
    (layer_input) and the layer's weights. IndexError for a position outside the map."""
    conv = stage_module(model, layer)
    k, s, p = conv.kernel_size[0], conv.stride[0], conv.padding[0]
    inputs = np.asarray(inputs, dtype=np.float32)
    out_w = output_size(inputs.shape[2], k, s, p)
    out_h = output_size(inputs.shape[1], k, s, p)
    if not (0 <= channel < conv.out_channels and 0 <= row < out_h and 0 <= col < out_w):
        raise IndexError(f"{layer} has {conv.out_channels} maps of {out_h} x {out_w}: no ({channel}, {row}, {col})")
    padded = np.pad(inputs, ((0, 0), (p, p), (p, p)))  # (C_in, H + 2P, W + 2P), zeros around
    top, left = row * s, col * s
    window = padded[:, top : top + k, left : left + k]  # (C_in, K, K)
    weights = conv.weight.detach()[channel].cpu().numpy()  # (C_in, K, K)
    products = window * weights
    channel_sums = products.astype(np.float64).sum(axis=(1, 2))
    total = float(channel_sums.sum())
    bias = float(conv.bias.detach()[channel])
    _, function = activation_of(model, layer)
    result = total + bias
    return ConvStep(
        layer, channel, row, col, k, s, p, padded, top, left, window.copy(), weights.copy(), products,
        channel_sums, total, bias, result, function, activate(function, result),
    )  # fmt: skip


@dataclass(frozen=True)
class PoolStep:
    """One output value of a pooling layer: the window it reads and what it keeps."""

    layer: str  # "pool1"
    kind: str  # "max" or "avg"
    channel: int
    row: int
    col: int
    kernel: int
    stride: int
    top: int  # the window's top-left in the input map
    left: int
    window: np.ndarray  # (K, K)
    winner: tuple[int, int] | None  # max: the kept value's (row, col) in the window (the first largest, as torch)
    mean: float | None  # avg: the window's mean
    result: float


def pool_step(model: Net, layer: str, inputs: np.ndarray, channel: int, row: int, col: int) -> PoolStep:
    """The value of `layer`'s map `channel` at (row, col), from its input (C, H, W)."""
    pool = stage_module(model, layer)
    kind = "max" if isinstance(pool, nn.MaxPool2d) else "avg"
    k, s = pool.kernel_size, pool.stride  # ints: the model builds pools as Pool(size, stride)
    inputs = np.asarray(inputs, dtype=np.float32)
    out_h, out_w = output_size(inputs.shape[1], k, s), output_size(inputs.shape[2], k, s)
    if not (0 <= channel < inputs.shape[0] and 0 <= row < out_h and 0 <= col < out_w):
        raise IndexError(f"{layer} has {inputs.shape[0]} maps of {out_h} x {out_w}: no ({channel}, {row}, {col})")
    top, left = row * s, col * s
    window = inputs[channel, top : top + k, left : left + k].copy()  # (K, K)
    if kind == "max":
        best = int(window.argmax())
        winner, mean, result = (best // k, best % k), None, float(window.max())
    else:
        winner, mean = None, float(window.astype(np.float64).mean())
        result = mean
    return PoolStep(layer, kind, channel, row, col, k, s, top, left, window, winner, mean, result)


@dataclass(frozen=True)
class EndStep:
    """The last layer and the softmax: each logit a sum of hidden units × weights + bias, then
    exp(logit − largest) over their sum (the largest is taken away so no exp overflows)."""

    hidden: np.ndarray  # (H,) the hidden units, after the ReLU
    weights: np.ndarray  # (10, H)
    products: np.ndarray  # (10, H): hidden × each digit's weights
    sums: np.ndarray  # (10,) float64: products summed per digit
    biases: np.ndarray  # (10,)
    logits: np.ndarray  # (10,) sums + biases
    shifted: np.ndarray  # (10,) logits − logits.max()
    exps: np.ndarray  # (10,) exp(shifted)
    exp_sum: float
    probabilities: np.ndarray  # (10,) exps / exp_sum

    def top_contributions(self, digit: int, n: int = 5) -> np.ndarray:
        """The hidden units whose products move `digit`'s logit most, either way: (n,) indices."""
        return np.argsort(-np.abs(self.products[digit]))[:n]


def end_step(model: Net, hidden: np.ndarray) -> EndStep:
    """hidden: maps["hidden"], (H,) after the ReLU."""
    fc = model.fc_layer[2]
    weights = fc.weight.detach().cpu().numpy()  # (10, H)
    biases = fc.bias.detach().cpu().numpy()
    hidden = np.asarray(hidden, dtype=np.float32)
    products = weights * hidden[None]  # (10, H)
    sums = products.astype(np.float64).sum(axis=1)
    logits = sums + biases
    shifted = logits - logits.max()
    exps = np.exp(shifted)
    exp_sum = float(exps.sum())
    return EndStep(
        hidden, weights.copy(), products, sums, biases.copy(), logits, shifted, exps, exp_sum, exps / exp_sum
    )


@dataclass(frozen=True)
class UnitStep:
    """A fully connected net's hidden unit: its 784 products as a picture, their sum, the bias."""

    unit: int
    weights: np.ndarray  # (28, 28)
    products: np.ndarray  # (28, 28): pixel × weight
    total: float
    bias: float
    result: float  # total + bias, before the ReLU
    activated: float  # after it: maps["hidden"][unit]


def unit_step(model: Net, image28: np.ndarray, unit: int) -> UnitStep:
    """ValueError for a net with convs: its hidden units do not read the pixels."""
    if len(model.layer):
        raise ValueError("only a fully connected net's hidden units read the image's pixels directly")
    fc = model.fc_layer[0]
    weights = fc.weight.detach()[unit].reshape(28, 28).cpu().numpy().copy()
    products = weights * np.asarray(image28, dtype=np.float32)
    total = float(products.astype(np.float64).sum())
    bias = float(fc.bias.detach()[unit])
    return UnitStep(unit, weights, products, total, bias, total + bias, activate("relu", total + bias))


def window_positions(out_h: int, out_w: int) -> list[tuple[int, int]]:
    """The output positions in the order a window walks them: row by row, left to right. The
    window of (row, col) starts at (row·S, col·S) in the padded input."""
    return [(r, c) for r in range(out_h) for c in range(out_w)]


def partial_map(full: np.ndarray, steps: int) -> np.ndarray:
    """A map (H, W) as it is after `steps` window positions: the first `steps` values in walking
    order, NaN for the rest. The values are the map's own: nothing is computed again."""
    flat = np.full(full.size, np.nan, dtype=np.float32)
    n = max(0, min(steps, full.size))
    flat[:n] = np.asarray(full).reshape(-1)[:n]
    return flat.reshape(full.shape)


# The sandbox: the five numbers of a conv layer played with on one picture.


def fits(w: int, k: int, s: int, p: int) -> bool:
    """Whether a K-wide kernel with stride S and padding P steps over W pixels a whole number of
    times: (W − K + 2P) divisible by S, and the kernel no wider than the padded input."""
    return min(w, k, s) >= 1 and p >= 0 and k <= w + 2 * p and (w - k + 2 * p) % s == 0


def fitting_strides(w: int, k: int, p: int, most: int) -> list[int]:
    """The strides 1..most that fit (W, K, P)."""
    return [s for s in range(1, most + 1) if fits(w, k, s, p)]


def shrink(image: np.ndarray, size: int) -> np.ndarray:
    """A square picture (H, H) averaged down (or copied) to (size, size), float32."""
    x = torch.as_tensor(np.asarray(image, dtype=np.float32))[None, None]
    return F.adaptive_avg_pool2d(x, size)[0, 0].numpy()


def slide_kernel(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """One kernel (K, K) slid over one picture (H, W): out[r, c] = Σ window · kernel, the window at
    (r·S, c·S) of the picture padded with P zeros. What conv2d computes, without a bias."""
    image, kernel = np.asarray(image, dtype=np.float64), np.asarray(kernel, dtype=np.float64)
    k = kernel.shape[0]
    padded = np.pad(image, padding)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k))[::stride, ::stride]  # (H', W', K, K)
    return np.einsum("hwij,ij->hw", windows, kernel)


def classic_kernel(name: str, k: int) -> np.ndarray:
    """A textbook kernel of size K: "edge" (dark left, bright right: a vertical edge), "blur" (the
    mean), "sharpen" (the centre against its neighbours), "identity". (K, K) float64."""
    kernel = np.zeros((k, k))
    if name == "edge":
        kernel[:, : k // 2], kernel[:, (k + 1) // 2 :] = -1.0, 1.0
    elif name == "blur":
        kernel[:] = 1.0 / (k * k)
    elif name == "sharpen":
        kernel[:] = -1.0 / max(k * k - 1, 1)
        kernel[k // 2, k // 2] = 2.0
    elif name == "identity":
        kernel[k // 2, k // 2] = 1.0
    else:
        raise ValueError(f"no classic kernel {name!r}")
    return kernel


CLASSIC_KERNELS = ("edge", "blur", "sharpen", "identity")
