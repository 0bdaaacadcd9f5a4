"""Loss curves for a chart: a smoothed line, and a few hundred points out of thousands.

Used for the live run on the Train page (`live.RunView.loss_curve`) and for the saved runs
compared on the Evaluate page (`evaluate.training_curves`).
"""

import numpy as np


def smooth(values, weight: float = 0.95) -> np.ndarray:
    """Exponential moving average (N,) -> (N,), bias-corrected so it starts at the first
    values rather than at zero (TensorBoard's smoothing)."""
    out, avg = np.empty(len(values)), 0.0
    for i, x in enumerate(values):
        avg = weight * avg + (1 - weight) * x
        out[i] = avg / (1 - weight ** (i + 1))
    return out


def thin(n: int, max_points: int) -> np.ndarray:
    """Indices of at most max_points of n points, evenly spread, the first and last kept: a chart
    redrawn every second needs no more points than it has pixels."""
    if n == 0:
        return np.arange(0)
    return np.unique(np.linspace(0, n - 1, min(n, max_points)).astype(int))
