"""Evaluate's "Alike" tab: the training images the model finds most alike a test image or the drawing
sent from Draw, by its hidden layer."""

import numpy as np
import streamlit as st

from app_pages.common import drawing_for_inspect
from app_pages.evaluate.data import mnist, training_embedding
from app_pages.evaluate.figures import gallery, gallery_cols
from app_pages.figures import INK, chart, image_figure
from app_pages.i18n import choice, t
from cnn_demo.storage.data import DataError
from cnn_demo.storage.store import LoadedModel
from cnn_demo.training.evaluate import most_alike_on_cpu

DRAWING, TEST = "drawing", "test"  # the radio's values; its labels come from the locales


def alike_tab(loaded: LoadedModel, test_images: np.ndarray, test_labels: np.ndarray) -> None:
    """loaded: the active model (its version keys the training set's embedding); test_images uint8
    (N, 28, 28) and test_labels (N,): the test set to pick a query from."""
    drawing = drawing_for_inspect()
    if drawing is not None:
        source = choice(
            st.radio,
            t("evaluate.alike_source"),
            [DRAWING, TEST],
            key="eval_alike_source",
            horizontal=True,
            format_func=lambda v: t(f"evaluate.source_{v}"),
        )
    else:
        source = TEST
        st.caption(t("evaluate.alike_hint"))
    c1, c2 = st.columns([1, 3])
    index = c1.number_input(
        t("evaluate.index"), 0, len(test_images) - 1, 0, key="eval_alike_index", disabled=source == DRAWING
    )
    count = c2.slider(t("evaluate.how_many"), 6, 48, 20, step=2, key="eval_alike_count")
    if source == DRAWING:
        query, query_title = np.asarray(drawing, dtype=np.float32), t("evaluate.your_drawing")
    else:
        query = test_images[index].astype(np.float32) / 255  # (28, 28) in [0, 1], as the model sees it
        query_title = t("evaluate.test_image_title", index=index, label=test_labels[index])
    try:
        with st.spinner(t("evaluate.embedding"), show_time=True):
            embedding = training_embedding(loaded.version, loaded.model)  # (60000, hidden)
            train_images, train_labels = (tensor.numpy() for tensor in mnist("train"))
    except DataError as e:
        st.error(t("evaluate.no_train_set", error=e))
        return
    indices, similarities = most_alike_on_cpu(loaded.model, query, embedding, k=count)
    left, right = st.columns([1, 4])
    with left:
        chart(image_figure(query, 0, 1, INK, height=260, title=query_title), key="eval_alike_query")
    with right:
        captions = [f"{train_labels[i]} · {s:.3f}" for i, s in zip(indices, similarities)]
        title = t("evaluate.alike_title")
        chart(gallery(train_images[indices], captions, title, cols=gallery_cols(), width_px=800), key="eval_alike")
    st.caption(t("evaluate.alike_caption", hidden=loaded.model.spec.hidden))
