"""What a network computes at each stage for one image, read with forward hooks on the real model.

    maps = feature_maps(model, image28)  # {"conv1": (16, 24, 24), ..., "logits": (10,)}
    probabilities(maps["logits"])        # (10,) softmax
    kernels(model)                       # the conv kernels as numpy arrays
    chains(model)                        # each conv stage's names: conv1 relu1 -, conv2 relu2 pool1, ...

The model passed in is the one the app shares between all browser sessions, possibly
called from several threads at once. Nothing here changes it: hooks are added under one
lock, record only the calling thread's forward, and are removed before returning.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from cnn_demo.network.model import Net, conv_weights, spatial_stages, stage_module
from cnn_demo.training.device import threads

# One lock for every hooked forward pass on any model: hooks are registered on the
# shared module object, so two calls overlapping in time would each see both hooks.
_HOOK_LOCK = threading.Lock()


def order(model: Net) -> list[str]:
    """Every stage, in the order the data flows: conv1 relu1 ... pool2 flatten hidden logits."""
    return spatial_stages(model) + ["flatten", "hidden", "logits"]


@dataclass(frozen=True)
class Chain:
    """One conv stage of a network, by the names of its outputs: conv, activation, optional pooling."""

    index: int  # 1-based: conv stage i
    conv: str  # "conv2"
    activation: str  # "relu2", "tanh2", ...: named for its function
    pool: str | None  # "pool1" (pools are counted on their own), or None
    function: str  # "relu", "tanh" or "sigmoid"
    pooling: str | None  # "max", "avg" or None


def chains(model: Net) -> list[Chain]:
    """The conv stages in data order; [] for a fully connected net. For the tutorial's:
    (conv1, relu1, None), (conv2, relu2, pool1), (conv3, relu3, pool2)."""
    found, pools = [], 0
    for i, c in enumerate(model.spec.convs, 1):
        pool = None
        if c.pool is not None:
            pools += 1
            pool = f"pool{pools}"
        found.append(Chain(i, f"conv{i}", f"{c.activation}{i}", pool, c.activation, c.pool))
    return found


def as_input(image28: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(28, 28) floats in [0, 1], ink = 1  ->  (1, 1, 28, 28) float32 tensor."""
    x = torch.as_tensor(np.asarray(image28, dtype=np.float32))
    if x.shape != (28, 28):
        raise ValueError(f"image28 must be 28 x 28, got {tuple(x.shape)}")
    return x.reshape(1, 1, 28, 28)


@contextmanager
def capture(model: Net, stages: list[str], keep_graph: bool = False) -> Iterator[dict[str, torch.Tensor]]:
    """Hooks on `stages` for the duration of the block; fills the dict during a forward.

    "flatten" is the input of the first fully connected layer: the (1, 576) vector (the tutorial's) that
    `forward` makes with flatten(1). Only the calling thread's forward is recorded, so a
    prediction made meanwhile by another page (which does not take the lock) is ignored.
    keep_graph=True keeps the outputs in the autograd graph, to take gradients w.r.t. them.
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
                    handles.append(stage_module(model, name).register_forward_hook(keep(name)))
            yield captured
        finally:
            for h in handles:
                h.remove()


def feature_maps(model: Net, image28: np.ndarray | torch.Tensor) -> dict[str, np.ndarray]:
    """Every stage's output for one image, ordered as the data flows, batch dim dropped.

    conv1 relu1 (16,24,24)  conv2 relu2 (32,20,20)  pool1 (32,10,10)  conv3 relu3 (64,6,6)
    pool2 (64,3,3)  flatten (576,)  hidden (100,) after the ReLU  logits (10,)
    """
    x = as_input(image28)
    # One image is too little work to share between cores: see device.use_threads.
    stages = order(model)
    with threads(1), capture(model, stages) as captured, torch.inference_mode():
        model(x)
    return {name: captured[name][0].numpy() for name in stages}


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax of the 10 logits, as the model's confidence in each digit."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max())
    return (e / e.sum()).astype(np.float32)


def kernels(model: Net) -> dict[str, np.ndarray]:
    """conv1 (16,1,5,5), conv2 (32,16,5,5), conv3 (64,32,5,5) as numpy arrays (copies)."""
    return {name: w.cpu().numpy().copy() for name, w in conv_weights(model).items()}


def unit_evidence(model: Net, image28: np.ndarray, unit: int) -> tuple[np.ndarray, np.ndarray, float]:
    """A fully connected net's hidden unit, as pictures: its 784 weights (28, 28), what each
    pixel adds to its input, weight · pixel (28, 28), and its bias. contributions.sum() + bias
    is the unit's value before the ReLU. ValueError for a net with convs (its first layer
    does not see the image)."""
    if len(model.layer):
        raise ValueError("only a fully connected net's hidden units read the image's pixels directly")
    fc = model.fc_layer[0]
    weights = fc.weight.detach()[unit].reshape(28, 28).cpu().numpy().copy()
    return weights, weights * np.asarray(image28, dtype=np.float32), float(fc.bias.detach()[unit])


def strongest_channel(maps: np.ndarray) -> int:
    """The channel of (C, H, W) maps whose largest value is the largest: the one this input lights up most."""
    return int(np.asarray(maps).max(axis=(-2, -1)).argmax())


def pool_winners(fmap: np.ndarray, size: int = 2, stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the values a size x size max-pool (stride `stride`, default `size`)
    keeps from one map (H, W). A value that wins several overlapping windows is listed once.

    Windows whose largest value is not above zero keep nothing worth showing and are left out.
    """
    stride = size if stride is None else stride
    windows = np.lib.stride_tricks.sliding_window_view(fmap, (size, size))[::stride, ::stride]  # (H', W', K, K)
    flat = windows.reshape(*windows.shape[:2], size * size)
    best = flat.argmax(-1)  # (H', W'): the first largest, as torch's max-pool picks
    keep = flat.max(-1) > 0
    out_r, out_c = np.nonzero(keep)
    rows = out_r * stride + best[keep] // size
    cols = out_c * stride + best[keep] % size
    unique = np.unique(np.stack([rows, cols]), axis=1) if len(rows) else np.zeros((2, 0), dtype=int)
    return unique[0], unique[1]
