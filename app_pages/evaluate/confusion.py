"""Evaluate's "Confusion matrix" tab: every (true, predicted) pair counted; click a cell, or pick it
in the selectboxes, to see its images and how sure the model was of each."""

from functools import partial

import numpy as np
import streamlit as st

from app_pages.common import projector
from app_pages.evaluate.figures import confusion_figure, gallery
from app_pages.figures import chart
from app_pages.i18n import t
from cnn_demo.training.evaluate import Evaluation

CELL_IMAGES = 50  # at most this many images of one confusion-matrix cell are drawn


def pick_cell(prefix: str) -> None:
    """A click on the confusion matrix: show that cell in the selectboxes and the gallery. The
    chart then gets a new key, so it forgets the selection: a later click on the same cell,
    after the selectboxes moved on, counts again instead of unselecting it."""
    state = st.session_state
    points = state[f"{prefix}_confusion_{state[f'{prefix}_matrix_n']}"].selection.points
    if points:
        state[f"{prefix}_true"], state[f"{prefix}_predicted"] = int(points[0]["y"]), int(points[0]["x"])
        state[f"{prefix}_matrix_n"] += 1


def confusion_picker(
    result: Evaluation, prefix: str, heights: tuple[int, int], columns: list[int] | None = None
) -> tuple:
    """The confusion matrix, whose cells are clicked, and the picked cell's two selectboxes (in
    session_state as {prefix}_true and {prefix}_predicted, starting on the most common mistake).
    Side by side on a laptop (columns: their widths), one under the other on a projector, where
    text is larger, or always (columns None); heights: the matrix's (laptop, projector). Returns
    (the place beside or under the matrix, under the selectboxes, for what the cell holds; true;
    predicted)."""
    state = st.session_state
    state.setdefault(f"{prefix}_matrix_n", 0)
    if f"{prefix}_true" not in state:
        state[f"{prefix}_true"], state[f"{prefix}_predicted"] = result.most_common_mistake()
    big = projector()
    left, right = (st.container(), st.container()) if big or columns is None else st.columns(columns, gap="large")
    with left:
        picked = (state[f"{prefix}_true"], state[f"{prefix}_predicted"])
        fig = confusion_figure(result.confusion, picked, 20 if big else 14)
        fig.update_layout(font=dict(size=18 if big else 13), height=heights[big])
        st.plotly_chart(
            fig,
            key=f"{prefix}_confusion_{state[f'{prefix}_matrix_n']}",
            on_select=partial(pick_cell, prefix),
            selection_mode="points",
            config={
                "displaylogo": False,
                "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "confusion-matrix"},
            },
        )
    with right:
        c1, c2 = st.columns(2)
        c1.selectbox(t("evaluate.true_digit"), range(10), key=f"{prefix}_true")
        c2.selectbox(t("evaluate.predicted_digit"), range(10), key=f"{prefix}_predicted")
    return right, state[f"{prefix}_true"], state[f"{prefix}_predicted"]


def confusion_tab(result: Evaluation, test_images: np.ndarray) -> None:
    """result: the active model on the test set; test_images: uint8 (N, 28, 28), the same set."""
    st.caption(t("evaluate.confusion_caption"))
    beside, true, predicted = confusion_picker(result, "eval", heights=(600, 700), columns=[6, 5])
    with beside:
        cell_images(result, test_images, true, predicted, cols=6 if projector() else 8)


def cell_images(result: Evaluation, test_images: np.ndarray, true: int, predicted: int, cols: int) -> None:
    """The images of one cell of the matrix, each captioned with how sure the model was."""
    cell = result.cell(true, predicted)
    what = "right" if true == predicted else "wrong"
    st.markdown(t(f"evaluate.cell_{what}", count=f"{len(cell):,}", true=true, predicted=predicted))
    shown = cell[:CELL_IMAGES]
    if not len(shown):
        st.info(t("evaluate.empty_cell"))
        return
    captions = [f"{100 * result.confidences[i]:.0f}%" for i in shown]
    title = (
        t("evaluate.how_sure_some", shown=len(shown), total=f"{len(cell):,}")
        if len(cell) > len(shown)
        else t("evaluate.how_sure")
    )
    chart(gallery(test_images[shown], captions, title, cols=cols, width_px=480), key="eval_cell_gallery")
