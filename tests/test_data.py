import gzip
import struct

import numpy as np
import pytest
import torch

from cnn_demo.storage import data
from cnn_demo.storage.data import DataError, load_mnist


def write_npz(path, n_train=12, n_test=5):
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, n_train).astype(np.uint8),
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, n_test).astype(np.uint8),
    )
    return path


def test_npz_source(tmp_path):
    images, labels = load_mnist("train", write_npz(tmp_path / "m.npz"))
    assert images.dtype == torch.uint8 and images.shape == (12, 28, 28)
    assert labels.dtype == torch.int64 and labels.shape == (12,)
    assert load_mnist("test", tmp_path / "m.npz")[0].shape == (5, 28, 28)


def test_bad_split():
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match="not found.*data/README.md"):
        load_mnist("train", tmp_path / "nope.npz")


def test_truncated_file_is_a_clear_error(tmp_path):
    blob = write_npz(tmp_path / "m.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="could not be read"):
        load_mnist("train", tmp_path / "cut.npz")


def test_wrong_arrays_are_a_clear_error(tmp_path):
    np.savez(tmp_path / "w.npz", x_train=np.zeros((3, 10, 10), np.uint8), y_train=np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="28 x 28"):
        load_mnist("train", tmp_path / "w.npz")
    with pytest.raises(DataError, match="no array"):
        load_mnist("test", tmp_path / "w.npz")


def test_altered_default_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DATA_FILE", write_npz(tmp_path / "mnist.npz"))
    with pytest.raises(DataError, match="checksum"):
        load_mnist("train")


def _idx(path, array, magic):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes())


def test_torchvision_source_when_the_file_is_missing(tmp_path, monkeypatch):
    """No data/mnist.npz: torchvision's MNIST is used. Tiny IDX files stand in for its download."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 7), ("t10k", 3)):
        _idx(raw / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), 2051)
        _idx(raw / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8), 2049)
        for name in (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"):  # torchvision reads them unpacked
            (raw / name).write_bytes(gzip.open(raw / f"{name}.gz").read())
    monkeypatch.setattr(data, "DATA_FILE", tmp_path / "absent.npz")
    monkeypatch.setattr(data, "DOWNLOAD_DIR", tmp_path)
    images, labels = load_mnist("train")
    assert images.shape == (7, 28, 28) and images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert load_mnist("test")[0].shape == (3, 28, 28)


def test_torchvision_failure_is_a_clear_error(tmp_path, monkeypatch):
    from torchvision import datasets

    def no_network(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(data, "DATA_FILE", tmp_path / "absent.npz")
    monkeypatch.setattr(datasets, "MNIST", no_network)
    with pytest.raises(DataError, match="could not download.*Copy mnist.npz"):
        load_mnist("train")
