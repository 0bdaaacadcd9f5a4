import json
import os
import pickle

import pytest
import torch
from safetensors.torch import save as st_save
from torch import nn

from cnn_demo import checkpoint
from cnn_demo.checkpoint import CheckpointError
from cnn_demo.model import SeedCNN


def test_round_trip_keeps_weights_meta_and_filters(tmp_path):
    torch.manual_seed(0)
    model = SeedCNN()
    filters = [{"conv1": torch.randn(16, 1, 5, 5)}, {"conv1": torch.randn(16, 1, 5, 5)}]
    path = checkpoint.save(model, tmp_path / "m.safetensors", {"recipe": "seed", "test_accuracy": 0.98}, filters)
    loaded, meta = checkpoint.load(path)
    assert meta == {"recipe": "seed", "test_accuracy": 0.98}
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)
    assert not loaded.training
    history = checkpoint.filter_history(path)
    assert len(history) == 2 and history[1]["conv1"].shape == (16, 1, 5, 5)
    assert abs(history[1]["conv1"] - filters[1]["conv1"].numpy()).max() < 1e-2  # stored as float16


def test_write_is_atomic_no_temp_file_left(tmp_path):
    checkpoint.save(SeedCNN(), tmp_path / "m.safetensors", {})
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = checkpoint.save(SeedCNN(), tmp_path / "m.safetensors", {"v": 1})
    before = path.read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        checkpoint.save(SeedCNN(), path, {"v": 2})
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_corrupt_files_are_refused(tmp_path):
    good = checkpoint.save(SeedCNN(), tmp_path / "good.safetensors", {}).read_bytes()
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
    with pytest.raises(CheckpointError, match="not the SeedCNN architecture"):
        checkpoint.load(tmp_path / "other.safetensors")
    state = {f"model.{k}": v for k, v in SeedCNN().state_dict().items()}
    state["model.fc_layer.2.weight"] = torch.zeros(5, 100)  # right names, wrong shape
    (tmp_path / "shape.safetensors").write_bytes(st_save(state, metadata={"format": checkpoint.FORMAT, "meta": "{}"}))
    with pytest.raises(CheckpointError, match="has shape"):
        checkpoint.load(tmp_path / "shape.safetensors")


def test_safetensors_of_another_program_is_refused(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(st_save({"w": torch.zeros(2)}))
    with pytest.raises(CheckpointError, match="not a cnn_demo"):
        checkpoint.load(tmp_path / "x.safetensors")


def test_nan_weights_are_refused(tmp_path):
    model = SeedCNN()
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
    """A state_dict saved with torch.save by the tutorial's notebook loads into SeedCNN."""
    torch.manual_seed(1)
    tutorial = SeedCNN()
    torch.save(tutorial.state_dict(), tmp_path / "tutorial.pth")
    model, meta = checkpoint.load(tmp_path / "tutorial.pth")
    assert meta["recipe"] == "imported"
    x = torch.rand(2, 1, 28, 28)
    assert torch.allclose(model(x), tutorial.eval()(x))


def test_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "MAX_BYTES", 1000)
    path = checkpoint.save(SeedCNN(), tmp_path / "m.safetensors", {})
    with pytest.raises(CheckpointError, match="too large"):
        checkpoint.load(path)


def test_default_model_is_shipped_and_good():
    if not checkpoint.DEFAULT.exists():
        pytest.fail(f"{checkpoint.DEFAULT} is missing: the default model must be committed")
    model, meta = checkpoint.load(checkpoint.DEFAULT)
    assert meta["model"] == "SeedCNN" and meta["test_accuracy"] >= 0.993
    assert len(checkpoint.filter_history(checkpoint.DEFAULT)) == meta["epochs_done"] + 1


def test_checkpoint_cli(tmp_path, capsys):
    path = checkpoint.save(SeedCNN(), tmp_path / "m.safetensors", {"recipe": "seed", "loss_history": [1.0]})
    assert checkpoint.main([str(path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == {"recipe": "seed"}  # the long loss history is left out
    (tmp_path / "bad").write_bytes(b"\x80\x04junk")
    assert checkpoint.main([str(tmp_path / "bad")]) == 1
    assert "pickle" in capsys.readouterr().err
