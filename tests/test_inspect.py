"""`python -m cnn_demo inspect`, and the Inspect page's logic through Streamlit's AppTest (no browser)."""

from pathlib import Path

import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from cnn_demo.inside import inspect as ins
from cnn_demo.inside.features import feature_maps, probabilities
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
    at.switch_page("app_pages/inspect/page.py").run()
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


def test_the_open_tab_is_kept_across_a_language_switch(page):
    """The tabs are kept by their label (app_pages.i18n.kept_tabs): in Korean, the same tab opens."""
    page.session_state["inspect_tab"] = "Where it looks"
    page.run()
    assert any(c.value.startswith("**Saliency**") for c in page.caption)  # that tab ran
    page.session_state["lang"] = "ko"
    page.run()
    assert not page.exception
    assert page.session_state["inspect_tab"] == "어디를 보는가"
    assert any("Grad-CAM" in c.value for c in page.caption)  # still that tab, now in Korean


def end_of_the_network(model, image28, maps, probs, predicted):
    """One tab alone, as a script of its own: its inputs are its arguments."""
    from app_pages.inspect.end import end_tab

    end_tab(model, image28, maps, probs, predicted)


def test_a_tab_runs_on_its_own_from_its_arguments(model, digits):
    image = digits[0]  # (28, 28) in [0, 1]
    maps = feature_maps(model, image)
    probs = probabilities(maps["logits"])
    args = (model, image, maps, probs, int(probs.argmax()))
    at = AppTest.from_function(end_of_the_network, args=args, default_timeout=60).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    # The independent truth: the model's own layers, not the page's arithmetic.
    with torch.no_grad():
        x = torch.as_tensor(image)[None, None]
        flat = model.layer(x).flatten(1)  # (1, 576)
        hidden = model.fc_layer[:2](flat)[0]  # (100,) after the ReLU
    fc1 = model.fc_layer[0]
    assert f"**flatten** · {flat.shape[1]} = 64 × 3 × 3" in text
    params = fc1.weight.numel() + fc1.bias.numel()
    assert f"Linear({fc1.in_features}→{fc1.out_features}) + ReLU, {params:,} parameters" in text
    titles = " ".join(html.proto.body for html in at.get("html"))  # charts' titles: text above them
    assert f">{int((hidden > 0).sum())} of {len(hidden)} hidden units are active for this digit<" in titles
