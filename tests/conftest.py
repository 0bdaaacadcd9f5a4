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


@pytest.fixture
def app_test_routed(monkeypatch):
    """AppTest starts every run as a fresh server does, in Streamlit's old pages/ folder mode,
    which a page leaves by running again (pages/common.ensure_routed; a fresh server is tested
    in a real browser in tests/e2e/test_train.py). Here every run starts where a running
    server is: routed by app.py, so that a button's click is not spent on that extra run."""
    from streamlit.runtime.pages_manager import PagesManager

    init = PagesManager.__init__

    def routed_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", routed_init)
