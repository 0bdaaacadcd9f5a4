"""Inspect's "Step through" tab: where one value comes from, with the real numbers. Click a value
of a conv map (or type its row and column): the window it reads on the padded input, the kernel,
every product, the sums, the bias, the result and the activation; the window's walk over the
input, played in the browser; the same for a pooling, and the end of the network (the logits as
sums, then the softmax). For a fully connected net: one hidden unit's 784 products and their sum.

Play is Plotly animation frames, not a fragment rerun every step: the frames are built once, in
one rerun, and the browser plays, pauses and steps them, so a class playing at once costs the
server nothing and no student waits for another's steps.
"""

import numpy as np
import streamlit as st

from app_pages.common import dims, projector
from app_pages.figures import image_figure, prepare
from app_pages.i18n import t
from app_pages.inspect.figures import DIGITS, bars_figure, show, title_above
from app_pages.inspect.step_figures import numbers_figure, padded_figure, pickable_map_figure, walk_figure
from cnn_demo.inside.arithmetic_steps import (
    ConvStep,
    activation_of,
    conv_step,
    end_step,
    layer_input,
    pool_step,
    unit_step,
)
from cnn_demo.inside.features import Chain, strongest_channel
from cnn_demo.inside.pixels import signed_limit
from cnn_demo.network.arithmetic import LayerShape
from cnn_demo.network.model import Net

SHOWN_CHANNELS = 4  # input channels drawn with their window and products; all have their sum in the bars
END = "end"  # the layer choice for the logits and the softmax


def step_tab(
    model: Net, stages: list[Chain], layers: dict[str, LayerShape], image28: np.ndarray, maps: dict[str, np.ndarray]
) -> None:
    """stages: the conv stages; layers: each conv and pool layer's arithmetic by name; image28: the
    digit shown (28, 28); maps: its outputs by stage name (feature_maps), read, never recomputed."""
    st.caption(t("step.caption"))
    if not stages:
        st.info(t("step.fc_info"))
        unit_section(model, image28, maps)
        end_section(model, maps)
        return
    state = st.session_state
    choices = [*layers, END]
    if state.get("step_layer") not in choices:  # kept from another network
        state["step_layer"] = choices[0]
    layer = st.radio(
        t("step.layer"),
        choices,
        key="step_layer",
        horizontal=True,
        format_func=lambda n: t("step.end") if n == END else n,
    )
    if layer == END:
        end_section(model, maps)
        return
    fmap = maps[layer]  # (C, H, W)
    channel, row, col = pick_position(layer, fmap, maps)
    inputs = layer_input(model, layer, image28, maps)  # (C_in, H, W): what the layer reads
    if layers[layer].kind == "conv":
        conv_section(model, layer, inputs, fmap, channel, row, col, maps)
    else:
        pool_section(model, layers[layer], inputs, fmap, channel, row, col)


def pick_position(layer: str, fmap: np.ndarray, maps: dict[str, np.ndarray]) -> tuple[int, int, int]:
    """The channel, row and column picked: number inputs, or a click on the map (which sets them)."""
    state = st.session_state
    n_channels, height, width = fmap.shape
    key_c, key_r, key_x = f"step_channel_{layer}", "step_row", "step_col"
    if state.get(key_c, 0) >= n_channels:
        del state[key_c]
    state.setdefault(key_c, strongest_channel(fmap))
    for key, size in ((key_r, height), (key_x, width)):  # kept from a larger map: its middle
        if not 0 <= state.get(key, size // 2) < size:
            state[key] = size // 2
        state.setdefault(key, size // 2)
    c1, c2, c3 = st.columns(3)
    channel = c1.number_input(t("step.channel", last=n_channels - 1), 0, n_channels - 1, key=key_c)
    row = c2.number_input(t("step.row", count=height), 0, height - 1, key=key_r)
    col = c3.number_input(t("step.col", count=width), 0, width - 1, key=key_x)
    state.setdefault("step_map_n", 0)
    big = projector()
    side = st.container() if big else st.columns([2, 3])[0]
    with side:
        fig = pickable_map_figure(fmap[channel], (row, col), t("step.map_title", layer=layer, channel=channel), 330)
        title_above(fig)
        st.plotly_chart(
            fig,
            key=f"step_map_{state.step_map_n}",
            on_select=picked_on_map,
            selection_mode="points",
            config=prepare(fig, "step-map", 330),
            theme=None,
        )
        st.caption(t("step.click_hint"))
    return int(channel), int(row), int(col)


def picked_on_map() -> None:
    """A click on the map: show that value. The chart then gets a new key, so it forgets the
    selection, and a second click on the same cell counts again (see Evaluate's confusion matrix)."""
    state = st.session_state
    points = state[f"step_map_{state.step_map_n}"].selection.points
    if points:
        state.step_row, state.step_col = int(points[0]["y"]), int(points[0]["x"])
        state.step_map_n += 1


def shown_channels(step: ConvStep) -> list[int]:
    """The input channels drawn in full: all of them up to SHOWN_CHANNELS, else those whose
    products add up to the most, either way."""
    if len(step.channel_sums) <= SHOWN_CHANNELS:
        return list(range(len(step.channel_sums)))
    return sorted(np.argsort(-np.abs(step.channel_sums))[:SHOWN_CHANNELS].tolist())


def conv_section(
    model: Net,
    layer: str,
    inputs: np.ndarray,
    fmap: np.ndarray,
    channel: int,
    row: int,
    col: int,
    maps: dict[str, np.ndarray],
) -> None:
    """The picked conv value worked out: per shown input channel, its padded input with the window,
    the kernel's weights and the products; every channel's sum; total + bias = result; activation."""
    step = conv_step(model, layer, inputs, channel, row, col)
    n_in = len(step.channel_sums)
    st.markdown(
        t(
            "step.conv_text",
            layer=layer,
            channel=channel,
            row=row,
            col=col,
            n_in=n_in,
            k=step.kernel,
            s=step.stride,
            p=step.padding,
            top=step.top,
            left=step.left,
            count=n_in * step.kernel**2,
        )
    )
    shown = shown_channels(step)
    if len(shown) < n_in:
        st.caption(t("step.shown_channels", shown=len(shown), count=n_in, channels=", ".join(map(str, shown))))
    small = 230 if step.kernel <= 5 else 260
    for i in shown:
        cols = st.columns(3) if not projector() else [st.container() for _ in range(3)]
        name = t("step.input_name") if layer == "conv1" else t("step.channel_name", channel=i)
        with cols[0]:
            title = t("step.padded_title", name=name, shape=dims(step.padded.shape[1:]))
            show(
                padded_figure(step.padded[i], step.padding, step.top, step.left, step.kernel, title, 260),
                f"step_in_{i}",
            )
        with cols[1]:
            title = t("step.weights_title", channel=channel, i=i)
            show(numbers_figure(step.weights[i], title, small), f"step_w_{i}")
        with cols[2]:
            title = t("step.products_title", total=f"{step.channel_sums[i]:.3f}")
            show(numbers_figure(step.products[i], title, small), f"step_p_{i}")
    if n_in > 1:
        title = t("step.sums_title", count=n_in)
        show(bars_figure(step.channel_sums, list(range(n_in)), title, height=220), "step_sums")
    activated_name, _ = activation_of(model, layer)
    st.markdown(
        t(
            "step.sum_line",
            total=f"{step.total:.3f}",
            bias=f"{step.bias:+.3f}",
            result=f"{step.result:.3f}",
            shown=f"{fmap[channel, row, col]:.3f}",
            layer=layer,
        )
    )
    st.markdown(
        t(
            "step.activation_line",
            function=step.function,
            result=f"{step.result:.3f}",
            after=f"{step.activated:.3f}",
            stage=activated_name,
        )
    )
    walk_section(step, fmap[channel])


def walk_section(step: ConvStep, fmap: np.ndarray) -> None:
    """Play: the window walks the input position after position and the map fills in, in the
    browser. Drawn only when asked: its frames are the largest figure of the tab."""
    if not st.toggle(t("step.play"), key="step_play"):
        return
    first = shown_channels(step)[0]
    st.caption(t("step.play_caption", channel=first, stride=step.stride))
    speeds = {t("step.slow"): 600, t("step.fast"): 120}
    fig = walk_figure(step.padded[first], step.padding, step.kernel, step.stride, fmap, 420, speeds)
    show(fig, "step_walk")


def pool_section(
    model: Net, row_info: LayerShape, inputs: np.ndarray, fmap: np.ndarray, channel: int, row: int, col: int
) -> None:
    """The picked pooled value: its window on the map before the pooling, and what it keeps."""
    step = pool_step(model, row_info.name, inputs, channel, row, col)
    st.markdown(
        t(
            f"step.pool_text_{step.kind}",
            layer=step.layer,
            k=step.kernel,
            s=step.stride,
            top=step.top,
            left=step.left,
        )
    )
    c1, c2 = st.columns(2) if not projector() else (st.container(), st.container())
    with c1:
        title = t("step.pool_input_title", channel=channel, shape=dims(inputs.shape[1:]))
        show(padded_figure(inputs[channel], 0, step.top, step.left, step.kernel, title, 300), "step_pool_in")
    with c2:
        mark = step.winner if step.kind == "max" else None
        show(numbers_figure(step.window, t("step.window_title"), 260, 3, mark), "step_pool_window")
    if step.kind == "max":
        line = t("step.max_line", value=f"{step.result:.3f}", row=step.winner[0], col=step.winner[1])
    else:
        line = t("step.avg_line", count=step.kernel**2, total=f"{step.window.sum():.3f}", value=f"{step.result:.3f}")
    st.markdown(line + " " + t("step.pool_shown", value=f"{fmap[channel, row, col]:.3f}"))


def end_section(model: Net, maps: dict[str, np.ndarray]) -> None:
    """The logits as sums of hidden units × weights + bias, and the softmax with its numbers."""
    end = end_step(model, maps["hidden"])
    st.markdown(t("step.end_text", hidden=len(end.hidden)))
    rows = []
    for d in range(10):
        top = end.top_contributions(d, 3)
        parts = ", ".join(f"h{u}·{end.weights[d, u]:.2f} = {end.products[d, u]:+.2f}" for u in top)
        rows.append(
            {
                t("step.col_digit"): d,
                t("step.col_sum"): f"{end.sums[d]:.3f}",
                t("step.col_bias"): f"{end.biases[d]:+.3f}",
                t("step.col_logit"): f"{end.logits[d]:.3f}",
                t("step.col_top"): parts,
                t("step.col_shifted"): f"{end.shifted[d]:.3f}",
                t("step.col_exp"): f"{end.exps[d]:.4f}",
                t("step.col_prob"): f"{end.probabilities[d]:.4f}",
            }
        )
    st.dataframe(rows, hide_index=True, key="step_end_table")
    best = int(end.probabilities.argmax())
    st.markdown(
        t(
            "step.softmax_line",
            digit=best,
            exp=f"{end.exps[best]:.4f}",
            total=f"{end.exp_sum:.4f}",
            prob=f"{end.probabilities[best]:.4f}",
            largest=f"{end.logits.max():.3f}",
        )
    )
    show(bars_figure(end.probabilities, DIGITS, t("step.prob_title"), best, 220, percent=True), "step_probs")


def unit_section(model: Net, image28: np.ndarray, maps: dict[str, np.ndarray]) -> None:
    """A fully connected net's hidden unit: its 784 products as a 28 x 28 picture, and their sum."""
    hidden = maps["hidden"]
    unit = st.number_input(
        t("step.unit", last=len(hidden) - 1), 0, len(hidden) - 1, int(hidden.argmax()), key="step_unit"
    )
    step = unit_step(model, image28, int(unit))
    limit = signed_limit(step.products)
    c1, c2 = st.columns(2)
    with c1:
        w_limit = signed_limit(step.weights)
        show(
            image_figure(step.weights, -w_limit, w_limit, height=300, title=t("step.unit_weights", unit=unit)),
            "step_uw",
        )
    with c2:
        fig = image_figure(step.products, -limit, limit, height=300, title=t("step.unit_products"))
        show(fig, "step_up")
    st.markdown(
        t(
            "step.unit_line",
            unit=unit,
            total=f"{step.total:.3f}",
            bias=f"{step.bias:+.3f}",
            result=f"{step.result:.3f}",
            after=f"{step.activated:.3f}",
            shown=f"{hidden[unit]:.3f}",
        )
    )
