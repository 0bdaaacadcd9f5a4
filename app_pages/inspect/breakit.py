"""Inspect's "Break it" tab: switch channels, hidden units or a whole layer off, add noise to the
weights, switch the biases off, and watch the digit's answer and the test accuracy change.

The damage is a description (cnn_demo.inside.ablation.Damage) made from this browser's own
widgets, so another student's page is untouched; the network it is done to is a copy, cached by
the model's version and the damage, so two students who break the same thing share one copy and
one accuracy. "Which channels matter" measures each channel of a stage alone off, once per model
and stage, for everyone; a click on a bar switches that channel off here.
"""

import threading

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app_pages.figures import ACCENT, PALE, chart
from app_pages.i18n import choice, t
from app_pages.inspect.figures import DIGITS, bars_figure, show
from cnn_demo.inside.ablation import (
    Damage,
    Images,
    Labels,
    Score,
    channel_importance,
    damaged_copy,
    probe_set,
    score_of,
)
from cnn_demo.inside.predict import predict_proba
from cnn_demo.network.model import Net, conv_layers
from cnn_demo.storage.store import LoadedModel

NOISE_MOST = 2.0  # standard deviations of each weight tensor: at 2 little is left of any network


@st.cache_resource(show_spinner=False)
def probe_tensors(_images: np.ndarray, _labels: np.ndarray) -> tuple[Images, Labels]:
    """The Train page's 2,000 held-out test images (uint8) and labels, once per server."""
    return probe_set(_images, _labels)


@st.cache_resource(max_entries=32, show_spinner=False)
def broken_model(_model: Net, version: str, damage: str, _damage: Damage) -> Net:
    """The damaged copy, shared by the sessions that asked for the same damage; only read."""
    return damaged_copy(_model, _damage)


@st.cache_resource(max_entries=64, show_spinner=False)
def probe_score(_model: Net, version: str, damage: str, _images: Images, _labels: Labels) -> Score:
    """Accuracy of one (damaged) model on the probe set; `version` and `damage` are the key."""
    return score_of(_model, _images, _labels)


@st.cache_resource
def importance_store() -> tuple[dict, threading.Lock]:
    """{(model version, stage): accuracy lost per channel}, for every session, and its lock."""
    return {}, threading.Lock()


def widget_keys(model: Net) -> list[str]:
    return [f"break_off_{stage}" for stage in conv_layers(model)] + ["break_hidden", "break_layer", "break_noise"]


def restore(model: Net) -> None:
    """Every widget back to intact."""
    for key in widget_keys(model):
        st.session_state.pop(key, None)
    st.session_state.break_biases = False
    for key in [k for k in st.session_state if str(k).startswith("break_layer.")]:
        del st.session_state[key]  # the language-specific copies of the layer choice (i18n.choice)


def switch_off(stage: str, chart_key: str) -> None:
    """A click on a bar of "which channels matter": that channel off (added to its stage's list)."""
    points = st.session_state[chart_key].selection.points
    if points:
        key = f"break_off_{stage}"
        st.session_state[key] = sorted({*st.session_state.get(key, []), int(points[0]["x"])})
        st.session_state.break_chart_n = st.session_state.get("break_chart_n", 0) + 1  # forget the selection


def damage_widgets(model: Net) -> Damage:
    """The controls; the damage they describe."""
    state = st.session_state
    convs = conv_layers(model)
    channels = {}
    for stage, index in convs.items():
        count = model.layer[index].out_channels
        key = f"break_off_{stage}"
        if key in state:  # another model may have fewer channels
            state[key] = [c for c in state[key] if 0 <= c < count]
        channels[stage] = st.multiselect(
            t("breakit.channels_off", stage=stage, count=count),
            range(count),
            key=key,
            placeholder=t("breakit.none_off"),
        )
    hidden_count = model.spec.hidden
    if "break_hidden" in state:
        state.break_hidden = [u for u in state.break_hidden if 0 <= u < hidden_count]
    hidden = st.multiselect(
        t("breakit.hidden_off", count=hidden_count),
        range(hidden_count),
        key="break_hidden",
        placeholder=t("breakit.none_off"),
    )
    layers = ["", *convs, "hidden"]
    if state.get("break_layer") not in layers:
        state.pop("break_layer", None)
    layer = choice(
        st.selectbox,
        t("breakit.layer_off"),
        layers,
        key="break_layer",
        format_func=lambda v: t("breakit.no_layer") if not v else (t("breakit.hidden_layer") if v == "hidden" else v),
    )
    noise = st.slider(t("breakit.noise"), 0.0, NOISE_MOST, step=0.05, key="break_noise", help=t("breakit.noise_help"))
    biases_off = st.toggle(t("breakit.biases_off"), key="break_biases")
    st.button(t("breakit.restore"), key="break_restore", on_click=restore, args=(model,), icon=":material/restore:")
    return Damage.make(channels=channels, hidden=hidden, layer=layer, noise=noise, biases_off=biases_off)


def class_figure(intact: Score, broken: Score, height: int = 290) -> go.Figure:
    """Accuracy of each digit class, intact beside damaged."""
    fig = go.Figure(
        [
            go.Bar(name=t("breakit.intact"), x=DIGITS, y=intact.per_class, marker_color=PALE),
            go.Bar(name=t("breakit.damaged"), x=DIGITS, y=broken.per_class, marker_color=ACCENT),
        ]
    )
    fig.update_traces(hovertemplate="%{x}: %{y:.1%}<extra>%{fullData.name}</extra>")
    fig.update_layout(
        title=dict(text=t("breakit.per_class_title")),
        height=height,
        barmode="group",
        bargap=0.2,
        margin=dict(l=48, r=8, t=36, b=56),
        plot_bgcolor="white",
        legend=dict(orientation="h", y=-0.12, x=0.5, xanchor="center", yanchor="top"),  # below: clear of the title
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", gridcolor="#e3e6ea")
    return fig


def importance_figure(lost: np.ndarray, off: list[int], height: int = 280) -> go.Figure:
    """Accuracy lost per channel, the most first; channels already off in red."""
    order = np.argsort(-lost, kind="stable")
    colours = ["#d62728" if c in off else ACCENT for c in order]
    fig = go.Figure(
        go.Bar(
            x=[str(c) for c in order],
            y=100 * lost[order],
            marker_color=colours,
            hovertemplate=t("breakit.bar_hover", channel="%{x}", points="%{y:.2f}") + "<extra></extra>",
        )
    )
    fig.update_layout(
        title=dict(text=t("breakit.importance_title")),
        height=height,
        bargap=0.15,
        margin=dict(l=48, r=8, t=36, b=40),
        plot_bgcolor="white",
        clickmode="event+select",
    )
    fig.update_xaxes(type="category", title=t("breakit.channel_axis"), tickfont=dict(size=9))
    fig.update_yaxes(title=t("breakit.points_axis"), gridcolor="#e3e6ea", zerolinecolor="#9aa1ab")
    return fig


def which_channels_matter(loaded: LoadedModel, images: Images, labels: Labels) -> None:
    """Pick a stage, measure once (for everyone), then a sorted bar per channel; a click switches one off."""
    model = loaded.model
    convs = list(conv_layers(model))
    st.subheader(t("breakit.matter_heading"))
    if not convs:
        st.info(t("breakit.no_convs"))
        return
    st.caption(t("breakit.matter_caption"))
    if st.session_state.get("break_matter_stage") not in convs:
        st.session_state.break_matter_stage = convs[-1]
    stage = st.selectbox(t("breakit.matter_stage"), convs, key="break_matter_stage")
    results, lock = importance_store()
    key = (loaded.version, stage)
    if key not in results:
        if not st.button(t("breakit.measure", stage=stage), key="break_measure", icon=":material/bar_chart:"):
            return
        bar = st.progress(0.0, text=t("breakit.measuring", stage=stage))

        def progress(done: int, total: int) -> None:
            bar.progress(done / total, text=t("breakit.measuring_done", stage=stage, done=done, total=total))

        with lock:  # one measurement at a time on this server: a class pressing together waits once
            if key not in results:
                results[key] = channel_importance(model, stage, images, labels, progress=progress)
        bar.empty()
    lost = results[key]
    off = st.session_state.get(f"break_off_{stage}", [])
    chart_key = f"break_matter_{st.session_state.setdefault('break_chart_n', 0)}"
    chart(
        importance_figure(lost, off),
        chart_key,
        height=280,
        theme=None,
        on_select=lambda: switch_off(stage, chart_key),
        selection_mode="points",
    )
    worst = int(np.argmax(lost))
    st.caption(t("breakit.matter_summary", channel=worst, points=f"{100 * lost[worst]:.2f}", stage=stage))


def break_tab(loaded: LoadedModel, image28: np.ndarray, images: Images, labels: Labels) -> None:
    """loaded: the model in use (only read: the damage goes to a copy); image28: the digit in view,
    (28, 28) in [0, 1]; images, labels: the probe set the accuracy is measured on (probe_tensors)."""
    model = loaded.model
    st.caption(t("breakit.caption"))
    left, right = st.columns([1, 2])
    with left, st.container(border=True, key="break_controls"):
        try:
            damage = damage_widgets(model)
        except ValueError as e:  # a stale choice the widgets could not clean
            st.error(t("breakit.bad_damage", error=e))
            return
    damage_key = repr(damage)
    intact_score = probe_score(model, loaded.version, repr(Damage()), images, labels)
    broken = broken_model(model, loaded.version, damage_key, damage) if not damage.intact else model
    broken_score = probe_score(broken, loaded.version, damage_key, images, labels)
    intact_probs, probs = predict_proba(model, image28), predict_proba(broken, image28)
    answer, intact_answer = int(probs.argmax()), int(intact_probs.argmax())
    with right:
        a, b = st.columns(2)
        a.metric(
            t("breakit.answer"),
            str(answer),
            t("breakit.answer_was", digit=intact_answer, percent=f"{100 * probs[answer]:.1f}%"),
            delta_color="off",
            delta_arrow="off",
        )
        change = 100 * (broken_score.overall - intact_score.overall)
        b.metric(
            t("breakit.accuracy"),
            f"{100 * broken_score.overall:.2f}%",
            t("breakit.accuracy_delta", points=f"{change:+.2f}"),
            delta_color="normal" if change < 0 else "off",
        )
        b.caption(t("breakit.accuracy_intact", intact=f"{100 * intact_score.overall:.2f}%"))
        if damage.intact:
            st.caption(t("breakit.intact_note"))
        show(bars_figure(probs, DIGITS, t("breakit.probs_title"), answer, 220, percent=True), "break_probs")
        show(class_figure(intact_score, broken_score), "break_classes")
    which_channels_matter(loaded, images, labels)
