"""What every page shares: the server's model store and training run, the active model,
the sidebar. Written once here, never pasted into a page; figure code is in app_pages/figures.py.

Not a page itself: app.py lists the pages (app_pages/*.py), and this module is only imported.
"""

import gc
import os

import numpy as np
import pandas  # noqa: F401 -- see below
import streamlit as st

from app_pages.i18n import language, language_switch, t
from cnn_demo.network.model import PRESETS, NetSpec, preset_name
from cnn_demo.storage import checkpoint
from cnn_demo.storage.store import LoadedModel, ModelStore
from cnn_demo.training.device import use_threads
from cnn_demo.training.live import RunManager

# Plotly imports pandas on its first figure. When a class arrives at once, several sessions
# draw their first figures together, and Python can hand one of them a half-imported pandas
# ("partially initialized module"). Imported here, in the import of this module that every
# session waits for, it is whole before any figure is made.

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


def net_title(spec: NetSpec) -> str:
    """The network's name in this browser's language: its preset's title, or "custom network"."""
    name = preset_name(spec)
    return PRESETS[name].title.get(language(), PRESETS[name].title["en"]) if name else t("net.custom")


def net_shows(spec: NetSpec) -> str:
    """One line on what this network shows, or for one of one's own its layers, e.g. "conv 8·3 → fc 64"."""
    name = preset_name(spec)
    return PRESETS[name].shows.get(language(), PRESETS[name].shows["en"]) if name else spec.describe()


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


@st.cache_resource
def freeze_what_startup_made() -> None:
    """Once per server, at its first page: move every object alive now (the modules of torch,
    plotly, numpy, streamlit, the models) out of reach of Python's cyclic garbage collector.

    Its full (oldest-generation) collections walk every tracked object, and with a class
    drawing they came every few seconds and held the GIL for 250-330 ms each: every answer
    due then waited (60 students: p95 0.83 s, max 1.9 s, without a training run). Frozen
    objects are still freed by reference counting; what sessions make later is collected
    as usual, so only this first call freezes, never a session's objects."""
    import plotly.graph_objects  # noqa: F401 -- the figure pages' big import, frozen with the rest

    gc.collect()
    gc.freeze()
    limit_malloc_arenas()


M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Every script run is a thread, and glibc gives busy threads malloc arenas of their own
    (up to 8 per core), which keep their memory after the sessions that filled them close:
    the server's memory grew with the size of the class. Two arenas, as for a small server.
    A no-op where the C library is not glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_ARENA_MAX, arenas)
    except (OSError, AttributeError):
        pass


def sidebar() -> None:
    """The active model on every page: pick one, see its accuracy and device."""
    freeze_what_startup_made()
    use_threads(1)  # this session's script thread answers single images: see use_threads
    store = model_store()
    current = active()
    with st.sidebar:
        language_switch()
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
