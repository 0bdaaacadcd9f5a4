"""Inspect: what the network computes at each stage for one digit, and why a CNN is built so.

Thin on purpose: widgets, calls into the engine (cnn_demo.inside.features, arithmetic, attribution,
equivariance), and drawing. Every number shown is read from the active model, whatever its
network: one section per conv stage (conv, activation, pooling), and for a fully connected
net its hidden units' weights as 28 x 28 pictures instead of feature maps. The tabs run only
when open (on_change="rerun"), so an input change redraws only the input, the prediction
and the open tab.
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app_pages.common import active, drawing_for_inspect
from app_pages.figures import ACCENT, GAP, HIGHLIGHT, INK, SIGNED, chart, image_figure, picture
from app_pages.i18n import LANGUAGES, choice, strings, t
from cnn_demo.inside.attribution import cam_stages, grad_cam, saliency
from cnn_demo.inside.equivariance import shift_equivariance
from cnn_demo.inside.features import (
    chains,
    feature_maps,
    kernels,
    pool_winners,
    probabilities,
    strongest_channel,
    unit_evidence,
)
from cnn_demo.inside.mosaic import mosaic
from cnn_demo.inside.pixels import magnify, scale_each, signed_limit, weights_rgb
from cnn_demo.inside.predict import runner_up
from cnn_demo.network.arithmetic import (
    dense_layers,
    formula,
    layer_arithmetic,
    output_size,
    param_counts,
    stage_geometry,
)
from cnn_demo.network.model import first_layer_weights
from cnn_demo.storage.checkpoint import filter_history
from cnn_demo.storage.data import DataError, load_mnist

TEST, DRAWING = "test", "drawing"  # the Input radio's values; its labels come from the locales
POOL_MODULES = {"max": "MaxPool2d", "avg": "AvgPool2d"}  # PyTorch's names, as the code writes them
TABS = ["maps", "channel", "filters", "end", "where", "how"]  # named by the locales' inspect.tab_* strings
DIGITS = [str(d) for d in range(10)]


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


def channel_mosaic(maps: np.ndarray, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W) -> (mosaic of the maps, mosaic of each cell's channel number for hovering).

    The channel numbers are uint8 (255 in the gaps): a quarter of the bytes of floats (a conv
    layer has at most 128 channels, model.LIMITS).
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


def percent_or_dash(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def show(fig: go.Figure, key: str) -> None:
    """Through the app's chart helper (bigger in projector mode); theme=None keeps these colours."""
    chart(fig, key, height=fig.layout.height, theme=None)


def hidden_weights(key: str) -> None:
    """A fully connected net's first layer: each hidden unit's 784 weights as a 28 x 28 picture."""
    w = first_layer_weights(model).cpu().numpy()  # (hidden, 28, 28)
    st.markdown(t("inspect.fc_weights", count=len(w)))
    # A still picture, as wide as the page: a heatmap of 155 tiles has a fixed height, empty on a tablet.
    picture(magnify(weights_rgb(mosaic(w, cols=16)), 3), key, caption=t("inspect.fc_weights_caption"))


def activation_caption(function: str, values: np.ndarray) -> str:
    """What the activation did to one map, counted: ReLU's zeros, tanh's and sigmoid's flat ends."""
    if function == "relu":
        return t("inspect.relu_caption", zeros=int((values == 0).sum()), size=values.size)
    if function == "tanh":
        return t("inspect.tanh_caption", flat=int((np.abs(values) > 0.9).sum()), size=values.size)
    return t("inspect.sigmoid_caption", high=int((values > 0.5).sum()), size=values.size)


# ------------------------------------------------------------------------------ input

loaded = active()
model = loaded.model  # shared by every session: only read
layers = {row.name: row for row in layer_arithmetic(model)}  # each conv and pool layer
stages = chains(model)  # one per conv stage: conv, activation, optional pooling; [] without convs
by_conv = {chain.conv: chain for chain in stages}

st.title(t("inspect.title"))
st.caption(t("inspect.caption", name=loaded.name))

try:
    images, labels, by_class = test_set()
except DataError as e:
    st.error(t("inspect.no_test_set", error=e))
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
        choice(
            st.radio,
            t("inspect.input"),
            [TEST, DRAWING],
            key="inspect_source",
            horizontal=True,
            format_func=lambda v: t(f"inspect.source_{v}"),
        )
    else:
        state.inspect_source = TEST
        st.caption(t("inspect.input_hint"))
    c_index, c_random, c_class = st.columns([1.3, 1, 5], vertical_alignment="bottom")
    c_index.number_input(t("inspect.index"), 0, len(images) - 1, key="inspect_index", on_change=pick_test)
    c_random.button(t("inspect.random"), on_click=random_image, width="stretch")
    with c_class:
        st.caption(t("inspect.next_of_digit"))
        for digit, col in zip(range(10), st.columns(10, gap="small")):
            col.button(str(digit), key=f"inspect_digit_{digit}", on_click=next_of_class, args=(digit,), width="stretch")

if state.inspect_source == DRAWING and drawing is not None:
    x = np.asarray(drawing, dtype=np.float32)
    input_title = t("inspect.your_drawing")
else:
    i = state.inspect_index
    x = images[i].astype(np.float32) / 255  # (28, 28) in [0, 1], ink = 1
    input_title = t("inspect.test_image_title", index=i, label=labels[i])

maps = feature_maps(model, x)
probs = probabilities(maps["logits"])
predicted = int(probs.argmax())
# What reaches the fully connected layers: the last stage's maps, or the image itself.
last = next((n for n in reversed(list(maps)) if maps[n].ndim == 3), None)
last_maps = maps[last] if last else x[None]  # (C, H, W)

left, right = st.columns([1, 2])
with left:
    show(
        image_figure(x, 0, 1, INK, height=300, title=input_title, hover=t("inspect.hover_pixel", value="%{z:.2f}")),
        "input",
    )
    st.caption(t("inspect.input_caption", shape=dims((1, *x.shape))))
with right:
    sure = t("inspect.sure", percent=f"{100 * probs[predicted]:.1f}%")
    st.metric(t("inspect.prediction"), f"{predicted}", sure, delta_color="off", delta_arrow="off")
    title = t("inspect.probs_title")
    show(bars_figure(probs, DIGITS, title, predicted, 230, percent=True), "probs_top")

tab_labels = [t(f"inspect.tab_{name}") for name in TABS]
# The open tab is kept by its label: after a language switch, open the same tab in the new language.
for name, label in zip(TABS, tab_labels):
    if state.get("inspect_tab") in {strings(lang)[f"inspect.tab_{name}"] for lang in LANGUAGES} - {label}:
        state.inspect_tab = label
tab_maps, tab_channel, tab_filters, tab_end, tab_where, tab_how = st.tabs(
    tab_labels, key="inspect_tab", on_change="rerun"
)

# ------------------------------------------------------------------------------ feature maps

if tab_maps.open:
    with tab_maps:
        if not stages:
            st.info(t("inspect.fc_no_maps", hidden=model.spec.hidden))
            hidden_weights("fc_weights_maps")
        else:
            per_map = st.toggle(t("inspect.per_map"), key="inspect_per_map", help=t("inspect.per_map_help"))
            st.caption(t("inspect.maps_caption"))

        def label(name: str, function: str) -> None:
            """The stage's name, its shape written out, and how that shape was computed."""
            row = layers.get(name)
            if row is None:
                note = t(f"inspect.{function}_note")
            elif row.kind == "conv":
                note = t(
                    "inspect.conv_note",
                    c_in=row.in_shape[0],
                    c_out=row.out_shape[0],
                    kernel=row.kernel,
                    stride=row.stride,
                    padding=row.padding,
                    formula=row.formula,
                )
            else:
                note = t(
                    "inspect.pool_note",
                    module=POOL_MODULES[row.pooling],
                    kernel=row.kernel,
                    stride=row.stride,
                    channels=row.out_shape[0],
                    formula=row.formula,
                )
            st.markdown(f"**{name}** · {dims(maps[name].shape)}")
            st.caption(note)

        for chain in stages:
            names = [n for n in (chain.conv, chain.activation, chain.pool) if n]
            with st.container(key=f"inspect_stage_{chain.index}"):
                parts = [chain.conv, t(f"net.{chain.function}")] + ([t(f"net.{chain.pooling}")] if chain.pool else [])
                st.markdown(t("inspect.stage_heading", index=chain.index, parts=" → ".join(parts)))
                for name, col in zip(names, st.columns(len(names))):
                    with col:
                        label(name, chain.function)
                if per_map:
                    row, limits = [scale_each(maps[n]) for n in names], [1.0] * len(names)
                else:  # one range per stage: after ReLU only the positive half is used
                    row, limits = [maps[n] for n in names], [signed_limit(maps[n]) for n in names]
                cols = 8 if max(maps[n].shape[-1] for n in names) > 4 else 16  # tiny maps: a shorter mosaic
                show(row_figure(row, limits, cols=cols, width_px=940), f"maps_{chain.conv}")
        if stages:
            end = t(
                "inspect.flatten_info",
                last=last,
                shape=dims(last_maps.shape),
                flat=maps["flatten"].shape[0],
                tab=t("inspect.tab_end"),
            )
            pooled = next((c for c in stages if c.pool), None)
            if pooled is None:
                st.info(f"{t('inspect.no_pooling_info')} {end}")
            else:
                row = layers[pooled.pool]
                text = t(
                    f"inspect.pooling_info_{pooled.pooling}",
                    name=pooled.pool,
                    in_shape=dims(row.in_shape),
                    in_values=f"{np.prod(row.in_shape):,}",
                    out_shape=dims(row.out_shape),
                    out_values=f"{np.prod(row.out_shape):,}",
                    kernel=row.kernel,
                )
                st.info(f"{text} {end}")

# ------------------------------------------------------------------------------ one channel

if tab_channel.open:
    with tab_channel:
        if not stages:  # one hidden unit instead of one channel: its weights and what each pixel gave it
            st.info(t("inspect.fc_no_channels"))
            hidden = maps["hidden"]
            unit = st.slider(t("inspect.unit"), 0, len(hidden) - 1, int(hidden.argmax()), key="inspect_unit")
            weights, parts, bias = unit_evidence(model, x, unit)
            w_limit, p_limit = signed_limit(weights), signed_limit(parts)
            cols = st.columns(3)
            with cols[0]:
                show(image_figure(x, 0, 1, INK, height=280, title=t("inspect.eq_input")), "unit_input")
            with cols[1]:
                show(
                    image_figure(weights, -w_limit, w_limit, height=280, title=t("inspect.unit_weights", unit=unit)),
                    "unit_weights",
                )
            with cols[2]:
                show(image_figure(parts, -p_limit, p_limit, height=280, title=t("inspect.unit_parts")), "unit_parts")
            total = float(parts.sum())
            st.caption(
                t(
                    "inspect.unit_caption",
                    unit=unit,
                    total=f"{total:.3f}",
                    bias=f"{bias:+.3f}",
                    before=f"{total + bias:.3f}",
                    after=f"{hidden[unit]:.3f}",
                )
            )
        else:
            c1, c2 = st.columns([1, 3])
            conv = c1.radio(t("inspect.layer"), list(by_conv), key="inspect_channel_layer", horizontal=True)
            chain = by_conv.get(conv, stages[0])  # a pick kept from another network's page falls back
            conv = chain.conv
            n_channels = maps[conv].shape[0]
            strongest = strongest_channel(maps[chain.activation])  # by its largest value after the activation
            slider_key = f"inspect_channel_{conv}"
            if state.get(slider_key, 0) >= n_channels:  # kept from a network with more channels
                del state[slider_key]
            state.setdefault(slider_key, strongest)  # start on a channel this digit lights up
            channel = c2.slider(t("inspect.channel"), 0, n_channels - 1, key=slider_key) if n_channels > 1 else 0
            c2.button(
                t("inspect.strongest", channel=strongest),
                key=f"inspect_strongest_{conv}",
                on_click=lambda: state.update({slider_key: strongest}),
            )
            kernel = kernels(model)[conv][channel]  # (in_channels, K, K)
            limit = signed_limit(maps[conv][channel])
            k_limit = signed_limit(kernel)
            function = t(f"net.{chain.function}")

            cols = st.columns(4 if chain.pool else 3)
            with cols[0]:
                title = t("inspect.kernel_title", shape=dims(kernel.shape))
                if kernel.shape[0] == 1:
                    show(image_figure(kernel[0], -k_limit, k_limit, height=260, title=title), "ch_kernel")
                    st.caption(t("inspect.kernel_caption_one", channel=channel))
                else:
                    show(tiles_figure(kernel, k_limit, 4, 240, title=title), "ch_kernel")
                    st.caption(
                        t(
                            "inspect.kernel_caption_many",
                            shape=dims(kernel.shape[1:]),
                            count=kernel.shape[0],
                            channel=channel,
                        )
                    )
            with cols[1]:
                conv_map = maps[conv][channel]
                title = t("inspect.before_relu", name=conv, fn=function, shape=dims(conv_map.shape))
                show(image_figure(conv_map, -limit, limit, height=280, title=title), "ch_conv")
            act_map = maps[chain.activation][channel]
            with cols[2]:
                title = t("inspect.after_relu", name=chain.activation, fn=function)
                fig = image_figure(act_map, -limit, limit, height=280, title=title)
                if chain.pooling == "max":
                    row = layers[chain.pool]
                    rows, cols_kept = pool_winners(act_map, row.kernel, row.stride)
                    fig.add_scatter(
                        x=cols_kept,
                        y=rows,
                        mode="markers",
                        hoverinfo="skip",
                        showlegend=False,
                        marker=dict(symbol="circle-open", size=7, color="black", line=dict(width=1.5)),
                    )
                show(fig, "ch_relu")
            said = activation_caption(chain.function, act_map)
            if chain.pool:
                row = layers[chain.pool]
                with cols[3]:
                    pooled = maps[chain.pool][channel]
                    pool_name = t(f"net.{chain.pooling}")
                    title = t("inspect.after_pool", name=chain.pool, pool=pool_name, shape=dims(pooled.shape))
                    show(image_figure(pooled, -limit, limit, height=280, title=title), "ch_pool")
                values = dict(kernel=row.kernel, shape=dims(pooled.shape), pooled=pooled.size, size=act_map.size)
                if chain.pooling == "max":
                    values["kept"] = len(rows)
                st.caption(f"{said} {t(f'inspect.{chain.pooling}_pool_caption', **values)}")
            else:
                key = "inspect.not_pooled_caption" if chain is not stages[-1] else "inspect.not_pooled_last_caption"
                st.caption(f"{said} {t(key, conv=conv, channels=maps[chain.activation].shape[0])}")

# ------------------------------------------------------------------------------ filters

if tab_filters.open:
    with tab_filters:
        if not stages:
            hidden_weights("fc_weights_filters")
        else:
            weights = kernels(model)
            first = weights["conv1"]  # (C, 1, K, K)
            st.markdown(t("inspect.conv1_kernels", count=first.shape[0], shape=dims(first.shape[1:])))
            show(tiles_figure(first[:, 0], signed_limit(first), 8, 700), "filters_conv1")
            st.caption(t("inspect.conv1_caption"))
            later = [c.conv for c in stages[1:]]
            for start in range(0, len(later), 2):
                for conv, col in zip(later[start : start + 2], st.columns(2)):
                    with col:
                        w = weights[conv]  # (out, in, K, K)
                        key = f"inspect_filter_{conv}"
                        if state.get(key, 0) >= w.shape[0]:  # kept from a network with more channels
                            del state[key]
                        out = (
                            st.slider(t("inspect.output_channel", conv=conv), 0, w.shape[0] - 1, key=key)
                            if w.shape[0] > 1
                            else 0
                        )
                        st.markdown(t("inspect.kernel_per_input", conv=conv, channel=out, shape=dims(w[out].shape)))
                        show(tiles_figure(w[out], signed_limit(w[out]), 8, 480), f"filters_{conv}")

        st.subheader(t("inspect.over_time"))
        history = snapshots(str(loaded.path), loaded.version) if loaded.path is not None else []
        history = [h for h in history if "conv1" in h]
        if not stages:
            st.info(t("inspect.no_snapshots_fc"))
        elif len(history) < 2:
            st.info(t("inspect.no_snapshots", name=loaded.name))
        else:
            epoch = st.slider(t("inspect.epoch"), 0, len(history) - 1, len(history) - 1, key="inspect_epoch")
            conv1_history = [h["conv1"] for h in history]
            accuracies = loaded.meta.get("test_accuracy_per_epoch") or []
            if 0 < epoch <= len(accuracies):
                st.markdown(
                    t("inspect.after_epoch_accuracy", epoch=epoch, accuracy=f"{100 * accuracies[epoch - 1]:.2f}%")
                )
            else:
                st.markdown(t("inspect.after_epoch", epoch=epoch))
            # One colour range for all epochs, so growing weights look stronger.
            show(tiles_figure(conv1_history[epoch][:, 0], signed_limit(*conv1_history), 8, 700), "filters_time")

# ------------------------------------------------------------------------------ end

if tab_end.open:
    with tab_end:
        fc1, fc2 = dense_layers(model)
        flat = maps["flatten"][None]  # (1, 576) for the tutorial's: one row
        st.markdown(t("inspect.flatten", flat=dims(maps["flatten"].shape), shape=dims(last_maps.shape)))
        per_channel = last_maps.shape[1] * last_maps.shape[2]
        if last:
            st.caption(
                t("inspect.flatten_caption", stage=last, count=last_maps.shape[0], shape=dims(last_maps.shape[1:]))
            )
            hover = t("inspect.hover_flat", position="%{x}", stage=last, channel="%{customdata}", value="%{z:.3f}")
        else:
            st.caption(t("inspect.flatten_caption_fc"))
            hover = t("inspect.hover_flat_fc", position="%{x}", row="%{customdata}", value="%{z:.3f}")
        channel_of = np.arange(flat.shape[1])[None] // (per_channel if last else 28)  # channel, or image row
        show(
            image_figure(
                flat,
                -signed_limit(flat),
                signed_limit(flat),
                height=60,
                square=False,
                customdata=channel_of,
                hover=hover,
            ),
            "flatten",
        )
        hidden = maps["hidden"]
        st.markdown(
            t(
                "inspect.hidden",
                shape=dims(hidden.shape),
                n_in=fc1.in_features,
                n_out=fc1.out_features,
                params=f"{fc1.params:,}",
            )
        )
        title = t("inspect.hidden_title", active=int((hidden > 0).sum()), count=len(hidden))
        show(bars_figure(hidden, list(range(len(hidden))), title, height=230), "hidden")
        st.markdown(
            t(
                "inspect.logits",
                shape=dims(maps["logits"].shape),
                n_in=fc2.in_features,
                n_out=fc2.out_features,
                params=f"{fc2.params:,}",
            )
        )
        c1, c2 = st.columns(2)
        with c1:
            show(bars_figure(maps["logits"], DIGITS, t("inspect.logits_title"), predicted, 240), "logits")
        with c2:
            title = t("inspect.softmax_title")
            show(bars_figure(probs, DIGITS, title, predicted, 240, percent=True), "probs_end")

# ------------------------------------------------------------------------------ where it looks

if tab_where.open:
    with tab_where:
        other = st.segmented_control(
            t("inspect.compare"),
            list(range(10)),
            key="inspect_other_class",
            help=t("inspect.compare_help"),
        )
        other = runner_up(probs) if other is None else other  # (None when nothing is picked)
        options = cam_stages(model)  # each conv stage's activation; none without convs
        if options:
            if state.get("inspect_cam_stage") not in options:  # first visit, or kept from another network
                state.inspect_cam_stage = options[-1]  # grad_cam's own default: the last conv stage
            cam_stage = st.radio(
                t("inspect.cam_on"),
                options,
                horizontal=True,
                key="inspect_cam_stage",
                format_func=lambda s: f"{s} ({dims(maps[s].shape)})",
            )
            panels = [(predicted, "saliency"), (other, "saliency"), (predicted, "cam"), (other, "cam")]
        else:
            panels = [(predicted, "saliency"), (other, "saliency")]
        for n, (col, (target, kind)) in enumerate(zip(st.columns(4), panels)):
            with col:
                if kind == "saliency":
                    heat, label = saliency(model, x, target), t("inspect.saliency")
                else:
                    heat, label = grad_cam(model, x, target, stage=cam_stage), "Grad-CAM"
                show(overlay_figure(x, heat, f"{label} · {target} ({100 * probs[target]:.1f}%)"), f"where_{n}")
        if options:
            geometry = stage_geometry(model)[cam_stage]
            which = t(
                "inspect.where_last" if cam_stage == options[-1] else "inspect.where_earlier",
                stage=cam_stage,
                last=options[-1],
            )
            st.caption(
                t(
                    "inspect.where_caption",
                    stage=cam_stage,
                    shape=dims(maps[cam_stage].shape),
                    rf=geometry.receptive_field,
                    which=which,
                )
            )
        else:
            st.caption(t("inspect.where_fc"))

# ------------------------------------------------------------------------------ how it works

if tab_how.open:
    with tab_how:
        st.subheader(t("inspect.how_title"))
        st.markdown(t("inspect.how_text"))
        if layers:
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
        else:
            st.info(t("inspect.how_fc", hidden=model.spec.hidden))
        st.markdown(t("inspect.calc"))
        w_col, k_col, s_col, p_col, out_col = st.columns(5)
        w = w_col.number_input(t("inspect.calc_w"), 1, 512, 28, key="calc_w")
        k = k_col.number_input(t("inspect.calc_k"), 1, 64, 5, key="calc_k")
        s = s_col.number_input(t("inspect.calc_s"), 1, 16, 1, key="calc_s")
        p = p_col.number_input(t("inspect.calc_p"), 0, 32, 0, key="calc_p")
        try:
            out_col.metric(t("inspect.calc_out"), output_size(w, k, s, p))
            st.caption(formula(w, k, s, p))
        except ValueError:  # the inputs' minimums leave one way to fail: a kernel wider than the padded input
            out_col.warning(t("inspect.calc_no_fit", k=k, w=w, p=p))

        st.subheader(t("inspect.sparse_title"))
        counts = param_counts(model)
        if counts:
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
        else:
            fc1 = dense_layers(model)[0]
            st.markdown(t("inspect.sparse_fc", hidden=fc1.out_features, params=f"{fc1.params:,}"))

        st.subheader(t("inspect.eq_title" if stages else "inspect.eq_title_fc"))
        sx, sy, sc = st.columns(3)
        dx = sx.slider(t("inspect.shift_right"), -4, 4, 1, key="shift_dx")
        dy = sy.slider(t("inspect.shift_down"), -4, 4, 0, key="shift_dy")
        shifted = shift_equivariance(model, x, dx, dy, maps)  # the moved image, its maps, and the table
        moved, moved_maps = shifted.moved, shifted.moved_maps
        f1, f2, f3, f4 = st.columns(4)
        with f1:
            show(image_figure(x, 0, 1, INK, height=230, title=t("inspect.eq_input")), "eq_x")
        with f2:
            show(
                image_figure(moved, 0, 1, INK, height=230, title=t("inspect.eq_shifted", dx=f"{dx:+d}", dy=f"{dy:+d}")),
                "eq_moved",
            )
        if stages:
            act = stages[0].activation  # the first conv stage's maps, e.g. relu1
            if state.get("shift_channel", 0) >= maps[act].shape[0]:  # kept from a network with more channels
                del state["shift_channel"]
            state.setdefault("shift_channel", strongest_channel(maps[act]))
            n_maps = maps[act].shape[0]
            eq_channel = (
                sc.slider(t("inspect.eq_channel", stage=act), 0, n_maps - 1, key="shift_channel") if n_maps > 1 else 0
            )
            limit = signed_limit(maps[act][eq_channel], moved_maps[act][eq_channel])
            with f3:
                title = t("inspect.eq_map", stage=act, channel=eq_channel)
                show(image_figure(maps[act][eq_channel], -limit, limit, height=230, title=title), "eq_map")
            with f4:
                title = t("inspect.eq_moved_map", stage=act)
                show(image_figure(moved_maps[act][eq_channel], -limit, limit, height=230, title=title), "eq_moved_map")
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
        by = {r.stage: r for r in rows}
        changed = lambda stage: f"{100 * by[stage].changed:.0f}%"
        if stages:
            said = [
                t(
                    "inspect.eq_conv",
                    stage=stages[0].activation,
                    back=percent_or_dash(by[stages[0].activation].shift_error),
                )
            ]
            for kind in ("max", "avg"):
                pairs = [
                    f"{c.activation} {changed(c.activation)} → {c.pool} {changed(c.pool)}"
                    for c in stages
                    if c.pooling == kind
                ]
                if pairs:
                    said.append(t(f"inspect.eq_{kind}", pairs=", ".join(pairs)))
            if not any(c.pool for c in stages):
                said.append(
                    t("inspect.eq_no_pool", chain=" → ".join(f"{c.activation} {changed(c.activation)}" for c in stages))
                )
        else:
            said = [t("inspect.eq_fc", input=changed("input"), hidden=changed("hidden"))]
        said.append(t("inspect.eq_prediction", moved=int(moved_maps["logits"].argmax()), predicted=predicted))
        st.markdown(" ".join(said))
        if dx == dy == 0:
            st.caption(t("inspect.no_shift"))
