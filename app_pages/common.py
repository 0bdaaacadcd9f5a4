"""What every page shares: the server's model store and training run, the active model,
the words for a network, the sidebar. Written once here, never pasted into a page; figure code
is in app_pages/figures.py, the server process's tuning in app_pages/server.py.

Not a page itself: app.py lists the pages, and this module is only imported.
"""

import os

import numpy as np
import streamlit as st

from app_pages.classroom import is_teacher
from app_pages.i18n import language_switch, t
from app_pages.server import tune_once
from cnn_demo.network.model import NetSpec, preset_name
from cnn_demo.storage import checkpoint
from cnn_demo.storage.store import LoadedModel, ModelStore
from cnn_demo.training.device import use_threads
from cnn_demo.training.live import RunManager

PROJECTOR = "projector"  # session_state: larger text and figures for a class's projector
MODEL_PICK = "model_pick"  # session_state: this browser's own choice of saved model (a path)
INSPECT_INPUT = "inspect_input"  # session_state: a 28x28 drawing sent from Draw to Inspect


@st.cache_resource
def model_store() -> ModelStore:
    """One per server: every session shares the loaded models."""
    return ModelStore()


@st.cache_resource(on_release=RunManager.close)
def run_manager() -> RunManager:
    """One per server: at most one training run, seen by every browser. Made on the first page
    anyone opens, so that the training worker is ready before a teacher presses Start.
    CNN_DEMO_TRAINING=thread trains on a thread of the server instead (page tests)."""
    return RunManager(separate_process=os.environ.get("CNN_DEMO_TRAINING", "process") != "thread")


def active() -> LoadedModel:
    """The model this browser uses: its own pick from the sidebar, else the server's active one."""
    store = model_store()
    pick = st.session_state.get(MODEL_PICK)
    if pick is not None:
        try:
            return store.get(pick)
        except (checkpoint.CheckpointError, OSError):
            del st.session_state[MODEL_PICK]  # deleted or damaged since it was picked
    return store.active()


def send_to_inspect(image28: np.ndarray) -> None:
    """Hand a drawing (28x28 float32 in [0, 1]) to the Inspect page of this browser."""
    st.session_state[INSPECT_INPUT] = np.array(image28, dtype=np.float32)


def drawing_for_inspect() -> np.ndarray | None:
    return st.session_state.get(INSPECT_INPUT)


def remember_drawing(image28: np.ndarray) -> None:
    """The latest drawing on this server: the Train page watches it while a model learns."""
    model_store().remember_drawing(image28)


def accuracy_text(acc: float | None) -> str:
    return t("sidebar.not_measured") if acc is None else f"{100 * acc:.2f}%"


def dims(shape) -> str:
    """A shape as the pages write it: (16, 24, 24) -> "16 × 24 × 24"."""
    return " × ".join(str(d) for d in shape)


def preset_title(name: str) -> str:
    """A preset network's title (a key of cnn_demo.network.model.PRESETS) in this browser's language."""
    return t(f"presets.{name}.title")


def preset_shows(name: str) -> str:
    """One line on what a preset network shows, in this browser's language."""
    return t(f"presets.{name}.shows")


def net_title(spec: NetSpec) -> str:
    """The network's name in this browser's language: its preset's title, or "custom network"."""
    name = preset_name(spec)
    return preset_title(name) if name else t("net.custom")


def net_shows(spec: NetSpec) -> str:
    """One line on what this network shows, or for one of one's own its layers, e.g. "conv 8·3 → fc 64"."""
    name = preset_name(spec)
    return preset_shows(name) if name else spec.describe()


def model_label(loaded: LoadedModel) -> str:
    """ "default · The tutorial's CNN · 99.52%": the file, its network, its accuracy."""
    return f"{loaded.name} · {net_title(loaded.model.spec)} · {accuracy_text(loaded.test_accuracy)}"


# Bigger type and less chrome, for the back row of a classroom. Our own CSS, no user text.
PROJECTOR_CSS = """<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 21px; }
[data-testid="stMain"] h1 { font-size: 3rem; }
[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"] { display: none; }
[data-testid="stMainBlockContainer"] { padding-top: 1.5rem; max-width: 100%; }
</style>"""


def projector() -> bool:
    return bool(st.session_state.get(PROJECTOR, False))


def sidebar() -> None:
    """The active model on every page: pick one, see its accuracy and device."""
    tune_once()
    use_threads(1)  # this session's script thread answers single images: see use_threads
    store = model_store()
    current = active()
    with st.sidebar:
        language_switch()
        st.caption(t("sidebar.role_teacher" if is_teacher() else "sidebar.role_student"))
        st.toggle(t("sidebar.projector"), key=PROJECTOR, help=t("sidebar.projector_help"))
        if projector():
            st.html(PROJECTOR_CSS)
        st.subheader(t("sidebar.model"))
        paths = store.saved()
        if paths:
            labels = {}
            for path in paths:
                try:
                    labels[path] = model_label(store.get(path))
                except checkpoint.CheckpointError:
                    continue  # a damaged file is not offered
            options = list(labels)
            index = options.index(current.path) if current.path in options else 0
            picked = st.selectbox(t("sidebar.active_model"), options, index=index, format_func=lambda p: labels[p])
            if picked != current.path:
                st.session_state[MODEL_PICK] = picked
                st.rerun()
        if store.problem and current.path is None:
            st.warning(t("sidebar.no_model", problem=store.problem))
        meta = current.meta
        st.metric(t("sidebar.test_accuracy"), accuracy_text(current.test_accuracy))
        st.caption(
            t(
                "sidebar.model_caption",
                name=current.name,
                net=net_title(current.model.spec),
                recipe=meta.get("recipe", "?"),
                epochs=meta.get("epochs_done", 0),
                device=meta.get("device", "?"),
            )
        )
        run = run_manager().run
        if run is not None:
            view = run.view()
            if view.active:
                # No epoch or state here: the sidebar is drawn only on a page's full rerun, and
                # would show them stale while the Train page's progress moves on.
                st.info(t("sidebar.training_now", epochs=view.config.epochs))
