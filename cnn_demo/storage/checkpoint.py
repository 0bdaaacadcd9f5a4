"""One checkpoint format for the whole project: safetensors plus a JSON metadata block.

Reading a checkpoint executes nothing: safetensors holds only raw tensors and a JSON
header. Tensors in a file:
    model.<key>                 the network's state_dict, e.g. model.layer.0.weight (16,1,5,5)
    filters.<epoch>.<conv>      the conv kernels after each epoch (float16), for the
                                "filters over time" view; epoch 0 is the initialisation
The header's metadata holds {"format": FORMAT, "meta": <JSON>} with the recipe, the
history and how the model was made; meta["net"] is the network's NetSpec (`to_dict`), from
which `load` builds the module the weights go into. A file without one (older files) holds
the tutorial's network.

A state_dict saved with `torch.save` from the tutorial's notebook also loads (through
`torch.load(weights_only=True)`, which refuses anything but tensors); any other file, a
raw pickle, a network spec that cannot work, or weights that do not fit the spec are refused with a
CheckpointError.

    python -m cnn_demo checkpoint FILE      # prints a checkpoint's metadata
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from cnn_demo import ROOT
from cnn_demo.network.model import SEED, Net, NetSpec, SpecError, build, net_name

DEFAULT = ROOT / "checkpoints" / "default.safetensors"
# Runs trained in the app or by the command line land here; tests point it at a temp folder.
RUNS_DIR = Path(os.environ.get("CNN_DEMO_RUNS_DIR", ROOT / "checkpoints" / "runs"))
FORMAT = "cnn_demo/1"
MAX_BYTES = 64 * 1024 * 1024  # a real one is ~1-5 MB; refuse to read anything far bigger
SUFFIX = ".safetensors"


class CheckpointError(ValueError):
    """The file is not a checkpoint of this model; the message says why."""


def save(
    model: Net,
    path: str | Path,
    meta: dict,
    filters: list[dict[str, torch.Tensor]] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write model weights, metadata and optional per-epoch filter snapshots, atomically.
    overwrite=False raises FileExistsError rather than replace a file already at `path`."""
    path = Path(path)
    meta = {**meta, "net": model.spec.to_dict(), "model": net_name(model.spec)}  # what `load` rebuilds
    tensors = {f"model.{k}": v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    for epoch, convs in enumerate(filters or []):
        for name, w in convs.items():
            tensors[f"filters.{epoch}.{name}"] = w.detach().to("cpu", torch.float16).contiguous()
    blob = st_save(tensors, metadata={"format": FORMAT, "meta": json.dumps(meta)})
    return write_atomic(path, blob, overwrite)


def write_atomic(path: str | Path, blob: bytes, overwrite: bool = True) -> Path:
    """Write bytes to `path` so that no reader ever sees half a file. overwrite=False raises
    FileExistsError instead of replacing a file that is there (checked atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Temp file in the same folder, then rename: a crash never leaves a half-written model
    # under the real name. Temp names start with "." and do not end in .safetensors, so
    # listings never show them.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; a model file is an ordinary file
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)  # after os.replace there is nothing left to remove
    return path


def _link_new(tmp: str, path: Path) -> None:
    try:
        os.link(tmp, path)  # fails with FileExistsError if the name is taken, even in a race
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links (FAT, some network drives)
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp, path)


def load(path: str | Path) -> tuple[Net, dict]:
    """Return (model in eval mode on the CPU, metadata) or raise CheckpointError."""
    tensors, meta = read(path)
    return _restore(tensors, meta, path), meta


def load_bytes(blob: bytes, name: str = "upload") -> tuple[Net, dict]:
    """Like load, for bytes that arrived in memory (an upload)."""
    tensors, meta = _parse(blob, name)
    return _restore(tensors, meta, name), meta


def spec_of(meta: dict, name="checkpoint") -> NetSpec:
    """The network a checkpoint's metadata describes (the tutorial's if it names none)."""
    if "net" not in meta:
        return SEED
    try:
        return NetSpec.from_dict(meta["net"]).check()
    except (SpecError, TypeError) as e:
        raise CheckpointError(f"{Path(str(name)).name}: the network it describes cannot be built ({e})") from None


def _restore(tensors: dict[str, torch.Tensor], meta: dict, name) -> Net:
    model = build(spec_of(meta, name))
    model.load_state_dict(_model_state(tensors, name, model))
    return model.eval()


def filter_history(path: str | Path) -> list[dict[str, np.ndarray]]:
    """The conv kernels after each epoch: [{"conv1": (16,1,5,5), ...}, ...], epoch 0 first."""
    tensors, _ = read(path)
    history: dict[int, dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        if key.startswith("filters."):
            _, epoch, name = key.split(".", 2)
            history.setdefault(int(epoch), {})[name] = value.float().numpy()
    return [history[e] for e in sorted(history)]


def read(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """The raw tensors and metadata of a checkpoint file, checked, nothing executed."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise CheckpointError(f"{path.name}: cannot read it ({e.strerror or e})") from None
    if size > MAX_BYTES:
        raise CheckpointError(f"{path.name}: {size / 2**20:.0f} MB is too large for a checkpoint of this model")
    return _parse(path.read_bytes(), path.name)


def is_torch_file(blob: bytes) -> bool:
    """torch.save's format, a zip archive (opened only as a plain state_dict, see below)."""
    return blob[:4] == b"PK\x03\x04"


def _parse(blob: bytes, name: str) -> tuple[dict[str, torch.Tensor], dict]:
    if len(blob) > MAX_BYTES:
        raise CheckpointError(f"{name}: {len(blob) / 2**20:.0f} MB is too large for a checkpoint of this model")
    if len(blob) == 0:
        raise CheckpointError(f"{name}: the file is empty")
    if is_torch_file(blob):  # a state_dict from the tutorial
        return _parse_torch_zip(blob, name), {"recipe": "imported", "source": name}
    header_len = int.from_bytes(blob[:8], "little")
    if not (len(blob) >= 8 + header_len and blob[8:9] == b"{"):  # not a safetensors header
        if blob[:1] == b"\x80" and blob[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
            raise CheckpointError(f"{name}: this is a Python pickle; pickles can run code, so it is not opened")
        raise CheckpointError(f"{name}: not a checkpoint file, or a damaged one")
    try:
        tensors = st_load(blob)
        header = json.loads(blob[8 : 8 + header_len])
    except (SafetensorError, ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{name}: not a checkpoint file, or a damaged one ({e})") from None
    metadata = header.get("__metadata__") or {}
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{name}: a safetensors file, but not a {FORMAT} checkpoint")
    try:
        meta = json.loads(metadata.get("meta", "{}"))
    except ValueError:
        raise CheckpointError(f"{name}: its metadata is not valid JSON") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{name}: its metadata is not a JSON object")
    return tensors, meta


def _parse_torch_zip(blob: bytes, name: str) -> dict[str, torch.Tensor]:
    import io
    import pickle

    try:
        # weights_only=True: a restricted unpickler that builds tensors and plain
        # containers and refuses every other object, so nothing in the file runs.
        state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{name}: refused; it is not a plain state_dict of tensors ({first})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{name}: a torch file, but not a state_dict of tensors")
    return {f"model.{k}": v for k, v in state.items()}


def _model_state(tensors: dict[str, torch.Tensor], name, model: Net) -> dict[str, torch.Tensor]:
    expected = {k: v.shape for k, v in model.state_dict().items()}
    what = "the tutorial's network" if model.spec == SEED else f"the network it describes ({model.spec.describe()})"
    state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    if set(state) != set(expected):
        missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        raise CheckpointError(
            f"{Path(str(name)).name}: its weights are not those of {what}"
            + (f"; missing {', '.join(missing[:4])}" if missing else "")
            + (f"; unexpected {', '.join(extra[:4])}" if extra else "")
        )
    for key, shape in expected.items():
        if state[key].shape != shape:
            raise CheckpointError(
                f"{Path(str(name)).name}: {key} has shape {tuple(state[key].shape)}, {what} needs {tuple(shape)}"
            )
        if not torch.isfinite(state[key].float()).all():
            raise CheckpointError(f"{Path(str(name)).name}: {key} holds NaN or infinite values")
    return {k: v.float() for k, v in state.items()}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m cnn_demo checkpoint FILE", file=sys.stderr)
        return 2
    try:
        _, meta = load(args[0])
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    short = {k: v for k, v in meta.items() if k not in ("loss_history",)}
    print(json.dumps(short, indent=2))
    return 0
