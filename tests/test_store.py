import pickle
import threading

import pytest
import torch
from safetensors.torch import save as st_save
from torch import nn

from cnn_demo.network.model import Net, build
from cnn_demo.storage import checkpoint
from cnn_demo.storage.checkpoint import CheckpointError
from cnn_demo.storage.store import ModelStore, StoreError, safe_stem


@pytest.fixture
def store(tmp_path):
    torch.manual_seed(0)
    default = checkpoint.save(
        build(), tmp_path / "shipped" / "default.safetensors", {"recipe": "best", "test_accuracy": 0.99}
    )
    return ModelStore(default=default, runs_dir=tmp_path / "runs")


def good_blob(seed: int = 1, meta: dict | None = None) -> tuple[Net, bytes]:
    torch.manual_seed(seed)
    model = build()
    state = {f"model.{k}": v.contiguous() for k, v in model.state_dict().items()}
    return model, st_save(state, metadata={"format": checkpoint.FORMAT, "meta": '{"recipe": "seed"}'})


def runs(store: ModelStore) -> list[str]:
    return sorted(p.name for p in store.runs_dir.iterdir()) if store.runs_dir.exists() else []


class WritesAFile:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_good_upload_round_trips(store):
    model, blob = good_blob()
    path = store.add_upload(blob, "my model.safetensors")
    assert path == store.runs_dir / "my-model.safetensors" and path.read_bytes() == blob  # kept byte for byte
    assert path in store.saved() and store.file_bytes(path) == blob
    loaded = store.get(path)
    assert loaded.meta["recipe"] == "seed"
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[k], v)


def test_tutorial_state_dict_upload_is_stored_in_the_safe_format(store, tmp_path):
    torch.manual_seed(2)
    tutorial = build()
    torch.save(tutorial.state_dict(), tmp_path / "tutorial.pth")
    path = store.add_upload((tmp_path / "tutorial.pth").read_bytes(), "tutorial.pth")
    assert path.name == "tutorial.safetensors" and not checkpoint.is_torch_file(path.read_bytes())
    model, meta = checkpoint.load(path)
    assert meta["recipe"] == "imported" and meta["source"] == "tutorial.pth" and meta["date"]
    x = torch.rand(3, 1, 28, 28)
    assert torch.allclose(model(x), tutorial.eval()(x))


def test_upload_never_overwrites_and_names_are_sanitised(store):
    _, first = good_blob(1)
    _, second = good_blob(2)
    a = store.add_upload(first, "../../etc/x.pt")
    b = store.add_upload(second, "x.pt")
    c = store.add_upload(second, "default.safetensors")  # not a second "default" in the list
    assert (a.name, b.name, c.name) == ("x.safetensors", "x-2.safetensors", "default-2.safetensors")
    assert a.read_bytes() == first and b.read_bytes() == second
    assert all(p.parent == store.runs_dir for p in (a, b, c))
    assert (
        safe_stem("모델 (최종).pth") == "모델-최종"
        and safe_stem("...pt") == "upload"
        and safe_stem("nul.pt") == "nul-model"
    )


def test_concurrent_uploads_of_one_name_all_land(store):
    _, blob = good_blob()
    paths = []
    threads = [
        threading.Thread(target=lambda: paths.append(store.add_upload(blob, "same.safetensors"))) for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(paths)) == 6 and len(runs(store)) == 6


def test_pickles_are_refused_and_never_run(store, tmp_path):
    target = tmp_path / "pwned"
    raw = pickle.dumps(WritesAFile(str(target)))
    torch.save({"layer.0.weight": WritesAFile(str(target))}, tmp_path / "evil.pt")  # a torch zip with a payload
    for blob, name in ((raw, "evil.pt"), ((tmp_path / "evil.pt").read_bytes(), "evil.pt"), (raw, "evil.safetensors")):
        with pytest.raises(CheckpointError):
            store.add_upload(blob, name)
    assert not target.exists()  # the payload's open(target, "w") never ran
    assert runs(store) == []


@pytest.mark.parametrize(
    "blob, name, message",
    [
        (b"", "empty.pt", "empty"),
        (b"hello, I am a text file\n", "notes.pt", "not a checkpoint"),
        (b"hello", "notes.txt", "only .safetensors"),
        (
            st_save(
                {f"model.{k}": v for k, v in nn.Conv2d(1, 8, 3).state_dict().items()},
                metadata={"format": checkpoint.FORMAT, "meta": "{}"},
            ),
            "other.safetensors",
            "its weights are not those of the tutorial's network",
        ),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_written(store, blob, name, message):
    with pytest.raises(CheckpointError, match=message):
        store.add_upload(blob, name)
    assert runs(store) == []


def test_wrong_architecture_torch_file_is_refused(store, tmp_path):
    torch.save(nn.Linear(784, 10).state_dict(), tmp_path / "mlp.pt")
    with pytest.raises(CheckpointError, match="its weights are not those of the tutorial's network"):
        store.add_upload((tmp_path / "mlp.pt").read_bytes(), "mlp.pt")
    assert runs(store) == []


def test_oversized_upload_is_refused(store, monkeypatch):
    _, blob = good_blob()
    monkeypatch.setattr(checkpoint, "MAX_BYTES", len(blob) - 1)
    with pytest.raises(CheckpointError, match="too large"):
        store.add_upload(blob, "big.safetensors")
    assert runs(store) == []


def test_delete_refuses_the_default_and_anything_outside_the_runs(store, tmp_path):
    with pytest.raises(StoreError, match="default"):
        store.delete(store.default)
    assert store.default.exists()
    outside = checkpoint.save(build(), tmp_path / "elsewhere.safetensors", {})
    store.runs_dir.mkdir()
    (store.runs_dir / "notes.txt").write_text("keep me")
    for path in (outside, store.runs_dir / ".." / "elsewhere.safetensors", store.runs_dir / "notes.txt"):
        with pytest.raises(StoreError):
            store.delete(path)
    assert outside.exists() and (store.runs_dir / "notes.txt").exists()
    with pytest.raises(StoreError):
        store.file_bytes(outside)  # downloads, too, only of listed models


def test_delete_of_the_active_run_makes_the_default_active(store):
    _, blob = good_blob()
    path = store.add_upload(blob, "mine.safetensors")
    assert store.activate(path).path == path and store.active().path == path
    store.delete(path)
    assert not path.exists() and path not in store.saved()
    assert store.active().path == store.default
    with pytest.raises(CheckpointError):
        store.get(path)  # no stale copy is served
    with pytest.raises(StoreError, match="not there"):
        store.delete(path)


def test_delete_of_another_run_keeps_the_active_one(store):
    _, blob = good_blob()
    keep, drop = store.add_upload(blob, "keep.pt"), store.add_upload(blob, "drop.pt")
    store.activate(keep)
    store.delete(drop)
    assert store.active().path == keep and runs(store) == ["keep.safetensors"]
