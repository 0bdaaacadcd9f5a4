"""Inspect's "Feature maps" tab: every conv stage's maps (conv, activation, pooling) for one digit,
each with its shape and how that shape was computed; for a fully connected net, its hidden units'
weights instead."""

import numpy as np
import streamlit as st

from app_pages.common import dims
from app_pages.i18n import t
from app_pages.inspect.figures import hidden_weights, row_figure, show
from cnn_demo.inside.features import Chain
from cnn_demo.inside.pixels import scale_each, signed_limit
from cnn_demo.network.arithmetic import LayerShape
from cnn_demo.network.model import Net

POOL_MODULES = {"max": "MaxPool2d", "avg": "AvgPool2d"}  # PyTorch's names, as the code writes them


def maps_tab(model: Net, stages: list[Chain], layers: dict[str, LayerShape], maps: dict[str, np.ndarray]) -> None:
    """stages: the conv stages (chains(model)); layers: each conv and pool layer's arithmetic, by
    name; maps: every stage's output for the digit shown, by name."""
    if not stages:
        st.info(t("inspect.fc_no_maps", hidden=model.spec.hidden))
        hidden_weights(model, "fc_weights_maps")
        return
    per_map = st.toggle(t("inspect.per_map"), key="inspect_per_map", help=t("inspect.per_map_help"))
    st.caption(t("inspect.maps_caption"))
    for chain in stages:
        stage_section(chain, layers, maps, per_map)
    st.info(pooling_info(stages, layers, maps))


def stage_section(chain: Chain, layers: dict[str, LayerShape], maps: dict[str, np.ndarray], per_map: bool) -> None:
    """One conv stage: a heading, each output's name and arithmetic, and all its maps in one figure."""
    names = [n for n in (chain.conv, chain.activation, chain.pool) if n]
    with st.container(key=f"inspect_stage_{chain.index}"):
        parts = [chain.conv, t(f"net.{chain.function}")] + ([t(f"net.{chain.pooling}")] if chain.pool else [])
        st.markdown(t("inspect.stage_heading", index=chain.index, parts=" → ".join(parts)))
        for name, col in zip(names, st.columns(len(names))):
            with col:
                st.markdown(f"**{name}** · {dims(maps[name].shape)}")
                st.caption(shape_note(layers.get(name), chain.function))
        if per_map:
            shown, limits = [scale_each(maps[n]) for n in names], [1.0] * len(names)
        else:  # one range per stage: after ReLU only the positive half is used
            shown, limits = [maps[n] for n in names], [signed_limit(maps[n]) for n in names]
        cols = 8 if max(maps[n].shape[-1] for n in names) > 4 else 16  # tiny maps: a shorter mosaic
        show(row_figure(shown, limits, cols=cols, width_px=940), f"maps_{chain.conv}")


def shape_note(row: LayerShape | None, function: str) -> str:
    """How an output's shape was computed: the conv's or pool's formula; an activation keeps its input's."""
    if row is None:
        return t(f"inspect.{function}_note")
    if row.kind == "conv":
        return t(
            "inspect.conv_note",
            c_in=row.in_shape[0],
            c_out=row.out_shape[0],
            kernel=row.kernel,
            stride=row.stride,
            padding=row.padding,
            formula=row.formula,
        )
    return t(
        "inspect.pool_note",
        module=POOL_MODULES[row.pooling],
        kernel=row.kernel,
        stride=row.stride,
        channels=row.out_shape[0],
        formula=row.formula,
    )


def pooling_info(stages: list[Chain], layers: dict[str, LayerShape], maps: dict[str, np.ndarray]) -> str:
    """Under the stages: what the first pooling did to the values, and what goes on to the flatten."""
    last = stages[-1].pool or stages[-1].activation  # the last (C, H, W) output, flattened next
    end = t(
        "inspect.flatten_info",
        last=last,
        shape=dims(maps[last].shape),
        flat=maps["flatten"].shape[0],
        tab=t("inspect.tab_end"),
    )
    pooled = next((c for c in stages if c.pool), None)
    if pooled is None:
        return f"{t('inspect.no_pooling_info')} {end}"
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
    return f"{text} {end}"
