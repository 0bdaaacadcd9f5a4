"""`python -m cnn_demo inspect`, and the Inspect page's logic through Streamlit's AppTest (no browser)."""

from pathlib import Path

import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from cnn_demo.inside import inspect as ins
from cnn_demo.storage import checkpoint
from cnn_demo.storage.data import load_mnist
from tests.test_features import SHAPES


def test_command_line(model, tmp_path, capsys):
    path = checkpoint.save(model, tmp_path / "m.safetensors", {"recipe": "test"})
    assert ins.main([str(path), "--bench", "--runs", "5"]) == 0
    out = capsys.readouterr().out
    assert "16 × 24 × 24" in out and "(28 − 5 + 2·0) / 1 + 1 = 24" in out and "p95" in out
    assert ins.main([str(tmp_path / "missing.safetensors")]) == 1


# ---------------------------------------------------------------------------- the page (AppTest)

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TABS = ["Feature maps", "One channel", "Learned filters", "End of the network", "Where it looks", "How it works"]


@pytest.fixture
def page(monkeypatch):
    monkeypatch.setenv("CNN_DEMO_TRAINING", "thread")  # no training process to start for a page that trains nothing
    st.cache_resource.clear()  # a fresh "server"
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/inspect.py").run()
    assert not at.exception
    yield at
    st.cache_resource.clear()


def test_page_shows_every_stage_and_every_tab_runs(page):
    text = " ".join(m.value for m in page.markdown)
    for name, shape in SHAPES.items():
        if len(shape) == 3:
            assert f"**{name}** · {' × '.join(map(str, shape))}" in text
    for tab in TABS[1:]:
        page.session_state["inspect_tab"] = tab  # the tabs run only when open
        page.run()
        assert not page.exception, tab


def test_page_prediction_is_the_models(page):
    if not checkpoint.DEFAULT.exists():
        pytest.skip("no shipped default model")
    model, _ = checkpoint.load(checkpoint.DEFAULT)
    images, labels = load_mnist("test")
    page.number_input(key="inspect_index").set_value(42).run()
    with torch.no_grad():
        expected = model(images[42].float().div(255)[None, None]).argmax().item()
    (shown,) = [m for m in page.main.metric if m.label == "Prediction"]
    assert shown.value == str(expected)
    page.button(key="inspect_digit_3").click().run()  # the next 3 after image 42
    index = page.session_state["inspect_index"]
    assert index > 42 and labels[index] == 3 and (labels[43:index] != 3).all()
