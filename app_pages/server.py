"""Tuning of the Streamlit server's own process for a class: many sessions in one Python.

Not page code and not the engine's (cnn_demo also runs in command lines and training processes,
which this does not concern). The sidebar calls `tune_once()` on every page; it runs once per server.
"""

import gc

import pandas  # noqa: F401 -- imported whole before any session draws, see below
import streamlit as st

# Plotly imports pandas on its first figure. When a class arrives at once, several sessions
# draw their first figures together, and Python can hand one of them a half-imported pandas
# ("partially initialized module"). Imported here, in the import that every session waits
# for, it is whole before any figure is made.

M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


@st.cache_resource
def tune_once() -> None:
    """At the server's first page, once: freeze what start-up made, limit malloc's arenas."""
    freeze_what_startup_made()
    limit_malloc_arenas()


def freeze_what_startup_made() -> None:
    """Move every object alive now (the modules of torch, plotly, numpy, streamlit, the models)
    out of reach of Python's cyclic garbage collector.

    Its full (oldest-generation) collections walk every tracked object, and with a class
    drawing they came every few seconds and held the GIL for 250-330 ms each: every answer
    due then waited (60 students: p95 0.83 s, max 1.9 s, without a training run). Frozen
    objects are still freed by reference counting; what sessions make later is collected
    as usual, so only the first call should freeze, never a session's objects."""
    import plotly.graph_objects  # noqa: F401 -- the figure pages' big import, frozen with the rest

    gc.collect()
    gc.freeze()


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
