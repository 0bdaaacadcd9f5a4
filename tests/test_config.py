"""The server's settings a classroom relies on, and no user text rendered as HTML."""

import re
import tomllib
from pathlib import Path

from cnn_demo.network.model import MAX_PARAMS
from cnn_demo.storage import checkpoint

ROOT = Path(__file__).resolve().parents[1]


def test_streamlit_config():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["runOnSave"] is False
    # An upload fits the largest network a spec allows (float32 weights), and no more than a
    # checkpoint may be.
    assert MAX_PARAMS * 4 / 2**20 < config["server"]["maxUploadSize"] <= checkpoint.MAX_BYTES / 2**20  # MB
    assert config["runner"]["magicEnabled"] is False  # see the comment there
    assert config["browser"]["gatherUsageStats"] is False


def test_no_user_text_is_rendered_as_html():
    """Only the app's own constant CSS, the Draw page's probability bars (built from numbers and
    escaped locale strings) and Inspect's chart titles (escaped) go through st.html; nothing uses
    unsafe_allow_html."""
    sources = {p: p.read_text() for p in [ROOT / "app.py", *(ROOT / "app_pages").rglob("*.py")]}
    for path, text in sources.items():
        assert "unsafe_allow_html=True" not in text, path
        assert "components.html" not in text, path
        for call in re.findall(r"st\.html\(([^)]*)\)", text):
            # A constant, or the Draw page's bars or a chart's title: the app's own words, escaped
            built = call.strip().startswith(("probability_bars(", "chart_title_html("))
            assert built or re.fullmatch(r"[A-Z_]+", call.strip()), f"{path}: st.html({call}) is not a constant"


def test_a_chart_title_is_shown_as_text():
    from app_pages.inspect.figures import chart_title_html

    shown = chart_title_html("<script>alert(1)</script> · label 7<br>second line")
    assert "<script>" not in shown and "&lt;script&gt;alert(1)&lt;/script&gt; · label 7<br>second line</p>" in shown
