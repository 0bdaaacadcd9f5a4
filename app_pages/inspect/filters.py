"""Inspect's "Learned filters" tab: conv1's kernels, each later conv's kernels for one output
channel, and conv1's kernels after each epoch of training. For a fully connected net, its
hidden units' weights."""

import numpy as np
import streamlit as st

from app_pages.common import dims
from app_pages.i18n import t
from app_pages.inspect.figures import hidden_weights, show, tiles_figure
from cnn_demo.inside.features import Chain, kernels
from cnn_demo.inside.pixels import signed_limit
from cnn_demo.storage.checkpoint import filter_history
from cnn_demo.storage.store import LoadedModel


@st.cache_data(max_entries=8)
def snapshots(path: str, version: str) -> list[dict[str, np.ndarray]]:
    """conv kernels after each epoch, read once per file version."""
    return filter_history(path)


def filters_tab(loaded: LoadedModel, stages: list[Chain]) -> None:
    """loaded: the active model with its file (its kernels over time are saved there); stages: its conv stages."""
    if not stages:
        hidden_weights(loaded.model, "fc_weights_filters")
    else:
        kernels_now(kernels(loaded.model), stages)
    st.subheader(t("inspect.over_time"))
    if not stages:
        st.info(t("inspect.no_snapshots_fc"))
    else:
        kernels_over_time(loaded)


def kernels_now(weights: dict[str, np.ndarray], stages: list[Chain]) -> None:
    """weights: each conv's kernels (out, in, K, K) by name. conv1's all at once; a later conv's
    for one output channel, picked with a slider, two convs to a row."""
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
                if st.session_state.get(key, 0) >= w.shape[0]:  # kept from a network with more channels
                    del st.session_state[key]
                out = (
                    st.slider(t("inspect.output_channel", conv=conv), 0, w.shape[0] - 1, key=key)
                    if w.shape[0] > 1
                    else 0
                )
                st.markdown(t("inspect.kernel_per_input", conv=conv, channel=out, shape=dims(w[out].shape)))
                show(tiles_figure(w[out], signed_limit(w[out]), 8, 480), f"filters_{conv}")


def kernels_over_time(loaded: LoadedModel) -> None:
    """conv1's kernels after the epoch picked with a slider, from the kernels its file saved each epoch."""
    history = snapshots(str(loaded.path), loaded.version) if loaded.path is not None else []
    history = [h for h in history if "conv1" in h]
    if len(history) < 2:
        st.info(t("inspect.no_snapshots", name=loaded.name))
        return
    epoch = st.slider(t("inspect.epoch"), 0, len(history) - 1, len(history) - 1, key="inspect_epoch")
    conv1_history = [h["conv1"] for h in history]  # each (C, 1, K, K)
    accuracies = loaded.meta.get("test_accuracy_per_epoch") or []
    if 0 < epoch <= len(accuracies):
        st.markdown(t("inspect.after_epoch_accuracy", epoch=epoch, accuracy=f"{100 * accuracies[epoch - 1]:.2f}%"))
    else:
        st.markdown(t("inspect.after_epoch", epoch=epoch))
    # One colour range for all epochs, so growing weights look stronger.
    show(tiles_figure(conv1_history[epoch][:, 0], signed_limit(*conv1_history), 8, 700), "filters_time")
