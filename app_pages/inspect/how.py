"""Inspect's "How it works" tab: each layer's numbers and a sandbox for the five numbers of a conv layer;
why a conv layer has so few weights; and what a shifted digit does to the maps and the answer."""

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.common import dims
from app_pages.figures import INK, image_figure
from app_pages.i18n import t
from app_pages.inspect.figures import show
from app_pages.inspect.step_figures import numbers_figure, padded_figure
from cnn_demo.inside.arithmetic_steps import (
    CLASSIC_KERNELS,
    classic_kernel,
    fits,
    fitting_strides,
    shrink,
    slide_kernel,
)
from cnn_demo.inside.equivariance import ShiftRow, shift_equivariance
from cnn_demo.inside.features import Chain, strongest_channel
from cnn_demo.inside.pixels import signed_limit
from cnn_demo.network.arithmetic import LayerShape, dense_layers, output_size, param_counts
from cnn_demo.network.model import Net


def how_tab(
    model: Net,
    stages: list[Chain],
    layers: dict[str, LayerShape],
    image28: np.ndarray,
    maps: dict[str, np.ndarray],
    predicted: int,
) -> None:
    """stages: the conv stages; layers: each conv and pool layer's arithmetic, by name; image28:
    the digit shown (28, 28); maps: its outputs by stage name; predicted: the model's answer."""
    st.subheader(t("inspect.how_title"))
    st.markdown(t("inspect.how_text"))
    layer_table(model, layers)
    size_calculator(model, image28)
    st.subheader(t("inspect.sparse_title"))
    sparse_connections(model, layers)
    st.subheader(t("inspect.eq_title" if stages else "inspect.eq_title_fc"))
    shifted_digit(model, stages, image28, maps, predicted)


def layer_table(model: Net, layers: dict[str, LayerShape]) -> None:
    """Each conv and pool layer as PyTorch writes it, with its input, output and the width's formula."""
    if not layers:
        st.info(t("inspect.how_fc", hidden=model.spec.hidden))
        return
    st.table(
        [
            {
                t("inspect.col_layer"): r.name,
                "in_channels": r.in_shape[0],
                "out_channels": r.out_shape[0],
                "kernel_size": r.kernel,
                "stride": r.stride,
                "padding": r.padding,
                t("inspect.col_input"): dims(r.in_shape),
                t("inspect.col_output"): dims(r.out_shape),
                t("inspect.col_output_width"): r.formula,
            }
            for r in layers.values()
        ]
    )


def size_calculator(model: Net, image28: np.ndarray) -> None:
    """The sandbox: the digit shrunk to W, a kernel of K slid over it with stride S and padding P.
    Only combinations with a whole output size are drawn; any other is refused with its numbers."""
    st.subheader(t("step.sandbox_title"))
    st.markdown(t("step.sandbox_text"))
    state = st.session_state
    own = model.layer[0].weight.detach()[:, 0].cpu().numpy() if len(model.layer) else None  # (C, K, K) conv1
    sources = ["model", "classic", "hand"] if own is not None else ["classic", "hand"]
    source = st.radio(
        t("step.kernel_from"),
        sources,
        key="sandbox_source",
        horizontal=True,
        format_func=lambda s: t(f"step.kernel_{s}"),
    )
    if source == "model":
        state["sandbox_k"] = own.shape[-1]  # the model's kernels have their own size
    else:
        state.setdefault("sandbox_k", 5)
    w_col, k_col, s_col, p_col = st.columns(4)
    w = w_col.slider(t("step.input_size"), 5, 28, 28, key="sandbox_w")
    # No default here: the value is the state's (a default beside a value set in the state makes
    # Streamlit warn on every run)
    k = k_col.slider(t("step.kernel_size"), 1, 9, key="sandbox_k", disabled=source == "model")
    s = s_col.slider(t("step.stride"), 1, 3, 1, key="sandbox_s")
    p = p_col.slider(t("step.padding"), 0, 4, 0, key="sandbox_p")
    if source == "model":
        st.caption(t("step.model_kernel_size", k=k))
    if not fits(w, k, s, p):
        if k > w + 2 * p:
            st.warning(t("step.no_fit_none", w=w, k=k, p=p))
        else:
            strides = ", ".join(map(str, fitting_strides(w, k, p, 3))) or "–"
            st.warning(t("step.no_fit", w=w, k=k, p=p, s=s, top=w - k + 2 * p, strides=strides))
        return
    kernel = sandbox_kernel(source, own, k)
    if kernel is None:
        return
    out = output_size(w, k, s, p)
    st.markdown(t("step.formula_line", w=w, k=k, p=p, s=s, out=out, count=out * out))
    image = shrink(image28, w)  # (W, W)
    result = slide_kernel(image, kernel, s, p)  # (out, out)
    c1, c2, c3 = st.columns(3)
    with c1:
        padded = np.pad(image, p)
        title = t("step.sandbox_padded", w=w, p=p, n=out * out)
        fig = padded_figure(padded, p, 0, 0, k, title, 300)
        centres = np.arange(out) * s + (k - 1) / 2  # each window's centre, in padded coordinates
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        dot = dict(size=4 if out > 14 else 6, color="#f2c14e")
        fig.add_scatter(x=xs.ravel(), y=ys.ravel(), mode="markers", marker=dot, hoverinfo="skip", showlegend=False)
        show(fig, "sandbox_input")
    with c2:
        show(numbers_figure(kernel, t("step.sandbox_kernel", k=k), 300), "sandbox_kernel")
    with c3:
        limit = signed_limit(result)
        title = t("step.sandbox_output", out=out)
        show(image_figure(result, -limit, limit, height=300, title=title), "sandbox_output")


def sandbox_kernel(source: str, own: np.ndarray | None, k: int) -> np.ndarray | None:
    """The kernel (K, K) to slide: one of conv1's, a classic one, or typed in; None (with a
    message) for a typed kernel with an empty cell."""
    if source == "model":
        pick = st.number_input(t("step.model_channel"), 0, len(own) - 1, 0, key="sandbox_channel")
        return own[int(pick)].astype(np.float64)
    if source == "classic":
        name = st.selectbox(
            t("step.classic"), CLASSIC_KERNELS, key="sandbox_classic", format_func=lambda n: t(f"step.classic_{n}")
        )
        return classic_kernel(name, k)
    st.caption(t("step.hand_hint"))
    start = pd.DataFrame(classic_kernel("edge", k), columns=[str(i) for i in range(k)])
    typed = st.data_editor(start, key=f"sandbox_hand_{k}", hide_index=True)  # a new table for each size
    kernel = typed.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(kernel).any():
        st.error(t("step.bad_kernel"))
        return None
    return kernel


def sparse_connections(model: Net, layers: dict[str, LayerShape]) -> None:
    """Each conv layer's weights against a fully connected layer's for the same shapes."""
    counts = param_counts(model)
    if not counts:
        fc1 = dense_layers(model)[0]
        st.markdown(t("inspect.sparse_fc", hidden=fc1.out_features, params=f"{fc1.params:,}"))
        return
    c1 = counts[0]
    st.markdown(
        t(
            "inspect.sparse_text",
            kernel=layers["conv1"].kernel,
            inputs=c1.inputs_per_unit,
            values=c1.input_values,
            uses=c1.uses_per_weight,
            params=f"{c1.params:,}",
            shape=dims(layers["conv1"].out_shape),
            fc_params=f"{c1.fc_params:,}",
        )
    )
    st.table(
        [
            {
                t("inspect.col_layer"): c.name,
                t("inspect.col_parameters"): c.params_formula,
                t("inspect.col_fc"): c.fc_formula,
                t("inspect.col_times"): f"{c.fc_params / c.params:,.0f}×",
                t("inspect.col_reads"): t(
                    "inspect.reads_value", inputs=f"{c.inputs_per_unit:,}", values=f"{c.input_values:,}"
                ),
                t("inspect.col_used_at"): t("inspect.used_value", uses=c.uses_per_weight),
                t("inspect.col_sees"): t("inspect.sees_value", size=layers[c.name].receptive_field),
            }
            for c in counts
        ]
    )


def shifted_digit(
    model: Net, stages: list[Chain], image28: np.ndarray, maps: dict[str, np.ndarray], predicted: int
) -> None:
    """The digit moved by the sliders' pixels: the first stage's map before and after, and for every
    stage how much changed and whether moving it back undoes that."""
    sx, sy, sc = st.columns(3)
    dx = sx.slider(t("inspect.shift_right"), -4, 4, 1, key="shift_dx")
    dy = sy.slider(t("inspect.shift_down"), -4, 4, 0, key="shift_dy")
    shifted = shift_equivariance(model, image28, dx, dy, maps)  # the moved image, its maps, and the table
    moved, moved_maps = shifted.moved, shifted.moved_maps
    f1, f2, f3, f4 = st.columns(4)
    with f1:
        show(image_figure(image28, 0, 1, INK, height=230, title=t("inspect.eq_input")), "eq_x")
    with f2:
        title = t("inspect.eq_shifted", dx=f"{dx:+d}", dy=f"{dy:+d}")
        show(image_figure(moved, 0, 1, INK, height=230, title=title), "eq_moved")
    if stages:
        act = stages[0].activation  # the first conv stage's maps, e.g. relu1
        if st.session_state.get("shift_channel", 0) >= maps[act].shape[0]:  # kept from a network with more channels
            del st.session_state["shift_channel"]
        st.session_state.setdefault("shift_channel", strongest_channel(maps[act]))
        n_maps = maps[act].shape[0]
        channel = sc.slider(t("inspect.eq_channel", stage=act), 0, n_maps - 1, key="shift_channel") if n_maps > 1 else 0
        limit = signed_limit(maps[act][channel], moved_maps[act][channel])
        with f3:
            title = t("inspect.eq_map", stage=act, channel=channel)
            show(image_figure(maps[act][channel], -limit, limit, height=230, title=title), "eq_map")
        with f4:
            title = t("inspect.eq_moved_map", stage=act)
            show(image_figure(moved_maps[act][channel], -limit, limit, height=230, title=title), "eq_moved_map")
    rows = shifted.rows
    column = lambda r: t("inspect.eq_input") if r.stage == "input" else r.stage  # the layers keep their names
    st.markdown(t("inspect.eq_text"))
    st.table(
        [
            {"": t("inspect.row_grid"), **{column(r): str(r.jump) if r.jump else "–" for r in rows}},
            {"": t("inspect.row_changed"), **{column(r): f"{100 * r.changed:.0f}%" for r in rows}},
            {"": t("inspect.row_back"), **{column(r): percent_or_dash(r.shift_error) for r in rows}},
        ]
    )
    said = shift_sentences(stages, {r.stage: r for r in rows})
    said.append(t("inspect.eq_prediction", moved=int(moved_maps["logits"].argmax()), predicted=predicted))
    st.markdown(" ".join(said))
    if dx == dy == 0:
        st.caption(t("inspect.no_shift"))


def shift_sentences(stages: list[Chain], by_stage: dict[str, ShiftRow]) -> list[str]:
    """What the table says, in sentences: the conv moves with the digit, pooling changes it, or for a
    fully connected net, how much of its input and hidden layer changed."""
    changed = lambda stage: f"{100 * by_stage[stage].changed:.0f}%"
    if not stages:
        return [t("inspect.eq_fc", input=changed("input"), hidden=changed("hidden"))]
    first = stages[0].activation
    said = [t("inspect.eq_conv", stage=first, back=percent_or_dash(by_stage[first].shift_error))]
    for kind in ("max", "avg"):
        pairs = [
            f"{c.activation} {changed(c.activation)} → {c.pool} {changed(c.pool)}" for c in stages if c.pooling == kind
        ]
        if pairs:
            said.append(t(f"inspect.eq_{kind}", pairs=", ".join(pairs)))
    if not any(c.pool for c in stages):
        said.append(
            t("inspect.eq_no_pool", chain=" → ".join(f"{c.activation} {changed(c.activation)}" for c in stages))
        )
    return said


def percent_or_dash(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"
