"""Accuracy of a model on the MNIST test set, overall and per class, its confusion matrix
and its mistakes; and the learning curves a checkpoint recorded.

    python -m cnn_demo evaluate checkpoints/default.safetensors [--confusion]

For a caller whose own thread answers one image at a time (a page of the app), the big passes
come with their device, threads and precision chosen: `evaluate_on_every_core`,
`embed_on_best_device`, `most_alike_on_cpu`.
"""

import argparse
import math
import sys
from dataclasses import dataclass

import numpy as np
import torch

from cnn_demo.inside.similar import embed, most_alike
from cnn_demo.network.model import Net
from cnn_demo.storage import checkpoint
from cnn_demo.storage.data import DataError, load_mnist
from cnn_demo.training.calibrate import autocast_dtype
from cnn_demo.training.curves import smooth, thin
from cnn_demo.training.device import CPU_CORES, pick_device, threads


@torch.inference_mode()
def predict_logits(
    model: torch.nn.Module, images: torch.Tensor, batch_size: int = 1000, autocast: torch.dtype | None = None
) -> torch.Tensor:
    """images: uint8 (N, 28, 28) on the model's device -> float32 logits (N, 10), every image, no dropped batch."""
    was_training = model.training
    model.eval()
    device = images.device
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size].unsqueeze(1).float().div_(255)  # (B, 1, 28, 28) in [0, 1]
        with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
            out.append(model(x).float())
    model.train(was_training)
    return torch.cat(out)


def accuracy(
    model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, autocast: torch.dtype | None = None
) -> float:
    """Fraction of images whose predicted class is the label."""
    return (predict_logits(model, images, autocast=autocast).argmax(1) == labels).float().mean().item()


def per_class_accuracy(predictions: torch.Tensor, labels: torch.Tensor) -> list[float]:
    """Accuracy on the images of each digit 0..9."""
    return [(predictions[labels == c] == c).float().mean().item() for c in range(10)]


@dataclass(frozen=True)
class Evaluation:
    """Everything the Evaluate page shows about one model on one labelled set (plain numpy,
    so a UI can cache it)."""

    labels: np.ndarray  # int64 (N,)
    predictions: np.ndarray  # int64 (N,): the argmax of the logits
    confidences: np.ndarray  # float32 (N,): the largest softmax probability, how sure it was
    confusion: np.ndarray  # int64 (10, 10): [true, predicted] -> how many images
    per_class: list[float]  # accuracy on the images of each digit 0..9

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / self.confusion.sum())

    @property
    def misclassified(self) -> np.ndarray:
        """Indices of the images predicted wrong, in index order."""
        return np.flatnonzero(self.predictions != self.labels)

    def mistakes(self, most_confident_first: bool = True) -> np.ndarray:
        """The misclassified indices, ordered by confidence (ties by index)."""
        wrong = self.misclassified
        order = np.argsort(self.confidences[wrong], kind="stable")  # least confident first
        return wrong[order[::-1]] if most_confident_first else wrong[order]

    def most_common_mistake(self) -> tuple[int, int]:
        """(true, predicted): the off-diagonal cell of the confusion matrix with the most images.

        (0, 0) when there are no mistakes at all."""
        off_diagonal = self.confusion - np.diag(np.diag(self.confusion))
        true, predicted = np.unravel_index(off_diagonal.argmax(), off_diagonal.shape)
        return int(true), int(predicted)

    def cell(self, true: int, predicted: int) -> np.ndarray:
        """Indices of the images of digit `true` that the model called `predicted`."""
        return np.flatnonzero((self.labels == true) & (self.predictions == predicted))


def evaluate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> Evaluation:
    """One batched pass over images: uint8 (N, 28, 28), labels int64 (N,), on the model's device."""
    logits = predict_logits(model, images, batch_size).cpu()  # (N, 10)
    confidences, predictions = logits.softmax(1).max(1)  # (N,), (N,)
    labels = labels.cpu()
    # Each (true, predicted) pair as one number 10*true + predicted, counted in one go.
    confusion = torch.bincount(labels * 10 + predictions, minlength=100).reshape(10, 10)
    return Evaluation(
        labels=labels.numpy(),
        predictions=predictions.numpy(),
        confidences=confidences.numpy(),
        confusion=confusion.numpy(),
        per_class=per_class_accuracy(predictions, labels),
    )


def evaluation_of(labels: np.ndarray, predictions: np.ndarray, confidences: np.ndarray) -> Evaluation:
    """An Evaluation from answers already made (int (N,), int (N,), float (N,)): a caller that keeps
    each image's answer scores only the images it has not seen (the class's digits, as they come)."""
    labels, predictions = np.asarray(labels, np.int64), np.asarray(predictions, np.int64)
    confusion = np.bincount(labels * 10 + predictions, minlength=100).reshape(10, 10)
    per_class = [
        float((predictions[labels == c] == c).mean()) if (labels == c).any() else float("nan") for c in range(10)
    ]
    return Evaluation(labels, predictions, np.asarray(confidences, np.float32), confusion, per_class)


def evaluate_arrays(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """`evaluate_on_every_core` for numpy callers (a page scoring the class's own digits): images
    uint8 (N, 28, 28), labels (N,), N may be 0 (an Evaluation of nothing: its confusion is zeros)."""
    if not len(labels):
        empty = np.zeros(0, np.int64)
        return Evaluation(empty, empty, np.zeros(0, np.float32), np.zeros((10, 10), np.int64), [float("nan")] * 10)
    return evaluate_on_every_core(
        model, torch.as_tensor(np.ascontiguousarray(images, np.uint8)), torch.as_tensor(np.asarray(labels, np.int64))
    )


def evaluate_on_every_core(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> Evaluation:
    """`evaluate` with every core: one batched pass over thousands of images is worth sharing
    between them; the calling thread goes back to its own thread count afterwards (see
    cnn_demo.training.device.use_threads). The model and images stay where they are (the CPU)."""
    with threads(CPU_CORES):
        return evaluate(model, images, labels)


def embed_on_best_device(model: Net, images: torch.Tensor) -> torch.Tensor:
    """images: uint8 (N, 28, 28) -> (N, hidden), as cnn_demo.inside.similar.embed, on the GPU when
    there is one (a copy of the model goes there) and in bf16 where this machine measured it
    faster, with every core: for all 60,000 training images, six times the work of testing."""
    device = pick_device("auto")
    with threads(CPU_CORES):
        return embed(model, images, device=device, autocast=autocast_dtype(device))


def most_alike_on_cpu(
    model: Net, image28: np.ndarray, embedding: torch.Tensor, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """cnn_demo.inside.similar.most_alike for one image on the CPU, where the model is, in the
    precision the embedding's pass would use there."""
    return most_alike(model, image28, embedding, k=k, autocast=autocast_dtype(torch.device("cpu")))


@dataclass(frozen=True)
class Curves:
    """How a run learned, from a checkpoint's metadata, with epochs as the common x axis so
    runs of different batch sizes and set sizes can be overlaid."""

    loss_epochs: np.ndarray  # (S,): the epoch each plotted training step falls in, e.g. 0.5 = half of epoch 1
    loss: np.ndarray  # (S,): the smoothed training loss at those steps
    accuracy_epochs: np.ndarray  # (E,): 1, 2, ... E
    accuracy: np.ndarray  # (E,): test accuracy after each epoch, in [0, 1]


def training_curves(meta: dict, max_points: int = 1500) -> Curves | None:
    """The loss and accuracy curves a checkpoint recorded, or None if it has none (an import)."""
    losses = np.asarray(meta.get("loss_history") or [], dtype=np.float64)
    accuracy = np.asarray(meta.get("test_accuracy_per_epoch") or [], dtype=np.float64)
    if len(losses) == 0 and len(accuracy) == 0:
        return None
    config = meta.get("config") or {}
    if config.get("train_images") and config.get("batch_size"):
        steps_per_epoch = math.ceil(config["train_images"] / config["batch_size"])
    else:  # an older file without its config: spread the steps evenly over the epochs done
        steps_per_epoch = max(1, len(losses) // max(1, len(accuracy)))
    keep = thin(len(losses), max_points)
    return Curves(
        loss_epochs=(keep + 1) / steps_per_epoch,
        loss=smooth(losses)[keep],
        accuracy_epochs=np.arange(1, len(accuracy) + 1),
        accuracy=accuracy,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m cnn_demo evaluate", description="Test accuracy of a checkpoint on all 10,000 MNIST test images."
    )
    p.add_argument("checkpoint", nargs="?", default=str(checkpoint.DEFAULT))
    p.add_argument("--device", default="auto")
    p.add_argument("--confusion", action="store_true", help="also print the 10 x 10 confusion matrix")
    args = p.parse_args(argv)
    try:
        device = pick_device(args.device)
        model, _ = checkpoint.load(args.checkpoint)
        images, labels = load_mnist("test")
    except (ValueError, DataError) as e:  # CheckpointError is a ValueError
        print(f"error: {e}", file=sys.stderr)
        return 1
    model.to(device)
    result = evaluate(model, images.to(device), labels.to(device))
    correct = int(np.trace(result.confusion))
    print(f"{args.checkpoint}: {100 * correct / len(labels):.2f}% ({correct}/{len(labels)} test images)")
    for digit, acc in enumerate(result.per_class):
        print(f"  {digit}: {100 * acc:6.2f}%  ({(labels == digit).sum().item()} images)")
    if not args.confusion:
        return 0
    print("confusion matrix (rows: true digit, columns: predicted digit)")
    print("     " + "".join(f"{d:>6d}" for d in range(10)))
    for digit, row in enumerate(result.confusion):
        print(f"  {digit}: " + "".join(f"{n:>6d}" for n in row))
    return 0
