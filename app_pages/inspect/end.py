"""Inspect's "End of the network" tab: the last maps flattened to one row, the hidden layer, the
ten scores and their softmax."""

import numpy as np
import streamlit as st

from app_pages.common import dims
from app_pages.figures import image_figure
from app_pages.i18n import t
from app_pages.inspect.figures import DIGITS, bars_figure, show
from cnn_demo.inside.pixels import signed_limit
from cnn_demo.network.arithmetic import dense_layers
from cnn_demo.network.model import Net


def end_tab(model: Net, image28: np.ndarray, maps: dict[str, np.ndarray], probs: np.ndarray, predicted: int) -> None:
    """image28: the digit shown (28, 28); maps: its outputs by stage name; probs: (10,), softmax of the logits."""
    fc1, fc2 = dense_layers(model)
    # What reaches the fully connected layers: the last stage's maps, or the image itself.
    last = next((name for name in reversed(list(maps)) if maps[name].ndim == 3), None)
    last_maps = maps[last] if last else image28[None]  # (C, H, W)
    flat = maps["flatten"][None]  # (1, 576) for the tutorial's: one row
    st.markdown(t("inspect.flatten", flat=dims(maps["flatten"].shape), shape=dims(last_maps.shape)))
    if last:
        st.caption(t("inspect.flatten_caption", stage=last, count=last_maps.shape[0], shape=dims(last_maps.shape[1:])))
        hover = t("inspect.hover_flat", position="%{x}", stage=last, channel="%{customdata}", value="%{z:.3f}")
    else:
        st.caption(t("inspect.flatten_caption_fc"))
        hover = t("inspect.hover_flat_fc", position="%{x}", row="%{customdata}", value="%{z:.3f}")
    per_channel = last_maps.shape[1] * last_maps.shape[2]
    channel_of = np.arange(flat.shape[1])[None] // (per_channel if last else 28)  # (1, flat): channel, or image row
    limit = signed_limit(flat)
    show(image_figure(flat, -limit, limit, height=60, square=False, customdata=channel_of, hover=hover), "flatten")

    hidden = maps["hidden"]  # (hidden,) after the ReLU
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
        show(bars_figure(probs, DIGITS, t("inspect.softmax_title"), predicted, 240, percent=True), "probs_end")
