"""Evaluate: how good the active model is on the 10,000 test images, where it goes wrong,
how the saved runs learned, and which training images it finds alike a drawing.

Thin on purpose: the numbers come from cnn_demo.training.evaluate and cnn_demo.inside.similar, computed
once per model version and cached; this page draws them. The tabs run only when open.
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from app_pages.common import (
    accuracy_text,
    active,
    drawing_for_inspect,
    model_store,
    projector,
)
from app_pages.figures import ACCENT, HIGHLIGHT, INK, PALETTE, chart, image_figure
from app_pages.i18n import LANGUAGES, choice, strings, t
from cnn_demo.inside.mosaic import mosaic
from cnn_demo.inside.similar import embed, most_alike
from cnn_demo.storage.checkpoint import CheckpointError
from cnn_demo.storage.data import DataError, load_mnist
from cnn_demo.training.device import CPU_CORES, autocast_dtype, pick_device, threads
from cnn_demo.training.evaluate import Evaluation, evaluate, training_curves

TABS = ["confusion", "mistakes", "curves", "alike"]  # named by the locales' evaluate.tab_* strings
CELL_IMAGES = 50  # at most this many images of one confusion-matrix cell are drawn
LABEL_ROWS = 9  # empty pixel rows above each tile of a gallery, where its caption goes
state = st.session_state


# ------------------------------------------------------------------------------ data, once per model


@st.cache_resource(show_spinner=False)
def mnist(split: str):
    """(images uint8 (N, 28, 28), labels int64 (N,)) as tensors: shared, never written to."""
    return load_mnist(split)


@st.cache_resource(max_entries=4, show_spinner=False)
def evaluation(version: str, _model) -> Evaluation:
    """The active model on all 10,000 test images; `version` is the cache key, the model is not hashed."""
    # One batched pass over thousands of images is worth sharing between the cores; the page
    # thread goes back to its one thread afterwards (see cnn_demo.training.device.use_threads).
    with threads(CPU_CORES):
        return evaluate(_model, *mnist("test"))


@st.cache_resource(max_entries=2, show_spinner=False)
def training_embedding(version: str, _model):
    """(60000, hidden): every training image in the model's hidden layer, once per model, on
    the GPU when there is one (six times the work of testing on 10,000 images)."""
    device = pick_device("auto")
    with threads(CPU_CORES):  # batched, as evaluation() above
        return embed(_model, mnist("train")[0], device=device, autocast=autocast_dtype(device))


# ------------------------------------------------------------------------------ figures


def gallery(images: np.ndarray, captions: list[str], title: str, cols: int = 10, width_px: int = 1000) -> go.Figure:
    """Many 28x28 uint8 images as one heatmap, each with its caption above it: far faster
    to draw than a figure per image (docs/streamlit-notes.md). width_px: about how wide it
    will be drawn, to size its height."""
    tiles = np.pad(images.astype(np.float32) / 255, ((0, 0), (LABEL_ROWS, 0), (0, 0)), constant_values=np.nan)
    cols = min(cols, len(tiles))
    fig = image_figure(mosaic(tiles, cols=cols, gap=2), 0, 1, INK, title=title, hover=None, background="white")
    fig.update_yaxes(constrain="domain", constraintoward="top")  # spare height goes below the tiles
    tile_h, tile_w = 28 + LABEL_ROWS + 2, 28 + 2
    for i, text in enumerate(captions):
        r, c = divmod(i, cols)
        fig.add_annotation(x=c * tile_w + 13.5, y=r * tile_h + LABEL_ROWS / 2 - 0.5, text=text, showarrow=False)
    rows = -(-len(tiles) // cols)
    fig.update_layout(height=50 + rows * (width_px // cols) * tile_h // tile_w)
    return fig


def gallery_cols() -> int:
    """Tiles per row: fewer on a projector, where the captions are larger."""
    return 6 if projector() else 10


def confusion_figure(confusion: np.ndarray, picked: tuple[int, int], text_size: int) -> go.Figure:
    # Colour by log(1 + count): the diagonal holds ~1,000 per digit and the mistakes a handful,
    # and on a linear scale every mistake would look the same pale blue. The text is the count.
    fig = go.Figure(
        go.Heatmap(
            z=np.log10(1 + confusion),
            x=list(range(10)),
            y=list(range(10)),
            text=confusion,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
            xgap=2,
            ygap=2,
            hoverinfo="skip",
            textfont=dict(size=text_size),
        )
    )
    # Plotly cannot select a heatmap's cells, so an invisible marker sits on each cell: a click
    # selects the marker, and Streamlit reports its x (predicted) and y (true).
    true_digit, predicted_digit = np.divmod(np.arange(100), 10)
    fig.add_scatter(
        x=predicted_digit,
        y=true_digit,
        customdata=confusion.ravel(),
        mode="markers",
        marker=dict(symbol="square", size=30, color="rgba(0,0,0,0)"),
        selected=dict(marker=dict(opacity=0)),
        unselected=dict(marker=dict(opacity=0)),
        hovertemplate=t("evaluate.hover_cell", true="%{y}", predicted="%{x}", count="%{customdata}")
        + "<extra></extra>",
        showlegend=False,
    )
    true, predicted = picked
    fig.add_shape(
        type="rect",
        x0=predicted - 0.5,
        x1=predicted + 0.5,
        y0=true - 0.5,
        y1=true + 0.5,
        line=dict(color=HIGHLIGHT, width=3),
    )
    # Square cells: both axes shrink to fit (constrain="domain") rather than pad the range.
    fig.update_xaxes(
        title=t("evaluate.axis_predicted"), dtick=1, side="top", range=[-0.5, 9.5], constrain="domain", showgrid=False
    )
    fig.update_yaxes(
        title=t("evaluate.axis_true"), dtick=1, range=[9.5, -0.5], scaleanchor="x", constrain="domain", showgrid=False
    )
    fig.update_layout(
        height=600, margin=dict(l=8, r=8, t=8, b=8), plot_bgcolor="rgba(0,0,0,0)", hovermode="closest", dragmode=False
    )
    return fig


def axis_start(result: Evaluation) -> float:
    """Where the per-digit accuracy axis starts: below the worst digit, zoomed in so that
    differences of a tenth of a percent show (the page says the axis does not start at 0)."""
    worst = 100 * min(result.per_class)
    return max(0.0, float(np.floor(worst - 2 * (100 - worst) - 0.5)))


def per_class_figure(result: Evaluation) -> go.Figure:
    counts = result.confusion.sum(1)
    percent = [100 * a for a in result.per_class]
    fig = go.Figure(
        go.Bar(
            x=[str(d) for d in range(10)],
            y=percent,
            text=[f"{p:.1f}%" for p in percent],
            textposition="outside",
            marker_color=ACCENT,
            customdata=np.stack([np.diag(result.confusion), counts], 1),
            hovertemplate=t("evaluate.hover_digit", digit="%{x}", right="%{customdata[0]}", total="%{customdata[1]}")
            + "<extra></extra>",
        )
    )
    fig.update_yaxes(
        title=t("evaluate.axis_accuracy"), range=[axis_start(result), 100 + (100 - axis_start(result)) * 0.12]
    )
    fig.update_xaxes(title=t("evaluate.axis_digit"), type="category")
    fig.update_layout(margin=dict(l=8, r=8, t=8, b=8))
    return fig


def pick_cell() -> None:
    """A click on the confusion matrix: show that cell in the selectboxes and the gallery. The
    chart then gets a new key, so it forgets the selection: a later click on the same cell,
    after the selectboxes moved on, counts again instead of unselecting it."""
    points = state[f"eval_confusion_{state.eval_matrix_n}"].selection.points
    if points:
        state.eval_true, state.eval_predicted = int(points[0]["y"]), int(points[0]["x"])
        state.eval_matrix_n += 1


# ------------------------------------------------------------------------------ the page

st.title(t("evaluate.title"))
loaded = active()
try:
    with st.spinner(t("evaluate.testing"), show_time=True):
        result = evaluation(loaded.version, loaded.model)
        test_images, test_labels = (tensor.numpy() for tensor in mnist("test"))
except DataError as e:
    st.error(t("evaluate.no_test_set", error=e))
    st.stop()

st.caption(t("evaluate.caption", name=loaded.name))
wrong = result.misclassified
m1, m2, m3, m4 = st.columns(4)
m1.metric(t("evaluate.accuracy"), accuracy_text(result.accuracy), help=t("evaluate.accuracy_help"))
m2.metric(t("evaluate.right"), f"{len(test_labels) - len(wrong):,}")
m3.metric(t("evaluate.wrong"), f"{len(wrong):,}")
worst = int(np.argmin(result.per_class))
hardest_right = t("evaluate.hardest_right", percent=f"{100 * result.per_class[worst]:.2f}%")
m4.metric(t("evaluate.hardest"), str(worst), hardest_right, delta_color="off", delta_arrow="off")
st.markdown(t("evaluate.per_digit", start=f"{axis_start(result):.0f}%"))
chart(per_class_figure(result), key="eval_per_class", height=260)

tab_labels = [t(f"evaluate.tab_{name}") for name in TABS]
# The open tab is kept by its label: after a language switch, open the same tab in the new language.
for name, label in zip(TABS, tab_labels):
    if state.get("eval_tab") in {strings(lang)[f"evaluate.tab_{name}"] for lang in LANGUAGES} - {label}:
        state.eval_tab = label
confusion_tab, mistakes_tab, curves_tab, alike_tab = st.tabs(tab_labels, key="eval_tab", on_change="rerun")

if confusion_tab.open:
    with confusion_tab:
        st.caption(t("evaluate.confusion_caption"))
        state.setdefault("eval_matrix_n", 0)
        if "eval_true" not in state:  # start on the most common mistake
            state.eval_true, state.eval_predicted = result.most_common_mistake()
        big = projector()
        # Side by side on a laptop; one under the other on a projector, where text is larger.
        left, right = (st.container(), st.container()) if big else st.columns([6, 5], gap="large")
        with left:
            fig = confusion_figure(result.confusion, (state.eval_true, state.eval_predicted), 20 if big else 14)
            fig.update_layout(font=dict(size=18 if big else 13), height=700 if big else 600)
            st.plotly_chart(
                fig,
                key=f"eval_confusion_{state.eval_matrix_n}",
                on_select=pick_cell,
                selection_mode="points",
                config={
                    "displaylogo": False,
                    "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "confusion-matrix"},
                },
            )
        with right:
            c1, c2 = st.columns(2)
            c1.selectbox(t("evaluate.true_digit"), range(10), key="eval_true")
            c2.selectbox(t("evaluate.predicted_digit"), range(10), key="eval_predicted")
            true, predicted = state.eval_true, state.eval_predicted
            cell = result.cell(true, predicted)
            what = "right" if true == predicted else "wrong"
            st.markdown(t(f"evaluate.cell_{what}", count=f"{len(cell):,}", true=true, predicted=predicted))
            shown = cell[:CELL_IMAGES]
            if len(shown):
                captions = [f"{100 * result.confidences[i]:.0f}%" for i in shown]
                title = (
                    t("evaluate.how_sure_some", shown=len(shown), total=f"{len(cell):,}")
                    if len(cell) > len(shown)
                    else t("evaluate.how_sure")
                )
                chart(
                    gallery(test_images[shown], captions, title, cols=6 if big else 8, width_px=480),
                    key="eval_cell_gallery",
                )
            else:
                st.info(t("evaluate.empty_cell"))

if mistakes_tab.open:
    with mistakes_tab:
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
        if len(shown):
            captions = [f"{test_labels[i]}→{result.predictions[i]} · {100 * result.confidences[i]:.0f}%" for i in shown]
            title = t("evaluate.mistakes_title", shown=len(shown), total=f"{len(mistakes):,}")
            chart(gallery(test_images[shown], captions, title, cols=gallery_cols()), key="eval_mistakes")
        else:
            st.success(t("evaluate.no_mistakes"))

if curves_tab.open:
    with curves_tab:
        store = model_store()
        paths = store.saved()
        names = {p: p.stem for p in paths}
        if "eval_runs" not in state:
            state.eval_runs = [p for p in paths if p == loaded.path] or paths[:1]
        state.eval_runs = [p for p in state.eval_runs if p in names]  # a run deleted since
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
        if loss_fig.data:
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
        elif not picked:
            st.info(t("evaluate.pick_models"))

if alike_tab.open:
    with alike_tab:
        drawing = drawing_for_inspect()
        DRAWING, TEST = "drawing", "test"  # the radio's values; its labels come from the locales
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
                embedding = training_embedding(loaded.version, loaded.model)
                train_images, train_labels = (tensor.numpy() for tensor in mnist("train"))
        except DataError as e:
            st.error(t("evaluate.no_train_set", error=e))
            st.stop()
        indices, similarities = most_alike(
            loaded.model, query, embedding, k=count, autocast=autocast_dtype(torch.device("cpu"))
        )
        left, right = st.columns([1, 4])
        with left:
            chart(image_figure(query, 0, 1, INK, height=260, title=query_title), key="eval_alike_query")
        with right:
            captions = [f"{train_labels[i]} · {s:.3f}" for i, s in zip(indices, similarities)]
            title = t("evaluate.alike_title")
            chart(gallery(train_images[indices], captions, title, cols=gallery_cols(), width_px=800), key="eval_alike")
        st.caption(t("evaluate.alike_caption", hidden=loaded.model.spec.hidden))
