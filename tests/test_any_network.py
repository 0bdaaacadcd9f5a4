"""Every engine module the pages use works for every preset network, not only the tutorial's:
untrained networks (fixed seeds) and small synthetic data, so this stays quick."""

from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from app_pages.common import MODEL_PICK
from cnn_demo.drawings.drawn import accuracy_on_drawings, drawings
from cnn_demo.inside import inspect as ins
from cnn_demo.inside.attribution import cam_stages, grad_cam, saliency
from cnn_demo.inside.equivariance import shift_equivariance
from cnn_demo.inside.features import chains, feature_maps, pool_winners
from cnn_demo.inside.similar import embed, most_alike
from cnn_demo.network.arithmetic import network_table, stage_geometry
from cnn_demo.network.model import PRESETS, ConvStage, NetSpec, build
from cnn_demo.storage import checkpoint
from cnn_demo.storage.store import ModelStore
from cnn_demo.training.evaluate import evaluate
from tests.conftest import synthetic_digits

NAMES = list(PRESETS)


@pytest.fixture(scope="module")
def nets() -> dict:
    torch.manual_seed(0)
    return {name: build(p.spec).eval() for name, p in PRESETS.items()}


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    images, _ = synthetic_digits(1, seed=3)
    return images[0].float().div(255).numpy()  # (28, 28) in [0, 1]


def test_chains_name_each_conv_stage():
    names = lambda preset: [(c.conv, c.activation, c.pool, c.pooling) for c in chains(build(PRESETS[preset].spec))]
    assert names("seed") == [
        ("conv1", "relu1", None, None),
        ("conv2", "relu2", "pool1", "max"),
        ("conv3", "relu3", "pool2", "max"),
    ]
    assert names("avg_pooling")[1:] == [("conv2", "relu2", "pool1", "avg"), ("conv3", "relu3", "pool2", "avg")]
    assert names("stride2") == [(f"conv{i}", f"relu{i}", None, None) for i in (1, 2, 3)]
    assert names("fully_connected") == []
    tanh = NetSpec((ConvStage(4, 3, activation="tanh", pool="avg"), ConvStage(8, 3, activation="sigmoid")), 20)
    assert [(c.activation, c.pool) for c in chains(build(tanh))] == [("tanh1", "pool1"), ("sigmoid2", None)]


@pytest.mark.parametrize("name", NAMES)
def test_table_and_geometry_follow_the_maps(nets, image, name):
    model = nets[name]
    maps = feature_maps(model, image)
    table = network_table(model)
    assert table[0].stage == "input" and [r.stage for r in table[-3:]] == ["flatten", "hidden", "logits"]
    for row in table[1:]:
        assert maps[row.stage].shape == row.out_shape, row.stage
    assert table[-2].out_shape == (PRESETS[name].spec.hidden,)
    convs = [r for r in table if r.kind == "conv"]
    assert [r.stage for r in convs] == [c.conv for c in chains(model)]
    assert [(r.filters, r.stride, r.padding) for r in convs] == [
        (c.out_channels, c.stride, c.padding) for c in PRESETS[name].spec.convs
    ]
    pools = [r.pooling for r in table if r.kind == "pool"]
    assert pools == [c.pool for c in PRESETS[name].spec.convs if c.pool]
    geometry = stage_geometry(model)
    assert list(geometry) == [n for n in maps if maps[n].ndim == 3]
    for chain in chains(model):  # an activation sits on its conv's grid
        assert geometry[chain.activation] is geometry[chain.conv]


@pytest.mark.parametrize("name", NAMES)
def test_attribution_on_any_network(nets, image, name):
    model = nets[name]
    s = saliency(model, image)
    assert s.shape == (28, 28) and s.max() == pytest.approx(1)
    stages = cam_stages(model)
    assert stages == [c.activation for c in chains(model)]
    if not stages:
        with pytest.raises(ValueError, match="no conv maps"):
            grad_cam(model, image)
        return
    np.testing.assert_array_equal(grad_cam(model, image), grad_cam(model, image, stage=stages[-1]))
    for stage in stages:
        cam = grad_cam(model, image, 3, stage=stage)
        assert cam.shape == (28, 28) and 0 <= cam.min() and cam.max() <= 1 + 1e-6
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_equivariance_on_any_network(nets, image, name):
    model = nets[name]
    result = shift_equivariance(model, image, 2, 0)
    rows = {r.stage: r for r in result.rows}
    assert list(rows) == ["input", *feature_maps(model, image)]
    geometry = stage_geometry(model)
    for stage, row in rows.items():
        assert row.jump == (1 if stage == "input" else geometry[stage].jump if stage in geometry else 0)
    # A conv with no padding moves with the picture: shifting back leaves nothing (away from the edge).
    for chain, spec in zip(chains(model), PRESETS[name].spec.convs):
        if spec.padding or geometry[chain.conv].jump != 1:
            break
        assert rows[chain.activation].shift_error < 1e-5, chain.activation


def test_pool_winners_with_overlapping_windows():
    rng = np.random.default_rng(0)
    fmap = rng.normal(size=(11, 11)).astype(np.float32)
    for size, stride in ((2, 2), (3, 2), (3, 1), (2, 3)):
        pooled = F.max_pool2d(torch.from_numpy(fmap)[None, None], size, stride)[0, 0].numpy()
        rows, cols = pool_winners(fmap, size, stride)
        kept = set(fmap[rows, cols].tolist())
        assert {v for v in pooled.ravel().tolist() if v > 0} <= kept, (size, stride)
        assert len(rows) == len(set(zip(rows.tolist(), cols.tolist())))  # each winner once


@pytest.mark.parametrize("name", ["seed", "fully_connected", "avg_pooling", "stride2"])
def test_evaluate_similar_and_drawn(nets, image, name):
    model = nets[name]
    images, labels = synthetic_digits(64, seed=5)
    result = evaluate(model, images, labels)
    assert result.confusion.sum() == 64 and result.predictions.shape == (64,)
    embedding = embed(model, images, batch_size=16)
    assert embedding.shape == (64, PRESETS[name].spec.hidden)
    indices, similarity = most_alike(model, image, embedding, k=5)
    assert len(indices) == 5 and np.all(np.diff(similarity) <= 1e-6)
    acc, per_class, predictions = accuracy_on_drawings(model, drawings(20))
    assert 0 <= acc <= 1 and len(per_class) == 10 and len(predictions) == 20


@pytest.mark.parametrize("name", ["fully_connected", "avg_pooling"])
def test_command_line_and_store(nets, tmp_path, capsys, name):
    path = checkpoint.save(nets[name], tmp_path / "runs" / f"{name}.safetensors", {"recipe": "test"})
    assert ins.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert f"network: {name}, {PRESETS[name].spec.describe()}" in out
    if name == "fully_connected":
        assert "no conv layers: each of the 155 hidden units reads all 784 pixels" in out
        assert "conv1" not in out
    else:
        assert "pool K=2 S=2 P=0: (20 − 2 + 2·0) / 2 + 1 = 10" in out
    store = ModelStore(default=tmp_path / "absent.safetensors", runs_dir=tmp_path / "runs")
    assert store.activate(path).model.spec == PRESETS[name].spec


def test_unit_evidence_adds_up_to_the_hidden_unit(nets, image):
    from cnn_demo.inside.features import unit_evidence

    model = nets["fully_connected"]
    hidden = feature_maps(model, image)["hidden"]  # (155,) after the ReLU
    for unit in (0, 7, 154):
        weights, parts, bias = unit_evidence(model, image, unit)
        assert weights.shape == parts.shape == (28, 28)
        assert max(parts.sum() + bias, 0) == pytest.approx(hidden[unit], abs=1e-5)
    with pytest.raises(ValueError):
        unit_evidence(nets["seed"], image, 0)


# ---------------------------------------------------------------------------- the pages (AppTest)

# Evaluate passes all 10,000 test images through the model: the browser test opens it (tests/e2e).
PAGES = ["app_pages/home.py", "app_pages/draw.py", "app_pages/inspect/page.py", "app_pages/models.py"]
INSPECT_TABS = ["One channel", "Learned filters", "End of the network", "Where it looks", "How it works"]
# Not a preset: tanh and sigmoid, an overlapping max-pool, a strided padded conv, average pooling.
ODD = NetSpec(
    (
        ConvStage(6, 3, activation="tanh", pool="max", pool_size=3, pool_stride=2),
        ConvStage(8, 3, stride=2, padding=1, activation="sigmoid", pool="avg"),
    ),
    hidden=32,
)


@pytest.fixture
def page_with(tmp_path, monkeypatch):
    """AppTest of the app with this browser's model picked in the sidebar: an untrained `spec`,
    saved in the runs folder of the server's model store (a temp dir here)."""
    import app_pages.common

    store = ModelStore(runs_dir=tmp_path)
    monkeypatch.setattr(app_pages.common, "model_store", lambda: store)
    monkeypatch.setenv("CNN_DEMO_TRAINING", "thread")  # no training process to start: nothing here trains

    def make(spec: NetSpec, name: str) -> AppTest:
        torch.manual_seed(0)
        path = checkpoint.save(build(spec).eval(), tmp_path / f"{name}.safetensors", {"recipe": "test"})
        st.cache_resource.clear()  # a fresh "server"
        at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60)
        at.session_state[MODEL_PICK] = path
        at.run()
        assert not at.exception
        return at

    yield make
    st.cache_resource.clear()


@pytest.mark.parametrize("name", ["fully_connected", "avg_pooling", "stride2", "odd"])
def test_every_page_and_tab_with_any_network(page_with, name):
    spec = ODD if name == "odd" else PRESETS[name].spec
    at = page_with(spec, name)
    text = lambda: " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (name, page, at.exception)
        if page == "app_pages/home.py":  # the table of stages follows the network
            table = at.table[0].value
            assert list(table.iloc[-3:, 2]) == [str(spec.flat_features()), str(spec.hidden), "10"]
            assert len(table) == 4 + len(spec.convs) + sum(c.pool is not None for c in spec.convs)
    at.switch_page("app_pages/inspect/page.py").run()
    if spec.convs:
        for i in range(1, len(spec.convs) + 1):
            assert f"**Conv stage {i}**" in text()
    else:
        assert "This network has no feature maps" in " ".join(i.value for i in at.info)
    for tab in INSPECT_TABS:
        at.session_state["inspect_tab"] = tab  # the tabs run only when open
        at.run()
        assert not at.exception, (name, tab, at.exception)
        if tab == "One channel" and name == "odd":
            assert "tanh squeezed" in text() and "circles mark" in text()
        if tab == "Where it looks":
            titles = "Grad-CAM" in text() or spec.convs
            assert titles and ("There is no Grad-CAM here" in text()) == (not spec.convs)
