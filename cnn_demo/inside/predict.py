"""Class probabilities for 28x28 images: the one place a drawing meets the model.

The model is shared read-only by every browser (no training, no .eval() flips here), and
No network here has dropout or batch norm, so a forward pass never changes it.

One image is ~7 M multiply-adds, about a millisecond on one core: run it on one intra-op
thread (the app's page threads do, see cnn_demo.training.device.use_threads). On this 2-core machine
with the cores busy, two threads took ~100 ms at p50 where one took ~1 ms.
"""

import numpy as np
import torch


@torch.inference_mode()
def predict_proba(model: torch.nn.Module, image28: np.ndarray) -> np.ndarray:
    """(28, 28) float in [0, 1], ink = 1 -> (10,) probabilities summing to 1.

    A batch (N, 28, 28) gives (N, 10).
    """
    x = torch.as_tensor(np.asarray(image28, dtype=np.float32))
    if x.ndim not in (2, 3) or tuple(x.shape[-2:]) != (28, 28):
        raise ValueError(f"expected a (28, 28) or (N, 28, 28) image, got shape {tuple(x.shape)}")
    device = next(model.parameters()).device
    logits = model(x.reshape(-1, 1, 28, 28).to(device))  # (N, 10)
    probs = torch.softmax(logits.double(), dim=1).cpu().numpy()  # float64: sums to 1 to ~1e-16
    return probs if x.ndim == 3 else probs[0]


def runner_up(probs: np.ndarray) -> int:
    """(10,) probabilities -> the second most likely digit: what the model would say instead."""
    return int(np.argsort(probs)[-2])
