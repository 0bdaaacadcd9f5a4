"""Inspect's input: a test image (by its number, at random, or the next of a digit) or the drawing
sent from the Draw page."""

import numpy as np
import streamlit as st

from app_pages.common import drawing_for_inspect
from app_pages.i18n import choice, t
from cnn_demo.storage.data import load_mnist

TEST, DRAWING = "test", "drawing"  # the Input radio's values; its labels come from the locales


@st.cache_resource
def test_set() -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """MNIST's 10,000 test images (uint8, read-only), labels, and the indices of each digit."""
    images, labels = load_mnist("test")
    images, labels = images.numpy(), labels.numpy()
    images.setflags(write=False)
    return images, labels, {d: np.flatnonzero(labels == d) for d in range(10)}


def pick_test(index: int | None = None) -> None:
    """Show test image `index` (None: the one the number input holds now)."""
    if index is not None:
        st.session_state.inspect_index = int(index)
    st.session_state.inspect_source = TEST


def next_of_class(found: np.ndarray) -> None:
    """found: the indices of one digit's test images. The next after the current one (wrapping round)."""
    after = found[found > st.session_state.inspect_index] if st.session_state.inspect_source == TEST else found
    pick_test(after[0] if len(after) else found[0])


def random_image(count: int) -> None:
    pick_test(np.random.default_rng().integers(count))


def picked_input(images: np.ndarray, labels: np.ndarray, by_class: dict[int, np.ndarray]) -> tuple[np.ndarray, str]:
    """The input's widgets; the image picked, (28, 28) float32 in [0, 1] with ink = 1, and its title.

    images, labels, by_class: as test_set() returns them."""
    state = st.session_state
    state.setdefault("inspect_index", 0)
    state.setdefault("inspect_source", TEST)
    drawing = drawing_for_inspect()
    if drawing is not None and not np.array_equal(drawing, state.get("inspect_seen_drawing")):
        state.inspect_seen_drawing = drawing  # a new drawing was just sent: show it
        state.inspect_source = DRAWING

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
        # One row that wraps: at a tablet's width beside the sidebar, ten fixed columns of
        # buttons were too narrow to show their digits
        row = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
        index = row.container(horizontal=True, vertical_alignment="bottom", gap="small", width="content")
        index.number_input(t("inspect.index"), 0, len(images) - 1, key="inspect_index", on_change=pick_test, width=150)
        index.button(t("inspect.random"), on_click=random_image, args=(len(images),), width="content")
        with row.container(width="content", gap=None):
            st.caption(t("inspect.next_of_digit"))
            with st.container(horizontal=True, gap="small", key="inspect_digits"):
                for digit in range(10):
                    st.button(
                        str(digit),
                        key=f"inspect_digit_{digit}",
                        on_click=next_of_class,
                        args=(by_class[digit],),
                        width="content",
                    )

    if state.inspect_source == DRAWING and drawing is not None:
        return np.asarray(drawing, dtype=np.float32), t("inspect.your_drawing")
    i = state.inspect_index
    return images[i].astype(np.float32) / 255, t("inspect.test_image_title", index=i, label=labels[i])
