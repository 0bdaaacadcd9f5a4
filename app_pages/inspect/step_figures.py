"""The "Step through" tab's figures: a map whose cells can be clicked, an input with its padding
and the window outlined, a grid of numbers coloured by sign, and the window's walk as Plotly
animation frames (played in the browser: the server builds them once and is done)."""

import numpy as np
import plotly.graph_objects as go

from app_pages.figures import GAP, HIGHLIGHT, INK, SIGNED, image_figure
from app_pages.i18n import t
from cnn_demo.inside.arithmetic_steps import window_positions
from cnn_demo.inside.pixels import signed_limit

WINDOW = HIGHLIGHT  # the window's outline, on the input and on the output cell it makes


def box(top: float, left: float, size: float, xref: str = "x", yref: str = "y", width: int = 3) -> dict:
    """A square outline over cells [top, top + size) x [left, left + size) of a heatmap."""
    return dict(
        type="rect",
        x0=left - 0.5,
        x1=left + size - 0.5,
        y0=top - 0.5,
        y1=top + size - 0.5,
        xref=xref,
        yref=yref,
        line=dict(color=WINDOW, width=width),
    )


def pickable_map_figure(fmap: np.ndarray, picked: tuple[int, int], title: str, height: int) -> go.Figure:
    """One map (H, W) to click on: hovering shows row, column and value (3 decimals); the picked
    cell is outlined. Plotly cannot select a heatmap's cells, so an invisible marker sits on each
    (as on Evaluate's confusion matrix): a click selects it, and Streamlit reports its x and y."""
    limit = signed_limit(fmap)
    hover = t("step.hover_value", row="%{y}", col="%{x}", value="%{customdata:.3f}")
    fig = image_figure(fmap, -limit, limit, height=height, title=title, hover=None)
    rows, cols = np.divmod(np.arange(fmap.size), fmap.shape[1])
    # A point with hoverinfo "skip" cannot be clicked either: the markers carry the hover.
    fig.add_scatter(
        x=cols,
        y=rows,
        customdata=fmap.ravel(),
        mode="markers",
        marker=dict(symbol="square", size=max(4, 300 // max(fmap.shape)), color="rgba(0,0,0,0)"),
        selected=dict(marker=dict(opacity=0)),
        unselected=dict(marker=dict(opacity=0)),
        hovertemplate=hover + "<extra></extra>",
        showlegend=False,
    )
    fig.update_layout(shapes=[box(*picked, 1)], clickmode="event+select")
    return fig


def padded_figure(padded: np.ndarray, padding: int, top: int, left: int, kernel: int, title: str, height: int):
    """One input channel with its padding (H + 2P, W + 2P): the zeros around it dimmed by a dashed
    line at the input's edge, the window outlined at (top, left)."""
    inside = padded[padding : padded.shape[0] - padding, padding : padded.shape[1] - padding]
    low, high = (0.0, 1.0) if inside.min() >= 0 and inside.max() <= 1 else (-signed_limit(padded), signed_limit(padded))
    colours = INK if (low, high) == (0.0, 1.0) else SIGNED
    fig = image_figure(padded, low, high, colours, height=height, title=title, hover="%{z:.3f}")
    shapes = [box(top, left, kernel)]
    if padding:
        edge = dict(type="rect", line=dict(color="#f2c14e", width=1, dash="dot"))
        shapes.insert(0, edge | dict(x0=padding - 0.5, x1=padded.shape[1] - padding - 0.5, y0=padding - 0.5))
        shapes[0]["y1"] = padded.shape[0] - padding - 0.5
    fig.update_layout(shapes=shapes)
    return fig


def numbers_figure(values: np.ndarray, title: str, height: int, decimals: int = 2, mark=None) -> go.Figure:
    """A small grid (K, K) with each number written in its cell, coloured by sign (blue < 0 < red);
    `mark` (row, col) outlines one cell (max-pooling's winner)."""
    limit = signed_limit(values)
    fig = image_figure(values, -limit, limit, height=height, title=title, hover=f"%{{z:.{decimals + 1}f}}")
    size = 14 if values.shape[1] <= 5 else 11 if values.shape[1] <= 7 else 9
    fig.data[0].update(texttemplate=f"%{{z:.{decimals}f}}", textfont=dict(size=size))
    if mark is not None:
        fig.update_layout(shapes=[box(*mark, 1)])
    return fig


def walk_figure(
    padded: np.ndarray, padding: int, kernel: int, stride: int, fmap: np.ndarray, height: int, speeds: dict[str, int]
) -> go.Figure:
    """The window walking one input channel (left) while the output map (right) fills in, as
    animation frames played in the browser. A frame is only shapes and a caption: the window,
    the output cell it makes, and grey covers over the values not yet computed; the heatmaps are
    sent once. speeds: a button label -> milliseconds per step."""
    ph, pw = padded.shape
    oh, ow = fmap.shape
    in_limit, out_limit = signed_limit(padded), signed_limit(fmap)
    share = 0.47
    hover_in = t("step.hover_value", row="%{y}", col="%{x}", value="%{z:.3f}")
    data = [
        dict(type="heatmap", z=padded, zmin=-in_limit, zmax=in_limit, colorscale=SIGNED, showscale=False,
             hovertemplate=hover_in + "<extra></extra>", xaxis="x", yaxis="y"),
        dict(type="heatmap", z=fmap, zmin=-out_limit, zmax=out_limit, colorscale=SIGNED, showscale=False,
             hovertemplate=hover_in + "<extra></extra>", xaxis="x2", yaxis="y2"),
    ]  # fmt: skip
    axis = lambda domain, anchor, **more: dict(domain=domain, visible=False, constrain="domain", anchor=anchor, **more)
    layout = dict(
        height=height,
        margin=dict(l=2, r=2, t=40, b=70),
        plot_bgcolor="white",
        xaxis=axis([0, share], "y", range=[-0.5, pw - 0.5]),
        yaxis=axis([0, 1], "x", range=[ph - 0.5, -0.5], scaleanchor="x"),
        xaxis2=axis([1 - share, 1], "y2", range=[-0.5, ow - 0.5]),
        yaxis2=axis([0, 1], "x2", range=[oh - 0.5, -0.5], scaleanchor="x2"),
    )

    def frame_layout(n: int) -> dict:
        """After n + 1 steps: the window at step n, and covers over what comes after it."""
        r, c = divmod(n, ow)
        cover = dict(type="rect", xref="x2", yref="y2", fillcolor=GAP, line=dict(width=0))
        shapes = [box(r * stride, c * stride, kernel), box(r, c, 1, "x2", "y2")]
        if c + 1 < ow:  # the rest of this row
            shapes.append(cover | dict(x0=c + 0.5, x1=ow - 0.5, y0=r - 0.5, y1=r + 0.5))
        if r + 1 < oh:  # the rows below
            shapes.append(cover | dict(x0=-0.5, x1=ow - 0.5, y0=r + 0.5, y1=oh - 0.5))
        caption = t("step.walk_caption", step=n + 1, steps=oh * ow, row=r, col=c, value=f"{fmap[r, c]:.3f}")
        title = dict(text=caption, x=0.5, xanchor="center")
        return dict(shapes=shapes, title=title)

    positions = window_positions(oh, ow)
    frames = [dict(name=str(n), layout=frame_layout(n)) for n in range(len(positions))]
    layout.update(frame_layout(0))
    play = lambda ms: dict(frame=dict(duration=ms, redraw=True), transition=dict(duration=0), fromcurrent=True)
    buttons = [dict(label=label, method="animate", args=[None, play(ms)]) for label, ms in speeds.items()]
    pause = dict(frame=dict(duration=0, redraw=False), mode="immediate", transition=dict(duration=0))
    buttons.append(dict(label=t("step.pause"), method="animate", args=[[None], pause]))
    layout["updatemenus"] = [
        dict(type="buttons", direction="left", x=0, y=0, xanchor="left", yanchor="top", pad=dict(t=4), buttons=buttons)
    ]
    step_to = lambda n: dict(frame=dict(duration=0, redraw=True), mode="immediate", transition=dict(duration=0))
    layout["sliders"] = [
        dict(
            active=0,
            x=0.42,
            len=0.58,
            y=0,
            yanchor="top",
            pad=dict(t=4),
            currentvalue=dict(visible=False),
            steps=[dict(label="", method="animate", args=[[str(n)], step_to(n)]) for n in range(len(positions))],
        )
    ]
    return go.Figure(data=data, layout=layout, frames=frames, _validate=False)
