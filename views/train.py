"""Train: start a run on the server and watch it learn, live, from any browser."""

import math

import plotly.graph_objects as go
import streamlit as st

from cnn_demo.calibrate import settings
from cnn_demo.data import DataError
from cnn_demo.device import available_devices
from cnn_demo.live import RunBusy, RunView
from cnn_demo.mosaic import mosaic
from cnn_demo.pixels import activations_rgb, magnify, weights_rgb
from cnn_demo.train import LIMITS, PROBE_IMAGES, RECIPES, TrainConfig
from views.common import (
    MODEL_PICK,
    accuracy_text,
    model_store,
    run_manager,
)
from views.figures import ACCENT, HIGHLIGHT, faded, picture
from views.i18n import t
from views.live_chart import live_chart
from views.live_chart import preload as live_chart_preload

# The page redraws every second while a run trains, in a browser that often shares the
# teacher's cores with the run. Streamlit eases those redraws (the progress bar slides, elements
# fade), and each easing keeps the browser drawing frames for most of the second: off here.
STILL_CSS = (
    "<style>[data-testid='stProgress'] *, [data-testid='stElementContainer'] { transition: none !important; }</style>"
)

BUSY_NOTICE = "train_busy_notice"  # session_state: this browser's Start lost to another's

manager = run_manager()
st.html(STILL_CSS)
st.title(t("train.title"))
st.caption(t("train.caption"))


def use_recipe() -> None:
    """Fill the hyper-parameters with the chosen recipe's values."""
    recipe = RECIPES[st.session_state.train_recipe]
    st.session_state.train_epochs = recipe["epochs"]
    st.session_state.train_batch = recipe["batch_size"]
    st.session_state.train_lr = recipe["lr"]
    st.session_state.train_images = recipe.get("train_images", LIMITS["train_images"][1])


if "train_recipe" not in st.session_state:
    st.session_state.train_recipe = next(iter(RECIPES))  # "quick": a good model within a lesson's minutes
    use_recipe()

with st.container(border=True):
    st.radio(
        t("train.recipe"),
        list(RECIPES),
        key="train_recipe",
        format_func=lambda r: t(f"train.recipe_{r}"),
        horizontal=True,
        on_change=use_recipe,
    )
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.number_input(t("train.epochs"), *LIMITS["epochs"], key="train_epochs", step=1)
    c2.number_input(t("train.batch_size"), *LIMITS["batch_size"], key="train_batch", step=32)
    c3.number_input(
        t("train.learning_rate"),
        float(LIMITS["lr"][0]),
        float(LIMITS["lr"][1]),
        key="train_lr",
        step=0.0001,
        format="%.4f",
    )
    c4.number_input(
        t("train.training_images"),
        *LIMITS["train_images"],
        key="train_images",
        step=1000,
        help=t("train.training_images_help"),
    )
    c5.selectbox(t("train.device"), ["auto"] + available_devices(), key="train_device", help=t("train.device_help"))

view: RunView | None = manager.run.view() if manager.run else None
running = view is not None and view.active

if st.session_state.pop(BUSY_NOTICE, False):
    st.warning(t("train.busy"))
b1, b2, b3, note_col = st.columns([1.2, 1.2, 1, 1.6], vertical_alignment="center")


@st.fragment(run_every=1.0 if manager.worker_state() in ("measuring", "starting") else None)
def worker_note() -> None:
    """The training process is made when the server starts; a Start pressed before it is ready waits."""
    state = manager.worker_state()
    if state == "ready":
        tuned = settings("cpu")
        st.caption(t("train.worker_ready", settings=tuned.short() if tuned.measured else t("train.unmeasured")))
    elif state != "none":
        st.caption(t(f"train.worker_{state}"))


with note_col:
    worker_note()
if b1.button(t("train.start"), type="primary", disabled=running, width="stretch"):
    try:
        config = TrainConfig.from_recipe(
            st.session_state.train_recipe,
            epochs=st.session_state.train_epochs,
            batch_size=st.session_state.train_batch,
            lr=st.session_state.train_lr,
            train_images=st.session_state.train_images,
            device=st.session_state.train_device,
        )
        manager.start(config, watch_image=model_store().last_drawing()).wait_started(timeout=1.0)
        st.rerun()
    except RunBusy:
        # Said after a rerun: this run of the page would be replaced at once by the one that
        # picks up the other browser's run (watch_for_a_run), and the warning with it.
        st.session_state[BUSY_NOTICE] = True
        st.rerun()
    except (ValueError, DataError) as e:
        st.error(t("train.not_started", error=e))
if view is not None and view.state == "paused":
    if b2.button(t("train.resume"), width="stretch"):
        manager.run.resume()
        st.rerun()
elif b2.button(t("train.pause"), disabled=not (view and view.state == "running"), width="stretch"):
    manager.run.pause()
    st.rerun()
if b3.button(t("train.stop"), disabled=not running, width="stretch"):
    manager.run.stop()
    st.rerun()


def accuracy_range(accuracies: list[float]) -> tuple[float, float]:
    """The accuracy axis's bottom and tick step: down to 10 points below the lowest accuracy, so
    that a short run's 96% -> 99% climbs visibly instead of along the top of a 0-100 axis."""
    if not accuracies:
        return 0.0, 20.0
    low = max(0.0, math.floor((100 * min(accuracies) - 2) / 10) * 10)
    return low, 2.0 if low >= 90 else (5.0 if low >= 70 else 20.0)


def loss_figure(v: RunView) -> go.Figure:
    """Loss of every step (thin), its moving average (thick), and test accuracy per epoch on a
    second axis. Built in one call and thinned to 600 points: it is redrawn every second, on the
    cores the run trains on."""
    steps, raw, smooth = v.loss_curve(max_points=600)
    data = [
        go.Scatter(
            x=steps, y=raw, name=t("train.loss_step"), mode="lines", line=dict(color=faded(ACCENT, 0.3), width=1)
        ),
        go.Scatter(x=steps, y=smooth, name=t("train.loss_smooth"), mode="lines", line=dict(color=ACCENT, width=3)),
    ]
    steps_at, accuracies, whole = v.accuracy_points()
    if steps_at:
        data.append(
            go.Scatter(
                x=steps_at,  # each accuracy at the step it was measured after
                y=[100 * a for a in accuracies],
                name=t("train.accuracy_line"),
                mode="lines+markers",
                line=dict(color=HIGHLIGHT, width=2),
                # Big markers: the whole test set (each epoch's end); small: the held-out slice.
                marker=dict(size=[10 if w else 6 for w in whole]),
                yaxis="y2",
                cliponaxis=False,  # the last epoch's marker sits on the right edge
            )
        )
    low, dtick = accuracy_range(accuracies)
    return go.Figure(
        data=data,
        layout=dict(
            xaxis=dict(title=t("train.axis_step"), range=[0, max(v.total_steps, 1)], automargin=False),
            yaxis=dict(title=t("train.axis_loss"), rangemode="tozero", automargin=False),
            yaxis2=dict(
                title=t("train.axis_accuracy"),
                range=[low, 100],
                dtick=dtick,
                overlaying="y",
                side="right",
                showgrid=False,
                automargin=False,
            ),
            # Fixed margins: with automatic ones Plotly measures the labels on every redraw and then
            # draws the whole chart a second time.
            margin=dict(l=70, r=70, t=72, b=60, autoexpand=False),  # top: room for a legend of three rows (a tablet)
            legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom"),
            uirevision="loss",
        ),
    )


def accuracy_metric(v: RunView) -> tuple[str, str, str | None]:
    """The newest test accuracy, and (as its help) whether it is of the held-out slice or all 10,000."""
    if v.latest_accuracy is None:
        return t("train.test_accuracy"), "–", None
    value, whole = v.latest_accuracy
    note = t("train.test_accuracy_whole") if whole else t("train.test_accuracy_slice", images=f"{PROBE_IMAGES:,}")
    return t("train.test_accuracy"), accuracy_text(value), note


def show_progress(v: RunView) -> None:
    fraction = v.step / v.total_steps if v.total_steps else 0.0
    left = "" if v.seconds_left is None or not v.active else t("train.time_left", seconds=f"{v.seconds_left:.0f}")
    progress = t(
        "train.progress",
        epoch=v.epoch,
        epochs=v.config.epochs,
        step=v.step,
        steps=v.total_steps,
        state=t(f"state.{v.state}"),
    )
    st.progress(fraction, text=progress + left)
    metrics = [
        (t("train.images_per_s"), f"{v.samples_per_s:,.0f}", None),
        (t("train.last_loss"), f"{v.losses[-1]:.4f}" if v.losses else "–", None),
        accuracy_metric(v),
        (t("train.device_metric"), v.device, None),
    ]
    # Two to a row: four squeezed "Images per second" and "98.78%" to "…" beside the filters.
    for row in range(0, len(metrics), 2):
        for column, (label, value, note) in zip(st.columns(2), metrics[row : row + 2]):
            column.metric(label, value, help=note)
    live_chart(loss_figure(v), key="loss_chart", height=380)


def show_result(v: RunView) -> None:
    if v.state == "failed":
        st.error(t(f"run.{v.reason}", **v.reason_values))
    elif v.saved_path is not None:
        done = "train.finished" if v.state == "finished" else "train.stopped"
        st.success(t(done, accuracy=accuracy_text(v.final_accuracy), name=v.saved_path.stem))
        if st.button(t("train.use_model"), type="primary"):
            model_store().activate(v.saved_path)
            st.session_state.pop(MODEL_PICK, None)
            st.rerun(scope="app")
    else:
        st.warning(t(f"run.{v.reason}", **v.reason_values))


# While a run is active the chart is redrawn every second and the filters every three
# (they change slowly, and every redraw costs the run CPU time); the timers are off otherwise.
@st.fragment(run_every=1.0 if running else None)
def live_progress() -> None:
    v = manager.run.view()
    show_progress(v)
    if running and v.state != view.state:
        st.rerun(scope="app")  # started training, or ended: redraw the buttons (and the result)
    if not v.active:
        show_result(v)


@st.fragment(run_every=3.0 if running else None)
def live_filters() -> None:
    v = manager.run.view()
    if v.conv1_filters is not None:
        # Pictures, not interactive heatmaps: redrawn while the run trains, they must be cheap
        # for the browser, which shares the teacher's cores with the run.
        filters = mosaic(v.conv1_filters, cols=8)  # (16, 5, 5) -> (11, 47)
        picture(magnify(weights_rgb(filters), 12), "live_filters", title=t("train.filters_title"))
        maps = mosaic(v.watch_maps, cols=8, normalise=True)  # (16, 24, 24) -> (49, 199)
        picture(magnify(activations_rgb(maps), 3), "live_maps", title=t("train.maps_title"))
        st.caption(t("train.watch_caption"))


@st.fragment(run_every=None if running else 2.0)
def watch_for_a_run() -> None:
    """A browser that opened this page before a run began (a student's) picks it up."""
    if not running and manager.run is not None and manager.run.view().active:
        st.rerun(scope="app")


watch_for_a_run()
if not running:
    live_chart_preload()  # the next run's chart then draws its first point at once
if manager.run is None:
    st.info(t("train.no_run"))
else:
    progress_col, filters_col = st.columns([3, 2])
    with progress_col:
        live_progress()
    with filters_col:
        live_filters()
