"""What a network computes at each stage for one image, read with forward hooks on the real model.

    maps = feature_maps(model, image28)  # {"conv1": (16, 24, 24), ..., "logits": (10,)}
    probabilities(maps["logits"])        # (10,) softmax
    kernels(model)                       # the conv kernels as numpy arrays

The model passed in is the one the app shares between all browser sessions, possibly
called from several threads at once. Nothing here changes it: hooks are added under one
lock, record only the calling thread's forward, and are removed before returning.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from cnn_demo.device import threads
from cnn_demo.model import Net, conv_weights, spatial_stages, stage_module

# One lock for every hooked forward pass on any model: hooks are registered on the
# shared module object, so two calls overlapping in time would each see both hooks.
_HOOK_LOCK = threading.Lock()


def order(model: Net) -> list[str]:
    """Every stage, in the order the data flows: conv1 relu1 ... pool2 flatten hidden logits."""
    return spatial_stages(model) + ["flatten", "hidden", "logits"]


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


def strongest_channel(maps: np.ndarray) -> int:
    """The channel of (C, H, W) maps whose largest value is the largest: the one this input lights up most."""
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
