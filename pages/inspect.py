"""Inspect: what the network computes at each stage for one digit, and why a CNN is built so.

Thin on purpose: widgets, calls into cnn_demo.inspect, and drawing. Every number shown is
read from the active model. The tabs run only when open (on_change="rerun"), so an input
change redraws only the input, the prediction and the open tab.
"""

import time as _time
import gc as _gc
_T0 = _time.perf_counter()
if not hasattr(_gc, "_inspect_log"):
    _gc._inspect_log = []
    _gc._inspect_start = [0.0]
    def _cb(phase, info):
        if phase == "start":
            _gc._inspect_start[0] = _time.perf_counter()
        else:
            _gc._inspect_log.append((info["generation"], (_time.perf_counter() - _gc._inspect_start[0]) * 1000))
    _gc.callbacks.append(_cb)
_gc._inspect_log.clear()
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from cnn_demo.checkpoint import CheckpointError, filter_history
from cnn_demo.data import DataError, load_mnist
from cnn_demo.inspect import (
    dense_layers,
    feature_maps,
    formula,
    grad_cam,
    kernels,
    layer_arithmetic,
    output_size,
    param_counts,
    pool_winners,
    probabilities,
    saliency,
    scale_each,
    shift,
    shift_equivariance,
    signed_limit,
)
from cnn_demo.mosaic import mosaic
from pages.common import active, drawing_for_inspect

SIGNED = "RdBu_r"  # blue < 0 < red, white at 0: what ReLU removes is the blue
INK = "gray"  # the input: 0 black, 1 white, as the model sees it
TEST, DRAWING = "MNIST test image", "Drawing sent from Draw"
# The three conv → ReLU (→ pool) chains; maps of one chain share a colour range.
CHAINS = {"conv1": ("conv1", "relu1", None), "conv2": ("conv2", "relu2", "pool1"), "conv3": ("conv3", "relu3", "pool2")}
TABS = ["Feature maps", "One channel", "Learned filters", "End of the network", "Where it looks", "How it works"]
NO_BAR = {"displayModeBar": False}
GAP = "#9aa1ab"  # between the tiles of a mosaic: grey, so white (zero) tiles keep their edges


def dims(shape) -> str:
    return " × ".join(str(d) for d in shape)


# ------------------------------------------------------------------------------ data


@st.cache_resource
def test_set() -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """MNIST's 10,000 test images (uint8, read-only), labels, and the indices of each digit."""
    images, labels = load_mnist("test")
    images, labels = images.numpy(), labels.numpy()
    images.setflags(write=False)
    return images, labels, {d: np.flatnonzero(labels == d) for d in range(10)}


@st.cache_data(max_entries=8)
def snapshots(path: str, version: str) -> list[dict[str, np.ndarray]]:
    """conv kernels after each epoch, read once per file version."""
    return filter_history(path)


# ------------------------------------------------------------------------------ figures


def image_figure(
    z, zmin, zmax, colorscale=SIGNED, height=260, title="", customdata=None, hover="%{z:.3f}", square=True
) -> go.Figure:
    """One array as a heatmap: row 0 at the top, square cells (unless square=False), no axes.

    The grey background shows through the NaN gaps of a mosaic, between the tiles. Built
    from plain dicts with _validate=False: Plotly's per-property checks cost ~10 ms a figure,
    most of a rerun's time with 8 mosaics; the e2e tests render every one of these figures.
    """
    heatmap = dict(
        type="heatmap", z=z, zmin=zmin, zmax=zmax, colorscale=colorscale, showscale=False, hoverongaps=False,
        customdata=customdata, hovertemplate=hover + "<extra></extra>",
    )
    layout = dict(
        height=height, margin=dict(l=2, r=2, t=30 if title else 2, b=2), plot_bgcolor=GAP,
        title=dict(text=title, font=dict(size=15), x=0.5, xanchor="center"),
        xaxis=dict(visible=False, constrain="domain"),
        yaxis=dict(autorange="reversed", scaleanchor="x" if square else None, constrain="domain", visible=False),
    )
    return go.Figure(data=[heatmap], layout=layout, _validate=False)


def tiles_figure(maps: np.ndarray, limit: float, cols: int, width_px: int, title: str = "") -> go.Figure:
    """A whole stage (N, H, W) as ONE heatmap of tiles; hovering says which channel."""
    n, h, w = maps.shape
    z = mosaic(maps, cols=cols)
    # Which channel each cell belongs to, for the hover text; uint8 keeps the figure small.
    channel = np.nan_to_num(mosaic(np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None], maps.shape), cols=cols), nan=255).astype(np.uint8)
    height = int(width_px * z.shape[0] / z.shape[1]) + (30 if title else 6)
    return image_figure(
        z, -limit, limit, height=height, title=title, customdata=channel,
        hover="channel %{customdata}<br>value %{z:.3f}",
    )


def overlay_figure(image28: np.ndarray, heat: np.ndarray, title: str) -> go.Figure:
    """A heat map (0..1) over the input: transparent where 0, solid orange-red where 1."""
    fig = image_figure(image28, 0, 1, INK, height=300, title=title, hover="input %{z:.2f}")
    fig.add_heatmap(
        z=heat, zmin=0, zmax=1, showscale=False, hovertemplate="weight %{z:.2f}<extra></extra>",
        colorscale=[[0, "rgba(255,80,0,0)"], [0.3, "rgba(255,80,0,0.35)"], [1, "rgba(255,230,0,0.95)"]],
    )
    return fig


def bars_figure(values, labels, title: str, highlight: int | None = None, height: int = 240, percent: bool = False) -> go.Figure:
    colours = ["#1f6feb" if i != highlight else "#d62728" for i in range(len(values))]
    fig = go.Figure(go.Bar(x=labels, y=values, marker_color=colours, hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
    fig.update_layout(
        title=dict(text=title, font=dict(size=15)), height=height, margin=dict(l=48, r=8, t=36, b=30),
        bargap=0.15, plot_bgcolor="white", font=dict(size=13),
    )
    fig.update_xaxes(type="category", tickfont=dict(size=15) if len(values) <= 10 else dict(size=9))
    fig.update_yaxes(gridcolor="#e3e6ea", zerolinecolor="#9aa1ab")
    if percent:
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return fig


def percent_or_dash(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def show(fig: go.Figure, key: str) -> None:
    st.plotly_chart(fig, key=key, config=NO_BAR, theme=None)


# ------------------------------------------------------------------------------ input

loaded = active()
model = loaded.model  # shared by every session: only read
layers = {row.name: row for row in layer_arithmetic(model)}

st.title("Inspect the network")
st.caption(
    f"Model **{loaded.name}**. Pick a digit; every picture below is computed from it by this model, "
    "stage by stage, as the data flows."
)

try:
    images, labels, by_class = test_set()
except DataError as e:
    st.error(f"The MNIST test images could not be read: {e}")
    st.stop()

state = st.session_state
state.setdefault("inspect_index", 0)
state.setdefault("inspect_source", TEST)
drawing = drawing_for_inspect()
if drawing is not None and not np.array_equal(drawing, state.get("inspect_seen_drawing")):
    state.inspect_seen_drawing = drawing  # a new drawing was just sent: show it
    state.inspect_source = DRAWING


def pick_test(index: int | None = None) -> None:
    if index is not None:
        state.inspect_index = int(index)
    state.inspect_source = TEST


def next_of_class(digit: int) -> None:
    """The next test image of this digit after the current one (wrapping round)."""
    found = by_class[digit]
    after = found[found > state.inspect_index] if state.inspect_source == TEST else found
    pick_test(after[0] if len(after) else found[0])


def random_image() -> None:
    pick_test(np.random.default_rng().integers(len(images)))


with st.container(border=True):
    if drawing is not None:
        st.radio("Input", [TEST, DRAWING], key="inspect_source", horizontal=True)
    else:
        state.inspect_source = TEST
        st.caption("Draw a digit on the Draw page and send it here, or pick an MNIST test image.")
    c_index, c_random, c_class = st.columns([1.3, 1, 5], vertical_alignment="bottom")
    c_index.number_input("Test image index", 0, len(images) - 1, key="inspect_index", step=1, on_change=pick_test)
    c_random.button("Random", on_click=random_image, width="stretch")
    with c_class:
        st.caption("Next test image of the digit")
        for digit, col in zip(range(10), st.columns(10, gap="small")):
            col.button(str(digit), key=f"inspect_digit_{digit}", on_click=next_of_class, args=(digit,), width="stretch")

if state.inspect_source == DRAWING and drawing is not None:
    x = np.asarray(drawing, dtype=np.float32)
    input_title = "your drawing, as the model sees it"
else:
    i = state.inspect_index
    x = images[i].astype(np.float32) / 255  # (28, 28) in [0, 1], ink = 1
    input_title = f"test image #{i} · label {labels[i]}"

import torch as _torch
_torch.set_num_threads(1)
_T1 = _time.perf_counter()
maps = feature_maps(model, x)
_T2 = _time.perf_counter()
probs = probabilities(maps["logits"])
predicted = int(probs.argmax())

left, right = st.columns([1, 2])
with left:
    show(image_figure(x, 0, 1, INK, height=300, title=f"{input_title} · 1 × 28 × 28", hover="pixel %{z:.2f}"), "input")
with right:
    st.metric("Prediction", f"{predicted}", f"{100 * probs[predicted]:.1f}% sure", delta_color="off", delta_arrow="off")
    show(bars_figure(probs, [str(d) for d in range(10)], "probability of each digit (softmax of the 10 logits)", predicted, 230, percent=True), "probs_top")

tab_maps, tab_channel, tab_filters, tab_end, tab_where, tab_how = st.tabs(TABS, key="inspect_tab", on_change="rerun")

# ------------------------------------------------------------------------------ feature maps

if tab_maps.open:
    with tab_maps:
        per_map = st.toggle(
            "Scale each map on its own", key="inspect_per_map",
            help="Off: one colour range per layer, so strong and weak channels can be compared. "
            "On: each map uses its own range, so weak channels show their pattern too.",
        )
        st.caption("Red is positive, blue negative, white zero. Hover a map to see its channel and value.")

        def stage(name: str, limit: float, cols: int, width_px: int) -> None:
            values = maps[name]
            if name in layers:
                row = layers[name]
                what = (
                    f"Conv2d({row.in_shape[0]}→{row.out_shape[0]}, kernel {row.kernel}, stride {row.stride}, padding {row.padding})"
                    if row.kind == "conv" else f"MaxPool2d({row.kernel}, stride {row.stride}): channels stay {row.out_shape[0]}"
                )
                note = f"{what}  \nwidth: {row.formula}"
            else:
                note = "ReLU: negatives become 0, shape unchanged  \n&nbsp;"
            st.markdown(f"**{name}** · {dims(values.shape)}")
            st.caption(note)
            shown = scale_each(values) if per_map else values
            show(tiles_figure(shown, 1.0 if per_map else limit, cols, width_px), f"maps_{name}")

        for conv, chain in CHAINS.items():
            limit = signed_limit(maps[conv])  # the chain's range: ReLU and pooling only lower |values|
            names = [n for n in chain if n]
            for name, col in zip(names, st.columns(len(names))):
                with col:
                    stage(name, limit, cols=8, width_px=940 // len(names) - 16)
        pool1 = layers["pool1"]
        st.info(
            f"**Pooling** keeps the number of channels and shrinks height and width: pool1 turns "
            f"{dims(pool1.in_shape)} = {np.prod(pool1.in_shape):,} values into {dims(pool1.out_shape)} = "
            f"{np.prod(pool1.out_shape):,}, keeping the largest value of each {pool1.kernel} × {pool1.kernel} block. "
            f"pool2 then gives {dims(layers['pool2'].out_shape)}, which is flattened into the "
            f"{maps['flatten'].shape[0]} numbers of the *End of the network* tab."
        )

# ------------------------------------------------------------------------------ one channel

if tab_channel.open:
    with tab_channel:
        c1, c2 = st.columns([1, 3])
        conv = c1.radio("Layer", list(CHAINS), key="inspect_channel_layer", horizontal=True)
        n_channels = maps[conv].shape[0]
        channel = c2.slider("Channel", 0, n_channels - 1, key=f"inspect_channel_{conv}")
        conv_name, relu_name, pool_name = CHAINS[conv]
        kernel = kernels(model)[conv][channel]  # (in_channels, 5, 5)
        limit = signed_limit(maps[conv][channel])
        k_limit = signed_limit(kernel)

        cols = st.columns(4 if pool_name else 3)
        with cols[0]:
            if kernel.shape[0] == 1:
                show(image_figure(kernel[0], -k_limit, k_limit, height=260, title=f"kernel · {dims(kernel.shape)}"), "ch_kernel")
            else:
                show(tiles_figure(kernel, k_limit, 4, 240, title=f"kernel · {dims(kernel.shape)}"), "ch_kernel")
            if kernel.shape[0] == 1:
                st.caption(f"Slid over the image, plus a bias, it makes channel {channel}.")
            else:
                st.caption(f"One 5 × 5 slice per input channel; each slides over its map and the {kernel.shape[0]} results, plus a bias, add up to channel {channel}.")
        with cols[1]:
            show(image_figure(maps[conv_name][channel], -limit, limit, height=280, title=f"{conv_name} · before ReLU · {dims(maps[conv_name].shape[1:])}"), "ch_conv")
        relu_map = maps[relu_name][channel]
        with cols[2]:
            fig = image_figure(relu_map, -limit, limit, height=280, title=f"{relu_name} · after ReLU")
            if pool_name:
                rows, cols_kept = pool_winners(relu_map, layers[pool_name].kernel)
                fig.add_scatter(
                    x=cols_kept, y=rows, mode="markers", hoverinfo="skip", showlegend=False,
                    marker=dict(symbol="circle-open", size=7, color="black", line=dict(width=1.5)),
                )
            show(fig, "ch_relu")
        if pool_name:
            with cols[3]:
                pooled = maps[pool_name][channel]
                show(image_figure(pooled, -limit, limit, height=280, title=f"{pool_name} · after max-pool · {dims(pooled.shape)}"), "ch_pool")
            zeros = int((relu_map == 0).sum())
            st.caption(
                f"ReLU set {zeros} of the {relu_map.size} values of this map to 0 (white). The circles mark the "
                f"{len(rows)} values max-pooling keeps, the largest in each {layers[pool_name].kernel} × "
                f"{layers[pool_name].kernel} block; the pooled map is {dims(pooled.shape)}, a quarter of the values, "
                "and the same colours. Blocks that are all 0 keep a 0."
            )
        else:
            st.caption(
                f"ReLU set {int((relu_map == 0).sum())} of the {relu_map.size} values of this map to 0 (white). "
                "conv1 is not pooled: conv2 reads all 16 of its maps directly."
            )

# ------------------------------------------------------------------------------ filters

if tab_filters.open:
    with tab_filters:
        weights = kernels(model)
        st.markdown(f"**conv1's {weights['conv1'].shape[0]} kernels** · each {dims(weights['conv1'].shape[1:])}")
        show(tiles_figure(weights["conv1"][:, 0], signed_limit(weights["conv1"]), 8, 700), "filters_conv1")
        st.caption("Red weights reward ink, blue ones punish it: many become small stroke and edge detectors.")
        c2, c3 = st.columns(2)
        for conv, col in (("conv2", c2), ("conv3", c3)):
            with col:
                w = weights[conv]  # (out, in, 5, 5)
                out = st.slider(f"{conv} output channel", 0, w.shape[0] - 1, key=f"inspect_filter_{conv}")
                st.markdown(f"**{conv}, channel {out}**: one 5 × 5 kernel per input channel · {dims(w[out].shape)}")
                show(tiles_figure(w[out], signed_limit(w[out]), 8, 480), f"filters_{conv}")

        st.subheader("Filters over time")
        history = snapshots(str(loaded.path), loaded.version) if loaded.path is not None else []
        if len(history) < 2:
            st.info(f"The model **{loaded.name}** has no filter snapshots: only runs trained by this app's trainer save them.")
        else:
            epoch = st.slider("Epoch (0 = the random start)", 0, len(history) - 1, len(history) - 1, key="inspect_epoch")
            conv1_history = [h["conv1"] for h in history]
            accuracies = loaded.meta.get("test_accuracy_per_epoch") or []
            after = f" · test accuracy then {100 * accuracies[epoch - 1]:.2f}%" if 0 < epoch <= len(accuracies) else ""
            st.markdown(f"**conv1 after epoch {epoch}**{after}")
            # One colour range for all epochs, so growing weights look stronger.
            show(tiles_figure(conv1_history[epoch][:, 0], signed_limit(*conv1_history), 8, 700), "filters_time")

# ------------------------------------------------------------------------------ end

if tab_end.open:
    with tab_end:
        pool2 = maps["pool2"]
        fc1, fc2 = dense_layers(model)
        st.markdown(f"**flatten** · {dims(maps['flatten'].shape)} = {dims(pool2.shape)}")
        st.caption("pool2's 64 maps of 3 × 3, read channel by channel into one list: the layers after this no longer know where anything was.")
        flat = maps["flatten"][None]  # (1, 576): one row
        per_channel = pool2.shape[1] * pool2.shape[2]
        channel_of = np.arange(flat.shape[1])[None] // per_channel
        show(
            image_figure(
                flat, -signed_limit(flat), signed_limit(flat), height=60, square=False, customdata=channel_of,
                hover="position %{x}<br>from pool2 channel %{customdata}<br>value %{z:.3f}",
            ),
            "flatten",
        )
        hidden = maps["hidden"]
        st.markdown(f"**hidden** · {dims(hidden.shape)} · Linear({fc1.in_features}→{fc1.out_features}) + ReLU, {fc1.params:,} parameters")
        show(bars_figure(hidden, list(range(len(hidden))), f"{int((hidden > 0).sum())} of {len(hidden)} hidden units are active for this digit", height=230), "hidden")
        st.markdown(f"**logits** · {dims(maps['logits'].shape)} · Linear({fc2.in_features}→{fc2.out_features}), {fc2.params:,} parameters")
        c1, c2 = st.columns(2)
        with c1:
            show(bars_figure(maps["logits"], [str(d) for d in range(10)], "logits: one score per digit", predicted, 240), "logits")
        with c2:
            show(bars_figure(probs, [str(d) for d in range(10)], "softmax turns them into probabilities", predicted, 240, percent=True), "probs_end")

# ------------------------------------------------------------------------------ where it looks

if tab_where.open:
    with tab_where:
        runner_up = int(np.argsort(probs)[-2])
        other = st.segmented_control(
            "Compare with the digit", list(range(10)), default=runner_up, key="inspect_other_class",
            help="Default: the model's second choice.",
        )
        other = runner_up if other is None else other
        cam_stage = st.radio(
            "Grad-CAM on", ["relu2", "relu3"], horizontal=True, key="inspect_cam_stage",
            format_func=lambda s: f"{s} ({dims(maps[s].shape)})",
        )
        panels = [(predicted, "saliency"), (other, "saliency"), (predicted, "cam"), (other, "cam")]
        for n, (col, (target, kind)) in enumerate(zip(st.columns(4), panels)):
            with col:
                if kind == "saliency":
                    heat, label = saliency(model, x, target), "saliency"
                else:
                    heat, label = grad_cam(model, x, target, stage=cam_stage), "Grad-CAM"
                show(overlay_figure(x, heat, f"{label} · {target} ({100 * probs[target]:.1f}%)"), f"where_{n}")
        st.caption(
            "**Saliency**: how much the digit's score would change if one pixel changed a little "
            "(the size of the gradient); bright pixels matter most, inked or not. "
            f"**Grad-CAM**: which places of {cam_stage}'s maps argue *for* the digit: each channel is "
            "weighted by how much raising it raises the score, and what is positive is shown. relu2 is the "
            f"default: its {dims(maps['relu2'].shape)} maps keep strokes apart (each unit sees "
            f"{layers['conv2'].receptive_field} × {layers['conv2'].receptive_field} pixels) and, with conv3 and the "
            f"dense layers behind them, still differ from digit to digit. relu3 is the last conv stage, but its "
            f"{dims(maps['relu3'].shape[1:])} grid, each unit seeing {layers['conv3'].receptive_field} × "
            f"{layers['conv3'].receptive_field} of the 28 × 28 pixels, gives blurry blobs."
        )

# ------------------------------------------------------------------------------ how it works

if tab_how.open:
    with tab_how:
        st.subheader("Five numbers make a conv layer")
        st.markdown(
            "`in_channels` is how many maps the layer reads, `out_channels` how many kernels it has "
            "(one output map each), `kernel_size` the window a kernel covers, `stride` how far the window "
            "moves each step, and `padding` how many rings of zeros are added around the input. Pooling "
            "has the last three. This model's layers, read from the model:"
        )
        st.table(
            [
                {
                    "layer": r.name, "in_channels": r.in_shape[0], "out_channels": r.out_shape[0],
                    "kernel_size": r.kernel, "stride": r.stride, "padding": r.padding,
                    "input": dims(r.in_shape), "output": dims(r.out_shape), "output width": r.formula,
                }
                for r in layers.values()
            ]
        )
        st.markdown("**Output size calculator**: output = (W − K + 2P) / S + 1, rounded down.")
        w_col, k_col, s_col, p_col, out_col = st.columns(5)
        w = w_col.number_input("input width W", 1, 512, 28, key="calc_w")
        k = k_col.number_input("kernel K", 1, 64, 5, key="calc_k")
        s = s_col.number_input("stride S", 1, 16, 1, key="calc_s")
        p = p_col.number_input("padding P", 0, 32, 0, key="calc_p")
        try:
            out_col.metric("output width", output_size(w, k, s, p))
            st.caption(formula(w, k, s, p))
        except ValueError as e:
            out_col.warning(str(e))

        st.subheader("Sparse interactions and parameter sharing")
        counts = param_counts(model)
        c1 = counts[0]
        st.markdown(
            f"A fully connected layer joins every input value to every output value. Each unit of "
            f"conv1 reads only a {layers['conv1'].kernel} × {layers['conv1'].kernel} patch: "
            f"{c1.inputs_per_unit} of the {c1.input_values} input pixels (*sparse interactions*). "
            f"And all {c1.uses_per_weight} positions of a map use the same kernel (*parameter sharing*), "
            f"so conv1 needs {c1.params:,} numbers where a fully connected layer making the same "
            f"{dims(layers['conv1'].out_shape)} output would need {c1.fc_params:,}."
        )
        st.table(
            [
                {
                    "layer": c.name, "parameters": c.params_formula, "fully connected, same shapes": c.fc_formula,
                    "times more": f"{c.fc_params / c.params:,.0f}×",
                    "each unit reads": f"{c.inputs_per_unit:,} of {c.input_values:,} values",
                    "each weight used at": f"{c.uses_per_weight} positions",
                    "sees in the image": f"{layers[c.name].receptive_field} × {layers[c.name].receptive_field} px",
                }
                for c in counts
            ]
        )

        st.subheader("Equivariance: the maps move with the digit")
        sx, sy, sc = st.columns(3)
        dx = sx.slider("shift right (px)", -4, 4, 1, key="shift_dx")
        dy = sy.slider("shift down (px)", -4, 4, 0, key="shift_dy")
        eq_channel = sc.slider("relu1 channel shown", 0, maps["relu1"].shape[0] - 1, key="shift_channel")
        moved = shift(x, dx, dy)
        moved_maps = feature_maps(model, moved)
        limit = signed_limit(maps["relu1"][eq_channel], moved_maps["relu1"][eq_channel])
        f1, f2, f3, f4 = st.columns(4)
        with f1:
            show(image_figure(x, 0, 1, INK, height=230, title="input"), "eq_x")
        with f2:
            show(image_figure(moved, 0, 1, INK, height=230, title=f"shifted ({dx:+d}, {dy:+d})"), "eq_moved")
        with f3:
            show(image_figure(maps["relu1"][eq_channel], -limit, limit, height=230, title=f"relu1 channel {eq_channel}"), "eq_map")
        with f4:
            show(image_figure(moved_maps["relu1"][eq_channel], -limit, limit, height=230, title="relu1 of the shifted input"), "eq_moved_map")
        rows = shift_equivariance(model, x, dx, dy)
        st.markdown(
            "Measured on this digit: **changed** is how much a stage's output changes in place when the "
            "input moves; **after shifting back** is what is left once the old output is moved by the same "
            "amount, on that stage's grid (only possible when the shift is a whole number of grid steps). "
            "Both are relative to how much the digit changes that stage's output from an empty image's. "
            "0% after shifting back: the stage simply moved along with the digit."
        )
        st.table(
            [
                {"": "grid step (px)", **{r.stage: str(r.jump) if r.jump else "–" for r in rows}},
                {"": "changed", **{r.stage: f"{100 * r.changed:.0f}%" for r in rows}},
                {"": "after shifting back", **{r.stage: percent_or_dash(r.shift_error) for r in rows}},
            ]
        )
        by = {r.stage: r for r in rows}
        relu2_back = percent_or_dash(by["relu2"].shift_error)
        st.markdown(
            f"A convolution uses the same kernel everywhere, so a shifted digit gives a shifted map "
            f"(relu2 after shifting back: {relu2_back}). "
            f"Max-pooling keeps the largest value of each block wherever in the block it sits, so pooled "
            f"outputs change less than the maps they pool: relu2 {100 * by['relu2'].changed:.0f}% → pool1 "
            f"{100 * by['pool1'].changed:.0f}%, relu3 {100 * by['relu3'].changed:.0f}% → pool2 "
            f"{100 * by['pool2'].changed:.0f}%. The prediction for the shifted digit: "
            f"{int(moved_maps['logits'].argmax())} (was {predicted})."
        )
        if dx == dy == 0:
            st.caption("Move a slider: with no shift nothing changes.")

print(f"GC {[(g, round(t)) for g, t in _gc._inspect_log if t > 2]} PAGE total {(_time.perf_counter()-_T0)*1000:.0f} ms, before maps {(_T1-_T0)*1000:.0f}, maps {(_T2-_T1)*1000:.0f}", flush=True)
