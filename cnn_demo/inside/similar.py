"""The training images a model finds most alike a digit: nearest neighbours in its hidden layer.

Each image is described by the hidden units after the first Linear + ReLU (100 for the
tutorial's network, `spec.hidden` for any: the model's last picture of the digit before it
scores the 10 classes). Two images are alike when those numbers point the same way: cosine
similarity, 1 = the same direction.

    python -m cnn_demo similar [CHECKPOINT] [--test-index 0] [-k 8] [--device auto]

Embedding all 60,000 training images is one batched pass (as much work as six test-set
evaluations); do it once per model and keep the result.
"""

import argparse
import copy
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from cnn_demo.network.model import Net
from cnn_demo.storage import checkpoint
from cnn_demo.storage.data import DataError, load_mnist
from cnn_demo.training.calibrate import autocast_dtype
from cnn_demo.training.device import pick_device


def hidden(model: Net, x: torch.Tensor) -> torch.Tensor:
    """x: (B, 1, 28, 28) floats in [0, 1] -> (B, hidden), the hidden units after the ReLU,
    computed by the model's own layers (fc_layer[:2] = Linear(576->100), ReLU for the
    tutorial's; a fully connected net's empty `layer` passes the image on, flattened to 784)."""
    return model.fc_layer[:2](model.layer(x).flatten(1))


@torch.inference_mode()
def embed(
    model: Net,
    images: torch.Tensor,
    batch_size: int = 1000,
    device: torch.device | str = "cpu",
    autocast: torch.dtype | None = None,
    progress: Callable[[float], None] | None = None,
) -> torch.Tensor:
    """images: uint8 (N, 28, 28) -> float32 (N, hidden) on the CPU, each row scaled to length 1,
    so a matrix product with another unit vector is the cosine similarity. An all-zero row
    (no hidden unit fires) stays zero: alike to nothing.

    device: where to compute; a copy of the model goes there, the model itself is not moved.
    autocast: e.g. torch.bfloat16 where the hardware has it (cnn_demo.training.calibrate.autocast_dtype):
    2-3x faster on such a CPU, and ranking neighbours needs no more precision.
    progress: called with the fraction done after each batch."""
    device = torch.device(device)
    model = model if device == next(model.parameters()).device else copy.deepcopy(model).to(device)
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size].to(device).unsqueeze(1).float().div_(255)  # (B, 1, 28, 28) in [0, 1]
        with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
            h = hidden(model, x)
        out.append(F.normalize(h.float(), dim=1).cpu())
        if progress is not None:
            progress(min(1.0, (i + batch_size) / len(images)))
    model.train(was_training)
    return torch.cat(out)


@torch.inference_mode()
def most_alike(
    model: Net,
    image28: np.ndarray | torch.Tensor,
    embedding: torch.Tensor,
    k: int = 12,
    autocast: torch.dtype | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """image28: (28, 28) floats in [0, 1], ink = 1; embedding: (N, hidden) from `embed`; the
    model on the CPU; autocast as in `embed`. Returns the indices of the k most alike images,
    most alike first, and their cosine similarities (float32, in [0, 1]: hidden units after
    a ReLU are never negative)."""
    x = torch.as_tensor(np.asarray(image28, dtype=np.float32)).reshape(1, 1, 28, 28)
    with torch.autocast("cpu", dtype=autocast, enabled=autocast is not None):
        h = hidden(model, x)
    query = F.normalize(h.float(), dim=1)[0]  # (hidden,)
    similarity = embedding @ query  # (N,)
    top = similarity.topk(min(k, len(similarity)))
    return top.indices.numpy(), top.values.numpy()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m cnn_demo similar", description="The training images a model finds most alike a test image."
    )
    p.add_argument("checkpoint", nargs="?", default=str(checkpoint.DEFAULT))
    p.add_argument("--test-index", type=int, default=0, help="which of the 10,000 test images to look up")
    p.add_argument("-k", type=int, default=8, help="how many training images to list")
    p.add_argument("--device", default="auto", help="where to embed the training images: auto, cuda, mps or cpu")
    args = p.parse_args(argv)
    try:
        device = pick_device(args.device)
        model, _ = checkpoint.load(args.checkpoint)
        train_images, train_labels = load_mnist("train")
        test_images, test_labels = load_mnist("test")
    except (ValueError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if not 0 <= args.test_index < len(test_images):
        print(f"error: --test-index must be in 0..{len(test_images) - 1}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    embedding = embed(model, train_images, device=device, autocast=autocast_dtype(device))
    print(f"embedded {len(train_images):,} training images in {time.perf_counter() - t0:.1f} s on {device}")
    query = test_images[args.test_index].float().numpy() / 255
    indices, similarities = most_alike(model, query, embedding, args.k, autocast=autocast_dtype(torch.device("cpu")))
    print(f"test image #{args.test_index} (label {test_labels[args.test_index].item()}) is most alike:")
    for i, s in zip(indices, similarities):
        print(f"  training image #{i:<6d} label {train_labels[i].item()}  cosine {s:.3f}")
    return 0
