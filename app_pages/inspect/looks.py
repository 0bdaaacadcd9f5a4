"""Inspect's "What each channel looks for" tab: for a conv stage, the hidden units or the ten
outputs, one picture per unit drawn by the network itself (gradient ascent from grey, see
cnn_demo.inside.feature_vis), and beside it the test images that make that unit fire most.

The pictures take seconds, so they are made once per model version and unit, for every browser
(a server-wide store with one lock per key: a class opening the tab together waits once), and
shown at once afterwards.
"""

import threading
from dataclasses import dataclass

import numpy as np
import streamlit as st

from app_pages.i18n import choice, t
from cnn_demo.inside.ablation import Images
from cnn_demo.inside.feature_vis import top_images, unit_count, unit_names, unit_pictures
from cnn_demo.inside.mosaic import mosaic
from cnn_demo.inside.pixels import colorize, magnify, png
from cnn_demo.network.model import Net
from cnn_demo.storage.store import LoadedModel

TOP = 4  # test images shown beside each picture
INK_COLOURS = ["#000000", "#ffffff"]  # as the model sees an image: 0 black, 1 white


@dataclass(frozen=True)
class Looks:
    pictures: np.ndarray  # (N, 28, 28) in [0, 1]: what makes each unit fire
    top: np.ndarray  # (N, TOP) indices into the probe images, strongest first


@st.cache_resource
def looks_store() -> tuple[dict, dict, threading.Lock]:
    """{(model version, unit): Looks} for every session, a lock per key, and the lock of that dict."""
    return {}, {}, threading.Lock()


def looks_for(loaded: LoadedModel, unit: str, images: Images) -> Looks:
    """The pictures of `unit` for this model version, made the first time with a progress bar."""
    results, locks, guard = looks_store()
    key = (loaded.version, unit)
    if key in results:
        return results[key]
    with guard:
        lock = locks.setdefault(key, threading.Lock())
    bar = st.progress(0.0, text=t("looks.drawing", unit=unit_label(unit)))
    with lock:
        if key not in results:

            def progress(done: int, total: int) -> None:
                bar.progress(done / total, text=t("looks.drawing_step", unit=unit_label(unit), done=done, total=total))

            pictures = unit_pictures(loaded.model, unit, progress=progress)
            bar.progress(1.0, text=t("looks.ranking"))
            top, _ = top_images(loaded.model, unit, images, k=TOP)
            results[key] = Looks(pictures, top)
    bar.empty()
    return results[key]


def unit_label(unit: str) -> str:
    return {"hidden": t("looks.hidden"), "logits": t("looks.logits")}.get(unit, unit)


def unit_caption(unit: str, n: int) -> str:
    if unit == "logits":
        return t("looks.output_caption", digit=n)
    if unit == "hidden":
        return t("looks.unit_caption", unit=n)
    return t("looks.channel_caption", stage=unit, channel=n)


def unit_row(picture: np.ndarray, top: np.ndarray) -> np.ndarray:
    """The drawn picture and the top test images in one strip, (H, W, 3) uint8, each pixel 3 x 3."""
    strip = mosaic(np.concatenate([picture[None], top]), cols=1 + len(top), gap=2)  # NaN gaps: white
    return magnify(colorize(strip, INK_COLOURS, 0, 1), 3)


def looks_tab(loaded: LoadedModel, test_images: Images) -> None:
    """loaded: the model in use (only read); test_images: uint8 (N, 28, 28), the probe images the
    top images are picked from."""
    model: Net = loaded.model
    st.caption(t("looks.caption"))
    units = unit_names(model)
    if st.session_state.get("looks_unit") not in units:
        st.session_state.pop("looks_unit", None)
    unit = choice(
        st.radio,
        t("looks.pick"),
        units,
        key="looks_unit",
        format_func=lambda u: f"{unit_label(u)} ({unit_count(model, u)})",
        horizontal=True,
    )
    looks = looks_for(loaded, unit, test_images)
    st.caption(t("looks.legend", top=TOP))
    images = test_images.numpy() / 255.0
    cols = st.columns(4 if unit != "logits" else 5)
    for n, (picture, top) in enumerate(zip(looks.pictures, looks.top)):
        with cols[n % len(cols)], st.container(key=f"looks_{unit}_{n}"):
            st.image(png(unit_row(picture, images[top])), caption=unit_caption(unit, n), width="stretch")
