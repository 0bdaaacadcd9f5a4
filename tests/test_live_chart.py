"""The live chart's server half (app_pages/live_chart.py), without a browser: what it sends, and
plotly.js copied into static/ for Streamlit to serve (tests/e2e/test_live_chart.py drives it)."""

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from app_pages import live_chart


def test_the_spec_is_plain_json_without_the_placeholder_template():
    fig = go.Figure(data=[go.Scatter(x=np.arange(5), y=np.linspace(0, 1, 5))])
    spec = live_chart.figure_spec(fig, "loss_chart")
    json.dumps(spec)  # numpy arrays came through plotly's encoder
    assert "template" not in spec["layout"]
    assert spec["layout"]["uirevision"] == "loss_chart"  # a zoom survives Plotly.react
    kept = go.Figure(layout=dict(uirevision="loss"))
    assert live_chart.figure_spec(kept, "loss_chart")["layout"]["uirevision"] == "loss"


@pytest.fixture
def static(tmp_path, monkeypatch):
    monkeypatch.setattr(live_chart, "STATIC", tmp_path / "static")
    options = {"server.enableStaticServing": True, "server.baseUrlPath": ""}
    monkeypatch.setattr(live_chart.st, "get_option", lambda name: options[name])
    return tmp_path / "static", options


def test_plotly_js_is_copied_once_into_static(static):
    folder, _ = static
    url = live_chart.plotly_js_url.__wrapped__()  # uncached: once per server otherwise
    (copied,) = folder.iterdir()
    assert url == f"/app/static/{copied.name}" and copied.name.startswith("plotly-")
    assert copied.read_bytes() == live_chart.PLOTLY_JS.read_bytes()
    mtime = copied.stat().st_mtime_ns
    assert live_chart.plotly_js_url.__wrapped__() == url
    assert copied.stat().st_mtime_ns == mtime  # already there: not written again


def test_plotly_js_url_follows_the_base_url_and_is_none_without_static_serving(static):
    _, options = static
    options["server.baseUrlPath"] = "/cnn/"
    assert live_chart.plotly_js_url.__wrapped__().startswith("/cnn/app/static/plotly-")
    options["server.enableStaticServing"] = False
    assert live_chart.plotly_js_url.__wrapped__() is None  # live_chart() falls back to chart()
