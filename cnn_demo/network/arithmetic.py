"""Layer arithmetic of a network: the numbers a CNN course writes on the board, read from the
model's modules rather than typed in.

    output_size(28, 5)        # 24: floor((W - K + 2P) / S) + 1
    layer_arithmetic(model)   # each conv/pool layer's shapes, K S P, worked formula, receptive field
    stage_geometry(model)     # the same for every (C, H, W) stage, activations included
    network_table(model)      # input, conv + activation, pooling, flatten, hidden, logits: a row each
    param_counts(model)       # each conv layer's parameters beside a fully connected layer's
    dense_layers(model)       # fc1 576 -> 100, fc2 100 -> 10 (784 -> 155 -> 10 without convs)
    multiply_adds(model)      # each layer's multiply-adds per image; training_flop_per_image
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnn_demo.network.model import Net, formula, output_size, spatial_stages, stage_module


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
    pooling: str | None = None  # a pool layer's kind: "max" or "avg"


def _square(v) -> int:
    """A kernel/stride/padding attribute that is an int or an (h, w) pair; this model uses squares."""
    a, b = (v, v) if isinstance(v, int) else v
    if a != b:
        raise ValueError(f"non-square {v} is not supported")
    return a


def layer_arithmetic(model: Net, size: int = 28) -> list[LayerShape]:
    """Shapes, hyper-parameters and worked formula of each conv and pool layer, in data order.

    Read from the model's modules. Also walks the receptive field: each unit of a layer
    sees r_out = r_in + (K − 1)·j_in image pixels, and neighbouring units are j_out = j_in·S apart.
    """
    shape = (1, size, size)
    jump, field, centre = 1, 1, 0.5
    rows = []
    for name in spatial_stages(model):
        m = stage_module(model, name)
        pooling = None
        if isinstance(m, nn.Conv2d):
            kind, channels = "conv", m.out_channels
            if m.in_channels != shape[0]:
                raise ValueError(f"{name} expects {m.in_channels} channels, gets {shape[0]}")
            if _square(m.dilation) != 1:
                raise ValueError(f"{name}: dilated convolutions are not supported")
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            kind, channels = "pool", shape[0]  # pooling works on each channel on its own
            pooling = "max" if isinstance(m, nn.MaxPool2d) else "avg"
        else:
            continue  # the activation: same shape, nothing to compute
        k, s, p = _square(m.kernel_size), _square(m.stride), _square(m.padding)
        w = output_size(shape[2], k, s, p)
        out = (channels, w, w)
        centre = centre + ((k - 1) / 2 - p) * jump
        field = field + (k - 1) * jump
        jump = jump * s
        rows.append(
            LayerShape(name, kind, shape, out, k, s, p, formula(shape[2], k, s, p), jump, field, centre, pooling)
        )
        shape = out
    return rows


def stage_geometry(model: Net, size: int = 28) -> dict[str, LayerShape]:
    """Every (C, H, W) stage by name, in data order: an activation has its conv's shape and grid."""
    layers = {row.name: row for row in layer_arithmetic(model, size)}
    found, last = {}, None
    for name in spatial_stages(model):
        last = layers.get(name, last)  # an activation: the row of the conv before it
        found[name] = last
    return found


@dataclass
class TableRow:
    """One line of the network's table: a stage, what it is, and its output shape."""

    stage: str  # "input", "conv1", "pool1", "flatten", "hidden", "logits"
    kind: str  # "input", "conv", "pool", "flatten", "hidden" or "logits"
    out_shape: tuple[int, ...]
    activation: str | None = None  # a conv stage's function: "relu", "tanh", "sigmoid"
    filters: int = 0  # a conv's out_channels
    filter_shape: tuple[int, ...] = ()  # (in_channels, K, K), or (K, K) for one input channel
    stride: int = 1
    padding: int = 0
    pooling: str | None = None  # "max" or "avg"
    size: int = 0  # the pool's window
    pool_stride: int = 0


def network_table(model: Net) -> list[TableRow]:
    """What the network does, stage by stage, read from its modules: the table a course draws.

    For the tutorial's: input 1×28×28, conv1+ReLU 16 filters of 5×5 -> 16×24×24, conv2+ReLU
    32 of 16×5×5 -> 32×20×20, max-pool 2 -> 32×10×10, ..., flatten 576, hidden 100, logits 10.
    """
    rows = [TableRow("input", "input", (1, 28, 28))]
    activation = {f"conv{i}": c.activation for i, c in enumerate(model.spec.convs, 1)}
    for r in layer_arithmetic(model):
        if r.kind == "conv":
            c_in, k = r.in_shape[0], r.kernel
            shape = (k, k) if c_in == 1 else (c_in, k, k)
            rows.append(
                TableRow(r.name, "conv", r.out_shape, activation[r.name], r.out_shape[0], shape, r.stride, r.padding)
            )
        else:
            rows.append(TableRow(r.name, "pool", r.out_shape, pooling=r.pooling, size=r.kernel, pool_stride=r.stride))
    fc1, fc2 = dense_layers(model)
    rows.append(TableRow("flatten", "flatten", (fc1.in_features,)))
    rows.append(TableRow("hidden", "hidden", (fc1.out_features,)))
    rows.append(TableRow("logits", "logits", (fc2.out_features,)))
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


def param_counts(model: Net, size: int = 28) -> list[ParamCount]:
    """Each conv layer's parameter count beside a fully connected layer doing the same mapping."""
    rows = []
    for layer in layer_arithmetic(model, size):
        if layer.kind != "conv":
            continue
        m = stage_module(model, layer.name)
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


def dense_layers(model: Net) -> list[DenseLayer]:
    """The fully connected layers after flatten: 576 -> 100 -> 10, with their parameter counts."""
    linear = [m for m in model.fc_layer if isinstance(m, nn.Linear)]
    return [
        DenseLayer(f"fc{i + 1}", m.in_features, m.out_features, sum(p.numel() for p in m.parameters()))
        for i, m in enumerate(linear)
    ]


def multiply_adds(model: torch.nn.Module, size: int = 28) -> dict[str, int]:
    """Multiply-adds of one image's forward pass through each Conv2d and Linear layer, by the
    layer's name in the model ("layer.0", "fc_layer.2", ...), measured on a real pass."""
    found: dict[str, int] = {}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups

            def hook(m, inputs, out, name=name, k=k):
                found[name] = out[0].numel() * k  # each output value: k products summed

            hooks.append(module.register_forward_hook(hook))
        elif isinstance(module, torch.nn.Linear):
            hooks.append(
                module.register_forward_hook(
                    lambda m, i, o, name=name: found.__setitem__(name, m.in_features * m.out_features)
                )
            )
    try:
        with torch.no_grad():
            param = next(model.parameters())
            model(torch.zeros(1, 1, size, size, device=param.device, dtype=param.dtype))
    finally:
        for h in hooks:
            h.remove()
    return found


def training_flop_per_image(model: torch.nn.Module) -> int:
    """Floating-point operations of one image's training step: the forward pass, and a backward
    pass twice its size (the gradients of the weights and of each layer's input), less the first
    layer's input gradient, which nothing needs. A multiply-add is two operations."""
    macs = multiply_adds(model)
    first = next(iter(macs.values()))
    return 2 * (3 * sum(macs.values()) - first)
