"""Figure code every view shares: the colours, one heatmap builder, one still picture.

Pictures that change with every stroke or every second are PNGs (`picture`): cheap for the
server to send and for a browser to draw. Interactive heatmaps (`image_figure`) are for the
pages where hovering over a value is part of the lesson.
"""

from html import escape

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import get_colorscale

from app_pages.common import projector
from app_pages.i18n import t
from cnn_demo.inside.pixels import png

# The theme's primary colour (.streamlit/config.toml) is the app's accent: the model's answer,
# the loss, the bars that matter. The second colour marks what stands out against it.
ACCENT = st.get_option("theme.primaryColor") or "#1f6feb"
HIGHLIGHT = "#d62728"
PALE = "#9db4d3"  # the accent, faded: the bars that are not the answer
# One colour per model when several are overlaid, the accent first.
PALETTE = [ACCENT, HIGHLIGHT, "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
GAP = "#9aa1ab"  # between the tiles of a mosaic: grey, so white (zero) tiles keep their edges

# Colour scales as explicit lists: the figures skip Plotly's validation, which is what turns
# a name like "RdBu_r" into colours (the browser's Plotly knows neither "_r" nor "gray").
SIGNED = get_colorscale("RdBu_r")  # blue < 0 < red, white at 0: what ReLU removes is the blue
INK = get_colorscale("gray")  # an input: 0 black, 1 white, as the model sees it


def faded(colour: str, alpha: float) -> str:
    """ "#1f6feb", 0.3 -> "rgba(31,111,235,0.3)"."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def image_figure(
    z,
    zmin,
    zmax,
    colorscale=SIGNED,
    height=260,
    title="",
    customdata=None,
    hover: str | None = "%{z:.3f}",
    square=True,
    background=GAP,
) -> go.Figure:
    """One array (H, W) as a heatmap: row 0 at the top, square cells (unless square=False), no
    axes. hover=None shows nothing on hover.

    The background shows through the NaN gaps of a mosaic, between the tiles. Built from plain
    dicts with _validate=False: Plotly's per-property checks cost ~10 ms a figure, most of a
    rerun's time on the Inspect page with 8 mosaics.
    """
    heatmap = dict(
        type="heatmap",
        z=z,
        zmin=zmin,
        zmax=zmax,
        colorscale=colorscale,
        showscale=False,
        hoverongaps=False,
        customdata=customdata,
        **(dict(hovertemplate=hover + "<extra></extra>") if hover else dict(hoverinfo="skip")),
    )
    h, w = np.shape(z)
    layout = dict(
        height=height,
        margin=dict(l=2, r=2, t=30 if title else 2, b=2),
        plot_bgcolor=background,
        title=dict(text=title, x=0.5, xanchor="center"),  # its size follows chart()'s font (projector mode)
        # Fixed ranges, row 0 at the top: markers added later must not widen them.
        xaxis=dict(range=[-0.5, w - 0.5], visible=False, constrain="domain"),
        yaxis=dict(range=[h - 0.5, -0.5], scaleanchor="x" if square else None, constrain="domain", visible=False),
    )
    return go.Figure(data=[heatmap], layout=layout, _validate=False)


def picture(rgb: np.ndarray, key: str, caption: str | None = None, title: str | None = None) -> None:
    """A still image (H, W, 3) uint8, as wide as its column, with a bold title above it or a
    caption below. PNG: `auto` would send a blurry JPEG of these few, sharp pixels."""
    with st.container(key=key):
        if title:
            st.markdown(f"**{title}**")
        st.image(png(rgb), caption=caption, width="stretch", output_format="PNG")


TITLE_PAD_PX = 6  # between a figure's top edge and its title


def prepare(fig: go.Figure, key: str, height: int | None = None) -> dict:
    """Size a Plotly figure for this browser, in place: larger fonts (and fixed margins, and the
    height) in projector mode, and a top margin that holds its title. Returns the config every
    chart uses: no logo, and the mode bar's camera button saves a 2x PNG for slides. Shared by
    chart() and app_pages/live_chart.py."""
    scale = 1.4 if projector() else 1.0
    fig.update_layout(font_size=round(13 * scale), **({"height": round(height * scale)} if height else {}))
    margin = fig.layout.margin
    if margin.autoexpand is False:  # fixed margins (see the Train page's loss chart) grow with the type
        fig.update_layout(margin={side: round((margin[side] or 0) * scale) for side in "lrtb"})
    if fig.layout.title.text:
        # The title hangs from the figure's top edge, in a top margin tall enough for it. Plotly's
        # default centres it on the margin, and a projector's title (1.4 x the font: 25 px) in the
        # builders' 30 px rose above the edge, its top cut off.
        size = fig.layout.title.font.size or round(13 * scale * 1.4)  # Plotly's title: 1.4 x the font
        lines = fig.layout.title.text.count("<br>") + 1
        # Plotly lifts a title of several lines above its top anchor, by ~3/4 of its size a line: padded back down
        pad = TITLE_PAD_PX + round(0.75 * size * (lines - 1))
        fig.update_layout(title=dict(yref="container", y=1, yanchor="top", pad=dict(t=pad)))
        if fig.layout.margin.t is not None:
            text_px = round(size * (1.2 + 1.3 * (lines - 1)))  # lines 1.3 x the size apart
            fig.update_layout(margin_t=max(fig.layout.margin.t, TITLE_PAD_PX + text_px + 4))
    return {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2, "filename": key}}


def chart(fig: go.Figure, key: str, height: int | None = None, **kwargs) -> None:
    """Draw a Plotly figure the same way on every page (see prepare)."""
    config = prepare(fig, key, height)
    st.plotly_chart(fig, key=key, config=config, **kwargs)


# The probabilities as ten plain HTML bars, not a Plotly chart: after every stroke of every
# student a Plotly figure cost the server ~3.5 ms of its ~30 ms (built, deep-copied, turned
# to JSON) and each browser a remount of a plot, most of its time to show the answer. Heights
# in % of the plot area; type in em, so projector mode enlarges it. Our own markup, no user text.
BARS_CSS = """<style>
.probs { display: flex; gap: 0.25rem; height: 11rem; align-items: flex-end; padding-top: 1.4rem; }
.probs .col { flex: 1; height: 100%; display: flex; flex-direction: column; justify-content: flex-end; align-items: center; }
.probs .pct { font-size: 0.8rem; line-height: 1.2rem; white-space: nowrap; }
.probs .bar { width: 100%; min-height: 1px; border-radius: 3px 3px 0 0; }
.probs-digits { display: flex; gap: 0.25rem; border-top: 1px solid #9aa1ab; }
.probs-digits span { flex: 1; text-align: center; font-size: 0.9rem; }
.probs-axis { font-size: 0.8rem; opacity: 0.7; text-align: center; }
</style>"""


def probability_bars(probs: np.ndarray) -> str:
    """(10,) probabilities -> the HTML of a bar per digit, the answer in the accent colour."""
    best = int(probs.argmax())
    columns, digits = [], []
    for d, p in enumerate(probs):
        label = f"{p:.0%}" if p >= 0.005 else ""
        colour = ACCENT if d == best else PALE
        hover = escape(
            t("draw.hover_probability", digit=d, probability=f"{p:.1%}")
        )  # the app's words, escaped all the same
        columns.append(
            f'<div class="col" title="{hover}"><span class="pct">{label}</span>'
            f'<div class="bar" style="height: calc((100% - 1.2rem) * {p:.4f}); background: {colour};"></div></div>'
        )
        digits.append(f"<span>{d}</span>")
    return (
        f'{BARS_CSS}<div class="probs-axis">{escape(t("draw.axis_probability"))}</div>'
        f'<div class="probs">{"".join(columns)}</div><div class="probs-digits">{"".join(digits)}</div>'
        f'<div class="probs-axis">{escape(t("draw.axis_digit"))}</div>'
    )
