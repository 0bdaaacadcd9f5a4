"""The Inspect page's figures: a stage's maps as one mosaic of tiles, several stages in a row, a heat
map over the input, bars; and a fully connected net's first-layer weights as pictures."""

from html import escape

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app_pages.figures import ACCENT, GAP, HIGHLIGHT, INK, SIGNED, chart, image_figure, picture
from app_pages.i18n import t
from cnn_demo.inside.mosaic import mosaic
from cnn_demo.inside.pixels import magnify, weights_rgb
from cnn_demo.network.model import Net, first_layer_weights

DIGITS = [str(d) for d in range(10)]


def channel_mosaic(maps: np.ndarray, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W) -> (mosaic of the maps, mosaic of each cell's channel number for hovering).

    The channel numbers are uint8 (255 in the gaps): a quarter of the bytes of floats (a conv
    layer has at most 128 channels, model.SPEC_LIMITS).
    """
    index = np.broadcast_to(np.arange(len(maps), dtype=np.float32)[:, None, None], maps.shape)
    return mosaic(maps, cols=cols), np.nan_to_num(mosaic(index, cols=cols), nan=255).astype(np.uint8)


def tiles_figure(maps: np.ndarray, limit: float, cols: int, width_px: int, title: str = "") -> go.Figure:
    """A whole stage (N, H, W) as ONE heatmap of tiles; hovering says which channel."""
    z, channel = channel_mosaic(maps, cols)
    height = int(width_px * z.shape[0] / z.shape[1]) + (30 if title else 6)
    return image_figure(
        z,
        -limit,
        limit,
        height=height,
        title=title,
        customdata=channel,
        hover=t("inspect.hover_channel", channel="%{customdata}", value="%{z:.3f}"),
    )


def row_figure(stages: list[np.ndarray], limits: list[float], cols: int, width_px: int, gap: float = 0.03) -> go.Figure:
    """Several stages' mosaics side by side in ONE figure, one pair of axes and colour range each.

    One figure per row instead of one per stage: the browser's cost is mostly per figure.
    """
    n = len(stages)
    share = (1 - gap * (n - 1)) / n  # each panel's fraction of the width
    data, layout, height = [], {}, 0
    for i, (maps, limit) in enumerate(zip(stages, limits)):
        z, channel = channel_mosaic(maps, cols)
        axis = "" if i == 0 else str(i + 1)
        data.append(
            dict(
                type="heatmap",
                z=z,
                zmin=-limit,
                zmax=limit,
                colorscale=SIGNED,
                showscale=False,
                hoverongaps=False,
                customdata=channel,
                hovertemplate=t("inspect.hover_channel", channel="%{customdata}", value="%{z:.3f}") + "<extra></extra>",
                xaxis=f"x{axis}",
                yaxis=f"y{axis}",
            )
        )
        left = i * (share + gap)
        layout[f"xaxis{axis}"] = dict(domain=[left, left + share], visible=False, constrain="domain", anchor=f"y{axis}")
        layout[f"yaxis{axis}"] = dict(
            autorange="reversed", scaleanchor=f"x{axis}", constrain="domain", visible=False, anchor=f"x{axis}"
        )
        height = max(height, int(width_px * share * z.shape[0] / z.shape[1]))
    layout.update(height=height + 4, margin=dict(l=2, r=2, t=2, b=2), plot_bgcolor=GAP)
    return go.Figure(data=data, layout=layout, _validate=False)


def overlay_figure(image28: np.ndarray, heat: np.ndarray, title: str) -> go.Figure:
    """A heat map (0..1) over the input: transparent where 0, solid orange-red where 1."""
    fig = image_figure(image28, 0, 1, INK, height=300, title=title, hover=t("inspect.hover_input", value="%{z:.2f}"))
    fig.add_heatmap(
        z=heat,
        zmin=0,
        zmax=1,
        showscale=False,
        hovertemplate=t("inspect.hover_weight", value="%{z:.2f}") + "<extra></extra>",
        colorscale=[[0, "rgba(255,80,0,0)"], [0.3, "rgba(255,80,0,0.35)"], [1, "rgba(255,230,0,0.95)"]],
    )
    return fig


def bars_figure(
    values, labels, title: str, highlight: int | None = None, height: int = 240, percent: bool = False
) -> go.Figure:
    colours = [ACCENT if i != highlight else HIGHLIGHT for i in range(len(values))]
    fig = go.Figure(go.Bar(x=labels, y=values, marker_color=colours, hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
    fig.update_layout(
        title=dict(text=title), height=height, margin=dict(l=48, r=8, t=36, b=30), bargap=0.15, plot_bgcolor="white"
    )
    fig.update_xaxes(type="category", dtick=1 if len(values) <= 10 else 10)
    fig.update_yaxes(gridcolor="#e3e6ea", zerolinecolor="#9aa1ab")
    if percent:
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return fig


# A chart's title as text above it: text wraps in a narrow column, where Plotly's title is one
# line of SVG, cut off at both ends (a third of a tablet's page beside the sidebar is 155 px, and
# "test image #0 · label 7" 176 px). rem: projector mode's larger type enlarges it too; keep-all:
# Korean breaks between words, as English does, not inside one.
CHART_TITLE_CSS = """<style>
.chart-title { font-size: 1.05rem; line-height: 1.3; text-align: center; margin: 0; word-break: keep-all; overflow-wrap: anywhere; }
</style>"""


def title_above(fig: go.Figure) -> None:
    """Draw the figure's title above it as text (CHART_TITLE_CSS) and take it out of the figure;
    not when frames of an animation change it as they play (the walk of a window over the input)."""
    title = fig.layout.title.text
    if title and not fig.frames:
        fig.update_layout(title_text=None, margin_t=6)
        st.html(chart_title_html(title))


def chart_title_html(title: str) -> str:
    """A chart's title as a paragraph: the app's words and numbers, escaped all the same (a
    Plotly title's <br> kept as a line break)."""
    lines = "<br>".join(escape(line) for line in title.split("<br>"))
    return f'{CHART_TITLE_CSS}<p class="chart-title">{lines}</p>'


def show(fig: go.Figure, key: str) -> None:
    """Through the app's chart helper (bigger in projector mode), its title above it as text;
    theme=None keeps these colours."""
    title_above(fig)
    chart(fig, key, height=fig.layout.height, theme=None)


def hidden_weights(model: Net, key: str) -> None:
    """A fully connected net's first layer: each hidden unit's 784 weights as a 28 x 28 picture."""
    w = first_layer_weights(model).cpu().numpy()  # (hidden, 28, 28)
    st.markdown(t("inspect.fc_weights", count=len(w)))
    # A still picture, as wide as the page: a heatmap of 155 tiles has a fixed height, empty on a tablet.
    picture(magnify(weights_rgb(mosaic(w, cols=16)), 3), key, caption=t("inspect.fc_weights_caption"))
