"""MNIST as two tensors per split, offline first.

The project ships the full MNIST in `data/mnist.npz` (see data/README.md for where it
comes from and its licence). When that file is absent, torchvision's download is the
other source. Either way the result is `(images, labels)`: uint8 (N, 28, 28) with
0 = background and 255 = ink, and int64 (N,).

    python -m cnn_demo data            # checks the data file and prints what it holds
"""

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import torch

from cnn_demo import ROOT

DATA_FILE = ROOT / "data" / "mnist.npz"
DOWNLOAD_DIR = ROOT / "data" / "torchvision"
# sha256 of the shipped file; a changed file is refused rather than trained on.
DATA_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
SPLITS = {"train": 60_000, "test": 10_000}
FIX_IT = "Copy the original mnist.npz into data/ (see data/README.md), or delete it to let torchvision download MNIST."


class DataError(RuntimeError):
    """The MNIST data is missing or damaged; the message says what to do."""


def load_mnist(split: str, path: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (images uint8 (N, 28, 28), labels int64 (N,)) for "train" or "test".

    path: an .npz with x_train/y_train/x_test/y_test; default data/mnist.npz, checked
    against its checksum. With no path and no file, torchvision downloads MNIST.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    if path is not None:
        return _from_npz(Path(path), split, sha256=None)
    if DATA_FILE.exists():
        return _from_npz(DATA_FILE, split, sha256=DATA_SHA256)
    return _from_torchvision(split, DOWNLOAD_DIR)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _from_npz(path: Path, split: str, sha256: str | None) -> tuple[torch.Tensor, torch.Tensor]:
    if not path.is_file():
        raise DataError(f"MNIST data file not found: {path}. {FIX_IT}")
    if sha256 is not None and _sha256(path) != sha256:
        raise DataError(f"{path} is not the MNIST file this project ships (its checksum differs). {FIX_IT}")
    prefix = "train" if split == "train" else "test"
    try:
        # allow_pickle=False: an .npz can hold pickled objects; ours never does.
        with np.load(path, allow_pickle=False) as npz:
            images, labels = npz[f"x_{prefix}"], npz[f"y_{prefix}"]
    except KeyError as e:
        raise DataError(f"{path} has no array {e}; expected x_train, y_train, x_test, y_test. {FIX_IT}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path} could not be read as an .npz file ({e}). {FIX_IT}") from None
    return _checked(images, labels, str(path))


def _checked(images: np.ndarray, labels: np.ndarray, source: str) -> tuple[torch.Tensor, torch.Tensor]:
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DataError(f"{source}: images must be uint8 N x 28 x 28, got {images.dtype} {images.shape}. {FIX_IT}")
    if labels.shape != (len(images),) or labels.size == 0 or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{source}: labels must be N values in 0..9 beside N images. {FIX_IT}")
    return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels.astype(np.int64))


def _from_torchvision(split: str, root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision import datasets  # imported here: the offline path never needs it

    try:
        ds = datasets.MNIST(root=str(root), train=split == "train", download=True)
    except Exception as e:  # no network, a firewall, a half-downloaded file ...
        raise DataError(
            f"MNIST is not in {DATA_FILE} and torchvision could not download it into {root} ({e}). "
            "Copy mnist.npz into data/ (see data/README.md)."
        ) from None
    return _checked(ds.data.numpy(), ds.targets.numpy(), f"torchvision MNIST in {root}")


def main(argv: list[str] | None = None) -> int:
    for split in SPLITS:
        images, labels = load_mnist(split)
        counts = torch.bincount(labels, minlength=10).tolist()
        print(f"{split}: {len(images)} images, per class {counts}")
    return 0
