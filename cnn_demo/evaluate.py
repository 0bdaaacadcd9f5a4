"""Accuracy of a model on the MNIST test set, overall and per class.

    python -m cnn_demo.evaluate checkpoints/default.safetensors
"""

import argparse
import sys

import torch

from cnn_demo import checkpoint
from cnn_demo.data import DataError, load_mnist
from cnn_demo.device import pick_device


@torch.inference_mode()
def predict_logits(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 1000, autocast: torch.dtype | None = None) -> torch.Tensor:
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


def accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, autocast: torch.dtype | None = None) -> float:
    """Fraction of images whose predicted class is the label."""
    return (predict_logits(model, images, autocast=autocast).argmax(1) == labels).float().mean().item()


def per_class_accuracy(predictions: torch.Tensor, labels: torch.Tensor) -> list[float]:
    """Accuracy on the images of each digit 0..9."""
    return [(predictions[labels == c] == c).float().mean().item() for c in range(10)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cnn_demo.evaluate", description="Test accuracy of a checkpoint on all 10,000 MNIST test images.")
    p.add_argument("checkpoint", nargs="?", default=str(checkpoint.DEFAULT))
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    try:
        device = pick_device(args.device)
        model, meta = checkpoint.load(args.checkpoint)
        images, labels = load_mnist("test")
    except (ValueError, DataError) as e:  # CheckpointError is a ValueError
        print(f"error: {e}", file=sys.stderr)
        return 1
    model.to(device)
    predictions = predict_logits(model, images.to(device)).argmax(1).cpu()
    correct = (predictions == labels).sum().item()
    print(f"{args.checkpoint}: {100 * correct / len(labels):.2f}% ({correct}/{len(labels)} test images)")
    for digit, acc in enumerate(per_class_accuracy(predictions, labels)):
        print(f"  {digit}: {100 * acc:6.2f}%  ({(labels == digit).sum().item()} images)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
