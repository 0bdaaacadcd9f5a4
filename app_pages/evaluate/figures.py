"""The Evaluate page's figures: a gallery of many digits with captions, the confusion matrix, the
accuracy of each digit."""

import numpy as np
import plotly.graph_objects as go

from app_pages.common import projector
from app_pages.figures import ACCENT, HIGHLIGHT, INK, image_figure
from app_pages.i18n import t
from cnn_demo.inside.mosaic import mosaic
from cnn_demo.training.evaluate import Evaluation

LABEL_ROWS = 9  # empty pixel rows above each tile of a gallery, where its caption goes


def gallery(images: np.ndarray, captions: list[str], title: str, cols: int = 10, width_px: int = 1000) -> go.Figure:
    """Many 28x28 uint8 images as one heatmap, each with its caption above it: far faster
    to draw than a figure per image (docs/streamlit-notes.md). width_px: about how wide it
    will be drawn, to size its height."""
    tiles = np.pad(images.astype(np.float32) / 255, ((0, 0), (LABEL_ROWS, 0), (0, 0)), constant_values=np.nan)
    cols = min(cols, len(tiles))
    fig = image_figure(mosaic(tiles, cols=cols, gap=2), 0, 1, INK, title=title, hover=None, background="white")
    fig.update_yaxes(constrain="domain", constraintoward="top")  # spare height goes below the tiles
    tile_h, tile_w = 28 + LABEL_ROWS + 2, 28 + 2
    for i, text in enumerate(captions):
        r, c = divmod(i, cols)
        fig.add_annotation(x=c * tile_w + 13.5, y=r * tile_h + LABEL_ROWS / 2 - 0.5, text=text, showarrow=False)
    rows = -(-len(tiles) // cols)
    fig.update_layout(height=50 + rows * (width_px // cols) * tile_h // tile_w)
    return fig


def gallery_cols() -> int:
    """Tiles per row: fewer on a projector, where the captions are larger."""
    return 6 if projector() else 10


def confusion_figure(confusion: np.ndarray, picked: tuple[int, int], text_size: int) -> go.Figure:
    # Colour by log(1 + count): the diagonal holds ~1,000 per digit and the mistakes a handful,
    # and on a linear scale every mistake would look the same pale blue. The text is the count.
    fig = go.Figure(
        go.Heatmap(
            z=np.log10(1 + confusion),
            x=list(range(10)),
            y=list(range(10)),
            text=confusion,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
            xgap=2,
            ygap=2,
            hoverinfo="skip",
            textfont=dict(size=text_size),
        )
    )
    # Plotly cannot select a heatmap's cells, so an invisible marker sits on each cell: a click
    # selects the marker, and Streamlit reports its x (predicted) and y (true).
    true_digit, predicted_digit = np.divmod(np.arange(100), 10)
    fig.add_scatter(
        x=predicted_digit,
        y=true_digit,
        customdata=confusion.ravel(),
        mode="markers",
        marker=dict(symbol="square", size=30, color="rgba(0,0,0,0)"),
        selected=dict(marker=dict(opacity=0)),
        unselected=dict(marker=dict(opacity=0)),
        hovertemplate=t("evaluate.hover_cell", true="%{y}", predicted="%{x}", count="%{customdata}")
        + "<extra></extra>",
        showlegend=False,
    )
    true, predicted = picked
    fig.add_shape(
        type="rect",
        x0=predicted - 0.5,
        x1=predicted + 0.5,
        y0=true - 0.5,
        y1=true + 0.5,
        line=dict(color=HIGHLIGHT, width=3),
    )
    # Square cells: both axes shrink to fit (constrain="domain") rather than pad the range.
    fig.update_xaxes(
        title=t("evaluate.axis_predicted"), dtick=1, side="top", range=[-0.5, 9.5], constrain="domain", showgrid=False
    )
    fig.update_yaxes(
        title=t("evaluate.axis_true"), dtick=1, range=[9.5, -0.5], scaleanchor="x", constrain="domain", showgrid=False
    )
    fig.update_layout(
        height=600, margin=dict(l=8, r=8, t=8, b=8), plot_bgcolor="rgba(0,0,0,0)", hovermode="closest", dragmode=False
    )
    return fig


def axis_start(result: Evaluation) -> float:
    """Where the per-digit accuracy axis starts: below the worst digit, zoomed in so that
    differences of a tenth of a percent show (the page says the axis does not start at 0)."""
    worst = 100 * min(result.per_class)
    return max(0.0, float(np.floor(worst - 2 * (100 - worst) - 0.5)))


def per_class_figure(result: Evaluation) -> go.Figure:
    counts = result.confusion.sum(1)
    percent = [100 * a for a in result.per_class]
    fig = go.Figure(
        go.Bar(
            x=[str(d) for d in range(10)],
            y=percent,
            text=[f"{p:.1f}%" for p in percent],
            textposition="outside",
            marker_color=ACCENT,
            customdata=np.stack([np.diag(result.confusion), counts], 1),
            hovertemplate=t("evaluate.hover_digit", digit="%{x}", right="%{customdata[0]}", total="%{customdata[1]}")
            + "<extra></extra>",
        )
    )
    fig.update_yaxes(
        title=t("evaluate.axis_accuracy"), range=[axis_start(result), 100 + (100 - axis_start(result)) * 0.12]
    )
    fig.update_xaxes(title=t("evaluate.axis_digit"), type="category")
    fig.update_layout(margin=dict(l=8, r=8, t=8, b=8))
    return fig
