"""Evaluate's "Mistakes" tab: the test images the model got wrong, the surest mistakes first (or last)."""

import numpy as np
import streamlit as st

from app_pages.evaluate.figures import gallery, gallery_cols
from app_pages.figures import chart
from app_pages.i18n import choice, t
from cnn_demo.training.evaluate import Evaluation


def mistakes_tab(result: Evaluation, test_images: np.ndarray, test_labels: np.ndarray) -> None:
    """result: the active model on the test set; test_images uint8 (N, 28, 28) and test_labels (N,): that set."""
    c1, c2 = st.columns([2, 3])
    with c1:
        order = choice(
            st.radio,
            t("evaluate.order"),
            ["most", "least"],
            key="eval_order",
            horizontal=True,
            format_func=lambda v: t(f"evaluate.order_{v}"),
        )
    count = c2.slider(t("evaluate.how_many"), 10, 200, 50, step=10, key="eval_mistake_count")
    mistakes = result.mistakes(most_confident_first=order == "most")
    st.caption(t("evaluate.mistakes_caption", count=f"{len(mistakes):,}"))
    shown = mistakes[:count]
    if not len(shown):
        st.success(t("evaluate.no_mistakes"))
        return
    captions = [f"{test_labels[i]}→{result.predictions[i]} · {100 * result.confidences[i]:.0f}%" for i in shown]
    title = t("evaluate.mistakes_title", shown=len(shown), total=f"{len(mistakes):,}")
    chart(gallery(test_images[shown], captions, title, cols=gallery_cols()), key="eval_mistakes")
