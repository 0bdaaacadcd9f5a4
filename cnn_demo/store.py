"""The saved models of one server, which one is active, and the last digit drawn.

One ModelStore is shared by every browser session of the app (and by the training
worker), so everything here is guarded by a lock. Each checkpoint file is loaded once
and kept; a file is re-read only when it changes on disk.

    python -m cnn_demo.store        # lists the saved models
"""

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnn_demo import checkpoint
from cnn_demo.checkpoint import RUNS_DIR
from cnn_demo.model import SeedCNN


@dataclass(frozen=True)
class LoadedModel:
    name: str  # the file's stem, e.g. "default" or "20261129-031500-best"
    path: Path | None  # None for the untrained stand-in
    model: SeedCNN  # eval mode, on the CPU; shared by every session: never train or change it
    meta: dict
    version: str  # changes whenever the weights change: a cache key for derived data

    @property
    def test_accuracy(self) -> float | None:
        return self.meta.get("test_accuracy")


class ModelStore:
    def __init__(self, default: Path = checkpoint.DEFAULT, runs_dir: Path = RUNS_DIR):
        self.default, self.runs_dir = Path(default), Path(runs_dir)
        self._lock = threading.Lock()
        self._loaded: dict[Path, LoadedModel] = {}
        self._active_path: Path = self.default
        self._last_drawing: np.ndarray | None = None
        self.problem: str | None = None  # why the active model could not be loaded, if it could not

    def saved(self) -> list[Path]:
        """The shipped default first, then runs, newest first. Temp files of a write in
        progress start with "." and never end in .safetensors, so they are never listed."""
        runs = sorted(
            (p for p in self.runs_dir.glob(f"*{checkpoint.SUFFIX}") if not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        ) if self.runs_dir.is_dir() else []
        return ([self.default] if self.default.exists() else []) + runs

    def get(self, path: Path) -> LoadedModel:
        """The model in `path`, loaded once per version of the file; raises CheckpointError."""
        path = Path(path)
        stat = path.stat() if path.exists() else None
        version = f"{path.stem}:{stat.st_mtime_ns}:{stat.st_size}" if stat else f"{path.stem}:missing"
        with self._lock:
            cached = self._loaded.get(path)
            if cached is not None and cached.version == version:
                return cached
        model, meta = checkpoint.load(path)  # outside the lock: a slow read blocks nobody
        loaded = LoadedModel(path.stem, path, model, meta, version)
        with self._lock:
            self._loaded[path] = loaded
        return loaded

    def active(self) -> LoadedModel:
        """The server's active model. If its file is missing or damaged, an untrained
        stand-in is returned and `problem` says what happened (the app stays usable)."""
        with self._lock:
            path = self._active_path
        try:
            loaded = self.get(path)
            self.problem = None
            return loaded
        except (checkpoint.CheckpointError, OSError) as e:
            self.problem = str(e)
            if path != self.default:  # fall back to the shipped model before giving up
                with self._lock:
                    self._active_path = self.default
                return self.active()
            return self._untrained()

    def activate(self, path: Path) -> LoadedModel:
        """Make `path` the server's active model (checked by loading it first)."""
        loaded = self.get(path)
        with self._lock:
            self._active_path = Path(path)
        return loaded

    def remember_drawing(self, image28: np.ndarray) -> None:
        """The latest digit drawn on this server (28x28 float32), for the Train page's live view."""
        with self._lock:
            self._last_drawing = np.array(image28, dtype=np.float32)

    def last_drawing(self) -> np.ndarray | None:
        with self._lock:
            return None if self._last_drawing is None else self._last_drawing.copy()

    def _untrained(self) -> LoadedModel:
        with self._lock:
            if "untrained" not in self._loaded:
                import torch

                torch.manual_seed(0)
                meta = {"recipe": "untrained", "test_accuracy": None, "device": "cpu"}
                self._loaded["untrained"] = LoadedModel("untrained", None, SeedCNN().eval(), meta, "untrained")
            return self._loaded["untrained"]


def main() -> None:
    store = ModelStore()
    for path in store.saved():
        try:
            meta = store.get(path).meta
            acc = meta.get("test_accuracy")
            print(f"{path.stem:32s} {meta.get('recipe', '?'):8s} {'-' if acc is None else f'{100 * acc:.2f}%':>8s}  {meta.get('date', '')}")
        except checkpoint.CheckpointError as e:
            print(f"{path.stem:32s} refused: {e}")


if __name__ == "__main__":
    main()
