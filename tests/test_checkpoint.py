import json
import os
import pickle

import pytest
import torch
from safetensors.torch import save as st_save
from torch import nn

from cnn_demo.network.model import SEED, build
from cnn_demo.storage import checkpoint
from cnn_demo.storage.checkpoint import CheckpointError


def test_round_trip_keeps_weights_meta_and_filters(tmp_path):
    torch.manual_seed(0)
    model = build()
    filters = [{"conv1": torch.randn(16, 1, 5, 5)}, {"conv1": torch.randn(16, 1, 5, 5)}]
    path = checkpoint.save(model, tmp_path / "m.safetensors", {"recipe": "seed", "test_accuracy": 0.98}, filters)
    loaded, meta = checkpoint.load(path)
    assert meta == {"recipe": "seed", "test_accuracy": 0.98, "model": "seed", "net": SEED.to_dict()}
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)
    assert not loaded.training
    history = checkpoint.filter_history(path)
    assert len(history) == 2 and history[1]["conv1"].shape == (16, 1, 5, 5)
    assert abs(history[1]["conv1"] - filters[1]["conv1"].numpy()).max() < 1e-2  # stored as float16


def test_write_is_atomic_no_temp_file_left(tmp_path):
    checkpoint.save(build(), tmp_path / "m.safetensors", {})
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = checkpoint.save(build(), tmp_path / "m.safetensors", {"v": 1})
    before = path.read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        checkpoint.save(build(), path, {"v": 2})
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_corrupt_files_are_refused(tmp_path):
    good = checkpoint.save(build(), tmp_path / "good.safetensors", {}).read_bytes()
    cases = {"empty": b"", "text": b"hello, I am not a model", "truncated": good[: len(good) // 2]}
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(CheckpointError):
            checkpoint.load(tmp_path / name)
    with pytest.raises(CheckpointError, match="cannot read"):
        checkpoint.load(tmp_path / "missing.safetensors")


def test_other_architecture_is_refused(tmp_path):
    other = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU())
    blob = st_save(
        {f"model.{k}": v for k, v in other.state_dict().items()}, metadata={"format": checkpoint.FORMAT, "meta": "{}"}
    )
    (tmp_path / "other.safetensors").write_bytes(blob)
    with pytest.raises(CheckpointError, match="its weights are not those of"):
        checkpoint.load(tmp_path / "other.safetensors")
    state = {f"model.{k}": v for k, v in build().state_dict().items()}
    state["model.fc_layer.2.weight"] = torch.zeros(5, 100)  # right names, wrong shape
    (tmp_path / "shape.safetensors").write_bytes(st_save(state, metadata={"format": checkpoint.FORMAT, "meta": "{}"}))
    with pytest.raises(CheckpointError, match="has shape"):
        checkpoint.load(tmp_path / "shape.safetensors")


def test_safetensors_of_another_program_is_refused(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(st_save({"w": torch.zeros(2)}))
    with pytest.raises(CheckpointError, match="not a cnn_demo"):
        checkpoint.load(tmp_path / "x.safetensors")


def test_nan_weights_are_refused(tmp_path):
    model = build()
    with torch.no_grad():
        model.layer[0].weight[0, 0, 0, 0] = float("nan")
    checkpoint.save(model, tmp_path / "nan.safetensors", {})
    with pytest.raises(CheckpointError, match="NaN"):
        checkpoint.load(tmp_path / "nan.safetensors")


class WritesAFile:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_malicious_pickle_never_runs(tmp_path):
    target = tmp_path / "pwned"
    raw = tmp_path / "evil.pkl"
    raw.write_bytes(pickle.dumps(WritesAFile(str(target))))
    zipped = tmp_path / "evil.pt"
    torch.save({"layer.0.weight": WritesAFile(str(target))}, zipped)  # a torch zip with a payload
    for path in (raw, zipped):
        with pytest.raises(CheckpointError):
            checkpoint.load(path)
        with pytest.raises(CheckpointError):
            checkpoint.load_bytes(path.read_bytes(), path.name)
    assert not target.exists()


def test_tutorial_state_dict_loads(tmp_path):
    """A state_dict saved with torch.save by the tutorial's notebook loads into the tutorial's network."""
    torch.manual_seed(1)
    tutorial = build()
    torch.save(tutorial.state_dict(), tmp_path / "tutorial.pth")
    model, meta = checkpoint.load(tmp_path / "tutorial.pth")
    assert meta["recipe"] == "imported"
    x = torch.rand(2, 1, 28, 28)
    assert torch.allclose(model(x), tutorial.eval()(x))


def test_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "MAX_BYTES", 1000)
    path = checkpoint.save(build(), tmp_path / "m.safetensors", {})
    with pytest.raises(CheckpointError, match="too large"):
        checkpoint.load(path)


def test_default_model_is_shipped_and_good():
    if not checkpoint.DEFAULT.exists():
        pytest.fail(f"{checkpoint.DEFAULT} is missing: the default model must be committed")
    model, meta = checkpoint.load(checkpoint.DEFAULT)
    assert meta["model"] in ("SeedCNN", "seed") and meta["test_accuracy"] >= 0.993
    assert len(checkpoint.filter_history(checkpoint.DEFAULT)) == meta["epochs_done"] + 1


def test_checkpoint_cli(tmp_path, capsys):
    path = checkpoint.save(build(), tmp_path / "m.safetensors", {"recipe": "seed", "loss_history": [1.0]})
    assert checkpoint.main([str(path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == {"recipe": "seed", "model": "seed", "net": SEED.to_dict()}  # the long loss history is left out
    (tmp_path / "bad").write_bytes(b"\x80\x04junk")
    assert checkpoint.main([str(tmp_path / "bad")]) == 1
    assert "pickle" in capsys.readouterr().err


# A writer for the kill test, in an interpreter of its own. It imports torch once, runs no
# parallel work (one thread), and for each version number it reads forks a child that saves
# that checkpoint with checkpoint.save over and over, a version more each time, until the test
# kills it; then it reaps the child and says so. About 10 MB a file, as after a long run.
WRITER = """
import os, sys
import torch
torch.set_num_threads(1)
from cnn_demo.storage import checkpoint
from cnn_demo.network.model import Net, build, conv_weights
target = sys.argv[1]
torch.manual_seed(0)
model = build()
filters = [conv_weights(model)] * 80
print("ready", flush=True)
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        version = int(line)
        while True:
            checkpoint.save(model, target, {"version": version}, filters)
            version += 1
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("reaped", flush=True)
"""


def test_a_save_killed_at_any_moment_leaves_the_old_file_or_the_new_one_never_a_part(tmp_path):
    """SIGKILL, as when the server is killed mid-run, while checkpoint.save writes: the file
    under the real name is always absent (before the first save ends) or a whole checkpoint,
    never older than one seen before, and what a cut write leaves is never listed as a model."""
    import random
    import signal
    import subprocess
    import sys
    import time

    from cnn_demo.network.model import conv_weights
    from cnn_demo.storage.store import ModelStore

    # How long one save takes here, to spread the kills over it.
    model = build()
    t0 = time.perf_counter()
    checkpoint.save(model, tmp_path / "timing.safetensors", {"version": 0}, [conv_weights(model)] * 80)
    save_s = time.perf_counter() - t0
    (tmp_path / "timing.safetensors").unlink()

    target = tmp_path / "run.safetensors"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)],
        cwd=checkpoint.ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    store = ModelStore(default=tmp_path / "absent.safetensors", runs_dir=tmp_path)
    rng = random.Random(0)
    cut_writes, last_version = 0, -1
    try:
        assert writer.stdout.readline().strip() == "ready"
        for round_ in range(12):
            writer.stdin.write(f"{1000 * round_}\n")
            writer.stdin.flush()
            pid = int(writer.stdout.readline())
            # Kill it once a write is under way (its temp file is there; a save begins at once,
            # so after 5 s whatever is happening), at once or a random moment later: in the data,
            # in fsync, at the rename, in a later save or between two.
            deadline = time.time() + 5
            while not list(tmp_path.glob(".run.safetensors.*.tmp")) and time.time() < deadline:
                time.sleep(0.0005)
            time.sleep(rng.choice([0.0, rng.uniform(0, 3 * save_s)]))
            os.kill(pid, signal.SIGKILL)
            assert writer.stdout.readline().strip() == "reaped"

            leftovers = sorted(p.name for p in tmp_path.iterdir() if p != target)
            cut_writes += bool(leftovers)
            assert all(n.startswith(".run.safetensors.") and n.endswith(".tmp") for n in leftovers), leftovers
            if target.exists():
                _, meta = checkpoint.load(target)  # whole: a part of one is refused
                assert meta["version"] >= last_version  # a cut write never takes the file back
                last_version = meta["version"]
                assert store.saved() == [target]
            else:
                assert last_version == -1 and store.saved() == []  # no save has ended yet
            for name in leftovers:  # as the app's next save would find the folder, more or less
                (tmp_path / name).unlink()
    finally:
        writer.kill()
        writer.wait()
    assert cut_writes >= 4, f"only {cut_writes} of 12 kills cut a write short"
    assert last_version >= 1000, "no save ever ended"
