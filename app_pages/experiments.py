"""Experiments: the tutorial's claims, measured. Each experiment's kept result is shown at once;
"Run again" recomputes it in a process of the server's (cnn_demo.experiments.claims.Background), one
at a time, while every page stays usable. The numbers come from cnn_demo.experiments.claims."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_pages.classroom import is_teacher, teacher_action, teacher_only_note
from app_pages.common import preset_title, run_manager
from app_pages.figures import PALETTE, chart
from app_pages.i18n import t
from app_pages.inspect.hidden_map import map_figure
from cnn_demo.experiments.claims import (
    CONDITIONS,
    NAMES,
    NETWORKS,
    SHIFTS,
    Background,
    JobView,
    ResultError,
    command,
    kept,
    shift_x,
    shuffled_example,
)
from cnn_demo.inside.pixels import enlarge, png
from cnn_demo.network.model import PRESETS
from cnn_demo.storage.data import DataError
from cnn_demo.training.jobs import Busy

EXAMPLE_INDEX = 0  # the first test image, a 7
SHOWN_SHIFTS = (0, 2, 4, 6)  # the pictures above the shift chart
DIGIT_SCALE, STRIP_SCALE = 7, 5  # screen pixels per image pixel: 196 and 140 px digits
# Side by side on a laptop, one above the other on a tablet: the pictures and the numbers need the width.
STACK_CSS = (
    "<style>@media (max-width: 1000px) { .st-key-shuffled_row > div > [data-testid='stHorizontalBlock'] { flex-wrap: wrap; }"
    " .st-key-shuffled_row > div > [data-testid='stHorizontalBlock'] > [data-testid='stColumn'] { min-width: 100%; } }"
    " .st-key-presets_table td p { white-space: nowrap !important; }"  # a row a network; a narrow screen scrolls it
    " .st-key-presets_table th p { word-break: keep-all !important; }"  # Korean wraps between words, not letters
    " .st-key-presets_table [data-testid='stTable'] { overflow-x: auto; }"
    " .st-key-shuffled_pair img, .st-key-shift_strip img { max-width: 100%; height: auto; }</style>"
)
TELLING_SHIFT = 2  # pixels: where the two curves are furthest apart, named in the sentence


@st.cache_resource(on_release=Background.close)
def background() -> Background:
    """One per server: at most one experiment recomputed at a time, seen by every browser."""
    return Background()


@st.cache_data(show_spinner=False)
def example() -> tuple[np.ndarray, np.ndarray, int]:
    return shuffled_example(EXAMPLE_INDEX)


def title(preset: str) -> str:
    return preset_title(preset)


def percent(fraction: float) -> str:
    return f"{100 * fraction:.2f}%"


# ------------------------------------------------------------------------------ each experiment


def side_by_side(*rgbs: np.ndarray, gap: int = 14) -> np.ndarray:
    """Pictures of one height in a row, white between them: (H, W1 + gap + W2 ..., 3)."""
    white = np.full((rgbs[0].shape[0], gap, 3), 255, np.uint8)
    return np.concatenate([part for rgb in rgbs for part in (white, rgb)][1:], axis=1)


def still(rgb: np.ndarray, key: str, caption: str) -> None:
    """A picture at its own size (smaller on a narrow screen): big enough to count pixels, never a wall."""
    with st.container(key=key):
        st.image(png(rgb), caption=caption, width="content", output_format="PNG")


def show_shuffled(record: dict) -> None:
    r = record["result"]
    with st.container(key="shuffled_row"):
        pictures, numbers = st.columns([1, 1], gap="medium")
    with pictures:
        try:
            plain, shuffled, label = example()
        except DataError as e:
            st.warning(t("experiments.no_example", error=e))
        else:
            pair = side_by_side(enlarge(plain, DIGIT_SCALE), enlarge(shuffled, DIGIT_SCALE))
            still(pair, "shuffled_pair", t("experiments.pair_caption", label=label))
    with numbers:
        for key, preset in NETWORKS.items():
            st.markdown(f"**{title(preset)}**")
            a, b = st.columns(2)
            a.metric(t("experiments.plain"), percent(r[key]["plain"]))
            drop = 100 * (r[key]["shuffled"] - r[key]["plain"])
            b.metric(
                t("experiments.shuffled"),
                percent(r[key]["shuffled"]),
                delta=t("experiments.points", points=f"{drop:+.2f}"),
                delta_color="normal" if abs(drop) >= 0.05 else "off",
            )
    shuffled_maps(record)
    cnn_drop = r["cnn"]["plain"] - r["cnn"]["shuffled"]
    fc_drop = r["fully_connected"]["plain"] - r["fully_connected"]["shuffled"]
    # The sentence says what these numbers show: the claim, or that this run did not show it.
    meaning = "experiments.shuffled_meaning" if cnn_drop > abs(fc_drop) + 0.005 else "experiments.shuffled_unclear"
    st.info(
        t(
            meaning,
            cnn_plain=percent(r["cnn"]["plain"]),
            cnn_shuffled=percent(r["cnn"]["shuffled"]),
            fc_plain=percent(r["fully_connected"]["plain"]),
            fc_shuffled=percent(r["fully_connected"]["shuffled"]),
        )
    )


def shuffled_maps(record: dict) -> None:
    """The two networks' hidden layers side by side (PCA of the probe images), plain or shuffled;
    a result kept before the maps were recorded says so (its networks are gone: run it again)."""
    maps, labels = record.get("maps"), record.get("map_labels")
    if not maps or labels is None:
        st.info(t("hidden_map.experiments_missing"))
        return
    labels = np.asarray(labels)
    st.markdown(f"**{t('hidden_map.experiments_title', count=f'{len(labels):,}')}**")
    condition = st.segmented_control(
        t("hidden_map.experiments_condition"),
        list(CONDITIONS),
        default="shuffled",
        key="shuffled_maps_condition",
        format_func=lambda c: t(f"experiments.{c}"),
    )
    condition = condition or "shuffled"
    for (key, preset), col in zip(NETWORKS.items(), st.columns(2)):
        with col:
            points = np.asarray(maps[key][condition], np.float32)
            fig = map_figure(points, labels, None, ("", ""), 380, title=title(preset), legend=key == "fully_connected")
            chart(fig, key=f"shuffled_map_{key}", height=380, theme=None)
    st.caption(t("hidden_map.experiments_caption"))


def shift_figure(record: dict) -> go.Figure:
    r = record["result"]
    data = [
        go.Scatter(
            x=list(SHIFTS),
            y=[100 * r[key][str(dx)] for dx in SHIFTS],
            name=title(preset),
            mode="lines+markers",
            line=dict(color=colour, width=3),
            marker=dict(size=9),
            hovertemplate="%{x} px: %{y:.2f}%<extra>" + title(preset) + "</extra>",
        )
        for (key, preset), colour in zip(NETWORKS.items(), PALETTE)
    ]
    return go.Figure(
        data=data,
        layout=dict(
            xaxis=dict(title=t("experiments.axis_shift"), dtick=1),
            yaxis=dict(title=t("experiments.axis_accuracy"), rangemode="tozero", range=[0, 100]),
            legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom"),
            margin=dict(l=60, r=20, t=40, b=50),
        ),
    )


def show_shift(record: dict) -> None:
    try:
        plain, _, _ = example()
    except DataError:
        plain = None
    if plain is not None:
        strip = side_by_side(*(enlarge(shift_x(plain, dx), STRIP_SCALE) for dx in SHOWN_SHIFTS))
        shifts = ", ".join(str(dx) for dx in SHOWN_SHIFTS)
        still(strip, "shift_strip", t("experiments.shift_strip", shifts=shifts))
    chart(shift_figure(record), key="shift_chart", height=380)
    r = record["result"]
    small, large = str(TELLING_SHIFT), str(SHIFTS[-1])
    st.info(
        t(
            "experiments.shift_meaning",
            small=small,
            large=large,
            cnn_small=percent(r["cnn"][small]),
            fc_small=percent(r["fully_connected"][small]),
            cnn_large=percent(r["cnn"][large]),
            fc_large=percent(r["fully_connected"][large]),
        )
    )


def show_presets(record: dict) -> None:
    rows = [
        {
            t("experiments.col_network"): title(name),
            t("experiments.col_params"): f"{row['params']:,}",
            t("experiments.col_macs"): f"{row['multiply_adds']:,}",
            t("experiments.col_speed"): "–" if row["images_per_s"] is None else f"{row['images_per_s']:,.0f}",
            t("experiments.col_accuracy"): percent(row["test_accuracy"]),
            t("experiments.col_layers"): PRESETS[name].spec.describe(),  # last: a narrow screen scrolls to it
        }
        for name, row in record["result"].items()
        if name in PRESETS
    ]
    with st.container(key="presets_table"):
        st.table(pd.DataFrame(rows).set_index(t("experiments.col_network")))
    st.caption(t("experiments.presets_note", device=record["machine"]["device"]))


SHOW = {"shuffled": show_shuffled, "shift": show_shift, "presets": show_presets}


# ------------------------------------------------------------------------------ the page

bg = background()
job: JobView | None = bg.view()
running = job is not None and job.running

st.html(STACK_CSS)
st.title(t("experiments.title"))
st.caption(t("experiments.caption"))


def training_now() -> bool:
    run = run_manager().run
    return run is not None and run.view().active


@st.fragment(run_every=1.0 if running else None)
def job_progress(name: str) -> None:
    """The experiment being recomputed, in its own section: its progress, then how it ended."""
    v = bg.view()
    if v is None or v.name != name:
        return
    if running and not v.running:
        st.rerun(scope="app")  # it ended: the new result, and the buttons back
    if v.running:
        what = title(v.network) if v.network in PRESETS else "…"
        if v.condition:
            what += f" · {t(f'experiments.{v.condition}')}"
        st.progress(min(v.fraction, 1.0), text=t("experiments.running", network=what, seconds=f"{v.seconds:.0f}"))
    elif v.state == "failed":
        st.error(t("experiments.failed", detail=v.detail))
    else:
        st.success(t("experiments.done", seconds=f"{v.seconds:.0f}"))


@st.fragment(run_every=None if running else 3.0)
def watch_for_a_job() -> None:
    """A browser that opened this page before the teacher pressed Run again picks it up."""
    if not running and bg.view() is not None and bg.view().running:
        st.rerun(scope="app")


def run_again(name: str, has_result: bool) -> None:
    busy = training_now()
    label = t("experiments.run_again" if has_result else "experiments.run_now")
    help_text = t("experiments.busy_training") if busy else t("experiments.run_help")
    lead = is_teacher()  # runs the server's one background job: the teacher's (checked at the press)
    if teacher_action(st.button(label, key=f"run_{name}", disabled=running or busy or not lead, help=help_text)):
        try:
            bg.start(name)
        except Busy:
            st.warning(t("experiments.busy"))
            return
        st.rerun()
    teacher_only_note("experiments")


watch_for_a_job()
for name in NAMES:
    with st.container(border=True, key=f"experiment_{name}"):
        st.subheader(t(f"experiments.{name}_title"))
        st.markdown(t(f"experiments.{name}_what"))
        try:
            record = kept(name)
        except ResultError as e:
            record = None
            st.warning(t("experiments.damaged", error=e))
        if record is None:
            st.info(t("experiments.not_kept"))
        else:
            SHOW[name](record)
            o = record["options"]
            st.caption(
                t(
                    "experiments.provenance",
                    recipe=o["recipe"],
                    images=f"{o['train_images']:,}",
                    epochs=o["epochs"],
                    seed=o["seed"],
                    device=record["machine"]["device"],
                    date=record["date"][:10],
                    seconds=f"{record['seconds']:.0f}",
                )
            )
        st.code(record["command"] if record else command(name), language=None)
        job_progress(name)
        run_again(name, record is not None)
