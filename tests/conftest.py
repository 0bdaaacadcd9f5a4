"""Shared fixtures for the fast suite: small data made here, a few shipped MNIST test digits,
an untrained tutorial network; never a pass over the full MNIST."""

# First, before torch loads in this process (test modules import torch before cnn_demo):
# cnn_demo makes OpenMP's threads wait passively, without which every in-process training
# step here ran several times slower while anything else used the cores.
import cnn_demo  # noqa: F401

# isort: split

import numpy as np
import pytest
import torch

from cnn_demo.network.model import Net, build
from cnn_demo.storage.data import load_mnist
from cnn_demo.training import calibrate

# Run only when -m names them: `python -m pytest` and `python -m pytest -m "not e2e"` leave them out.
ON_REQUEST = ("slow", "load")


def pytest_collection_modifyitems(config, items):
    asked = config.getoption("markexpr") or ""
    skipped = [m for m in ON_REQUEST if m not in asked]
    keep = [item for item in items if not any(item.get_closest_marker(m) for m in skipped)]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


@pytest.fixture(autouse=True)
def no_kept_calibration(request, tmp_path_factory, monkeypatch):
    """In-process tests train with the safe defaults (channels_last, fp32, every core), kept as
    if measured, not with what this machine measured: the same numbers on every machine. Browser tests keep the app's
    real settings (tests/e2e/conftest.py measures them once)."""
    if request.node.get_closest_marker("e2e") is None:
        monkeypatch.setenv("CNN_DEMO_CACHE", str(tmp_path_factory.getbasetemp() / "defaults"))
        # The class's drawings from page tests go to a file of the test run, not the checkout's
        monkeypatch.setenv("CNN_DEMO_CLASS_DB", str(tmp_path_factory.getbasetemp() / "class.sqlite3"))
        if calibrate.kept(torch.device("cpu")) is None:
            calibrate.keep(torch.device("cpu"), calibrate.Settings())  # kept, so that nothing measures


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


@pytest.fixture(scope="module")
def model() -> Net:
    """An untrained tutorial network, the same weights every time (a test file may define its own)."""
    torch.manual_seed(0)
    return build().eval()


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """The first 8 MNIST test images, (8, 28, 28) floats in [0, 1]."""
    images, _ = load_mnist("test")
    return images[:8].float().div(255).numpy()
