"""The saved models of one server, which one is active, and the last digit drawn.

One ModelStore is shared by every browser session of the app (and by the training
worker), so everything here is guarded by a lock. Each checkpoint file is loaded once
and kept; a file is re-read only when it changes on disk.

    python -m cnn_demo store        # lists the saved models
"""

import re
import threading
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from cnn_demo.network.model import Net, build, net_name
from cnn_demo.storage import checkpoint
from cnn_demo.storage.checkpoint import RUNS_DIR, CheckpointError

UPLOAD_SUFFIXES = (".safetensors", ".pt", ".pth")  # what an upload may be called
# Names Windows keeps for devices, whatever the extension: never a model's file name.
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


class StoreError(ValueError):
    """The store refused to do this (delete the default, touch a file outside it); the message says why."""


@dataclass(frozen=True)
class LoadedModel:
    name: str  # the file's stem, e.g. "default" or "20261129-031500-best"
    path: Path | None  # None for the untrained stand-in
    model: Net  # eval mode, on the CPU; shared by every session: never train or change it
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
        runs = (
            sorted(
                (p for p in self.runs_dir.glob(f"*{checkpoint.SUFFIX}") if not p.name.startswith(".")),
                key=lambda p: p.stat().st_mtime,
                reverse=True,
            )
            if self.runs_dir.is_dir()
            else []
        )
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

    def delete(self, path: Path) -> None:
        """Delete a saved run. The shipped default and any file that is not a checkpoint in
        the runs folder are refused (StoreError). If it was the server's active model, the
        default becomes active again."""
        target = self._run_path(path)
        with self._lock:
            try:
                target.unlink()
            except FileNotFoundError:
                raise StoreError(f"{target.stem} is not there any more (deleted already?)") from None
            self._loaded = {p: m for p, m in self._loaded.items() if not _same(p, target)}
            if _same(self._active_path, target):
                self._active_path = self.default

    def add_upload(self, blob: bytes, filename: str) -> Path:
        """Check an uploaded file and save it as a new run; returns its path.

        It is read as checkpoint.load_bytes reads it (this project's safetensors format, or a
        plain state_dict of tensors from torch.save, unpickled with weights_only); a pickle,
        another architecture, an empty or oversized file raise CheckpointError and nothing is
        written. The file gets a sanitised name in the runs folder and never replaces one."""
        if not filename.lower().endswith(UPLOAD_SUFFIXES):
            raise CheckpointError(f"{filename}: only {', '.join(UPLOAD_SUFFIXES)} files are accepted")
        model, meta = checkpoint.load_bytes(blob, Path(filename).name)  # raises before anything is written
        if checkpoint.is_torch_file(blob):
            # Saved again in this project's format, so the torch file is never opened again.
            meta = {**meta, "model": "seed", "test_accuracy": None, "date": _now()}

            def write(path: Path) -> Path:
                return checkpoint.save(model, path, meta, overwrite=False)
        else:

            def write(path: Path) -> Path:  # checked already: kept byte for byte, filter snapshots too
                return checkpoint.write_atomic(path, blob, overwrite=False)

        stem = safe_stem(filename)
        for n in range(1, 1000):
            name = stem if n == 1 else f"{stem}-{n}"
            if name == self.default.stem:
                continue  # two models called "default" would be told apart by nobody
            try:
                return write(self.runs_dir / f"{name}{checkpoint.SUFFIX}")
            except FileExistsError:
                continue
        raise StoreError(f"{filename}: too many saved models called {stem}")

    def file_bytes(self, path: Path) -> bytes:
        """The bytes of one saved model, for a download. Only files the store lists are read."""
        path = Path(path)
        if not any(_same(path, p) for p in self.saved()):
            raise StoreError(f"{path.name} is not one of the saved models")
        return path.read_bytes()

    def is_default(self, path: Path) -> bool:
        return _same(Path(path), self.default)

    def _run_path(self, path: Path) -> Path:
        path = Path(path)
        if self.is_default(path):
            raise StoreError("the shipped default model cannot be deleted")
        inside = path.resolve().parent == self.runs_dir.resolve()
        if not (inside and path.suffix == checkpoint.SUFFIX and not path.name.startswith(".")):
            raise StoreError(f"{path.name} is not a saved run in {self.runs_dir}; only those can be deleted")
        return path.resolve()

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
                self._loaded["untrained"] = LoadedModel("untrained", None, build().eval(), meta, "untrained")
            return self._loaded["untrained"]


def safe_stem(filename: str) -> str:
    """A file name a user sent -> a plain name for a file in the runs folder: letters (any
    script), digits, "_" and "-", at most 60 of them; no folders, dots or spaces."""
    name = unicodedata.normalize("NFC", re.split(r"[\\/]", filename)[-1])  # the last part of any path
    for suffix in UPLOAD_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    stem = re.sub(r"[^\w-]+", "-", name).strip("-_")[:60].strip("-_")
    if stem.upper() in WINDOWS_RESERVED:
        stem += "-model"
    return stem or "upload"


def _same(a: Path, b: Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def main(argv: list[str] | None = None) -> int:
    store = ModelStore()
    for path in store.saved():
        try:
            meta = store.get(path).meta
            acc = meta.get("test_accuracy")
            spec = store.get(path).model.spec
            print(
                f"{path.stem:32s} {meta.get('recipe', '?'):8s} {'-' if acc is None else f'{100 * acc:.2f}%':>8s}"
                f"  {meta.get('date', ''):25s}  {net_name(spec)}: {spec.describe()}"
            )
        except checkpoint.CheckpointError as e:
            print(f"{path.stem:32s} refused: {e}")
    return 0
