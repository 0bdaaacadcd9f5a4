"""What SeedCNN computes at each stage, for one image: the engine of the Inspect page.

    feature_maps      every stage's output, captured with forward hooks on the real model
    kernels           the conv kernels as numpy arrays
    layer_arithmetic  each conv/pool layer's shapes and the output-size formula, worked
    param_counts      each conv layer's parameters beside a fully connected layer's
    saliency, grad_cam  where the model looks: gradients w.r.t. the input / a conv stage
    shift_equivariance  measured: conv maps move with the input, pooled features less
    pool_winners, strongest_channel, signed_limit, scale_each   small helpers for drawing

The model passed in is the one the app shares between all browser sessions, possibly
called from several threads at once. Nothing here changes it: hooks are removed before
returning, and gradients are taken with torch.autograd.grad w.r.t. the input or an
activation, so no .grad is ever left on its parameters.

    python -m cnn_demo.inspect [CHECKPOINT] [--bench]
"""

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnn_demo.model import STAGES, SeedCNN, conv_weights

# One lock for every hooked forward pass on any model: hooks are registered on the
# shared module object, so two calls overlapping in time would each see both hooks.
_HOOK_LOCK = threading.Lock()
# Stages with spatial maps, in the order the data flows; the rest are vectors.
SPATIAL = [name for name, (seq, _) in STAGES.items() if seq == "layer"]


def _input(image28: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(28, 28) floats in [0, 1], ink = 1  ->  (1, 1, 28, 28) float32 tensor."""
    x = torch.as_tensor(np.asarray(image28, dtype=np.float32))
    if x.shape != (28, 28):
        raise ValueError(f"image28 must be 28 x 28, got {tuple(x.shape)}")
    return x.reshape(1, 1, 28, 28)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run the block on the calling thread alone, then restore its thread count.

    One image is ~1 ms of work, too little to split: with two threads on a busy 2-core
    machine, each parallel region waits for the second thread to be scheduled, and the
    app measured 100-200 ms spikes per call (2-4 ms on one thread). OpenMP's setting is
    per calling thread, so a training run in another thread keeps its threads.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _module(model: SeedCNN, stage: str) -> nn.Module:
    seq, index = STAGES[stage]
    return getattr(model, seq)[index]


@contextmanager
def _captured(model: SeedCNN, stages: list[str], keep_graph: bool = False) -> Iterator[dict[str, torch.Tensor]]:
    """Hooks on `stages` for the duration of the block; fills the dict during a forward.

    "flatten" is the input of the first fully connected layer: the (1, 576) vector that
    `forward` makes with flatten(1). Only the calling thread's forward is recorded, so a
    prediction made meanwhile by another page (which does not take the lock) is ignored.
    """
    me = threading.get_ident()
    captured: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(module, inputs, output):
            if threading.get_ident() == me:
                captured[name] = output if keep_graph else output.detach().clone()

        return hook

    def keep_input(module, inputs):
        if threading.get_ident() == me:
            captured["flatten"] = inputs[0] if keep_graph else inputs[0].detach().clone()

    with _HOOK_LOCK:
        handles = []
        try:
            for name in stages:
                if name == "flatten":
                    handles.append(model.fc_layer[0].register_forward_pre_hook(keep_input))
                else:
                    handles.append(_module(model, name).register_forward_hook(keep(name)))
            yield captured
        finally:
            for h in handles:
                h.remove()


def feature_maps(model: SeedCNN, image28: np.ndarray | torch.Tensor) -> dict[str, np.ndarray]:
    """Every stage's output for one image, ordered as the data flows, batch dim dropped.

    conv1 relu1 (16,24,24)  conv2 relu2 (32,20,20)  pool1 (32,10,10)  conv3 relu3 (64,6,6)
    pool2 (64,3,3)  flatten (576,)  hidden (100,) after the ReLU  logits (10,)
    """
    order = SPATIAL + ["flatten", "hidden", "logits"]
    x = _input(image28)
    with _one_thread(), _captured(model, order) as captured, torch.inference_mode():
        model(x)
    return {name: captured[name][0].numpy() for name in order}


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax of the 10 logits, as the model's confidence in each digit."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max())
    return (e / e.sum()).astype(np.float32)


def kernels(model: SeedCNN) -> dict[str, np.ndarray]:
    """conv1 (16,1,5,5), conv2 (32,16,5,5), conv3 (64,32,5,5) as numpy arrays."""
    return {name: w.cpu().numpy().copy() for name, w in conv_weights(model).items()}


# ---------------------------------------------------------------------------- arithmetic


def output_size(w: int, k: int, s: int = 1, p: int = 0) -> int:
    """Width (or height) of a conv or pool output: floor((W - K + 2P) / S) + 1."""
    if min(w, k, s) < 1 or p < 0:
        raise ValueError("width, kernel and stride must be at least 1, padding at least 0")
    if k > w + 2 * p:
        raise ValueError(f"a {k}-wide kernel does not fit in {w} pixels with padding {p}")
    return (w - k + 2 * p) // s + 1


def formula(w: int, k: int, s: int = 1, p: int = 0) -> str:
    """The output-size formula with these numbers, e.g. "(28 − 5 + 2·0) / 1 + 1 = 24"."""
    out = output_size(w, k, s, p)
    if (w - k + 2 * p) % s == 0:
        return f"({w} − {k} + 2·{p}) / {s} + 1 = {out}"
    # Not a whole number of steps: the last partial window is dropped (floor).
    return f"⌊({w} − {k} + 2·{p}) / {s}⌋ + 1 = {out}"


@dataclass
class LayerShape:
    name: str  # "conv1", "pool1", ...
    kind: str  # "conv" or "pool"
    in_shape: tuple[int, int, int]  # (C, H, W)
    out_shape: tuple[int, int, int]
    kernel: int
    stride: int
    padding: int
    formula: str  # the width computed, e.g. "(28 − 5 + 2·0) / 1 + 1 = 24"
    jump: int  # input pixels between neighbouring units of the output
    receptive_field: int  # each output unit sees a receptive_field² patch of the image
    first_centre: float  # image coordinate of the centre of output unit 0 (pixel p spans [p, p+1))


def _square(v) -> int:
    """A kernel/stride/padding attribute that is an int or an (h, w) pair; this model uses squares."""
    a, b = (v, v) if isinstance(v, int) else v
    if a != b:
        raise ValueError(f"non-square {v} is not supported")
    return a


def layer_arithmetic(model: SeedCNN, size: int = 28) -> list[LayerShape]:
    """Shapes, hyper-parameters and worked formula of each conv and pool layer, in data order.

    Read from the model's modules. Also walks the receptive field: each unit of a layer
    sees r_out = r_in + (K − 1)·j_in image pixels, and neighbouring units are j_out = j_in·S apart.
    """
    shape = (1, size, size)
    jump, field, centre = 1, 1, 0.5
    rows = []
    for name in SPATIAL:
        m = _module(model, name)
        if isinstance(m, nn.Conv2d):
            kind, channels = "conv", m.out_channels
            if m.in_channels != shape[0]:
                raise ValueError(f"{name} expects {m.in_channels} channels, gets {shape[0]}")
            if _square(m.dilation) != 1:
                raise ValueError(f"{name}: dilated convolutions are not supported")
        elif isinstance(m, nn.MaxPool2d):
            kind, channels = "pool", shape[0]  # pooling works on each channel on its own
        else:
            continue  # ReLU: same shape, nothing to compute
        k, s, p = _square(m.kernel_size), _square(m.stride), _square(m.padding)
        w = output_size(shape[2], k, s, p)
        out = (channels, w, w)
        centre = centre + ((k - 1) / 2 - p) * jump
        field = field + (k - 1) * jump
        jump = jump * s
        rows.append(LayerShape(name, kind, shape, out, k, s, p, formula(shape[2], k, s, p), jump, field, centre))
        shape = out
    return rows


@dataclass
class ParamCount:
    name: str
    params: int  # this conv layer's weights + biases
    params_formula: str  # e.g. "16·(1·5·5) + 16 = 416"
    fc_params: int  # a fully connected layer from the same input volume to the same output volume
    fc_formula: str  # e.g. "784·9,216 + 9,216 = 7,234,560"
    inputs_per_unit: int  # values one output unit reads: in_channels·K·K (an FC unit reads them all)
    input_values: int  # the whole input volume, C·H·W
    uses_per_weight: int  # output positions that share each kernel weight: H_out·W_out


def param_counts(model: SeedCNN, size: int = 28) -> list[ParamCount]:
    """Each conv layer's parameter count beside a fully connected layer doing the same mapping."""
    rows = []
    for layer in layer_arithmetic(model, size):
        if layer.kind != "conv":
            continue
        m = _module(model, layer.name)
        c_in, c_out, k = m.in_channels, m.out_channels, layer.kernel
        bias = c_out if m.bias is not None else 0
        params = c_out * c_in * k * k + bias
        n_in, n_out = int(np.prod(layer.in_shape)), int(np.prod(layer.out_shape))
        rows.append(
            ParamCount(
                name=layer.name,
                params=params,
                params_formula=f"{c_out}·({c_in}·{k}·{k}) + {bias} = {params:,}",
                fc_params=n_in * n_out + n_out,
                fc_formula=f"{n_in:,}·{n_out:,} + {n_out:,} = {n_in * n_out + n_out:,}",
                inputs_per_unit=c_in * k * k,
                input_values=n_in,
                uses_per_weight=layer.out_shape[1] * layer.out_shape[2],
            )
        )
    return rows


@dataclass
class DenseLayer:
    name: str  # "fc1", "fc2"
    in_features: int
    out_features: int
    params: int


def dense_layers(model: SeedCNN) -> list[DenseLayer]:
    """The fully connected layers after flatten: 576 -> 100 -> 10, with their parameter counts."""
    linear = [m for m in model.fc_layer if isinstance(m, nn.Linear)]
    return [
        DenseLayer(f"fc{i + 1}", m.in_features, m.out_features, sum(p.numel() for p in m.parameters()))
        for i, m in enumerate(linear)
    ]


# ------------------------------------------------------------------ where the model looks


def saliency(model: SeedCNN, image28: np.ndarray | torch.Tensor, target: int | None = None) -> np.ndarray:
    """|d logit[target] / d input|, scaled to [0, 1]: (28, 28). target None = the predicted class."""
    x = _input(image28).requires_grad_(True)
    with _one_thread(), torch.enable_grad():
        logits = model(x)[0]  # (10,)
        target = int(logits.argmax()) if target is None else int(target)
        (grad,) = torch.autograd.grad(logits[target], x)
    s = grad[0, 0].abs()
    peak = s.max()
    return (s / peak if peak > 0 else s).numpy()


def grad_cam(
    model: SeedCNN, image28: np.ndarray | torch.Tensor, target: int | None = None, stage: str = "relu2"
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

    x = _input(image28)
    with _one_thread():
        with torch.enable_grad(), _captured(model, [stage], keep_graph=True) as captured:
            logits = model(x)[0]
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


# ---------------------------------------------------------------------------- equivariance


def shift(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Move the last two axes by whole pixels (dx right, dy down), filling with zeros."""
    out = np.zeros_like(image)
    h, w = image.shape[-2:]
    if abs(dx) >= w or abs(dy) >= h:
        return out
    src_y, dst_y = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    src_x, dst_x = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[..., dst_y, dst_x] = image[..., src_y, src_x]
    return out


@dataclass
class ShiftRow:
    stage: str  # "input", "conv1", ... "logits"
    jump: int  # image pixels between neighbouring units of this stage (0 for vectors)
    changed: float  # how much the stage's output changes in place when the image moves
    # The same after moving f(x) along by the shift (in this stage's units), away from the
    # zero-filled edge band: ~0 means the map moved with the picture. None when the shift
    # is not a whole number of units here (e.g. 1 pixel at pool1, whose units are 2 px apart).
    shift_error: float | None


def shift_equivariance(model: SeedCNN, image28: np.ndarray, dx: int, dy: int) -> list[ShiftRow]:
    """Measured on this model and image: shift the input by (dx, dy) pixels and compare.

    Both numbers are mean |difference| / mean |f(x) − f(blank)|: a change measured against
    how far the digit moves this stage away from its output for an empty image (which is
    not zero: the biases). So a conv map that merely moves reports about the input's own
    change, and 0.3 means "30% of what the digit puts there changed".
    A convolution slides the same kernel everywhere, so the map of a shifted image is the
    shifted map (shift_error ~ 0, exactly so away from the edges). Max-pooling over 2 x 2
    windows lets a feature move inside its window without changing the output, so pooled
    features change less than the maps they pool.
    """
    x = np.asarray(image28, dtype=np.float32)
    moved = shift(x, dx, dy)
    a, b = feature_maps(model, x), feature_maps(model, moved)
    blank = feature_maps(model, np.zeros_like(x))
    jumps = {row.name: row.jump for row in layer_arithmetic(model)}
    jumps.update({"relu1": jumps["conv1"], "relu2": jumps["conv2"], "relu3": jumps["conv3"]})

    def rel(diff: np.ndarray, signal: np.ndarray) -> float:
        return float(np.abs(diff).mean() / max(float(np.abs(signal).mean()), 1e-12))

    rows = [ShiftRow("input", 1, rel(moved - x, x), None)]
    for name, fa in a.items():
        fb, jump = b[name], jumps.get(name, 0)
        err = None
        if jump and dx % jump == 0 and dy % jump == 0:
            ux, uy = dx // jump, dy // jump
            h, w = fa.shape[-2:]
            # The band the shift fills with zeros holds nothing of x; leave it out.
            inside = (..., slice(max(0, uy), h + min(0, uy)), slice(max(0, ux), w + min(0, ux)))
            err = rel((fb - shift(fa, ux, uy))[inside], (fa - blank[name])[inside])
        rows.append(ShiftRow(name, jump, rel(fb - fa, fa - blank[name]), err))
    return rows


# ---------------------------------------------------------------------------- drawing help


def signed_limit(*arrays: np.ndarray) -> float:
    """The largest |value| in the arrays (1 if all are 0): a colour range of ± this puts 0 in the middle."""
    peak = max(float(np.abs(a).max()) for a in arrays)
    return peak if peak > 0 else 1.0


def scale_each(maps: np.ndarray) -> np.ndarray:
    """(N, H, W) -> each map divided by its own largest |value|, into [-1, 1]; all-zero maps stay 0."""
    maps = np.asarray(maps, dtype=np.float32)
    peak = np.abs(maps).max(axis=(-2, -1), keepdims=True)
    return maps / np.where(peak > 0, peak, 1)


def strongest_channel(maps: np.ndarray) -> int:
    """The channel (C, H, W) whose largest value is the largest: the one this input lights up most."""
    return int(np.asarray(maps).max(axis=(-2, -1)).argmax())


def pool_winners(fmap: np.ndarray, size: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the values a size x size max-pool keeps from one map (H, W).

    Blocks that are all zero keep nothing worth showing and are left out.
    """
    h, w = (fmap.shape[0] // size) * size, (fmap.shape[1] // size) * size
    blocks = fmap[:h, :w].reshape(h // size, size, w // size, size).transpose(0, 2, 1, 3)
    flat = blocks.reshape(h // size, w // size, size * size)  # (H/2, W/2, 4): each block's values
    best = flat.argmax(-1)
    keep = flat.max(-1) > 0
    block_r, block_c = np.nonzero(keep)
    return block_r * size + best[keep] // size, block_c * size + best[keep] % size


# ---------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    from cnn_demo import checkpoint
    from cnn_demo.data import DataError, load_mnist

    p = argparse.ArgumentParser(
        prog="python -m cnn_demo.inspect", description="Each stage's shape and arithmetic; --bench times feature_maps."
    )
    p.add_argument("checkpoint", nargs="?", default=str(checkpoint.DEFAULT))
    p.add_argument("--bench", action="store_true", help="time feature_maps on a test image")
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--index", type=int, default=0, help="test image to use")
    args = p.parse_args(argv)
    try:
        model, _ = checkpoint.load(args.checkpoint)
        images, labels = load_mnist("test")
    except (ValueError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    image = images[args.index].float().div(255).numpy()  # (28, 28) in [0, 1]

    maps = feature_maps(model, image)
    layers = {row.name: row for row in layer_arithmetic(model)}
    print(f"{args.checkpoint}, test image {args.index} (label {labels[args.index].item()})")
    print(f"  {'input':8s} {'1 × 28 × 28':>14s}")
    for name, m in maps.items():
        line = f"  {name:8s} {' × '.join(map(str, m.shape)):>14s}"
        if name in layers:
            row = layers[name]
            rf = row.receptive_field
            line += f"   {row.kind} K={row.kernel} S={row.stride} P={row.padding}: {row.formula}   sees {rf}×{rf} px"
        print(line)
    print(f"  prediction {int(maps['logits'].argmax())}, p = {probabilities(maps['logits']).max():.3f}")
    print("parameters: conv vs a fully connected layer with the same input and output")
    for row in param_counts(model):
        print(f"  {row.name}: {row.params_formula}   vs FC {row.fc_formula}   ({row.fc_params / row.params:,.0f}×)")
    print("1-pixel shift right: relative change in place / error after shifting back")
    for row in shift_equivariance(model, image, 1, 0):
        err = "—" if row.shift_error is None else f"{row.shift_error:.2e}"
        print(f"  {row.stage:8s} changed {row.changed:6.3f}   shift error {err}")

    if args.bench:
        for _ in range(10):  # warm-up: first calls allocate and pick kernels
            feature_maps(model, image)
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            feature_maps(model, image)
            times.append((time.perf_counter() - t0) * 1000)
        q = statistics.quantiles(times, n=100)
        load = os.getloadavg()[0]  # other work on the machine shows in the p95
        print(
            f"feature_maps: p50 {q[49]:.2f} ms  p95 {q[94]:.2f} ms  over {args.runs} runs "
            f"(load average {load:.1f}, {os.cpu_count()} cores)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
