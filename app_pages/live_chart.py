"""A Plotly chart that is redrawn in place: for figures that change every second (the Train page's
loss curve while a run trains).

st.plotly_chart derives its element's id from the figure (docs/streamlit-notes.md, "Charts"):
new data is a new element, and the browser builds a whole new plot (Plotly.newPlot) each time,
on the cores the run trains on, losing the user's zoom. This is a small components-v2 element
(app_pages/live_chart.js, in the page's DOM, no iframe) whose id is its key: it keeps one chart and
applies each update with Plotly.react, and `uirevision` keeps what the user zoomed.

plotly.js itself comes from the installed `plotly` package, served by this app (schools are
offline: no CDN), and is sent to a browser once, not with every update:
- Streamlit's static file serving (`[server] enableStaticServing = true` in .streamlit/config.toml)
  serves the `static/` folder beside app.py at /app/static/, reading each file when it is asked
  for. The file is copied there from the plotly package at first use (static/ is in the
  repository, its contents ignored), named after its plotly.js version, so an upgraded package
  brings a new URL, never a stale cached copy.
- Not a components-v2 `asset_dir`: Streamlit finds those only in the pyproject.toml of an
  installed distribution (components/v2/manifest_scanner.py), and this app runs from a checkout.
- Not in the component's js: that text travels in every update's message.
- A symlink would not do: the static route refuses paths that resolve outside static/.
When static serving is off (the app started from another folder, without this config) or the
copy fails, the chart falls back to chart() (st.plotly_chart) and says so in the server log.
"""

import json
import logging
import os
import shutil
import threading
from functools import cache
from pathlib import Path

import plotly
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st
from plotly.offline import get_plotlyjs_version

from app_pages.figures import chart, prepare

STATIC = Path(__file__).resolve().parents[1] / "static"  # Streamlit serves the folder beside app.py
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"

_log = logging.getLogger(__name__)

# Registered once, at import: every session mounts the same definition.
_component = st.components.v2.component(
    "cnn_demo.live_chart",
    js=(Path(__file__).with_suffix(".js")).read_text(encoding="utf-8"),
    # In the page's own DOM, not a shadow root: plotly.js puts its styles (the mode bar's) in the
    # document's head, and the tests find the chart with document.querySelector.
    isolate_styles=False,
)


@cache
def plotly_js_url() -> str | None:
    """Where the browser loads plotly.js from; copies it into static/ once per server.
    None when static serving is off or the copy failed."""
    if not st.get_option("server.enableStaticServing"):
        _log.warning("server.enableStaticServing is off: live charts fall back to st.plotly_chart")
        return None
    name = f"plotly-{get_plotlyjs_version()}.min.js"
    target = STATIC / name
    try:
        if not target.is_file() or target.stat().st_size != PLOTLY_JS.stat().st_size:
            STATIC.mkdir(exist_ok=True)
            # Written aside and renamed: a browser asking meanwhile never gets half a file.
            partial = target.with_name(f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
            shutil.copyfile(PLOTLY_JS, partial)
            os.replace(partial, target)
    except OSError as e:
        _log.warning("could not copy plotly.js to %s (%s): live charts fall back to st.plotly_chart", target, e)
        return None
    base = st.get_option("server.baseUrlPath").strip("/")
    return f"/{base}/app/static/{name}" if base else f"/app/static/{name}"


def figure_spec(fig: go.Figure, key: str) -> dict:
    """The figure as plain JSON (data and layout; numpy arrays through plotly's own encoder)."""
    spec = fig.to_plotly_json()  # a copy
    # The "streamlit" template Streamlit makes the default holds colour placeholders that only
    # st.plotly_chart's frontend fills in; app_pages/live_chart.js supplies the app's theme instead.
    spec["layout"].pop("template", None)
    spec["layout"].setdefault("uirevision", key)  # Plotly.react keeps the user's zoom while it stays
    return json.loads(pio.json.to_json_plotly(spec))


def live_chart(fig: go.Figure, key: str, height: int | None = None) -> None:
    """Draw `fig` like chart() does, as one element that later runs update in place (same key)."""
    src = plotly_js_url()
    if src is None:
        chart(fig, key=key, height=height)
        return
    config = prepare(fig, key, height)
    # The element's container gets the class st-key-<key>, as st.plotly_chart's does.
    _component(key=key, data={"figure": figure_spec(fig, key), "config": config, "src": src})


def preload(key: str = "plotly_preload") -> None:
    """Have the browser fetch and run plotly.js now, before a live chart needs it: parsing its
    4.6 MB took a busy 2-core laptop seconds, which the first loss point of a run waited for."""
    src = plotly_js_url()
    if src is not None:
        _component(key=key, data={"preload": True, "src": src})
