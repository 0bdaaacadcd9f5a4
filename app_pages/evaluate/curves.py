"""Evaluate's "Learning curves" tab: the loss and test accuracy the saved runs recorded, overlaid."""

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from app_pages.common import model_store
from app_pages.figures import PALETTE, chart
from app_pages.i18n import t
from cnn_demo.storage.checkpoint import CheckpointError
from cnn_demo.training.evaluate import training_curves


def curves_tab(active_path: Path | None) -> None:
    """active_path: the active model's file, the run picked first (None: a model without a file)."""
    store = model_store()
    paths = store.saved()
    names = {p: p.stem for p in paths}
    if "eval_runs" not in st.session_state:
        st.session_state.eval_runs = [p for p in paths if p == active_path] or paths[:1]
    st.session_state.eval_runs = [p for p in st.session_state.eval_runs if p in names]  # a run deleted since
    picked = st.multiselect(t("evaluate.compare"), paths, key="eval_runs", format_func=names.get)
    loss_fig, acc_fig = go.Figure(), go.Figure()
    without = []
    for colour, path in zip(PALETTE * 4, picked):
        try:
            curves = training_curves(store.get(path).meta)
        except CheckpointError:
            curves = None
        if curves is None:
            without.append(path.stem)
            continue
        loss_fig.add_scatter(
            x=curves.loss_epochs, y=curves.loss, name=path.stem, mode="lines", line=dict(color=colour, width=2)
        )
        acc_fig.add_scatter(
            x=curves.accuracy_epochs,
            y=100 * curves.accuracy,
            name=path.stem,
            mode="lines+markers",
            line=dict(color=colour, width=2),
            marker=dict(size=7),
        )
    if without:
        st.caption(t("evaluate.no_history", names=", ".join(without)))
    if not loss_fig.data:
        if not picked:
            st.info(t("evaluate.pick_models"))
        return
    loss_fig.update_xaxes(title=t("evaluate.axis_epoch"))
    loss_fig.update_yaxes(title=t("evaluate.axis_loss"), type="log", dtick=1)
    acc_fig.update_xaxes(
        title=t("evaluate.axis_epoch"), dtick=1 if max(len(trace.x) for trace in acc_fig.data) <= 20 else None
    )
    acc_fig.update_yaxes(title=t("evaluate.axis_test_accuracy"))
    for fig in (loss_fig, acc_fig):
        fig.update_layout(margin=dict(l=8, r=8, t=8, b=8), legend=dict(orientation="h", y=-0.2))
    left, right = st.columns(2)
    with left:
        st.markdown(t("evaluate.loss_heading"))
        chart(loss_fig, key="eval_loss_curves", height=380)
    with right:
        st.markdown(t("evaluate.accuracy_heading"))
        chart(acc_fig, key="eval_accuracy_curves", height=380)
    st.caption(t("evaluate.curves_caption"))
