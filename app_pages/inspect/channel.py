"""Inspect's "One channel" tab: one channel of one conv stage followed through it (its kernel, the
conv's map, the activation, the pooling), with what each step did, counted. For a fully connected
net: one hidden unit, its weights and what each pixel gave it."""

import numpy as np
import streamlit as st

from app_pages.common import dims
from app_pages.figures import INK, image_figure
from app_pages.i18n import t
from app_pages.inspect.figures import show, tiles_figure
from cnn_demo.inside.features import Chain, kernels, pool_winners, strongest_channel, unit_evidence
from cnn_demo.inside.pixels import signed_limit
from cnn_demo.network.arithmetic import LayerShape
from cnn_demo.network.model import Net


def channel_tab(
    model: Net,
    stages: list[Chain],
    layers: dict[str, LayerShape],
    image28: np.ndarray,
    maps: dict[str, np.ndarray],
) -> None:
    """image28: the digit shown (28, 28) in [0, 1]; maps: its outputs by stage name."""
    if stages:
        conv_channel(model, stages, layers, maps)
    else:  # one hidden unit instead of one channel
        hidden_unit(model, image28, maps["hidden"])


def hidden_unit(model: Net, image28: np.ndarray, hidden: np.ndarray) -> None:
    """A fully connected net's hidden unit (hidden: (units,) after the ReLU): its weights and what each pixel gave it."""
    st.info(t("inspect.fc_no_channels"))
    unit = st.slider(t("inspect.unit"), 0, len(hidden) - 1, int(hidden.argmax()), key="inspect_unit")
    weights, parts, bias = unit_evidence(model, image28, unit)  # (28, 28), (28, 28), float
    w_limit, p_limit = signed_limit(weights), signed_limit(parts)
    cols = st.columns(3)
    with cols[0]:
        show(image_figure(image28, 0, 1, INK, height=280, title=t("inspect.eq_input")), "unit_input")
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


def conv_channel(model: Net, stages: list[Chain], layers: dict[str, LayerShape], maps: dict[str, np.ndarray]) -> None:
    """Pick a conv stage and a channel; show its kernel and its map after each step of the stage."""
    state = st.session_state
    c1, c2 = st.columns([1, 3])
    by_conv = {chain.conv: chain for chain in stages}
    picked = c1.radio(t("inspect.layer"), list(by_conv), key="inspect_channel_layer", horizontal=True)
    chain = by_conv.get(picked, stages[0])  # a pick kept from another network's page falls back
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
        on_click=state.update,
        args=({slider_key: strongest},),
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
                t("inspect.kernel_caption_many", shape=dims(kernel.shape[1:]), count=kernel.shape[0], channel=channel)
            )
    with cols[1]:
        conv_map = maps[conv][channel]  # (H, W)
        title = t("inspect.before_relu", name=conv, fn=function, shape=dims(conv_map.shape))
        show(image_figure(conv_map, -limit, limit, height=280, title=title), "ch_conv")
    act_map = maps[chain.activation][channel]  # (H, W)
    winners = None  # (rows, cols) of the values max-pooling keeps
    with cols[2]:
        title = t("inspect.after_relu", name=chain.activation, fn=function)
        fig = image_figure(act_map, -limit, limit, height=280, title=title)
        if chain.pooling == "max":
            pool = layers[chain.pool]
            winners = pool_winners(act_map, pool.kernel, pool.stride)
            fig.add_scatter(
                x=winners[1],
                y=winners[0],
                mode="markers",
                hoverinfo="skip",
                showlegend=False,
                marker=dict(symbol="circle-open", size=7, color="black", line=dict(width=1.5)),
            )
        show(fig, "ch_relu")
    said = activation_caption(chain.function, act_map)
    if chain.pool:
        pooled = maps[chain.pool][channel]  # (H', W')
        with cols[3]:
            pool_name = t(f"net.{chain.pooling}")
            title = t("inspect.after_pool", name=chain.pool, pool=pool_name, shape=dims(pooled.shape))
            show(image_figure(pooled, -limit, limit, height=280, title=title), "ch_pool")
        values = dict(kernel=layers[chain.pool].kernel, shape=dims(pooled.shape), pooled=pooled.size, size=act_map.size)
        if winners is not None:
            values["kept"] = len(winners[0])
        st.caption(f"{said} {t(f'inspect.{chain.pooling}_pool_caption', **values)}")
    else:
        key = "inspect.not_pooled_caption" if chain is not stages[-1] else "inspect.not_pooled_last_caption"
        st.caption(f"{said} {t(key, conv=conv, channels=maps[chain.activation].shape[0])}")


def activation_caption(function: str, values: np.ndarray) -> str:
    """What the activation did to one map, counted: ReLU's zeros, tanh's and sigmoid's flat ends."""
    if function == "relu":
        return t("inspect.relu_caption", zeros=int((values == 0).sum()), size=values.size)
    if function == "tanh":
        return t("inspect.tanh_caption", flat=int((np.abs(values) > 0.9).sum()), size=values.size)
    return t("inspect.sigmoid_caption", high=int((values > 0.5).sum()), size=values.size)
