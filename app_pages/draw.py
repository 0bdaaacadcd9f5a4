"""Draw: a digit on the canvas (or a picture of one), what the model sees, and how sure it is.

Thin on purpose: the preprocessing, the probe and the prediction live in cnn_demo; this
page lays out widgets and pictures. The canvas and everything that depends on it sit in
one fragment, so a stroke reruns the fragment, not the page. A stroke redraws ten HTML bars
(the probabilities) and four still pictures: a class draws at once, and a Plotly chart or an
interactive heatmap costs the server and every browser many times what these do.

STEADY: the canvas's fragment writes the same places in every run, whatever it shows; what a run
leaves out is an empty element in its slot. The browser removes what a run did not write again
only when that run is reported finished, and Streamlit 1.67 reports a fragment's run as stopped
early when the round's fragment (every ROUND_EVERY_S) starts before the report was sent: the
old answer stayed beside the prompt after the canvas was cleared (docs/streamlit-notes.md).
"""

import json
import sqlite3

import numpy as np
import streamlit as st

from app_pages.classroom import class_store, my_name, student_token
from app_pages.common import active, remember_drawing, send_to_inspect
from app_pages.figures import picture, probability_bars
from app_pages.i18n import choice, t
from app_pages.touch import pin_canvas_toolbar
from cnn_demo.classroom.rounds import EACH, FOOL, Round, RoundClosed
from cnn_demo.classroom.wall import NAME_MAX, BadName, Sent
from cnn_demo.drawings.preprocess import CANVAS, CENTRE, FIT, ImageError, Steps, decode_image, preprocess_steps
from cnn_demo.inside.pixels import enlarge, with_box
from cnn_demo.inside.predict import predict_proba, runner_up
from cnn_demo.inside.probe import ERASE_REGIONS, MAX_THICKNESS, probe

UNSURE = 0.6  # below this probability the page says "unsure" instead of presenting a guess
# The answer's column: never narrower than this (it wraps below the canvas instead). The canvas's
# column leaves room above the canvas for its toolbar, pinned there (app_pages/touch.py).
LAYOUT_CSS = """<style>
div:has(> .st-key-answer_col) { min-width: 13rem; flex: 1 1 13rem; }  /* the row's flex item wraps it */
.st-key-canvas_col { padding-top: 3.1rem; }
</style>"""
NAME_INPUT = "my_name_input"
SAID = "class_said"  # session_state: what a send, a rename or a take-back said, shown after the rerun
SAID_ICONS = {
    "success": ":material/check_circle:",
    "info": ":material/info:",
    "warning": ":material/warning:",
    "error": ":material/error:",
}
MINE_TILE = 120  # pixels: a student's own sent drawings
# A round the teacher starts shows on every Draw page within this: a look is one small element
# (the request), not the canvas's fragment
ROUND_EVERY_S = 4.0
ASKED = "round_asked"  # session_state: (round id, digit) the Send button offered when it was drawn
FOOL_LABEL = "fool_label"  # the digit a student says their fooling drawing is
CANVAS_N = "canvas_n"  # session_state: bumped after a round's send, for a fresh canvas (its key)
PROBE_DEFAULTS = {"probe_dx": 0, "probe_dy": 0, "probe_turn": 0, "probe_thickness": 0, "probe_erase": "nothing"}

st.html(LAYOUT_CSS)
pin_canvas_toolbar()
st.title(t("draw.title"))
st.write(t("draw.intro"))


def reset_probe() -> None:
    for key, value in PROBE_DEFAULTS.items():
        st.session_state[key] = value


def send_to_class(
    ink: np.ndarray, image28: np.ndarray, probs: np.ndarray, model: str, strokes: str | None, asked: tuple | None
) -> None:
    """Keep this drawing in the class store (on disk before the page says "sent"); the whole page
    reruns so that the list of this student's drawings below shows it, and the round its next digit.

    In a round, the digit is the one the Send button offered (ASKED): the store checks that the
    round still asks it of this student, else nothing is kept (a late send, a round moved on). The
    argument, not ASKED itself: by the press's run, send_button has put there what it offers now."""
    round_id, label = (None, None) if asked is None else asked
    try:
        sent = class_store().send(
            student_token(), my_name(), ink, image28, probs, model, round_id=round_id, label=label, strokes=strokes
        )
    except RoundClosed:
        st.session_state[SAID] = ("warning", t("rounds.late"))
        st.rerun()
    except (sqlite3.Error, OSError, ValueError) as e:
        st.error(t("class.send_failed", error=e))
        return
    if round_id is None:
        said = ("success", t("class.sent"))  # no name in it: a message is Markdown
    elif sent.fool is not None:
        said = ("success", t("rounds.sent_fooled", digit=label, answer=sent.answer))
    elif asked is not None and class_store().round(round_id).kind == FOOL:
        said = ("info", t("rounds.sent_not_fooled", digit=label))
    else:
        said = ("success", t("rounds.sent_as", digit=label, answer=sent.answer))
        st.session_state[CANVAS_N] = st.session_state.get(CANVAS_N, 0) + 1  # a fresh canvas for the next digit
    st.session_state[SAID] = said
    st.rerun()


def round_request(open_round: Round | None, digit: int | None, done: int) -> None:
    """What the open round asks of this student (digit; done: how many they have sent in it), at
    the top of the page."""
    if open_round is None:
        return
    if open_round.kind == FOOL:
        with st.container(border=True, key="round_request"):
            st.markdown(t("rounds.fool_ask", round=open_round.id))
            st.caption(t("rounds.fool_how"))
        return
    with st.container(border=True, key="round_request"):
        if digit is None:
            st.markdown(t("rounds.all_done", round=open_round.id))
            return
        text = t("rounds.each_ask" if open_round.kind == EACH else "rounds.one_ask", round=open_round.id, digit=digit)
        st.markdown(text)
        wanted = len(open_round.wanted())
        if wanted > 1:
            done = min(wanted, done)
            st.progress(done / wanted, text=t("rounds.progress", done=done, total=wanted))


@st.fragment(run_every=ROUND_EVERY_S)
def round_part() -> None:
    """The open round's request; when it changes (the teacher starts or ends a round), the canvas's
    part is drawn again so that its Send button offers the new digit."""
    store, token = class_store(), student_token()
    open_round = store.current_round()
    done = [] if open_round is None else store.sent_in_round(open_round.id, token)
    digit = None if open_round is None else open_round.next_digit(token, done)  # as store.asked does
    shown = None if open_round is None else (open_round.id, digit)
    if st.session_state.get("round_shown", "unset") != shown and "round_shown" in st.session_state:
        st.session_state["round_shown"] = shown
        st.rerun(scope="app")
    st.session_state["round_shown"] = shown
    round_request(open_round, digit, len(done))


def send_button(steps: Steps, model_input: np.ndarray, probs: np.ndarray, model: str, strokes: str | None) -> None:
    """Send to the class: outside a round as it always was; in one, "Send my 7", and in a fool
    round the digit the student says it is, picked first. A press sends what the button offered
    when it was drawn (ASKED), so a round that moved on since refuses it rather than relabel it."""
    offered_before = st.session_state.get(ASKED)
    open_round, digit = class_store().asked(student_token())
    fool = open_round is not None and open_round.kind == FOOL
    label, text = None, t("class.send")
    if fool:
        label = st.pills(t("rounds.fool_label"), list(range(10)), key=FOOL_LABEL)
        text = t("rounds.send_fool") if label is None else t("rounds.send_digit", digit=label)
    else:
        st.empty()  # where a fool round's digit picker is (STEADY)
        if open_round is not None and digit is not None:
            label, text = digit, t("rounds.send_digit", digit=digit)
    pressed = st.button(
        text,
        help=t("rounds.send_help") if label is not None else t("class.send_help"),
        width="stretch",
        icon=":material/groups:",
        type="primary" if label is not None else "secondary",
        disabled=fool and label is None,
        key="send_to_class",
    )
    # Outside a round, or a round this student has finished: a plain send to the wall
    st.session_state[ASKED] = None if label is None else (open_round.id, int(label))
    if pressed:
        offer = offered_before
        if fool and offer is not None and label is not None:
            offer = (offer[0], int(label))  # the digit said: the pills' value as the button was pressed
        send_to_class(steps.ink, model_input, probs, model, strokes, offer)


def renamed() -> None:
    """The name box changed: keep the new name (cleaned), or say why not."""
    try:
        name = class_store().rename(student_token(), st.session_state.get(NAME_INPUT, ""))
    except BadName:
        st.session_state[SAID] = ("warning", t("class.name_bad"))
        st.session_state[NAME_INPUT] = my_name()
        return
    except sqlite3.Error as e:
        st.session_state[SAID] = ("error", t("class.send_failed", error=e))
        return
    st.session_state[NAME_INPUT] = name  # as kept: spaces collapsed, at most 20 characters
    st.session_state[SAID] = ("success", t("class.name_saved"))


def my_sent_tile(sent: Sent, token: str) -> None:
    with st.container(width=MINE_TILE + 24, border=True, key=f"mine_{sent.id}", gap="small"):
        st.image(sent.drawing_png, width="stretch", output_format="PNG")
        st.caption(t("class.answer", answer=sent.answer, percent=f"{sent.confidence:.0%}"))
        if sent.label is not None:
            st.caption(t("rounds.mine_right" if sent.right else "rounds.mine_wrong", digit=sent.label))
        if not sent.on_wall:
            st.caption(t("class.off_wall"))
        if st.button(t("class.take_back"), key=f"take_back_{sent.id}", help=t("class.take_back_help")):
            class_store().take_back(token, sent.id)  # only this browser's own: the store checks the token
            st.session_state[SAID] = ("info", t("class.taken_back"))
            st.rerun()


def my_drawings_part() -> None:
    """This student's name on the wall and the drawings they sent, each one theirs to take back."""
    st.subheader(t("class.mine_title"))
    token = student_token()
    said = st.session_state.pop(SAID, None)
    if said is not None:  # here, and as a toast: on a phone this part is far below the Send button
        kind, text = said
        getattr(st, kind)(text)
        st.toast(text, icon=SAID_ICONS[kind])
    st.session_state.setdefault(NAME_INPUT, my_name())  # a reload: the name kept for this browser
    st.text_input(
        t("class.your_name"), max_chars=NAME_MAX, key=NAME_INPUT, on_change=renamed, help=t("class.your_name_help")
    )
    mine = class_store().mine(token)
    if not mine:
        st.caption(t("class.mine_none"))
        return
    with st.container(horizontal=True, gap="small", key="mine"):
        for sent in mine:
            my_sent_tile(sent, token)


def show_steps(steps: Steps, fit: bool) -> None:
    st.subheader(t("draw.steps_title"))
    first, second, third = st.columns(3)
    if not fit:
        with first:
            picture(with_box(steps.ink, None), "step_box", caption=t("draw.step_drawing"))
        with second:
            picture(enlarge(steps.image28), "step_28", caption=t("draw.step_shrunk"))
        third.warning(t("draw.fit_off"))
        st.empty()  # where the fitting's explanation is (STEADY)
        return
    x0, y0, x1, y1 = steps.box
    with first:
        picture(with_box(steps.ink, steps.box), "step_box", caption=t("draw.step_box", width=x1 - x0, height=y1 - y0))
    with second:
        picture(enlarge(steps.fit20, scale=14), "step_fit", caption=t("draw.step_fit", size=FIT))
    with third:
        picture(enlarge(steps.image28, centre=CENTRE), "step_28", caption=t("draw.step_centre"))
    st.markdown(t("draw.why_steps"))


@st.fragment
def workbench() -> None:
    from streamlit_drawable_canvas import st_canvas  # a Streamlit component: importable only inside the app

    loaded = active()
    # Three columns that wrap: the canvas keeps its 280 pixels, the answer takes what is left (at
    # least LAYOUT_CSS's minimum, else it goes below the canvas, full width, as on a tablet or a
    # phone), and the side column holds what the model sees, then the canvas's settings. So on
    # a narrow screen the answer comes straight after the canvas, not after its settings.
    #
    # Every run writes the same places (STEADY): what an empty canvas leaves out is a slot holding
    # an empty element, not a shorter list of children.
    row = st.container(horizontal=True, gap="small")
    canvas_col = row.container(width=CANVAS + 16, key="canvas_col")
    answer_col = row.container(key="answer_col")
    side_col = row.container(width=260, key="side_col")
    answer_slot = answer_col.empty()  # the prompt, or the answer's block
    seen_slot, controls = side_col.empty(), side_col.container()  # what the model sees, and the Send buttons
    below = st.empty()  # the probe and the steps

    with controls:
        brush = st.slider(t("draw.stroke_width"), 6, 40, 20, key="brush")
        fit = st.toggle(t("draw.fit"), value=True, key="fit", help=t("draw.fit_help"))
        upload = st.file_uploader(t("draw.upload"), type=["png", "jpg", "jpeg"], key="upload")
        upload_slot = st.empty()  # the uploaded picture, or why it cannot be read
    with canvas_col:
        result = st_canvas(
            stroke_width=brush,
            stroke_color="#FFFFFF",
            background_color="#000000",
            width=CANVAS,
            height=CANVAS,
            drawing_mode="freedraw",
            return_image_data=True,
            # a fresh canvas after each of a round's sends; class "st-key-draw_canvas…" either way (touch.py)
            key=f"draw_canvas_{st.session_state[CANVAS_N]}" if st.session_state.get(CANVAS_N) else "draw_canvas",
        )
        st.caption(t("draw.toolbar"))

    # The input: a readable uploaded picture while there is one, else the canvas.
    image, source = result.image_data, "drawing"
    if upload is not None:
        try:
            image, source = decode_image(upload.getvalue()), "upload"
            upload_slot.image(image, caption=t("draw.upload_caption", name=upload.name), width=CANVAS)
        except ImageError as e:
            upload_slot.error(t("draw.upload_error", name=upload.name, error=e))

    steps = None if image is None else preprocess_steps(image, fit=fit)
    if steps is None or steps.image28 is None:
        answer_slot.info(t("draw.upload_empty" if source == "upload" else "draw.prompt"))
        return

    below = below.container()
    with below.expander(t("draw.probe"), expanded=True):
        for key, value in PROBE_DEFAULTS.items():  # defaults set here, not as value=: the Reset button sets them too
            st.session_state.setdefault(key, value)
        a, b, c = st.columns(3)
        dx = a.slider(t("draw.shift_right"), -8, 8, key="probe_dx")
        dy = a.slider(t("draw.shift_down"), -8, 8, key="probe_dy")
        turn = b.slider(t("draw.turn"), -90, 90, step=5, key="probe_turn")
        thickness = b.slider(t("draw.thickness"), -MAX_THICKNESS, MAX_THICKNESS, key="probe_thickness")
        with c:
            erase = choice(
                st.select_slider,
                t("draw.erase"),
                list(ERASE_REGIONS),
                key="probe_erase",
                format_func=lambda region: t(f"draw.erase_{region.replace(' ', '_')}"),
            )
        c.button(t("draw.reset"), on_click=reset_probe, help=t("draw.reset_help"))
        # A fully connected net has no convolution to find a stroke wherever it is.
        st.caption(t("draw.probe_caption" if loaded.model.spec.convs else "draw.probe_caption_fc"))

    model_input = probe(steps.image28, shift=(dx, dy), rotate_deg=turn, thickness=thickness, erase=ERASE_REGIONS[erase])
    probs = predict_proba(loaded.model, model_input)  # (10,)
    remember_drawing(model_input)  # the Train page can watch this digit while a model learns
    digit, confidence = int(probs.argmax()), float(probs.max())

    sure = confidence >= UNSURE
    with answer_slot.container():
        st.metric(
            t("draw.prediction"),
            f"{digit}" if sure else f"{digit}?",
            t("draw.sure" if sure else "draw.only_sure", percent=f"{confidence:.0%}"),
            delta_color="off",
            delta_arrow="off",
        )
        if sure:
            st.empty()  # where the warning is when unsure (STEADY)
        else:
            second = runner_up(probs)
            st.warning(
                t(
                    "draw.unsure",
                    digit=digit,
                    percent=f"{confidence:.0%}",
                    runner_up=second,
                    runner_up_percent=f"{probs[second]:.0%}",
                )
            )
        with st.container(key="probs"):
            st.html(probability_bars(probs))
        st.caption(t(f"draw.reading_{source}", name=loaded.name))

    with seen_slot.container():
        picture(enlarge(model_input), "seen", caption=t("draw.seen"))
        if st.button(t("draw.send"), help=t("draw.send_help"), width="stretch"):
            send_to_inspect(model_input)
            st.switch_page("app_pages/inspect/page.py")
        strokes = json.dumps(result.json_data) if source == "drawing" and result.json_data else None
        send_button(steps, model_input, probs, loaded.name, strokes)

    with below:
        show_steps(steps, fit)


round_part()
workbench()
st.divider()
my_drawings_part()
