"""Shared fixtures for the fast suite: small data made here, never the full MNIST."""

import numpy as np
import pytest
import torch


def synthetic_digits(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n 28x28 uint8 images of 10 easy-to-tell classes: class c is a bright bar at row 2c+4,
    blurred by noise. A model that learns gets far above chance on them in a few steps."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, c in enumerate(labels):
        row = 2 * c + 4
        images[i, row : row + 2, 4:24] = 255
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


@pytest.fixture
def small_sets():
    return synthetic_digits(1024, seed=0), synthetic_digits(256, seed=1)
