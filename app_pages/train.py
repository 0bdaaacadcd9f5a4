"""Train: start a run on the server and watch it learn, live, from any browser."""

import math

import plotly.graph_objects as go
import streamlit as st

from app_pages.classroom import class_store, is_teacher, teacher_action, teacher_only_note
from app_pages.common import (
    MODEL_PICK,
    accuracy_text,
    active,
    dims,
    model_store,
    net_title,
    projector,
    run_manager,
)
from app_pages.figures import HIGHLIGHT, PALETTE, faded, picture
from app_pages.i18n import choice, t
from app_pages.live_chart import live_chart
from app_pages.live_chart import preload as live_chart_preload
from app_pages.network_editor import (
    network_numbers,
    network_picker,
    outcome,
    restore_values,
    save_values,
    spec_message,
    summary,
    title,
)
from cnn_demo.inside.hidden_map import DIGIT_COLOURS, align, points_picture
from cnn_demo.inside.mosaic import mosaic
from cnn_demo.inside.pixels import activations_rgb, magnify, weights_rgb
from cnn_demo.network.model import SEED, SpecError
from cnn_demo.storage.data import DataError
from cnn_demo.training.calibrate import settings
from cnn_demo.training.device import available_devices
from cnn_demo.training.jobs import Busy
from cnn_demo.training.live import Lane, RunView
from cnn_demo.training.train import (
    CONFIG_LIMITS,
    MIN_CLASS_DIGITS,
    PROBE_IMAGES,
    RECIPES,
    FineTune,
    TooFewDigits,
    TrainConfig,
)

# The page redraws every few seconds while a run trains, in a browser that often shares the
# teacher's cores with the run. Streamlit eases those redraws (the progress bar slides, elements
# fade), and each easing keeps the browser drawing frames for most of the second: off here.
STILL_CSS = (
    "<style>[data-testid='stProgress'] *, [data-testid='stElementContainer'] { transition: none !important; }</style>"
)

BUSY_NOTICE = "train_busy_notice"  # session_state: this browser's Start lost to another's
NETWORKS = "train_networks"  # session_state: (network, race or None) as the editor made them, or their SpecErrors
FINETUNE = "finetune"  # the recipe that trains the active model further on the class's digits

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
    st.session_state.train_images = recipe.get("train_images", CONFIG_LIMITS["train_images"][1])


if "train_recipe" not in st.session_state:
    st.session_state.train_recipe = next(iter(RECIPES))  # "quick": a good model within a lesson's minutes
    use_recipe()

view: RunView | None = manager.run.view() if manager.run else None
running = view is not None and view.active


@st.fragment
def networks_editor() -> None:
    """The network to train and, in a race, the one it races; changes rerun only this part of the
    page. What it makes is kept for Start, which is outside.

    Every run writes the same places (STEADY, as the Draw page's canvas does): the page's look for
    a run (watch_for_a_run, every 2 s) can start before this run's end has reached the browser,
    which then keeps whatever this run did not write again (docs/streamlit-notes.md). Without a
    race, its parts are empty elements in their slots."""
    left, right = st.columns(2)
    with left:
        network_picker("net", t("train.network"), "seed")
    with right:
        restore_values("train_race")
        racing = st.toggle(t("train.race"), key="train_race", help=t("train.race_help"))
        save_values("train_race")
        race_box = st.empty()  # the raced network's choice and what it makes
    # The numbers as wide as the page, below; what they make under each choice.
    net = network_numbers("net")
    race_numbers = st.empty()
    race = None
    if racing:
        race_box = race_box.container()
        with race_box:
            network_picker("race", t("train.race_against"), "fully_connected")
        with race_numbers.container():
            race = network_numbers("race")
    with left:
        outcome("net", net)
    if racing:
        with race_box:
            outcome("race", race)
    st.session_state[NETWORKS] = (net, race)


def running_networks(v: RunView) -> None:
    """A run's networks are fixed once it starts: every browser sees which they are."""
    for label, lane in zip((t("train.network"), t("train.race_against")), v.lanes):
        st.markdown(f"{label}: **{lane_title(v, lane)}**")
        st.caption(summary(lane.spec))


def lane_title(v: RunView, lane: Lane) -> str:
    """The network's title; in a race of two of the same kind, numbered."""
    name = title(lane.spec)
    if v.race and title(v.lanes[0].spec) == title(v.lanes[1].spec):
        name += f" ({v.lanes.index(lane) + 1})"
    return name


def too_few_text(refused: TooFewDigits) -> str:
    """How many more class digits a fine-tune needs, or that they must come from two students."""
    key = "train.finetune_too_few" if refused.have < MIN_CLASS_DIGITS else "train.finetune_one_student"
    return t(key, **refused.values)


def finetune_panel(digits) -> bool:
    """Instead of the network editor: a fine-tune trains the active model further, on the class's
    digits (classroom.digits.ClassDigits); what it will learn from and be measured on. True when
    there are enough (the server checks again at Start)."""
    loaded = active()
    st.markdown(t("train.finetune_model", name=loaded.name, network=net_title(loaded.model.spec)))
    students = digits.student_count()
    if len(digits) < MIN_CLASS_DIGITS or students < 2:
        st.warning(too_few_text(TooFewDigits(len(digits), students)))
        return False
    held = digits.held_out()  # bool (N,): whole students, one in five
    held_students = len(set(digits.students[held].tolist()))
    counts = dict(digits=len(digits), students=students, learn=int((~held).sum()), held=int(held.sum()))
    st.markdown(t("train.finetune_counts", **counts, held_students=held_students))
    st.caption(t("train.finetune_caption"))
    return True


finetune_ready = False
with st.container(border=True):
    if running:
        running_networks(view)
    elif st.session_state.train_recipe == FINETUNE:
        finetune_ready = finetune_panel(class_store().digits())
    else:
        networks_editor()

with st.container(border=True):
    choice(
        st.radio,
        t("train.recipe"),
        list(RECIPES),
        key="train_recipe",
        format_func=lambda r: t(f"train.recipe_{r}"),
        horizontal=True,
        on_change=use_recipe,
    )
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.number_input(t("train.epochs"), *CONFIG_LIMITS["epochs"], key="train_epochs", step=1)
    c2.number_input(t("train.batch_size"), *CONFIG_LIMITS["batch_size"], key="train_batch", step=32)
    c3.number_input(
        t("train.learning_rate"),
        float(CONFIG_LIMITS["lr"][0]),
        float(CONFIG_LIMITS["lr"][1]),
        key="train_lr",
        step=0.0001,
        format="%.4f",
    )
    c4.number_input(
        t("train.training_images"),
        *CONFIG_LIMITS["train_images"],
        key="train_images",
        step=1000,
        help=t("train.training_images_help"),
    )
    c5.selectbox(t("train.device"), ["auto"] + available_devices(), key="train_device", help=t("train.device_help"))

if st.session_state.pop(BUSY_NOTICE, False):
    st.warning(t("train.busy"))
b1, b2, b3, note_col = st.columns([1.2, 1.2, 1, 1.6], vertical_alignment="center")


worker_waited_for = manager.worker_state() == "starting"


@st.fragment(run_every=1.0 if worker_waited_for else None)
def worker_note() -> None:
    """The training process is made when the server starts; a Start pressed before it is ready
    waits for it. Never for the machine's measurement: that runs in the background meanwhile."""
    state = manager.worker_state()
    if worker_waited_for and state != "starting":
        st.rerun(scope="app")  # the page again, without this note's timer: an idle page stays idle
    if state in ("ready", "measuring"):
        tuned = settings("cpu")
        st.caption(t(f"train.worker_{state}", settings=tuned.short() if tuned.measured else t("train.unmeasured")))
    elif state == "starting":
        st.caption(t("train.worker_starting"))


with note_col:
    worker_note()
lead = is_teacher()  # the run is the class's: only the teacher steers it (checked at each press)
too_few = st.session_state.train_recipe == FINETUNE and not finetune_ready
start_off = running or not lead or too_few
if teacher_action(b1.button(t("train.start"), type="primary", disabled=start_off, width="stretch")):
    try:
        net, race = st.session_state.get(NETWORKS, (SEED, None))
        fine_tune = None
        if st.session_state.train_recipe == FINETUNE:
            # Checked here, at the press, on the digits as they are now (TooFewDigits: said below)
            loaded = active()
            fine_tune = FineTune.of(loaded.model, loaded.name, class_store().digits())
            net, race = loaded.model.spec, None
        for spec, label in ((net, t("train.network")), (race, t("train.race_against"))):
            if isinstance(spec, SpecError):
                message = spec_message(spec)
                raise ValueError(f"{label}: {message}" if race is not None else message)
        config = TrainConfig.from_recipe(
            st.session_state.train_recipe,
            validate=False,  # manager.start checks it, once: its ValueError is shown below
            epochs=st.session_state.train_epochs,
            batch_size=st.session_state.train_batch,
            lr=st.session_state.train_lr,
            train_images=st.session_state.train_images,
            device=st.session_state.train_device,
            net=net,
            race=race,
        )
        # Up to 3 s for the first loss (a warm worker: 0.1 s; a fresh server's first step beside the
        # page being drawn: a second or two), so that the page comes back with it on the chart;
        # else it waited for the chart's next 2-s look (measured on a Zen 1: 2.5 s, now 0.9 s).
        run = manager.start(config, watch_image=model_store().last_drawing(), fine_tune=fine_tune)
        run.wait_started(timeout=3.0)
        st.rerun()
    except Busy:
        # Said after a rerun: this run of the page would be replaced at once by the one that
        # picks up the other browser's run (watch_for_a_run), and the warning with it.
        st.session_state[BUSY_NOTICE] = True
        st.rerun()
    except TooFewDigits as e:  # a ValueError too: worded in this browser's language
        st.error(t("train.not_started", error=too_few_text(e)))
    except (ValueError, DataError) as e:
        st.error(t("train.not_started", error=e))
if view is not None and view.state == "paused":
    if teacher_action(b2.button(t("train.resume"), disabled=not lead, width="stretch")):
        manager.run.resume()
        st.rerun()
elif teacher_action(
    b2.button(t("train.pause"), disabled=not (lead and view and view.state == "running"), width="stretch")
):
    manager.run.pause()
    st.rerun()
if teacher_action(b3.button(t("train.stop"), disabled=not (lead and running), width="stretch")):
    manager.run.stop()
    st.rerun()
teacher_only_note("run")


def accuracy_range(accuracies: list[float]) -> tuple[float, float]:
    """The accuracy axis's bottom and tick step: down to 10 points below the lowest accuracy, so
    that a short run's 96% -> 99% climbs visibly instead of along the top of a 0-100 axis."""
    if not accuracies:
        return 0.0, 20.0
    low = max(0.0, math.floor((100 * min(accuracies) - 2) / 10) * 10)
    return low, 2.0 if low >= 90 else (5.0 if low >= 70 else 20.0)


def loss_figure(v: RunView) -> go.Figure:
    """Loss of every step (thin), its moving average (thick), and test accuracy on a second axis;
    in a race, each network in its own colour, named. Built in one call and thinned to 600
    points a network: it is redrawn every CHART_EVERY_S, on the cores the run trains on. The traces keep
    their order (each network's two losses, then the accuracies), so Plotly.react updates them."""
    data, accuracy_traces, held_out_traces, all_accuracies = [], [], [], []
    for i, lane in enumerate(v.lanes):
        colour = PALETTE[i]
        named = f"{lane_title(v, lane)}: " if v.race else ""  # the legend names the network in a race
        steps, raw, smooth = lane.loss_curve(max_points=600)
        data += [
            go.Scatter(
                x=steps,
                y=raw,
                name=named + t("train.loss_step"),
                mode="lines",
                line=dict(color=faded(colour, 0.3), width=1),
                showlegend=not v.race,  # in a race the legend names the networks: four entries, not six
                legendgroup=str(i),
            ),
            go.Scatter(
                x=steps,
                y=smooth,
                name=lane_title(v, lane) if v.race else t("train.loss_smooth"),
                mode="lines",
                line=dict(color=colour, width=3),
                legendgroup=str(i),
            ),
        ]
        steps_at, accuracies, whole = lane.accuracy_points()
        all_accuracies += accuracies
        if steps_at:
            accuracy_traces.append(
                go.Scatter(
                    x=steps_at,  # each accuracy at the step it was measured after
                    y=[100 * a for a in accuracies],
                    name=named + t("train.finetune_test_line" if v.fine_tune else "train.accuracy_line"),
                    mode="lines+markers",
                    # One network: the accuracy in the second colour; in a race, its network's, dotted.
                    line=dict(color=HIGHLIGHT, width=2) if not v.race else dict(color=colour, width=2, dash="dot"),
                    # Big markers: the whole test set (each epoch's end); small: the held-out slice.
                    marker=dict(size=[10 if w else 6 for w in whole]),
                    yaxis="y2",
                    cliponaxis=False,  # the last epoch's marker sits on the right edge
                    legendgroup=str(i),
                    showlegend=not v.race,  # the caption under a race's chart says what the dots are
                )
            )
        if lane.held_out:  # a fine-tune's: the class's held-out digits, from the start model's on
            held_steps, held_accuracies = zip(*lane.held_out)
            all_accuracies += held_accuracies
            held_out_traces.append(
                go.Scatter(
                    x=held_steps,
                    y=[100 * a for a in held_accuracies],
                    name=t("train.finetune_held_out_line"),
                    mode="lines+markers",
                    line=dict(color=PALETTE[2], width=3),
                    marker=dict(size=8, symbol="diamond"),
                    yaxis="y2",
                    cliponaxis=False,
                )
            )
    low, dtick = accuracy_range(all_accuracies)
    return go.Figure(
        data=data + accuracy_traces + held_out_traces,
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


def accuracy_metric(lane: Lane, label: str) -> tuple[str, str, str | None]:
    """The newest test accuracy, and (as its help) whether it is of the held-out slice or all 10,000."""
    if lane.latest_accuracy is None:
        return label, "–", None
    value, whole = lane.latest_accuracy
    note = t("train.test_accuracy_whole") if whole else t("train.test_accuracy_slice", images=f"{PROBE_IMAGES:,}")
    return label, accuracy_text(value), note


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
    metrics = [(t("train.images_per_s"), f"{v.samples_per_s:,.0f}", None)]
    if not v.race:
        (lane,) = v.lanes
        metrics += [
            (t("train.last_loss"), f"{lane.losses[-1]:.4f}" if lane.losses else "–", None),
            accuracy_metric(lane, t("train.test_accuracy")),
        ]
        if lane.held_out:
            held_now = accuracy_text(lane.held_out[-1][1])
            metrics.append((t("train.finetune_held_out_metric"), held_now, t("train.finetune_held_out_help")))
    metrics.append((t("train.device_metric"), v.device, None))
    # Two to a row: four squeezed "Images per second" and "98.78%" to "…" beside the filters.
    for row in range(0, len(metrics), 2):
        for column, (label, value, note) in zip(st.columns(2), metrics[row : row + 2]):
            column.metric(label, value, help=note)
    if v.race:  # a row per network: metrics labelled with its name were cut to "Test accu…" on a tablet
        st.markdown(race_table(v))
    live_chart(loss_figure(v), key="loss_chart", height=380)
    if v.race:
        st.caption(t("train.race_chart_caption"))
    elif v.fine_tune:
        st.caption(t("train.finetune_chart_caption", **v.fine_tune))


def race_table(v: RunView) -> str:
    lines = [f"| | {t('train.test_accuracy')} | {t('train.last_loss')} |", "|---|--:|--:|"]
    for lane in v.lanes:
        accuracy = accuracy_text(lane.latest_accuracy[0]) if lane.latest_accuracy else "–"
        loss = f"{lane.losses[-1]:.4f}" if lane.losses else "–"
        lines.append(f"| **{lane_title(v, lane)}** | {accuracy} | {loss} |")
    return "\n".join(lines)


def show_result(v: RunView) -> None:
    if v.state == "failed":
        st.error(t(f"run.{v.reason}", **v.reason_values))
    if v.race:
        if v.state != "failed":
            st.success(t("train.race_finished" if v.state == "finished" else "train.race_stopped"))
        for i, lane in enumerate(v.lanes):
            if lane.saved_path is None:
                st.warning(t("train.race_not_saved", network=lane_title(v, lane)))
                continue
            text = t(
                "train.race_saved",
                network=lane_title(v, lane),
                accuracy=accuracy_text(lane.final_accuracy),
                name=lane.saved_path.stem,
            )
            use_model_button(lane, text, f"use_model_{i}")
    elif (lane := v.lanes[0]).saved_path is not None:
        if v.state != "failed":
            done = "train.finished" if v.state == "finished" else "train.stopped"
            st.success(t(done, accuracy=accuracy_text(lane.final_accuracy), name=lane.saved_path.stem))
            if v.fine_tune:
                st.markdown(before_after_table(v.fine_tune, lane))
            use_model_button(lane, None, "use_model")
    elif v.state != "failed":
        st.warning(t(f"run.{v.reason}", **v.reason_values))


def before_after_table(fine_tune: dict, lane: Lane) -> str:
    """A fine-tune's result: both accuracies, before and after. Are the class's digits learned, is
    MNIST forgotten?"""
    (test_before, test_after), (held_before, held_after) = lane.before_after
    rows = [
        (t("train.finetune_test_row"), test_before, test_after),
        (t("train.finetune_held_out_row", **fine_tune), held_before, held_after),
    ]
    lines = [f"| | {t('train.finetune_before')} | {t('train.finetune_after')} |", "|---|--:|--:|"]
    for label, before, after in rows:
        lines.append(f"| {label} | {accuracy_text(before)} | **{accuracy_text(after)}** |")
    return "\n".join(lines)


def use_model_button(lane: Lane, text: str | None, key: str) -> None:
    """ "Use this model" for a saved network, under its line (a race's)."""
    if text is not None:
        st.markdown(text)
    if teacher_action(st.button(t("train.use_model"), type="primary", key=key, disabled=not is_teacher())):
        model_store().activate(lane.saved_path)
        st.session_state.pop(MODEL_PICK, None)
        st.rerun(scope="app")


# While a run is active the chart is redrawn every CHART_EVERY_S and the filters every
# FILTERS_EVERY_S; the timers are off otherwise. Every redraw costs the run: the browser shares
# the teacher's cores with it, and each of its pauses stalls both training threads. Measured
# (`python -m benchmarks.train_in_app`, Intel with AMX, bf16): with the chart every second the app
# kept 84% of the command line's speed, every 2 s 92%. The points drawn and the metrics beside
# the chart made no difference: it is the redraw itself (Streamlit's and Plotly's).
CHART_EVERY_S = 2.0
FILTERS_EVERY_S = 3.0  # they change slowly


@st.fragment(run_every=CHART_EVERY_S if running else None)
def live_progress() -> None:
    v = manager.run.view()
    show_progress(v)
    if running and v.state != view.state:
        st.rerun(scope="app")  # started training, or ended: redraw the buttons (and the result)
    if not v.active:
        show_result(v)


@st.fragment(run_every=FILTERS_EVERY_S if running else None)
def live_filters() -> None:
    v = manager.run.view()
    for i, lane in enumerate(v.lanes):
        if lane.filters is None:
            continue
        if v.race:
            st.markdown(f"#### {lane_title(v, lane)}")
        # Pictures, not interactive heatmaps: redrawn while the run trains, they must be cheap
        # for the browser, which shares the teacher's cores with the run.
        if lane.maps is None:  # a fully connected net: its first hidden units' 784 weights, as 28 x 28 pictures
            units, height, width = lane.filters.shape
            weights = mosaic(lane.filters, cols=8)  # (32, 28, 28) -> (115, 231)
            title = t("train.units_title", units=units, hidden=lane.spec.hidden, height=height, width=width)
            picture(magnify(weights_rgb(weights), 2), f"live_filters_{i}", title=title)
            st.caption(t("train.units_caption"))
            continue
        count, size = lane.filters.shape[0], lane.filters.shape[1]
        filters = mosaic(lane.filters, cols=8)  # (16, 5, 5) -> (11, 47)
        title = t("train.filters_title", count=count, size=size)
        picture(magnify(weights_rgb(filters), 12), f"live_filters_{i}", title=title)
        maps = mosaic(lane.maps, cols=8, normalise=True)  # (16, 24, 24) -> (49, 199)
        shape = dims(lane.maps.shape)
        title = t("train.maps_title", shape=shape, activation=lane.spec.convs[0].activation)
        picture(magnify(activations_rgb(maps), 3), f"live_maps_{i}", title=title)
        st.caption(t("train.watch_caption"))


# The digits' colours in the epoch maps: built from the engine's colour constants only. The
# square in the colour, the digit in the text's: a yellow "8" on white was hard to read.
DIGIT_LEGEND = (
    '<div style="display:flex;flex-wrap:wrap;gap:0.1rem 0.9rem">'
    + "".join(f'<span><span style="color:{c}">■</span> {d}</span>' for d, c in enumerate(DIGIT_COLOURS))
    + "</div>"
)
# Each epoch's map: a still picture this many pixels square, drawn at its own size (no blur), in
# a row that wraps: five or six to a laptop's row, two to a phone's.
EPOCH_MAP_PX = 160
EPOCH_MAP_PROJECTOR_PX = 240


@st.fragment(run_every=FILTERS_EVERY_S if running else None)
def live_hidden_maps() -> None:
    """At each epoch's end, the probe images' hidden layer by PCA (computed by the worker): one
    small still picture per epoch, so the class sees the clouds pull apart as the network learns."""
    v = manager.run.view()
    if not v.lanes or v.lanes[0].map_labels is None:
        return
    st.markdown(f"#### {t('hidden_map.train_title')}")
    st.caption(t("hidden_map.train_caption", count=f"{len(v.lanes[0].map_labels):,}"))
    st.html(DIGIT_LEGEND)
    if not v.lanes[0].hidden_maps:
        st.caption(t("hidden_map.train_waiting"))
        return
    size = EPOCH_MAP_PROJECTOR_PX if projector() else EPOCH_MAP_PX
    for i, lane in enumerate(v.lanes):
        if v.race:
            st.markdown(f"**{lane_title(v, lane)}**")
        previous, row = None, st.container(horizontal=True, gap="medium")
        for epoch, points in enumerate(lane.hidden_maps, start=1):
            points = previous = align(points, previous)  # the same orientation from epoch to epoch
            accuracy = lane.test_accuracy[epoch - 1] if epoch <= len(lane.test_accuracy) else None
            with row, st.container(width=size):
                caption = t("hidden_map.train_epoch", epoch=epoch, accuracy=accuracy_text(accuracy))
                picture(points_picture(points, lane.map_labels, size=size), f"live_hidden_{i}_{epoch}", caption=caption)


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
    live_hidden_maps()
