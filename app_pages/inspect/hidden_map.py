"""Inspect's "Map of the hidden layer" tab: 2,000 test images at their places in the hidden layer,
laid out in two dimensions by PCA (at once) or t-SNE (on demand, once per model), the digit in view
placed among them; a click on a dot opens that image. `map_figure` is also the Experiments page's."""

import threading

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app_pages.figures import chart
from app_pages.i18n import t
from app_pages.inspect.picker import pick_test
from cnn_demo.inside.hidden_map import DIGIT_COLOURS, NEIGHBOURS, HiddenMap, hidden_map, place_among, tsne
from cnn_demo.network.model import Net
from cnn_demo.storage.store import LoadedModel

PCA, TSNE = "pca", "tsne"  # the layout control's values; its labels come from the locales


def model_key(loaded: LoadedModel) -> str:
    """Which model a map belongs to: its file and the version of its weights."""
    return f"{loaded.path}:{loaded.version}"


@st.cache_resource(max_entries=4, show_spinner=False)
def model_map(_model: Net, key: str, _images: np.ndarray, _labels: np.ndarray) -> HiddenMap:
    """The probe images' hidden values and PCA map of one model, shared by every session (read only)."""
    return hidden_map(_model, _images, _labels)


class TsneStore:
    """The t-SNE maps computed so far, by model_key, shared by every session: a map is computed
    once per model, and a second student pressing the button meanwhile waits for the first's."""

    def __init__(self) -> None:
        self._maps: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        return self._maps.get(key)

    def compute(self, key: str, values: np.ndarray) -> np.ndarray:
        with self._lock:
            if key not in self._maps:
                if len(self._maps) >= 8:  # a long lesson with many models: forget the oldest
                    self._maps.pop(next(iter(self._maps)))
                points = tsne(values)
                points.setflags(write=False)
                self._maps[key] = points
            return self._maps[key]


@st.cache_resource
def tsne_store() -> TsneStore:
    return TsneStore()


def open_point() -> None:
    """A click on a dot: that test image becomes Inspect's input. The chart then gets a new key,
    so it forgets the selection (a second click on the same dot counts again)."""
    state = st.session_state
    points = state[f"hidden_map_chart_{state.hidden_map_n}"].selection.points
    for point in points:
        data = point.get("customdata")
        if isinstance(data, dict):  # Streamlit may hand a point's [index, digit] back as {"0": .., "1": ..}
            data = [data[k] for k in sorted(data, key=int)]
        if data is not None and len(data) == 2:  # a test image's dot (the digit in view has none)
            pick_test(int(data[0]))
            state.hidden_map_n += 1
            return


def map_figure(
    points: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray | None,
    axis_titles: tuple[str, str],
    height: int,
    title: str = "",
    legend: bool = True,
) -> go.Figure:
    """(N, 2) points, one trace per digit coloured by DIGIT_COLOURS; indices: each point's test
    image number for hovering and clicking (None: hover shows the digit alone)."""
    data = []
    for digit in range(10):
        mine = np.flatnonzero(labels == digit)
        numbers = indices[mine] if indices is not None else np.full(len(mine), -1)
        hover = t("hidden_map.hover", label=digit, index="%{customdata[0]}") if indices is not None else f"{digit}"
        data.append(
            dict(
                type="scattergl",
                x=points[mine, 0],
                y=points[mine, 1],
                mode="markers",
                name=str(digit),
                marker=dict(color=DIGIT_COLOURS[digit], size=5, opacity=0.75),
                customdata=np.stack([numbers, np.full(len(mine), digit)], 1),
                hovertemplate=hover + "<extra></extra>",
            )
        )
    # Each digit's name at the middle of its cloud: readable from the back of the room.
    centres = np.array(
        [np.median(points[labels == d], 0) if (labels == d).any() else (np.nan, np.nan) for d in range(10)]
    )
    data.append(
        dict(
            type="scatter",
            x=centres[:, 0],
            y=centres[:, 1],
            mode="text",
            text=[str(d) for d in range(10)],
            textfont=dict(size=22, color="black"),
            hoverinfo="skip",
            showlegend=False,
        )
    )
    layout = dict(
        height=height,
        margin=dict(l=10, r=10, t=36 if title else 10, b=10),
        title=dict(text=title, font=dict(size=15)) if title else None,
        xaxis=dict(title=dict(text=axis_titles[0]), zeroline=False, showticklabels=False),
        yaxis=dict(title=dict(text=axis_titles[1]), zeroline=False, showticklabels=False),
        legend=dict(title=dict(text=t("hidden_map.legend")), itemsizing="constant"),
        showlegend=legend,
        plot_bgcolor="white",
        dragmode="pan",
        clickmode="event+select",
    )
    return go.Figure(dict(data=data, layout=layout), skip_invalid=True)


def add_in_view(fig: go.Figure, where: np.ndarray, predicted: int, neighbours: np.ndarray | None = None) -> None:
    """The digit in view as a large star at `where` (2,), and on t-SNE its nearest images (k, 2) ringed."""
    if neighbours is not None:
        fig.add_trace(
            go.Scatter(
                x=neighbours[:, 0],
                y=neighbours[:, 1],
                mode="markers",
                name=t("hidden_map.neighbours", k=len(neighbours)),
                marker=dict(size=14, color="rgba(0,0,0,0)", line=dict(color="black", width=1.5)),
                hoverinfo="skip",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[where[0]],
            y=[where[1]],
            mode="markers",
            name=t("hidden_map.in_view"),
            marker=dict(symbol="star", size=26, color="gold", line=dict(color="black", width=2)),
            hovertemplate=t("hidden_map.hover_view", predicted=predicted) + "<extra></extra>",
        )
    )


def map_tab(loaded: LoadedModel, hidden: np.ndarray, predicted: int, images: np.ndarray, labels: np.ndarray) -> None:
    """loaded: the model in use; hidden: the digit in view's hidden values (hidden,); predicted: its
    answer; images, labels: the whole test set (uint8 (10000, 28, 28), (10000,))."""
    state = st.session_state
    state.setdefault("hidden_map_n", 0)
    key = model_key(loaded)
    with st.spinner():
        found = model_map(loaded.model, key, images, labels)
    st.caption(t("hidden_map.caption", count=f"{len(found.indices):,}", hidden=found.values.shape[1]))
    layout = st.segmented_control(
        t("hidden_map.layout"),
        [PCA, TSNE],
        default=PCA,
        key="hidden_map_layout",
        format_func=lambda v: t(f"hidden_map.{v}"),
        help=t("hidden_map.layout_help"),
    )
    height = 560  # chart() makes it larger in projector mode
    if layout == TSNE:
        store = tsne_store()
        flat = store.get(key)
        if flat is None:
            st.info(t("hidden_map.tsne_missing"))
            if not st.button(t("hidden_map.tsne_button"), key="hidden_map_tsne", type="primary"):
                return
            with st.spinner(t("hidden_map.tsne_running", count=f"{len(found.indices):,}")):
                flat = store.compute(key, found.values)
        where, near = place_among(found.values, flat, hidden)
        fig = map_figure(
            flat, found.labels, found.indices, (t("hidden_map.axis_tsne", n=1), t("hidden_map.axis_tsne", n=2)), height
        )
        add_in_view(fig, where, predicted, flat[near])
        note = t("hidden_map.tsne_placed", k=NEIGHBOURS)
    else:
        where = found.pca.project(hidden)  # exactly where its own hidden values land
        share = [f"{100 * e:.0f}%" for e in found.pca.explained]
        axes = (t("hidden_map.axis_pca", n=1, percent=share[0]), t("hidden_map.axis_pca", n=2, percent=share[1]))
        fig = map_figure(found.points, found.labels, found.indices, axes, height)
        add_in_view(fig, where, predicted)
        note = t("hidden_map.pca_placed", percent=f"{100 * found.pca.explained.sum():.0f}%")
    st.info(note)
    chart(
        fig,
        key=f"hidden_map_chart_{state.hidden_map_n}",
        height=height,
        on_select=open_point,
        selection_mode="points",
        theme=None,
    )
