"""The Class page's rounds, the class's own digits and the challenge to fool the network.

The teacher starts a round (each digit 0-9 once, one digit, or fool the network); every student's
Draw page asks for its digits (app_pages/draw.py). Each send is kept with its label in the class
store (cnn_demo/classroom/wall.py). Here: the round's progress, the active model scored on the
class's digits beside MNIST's test set, its confusion matrix whose cells open the drawings, the
hardest drawings; the teacher's deletes, export and import; the fooling drawings to judge.

A student sees their own digits; the teacher everyone's. Names are shown with st.text only.
"""

import threading
import time
from datetime import datetime

import numpy as np
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app_pages.classroom import class_store, is_teacher, student_token, teacher_action, teacher_only_note
from app_pages.common import accuracy_text, active, projector
from app_pages.evaluate.confusion import confusion_picker
from app_pages.evaluate.data import evaluation
from app_pages.i18n import t
from cnn_demo.classroom.digits import ClassDigits, ImportRefused
from cnn_demo.classroom.rounds import EACH, FOOL, ONE, Round
from cnn_demo.classroom.wall import ACCEPTED, PENDING, Sent
from cnn_demo.training.evaluate import Evaluation, evaluate_arrays, evaluation_of

PROGRESS_EVERY_S = 2.0  # the round's count follows the class's sends
TILE = 112  # pixels: a drawing in the results
CELL_TILES = 24  # at most this many drawings of one confusion-matrix cell
HARDEST = 12  # the hardest drawings shown
IMPORT_MAX_MB = 50
SAID = "digits_said"  # session_state: what an action said, shown after the rerun


# --- what the pages compute once per model and class ------------------------------------------


class Answers:
    """Each model's answer for each of the class's digits it has scored, by the digit's id: a round
    adds a few digits at a time, and only those are scored again (3,000 digits at once: ~1 s of a
    2-core CPU; a look at the results after a round's sends: the new ones only)."""

    MODELS = 8  # model versions remembered

    def __init__(self):
        self._lock = threading.Lock()
        self._by_model: dict[str, dict[int, tuple[int, float]]] = {}

    def evaluation(self, model_version: str, model, digits: ClassDigits) -> Evaluation:
        with self._lock:
            known = self._by_model.setdefault(model_version, {})
            if len(self._by_model) > self.MODELS:
                self._by_model.pop(next(iter(self._by_model)))
            missing = np.array([i for i, sent_id in enumerate(digits.ids.tolist()) if sent_id not in known], np.int64)
        if len(missing):
            new = evaluate_arrays(model, digits.images[missing], digits.labels[missing])
            with self._lock:
                for i, answer, sure in zip(missing, new.predictions.tolist(), new.confidences.tolist()):
                    known[int(digits.ids[i])] = (answer, sure)
        answers = [known[int(i)] for i in digits.ids.tolist()]
        return evaluation_of(
            digits.labels, np.array([a for a, _ in answers], np.int64), np.array([c for _, c in answers], np.float32)
        )


@st.cache_resource(show_spinner=False)
def answers() -> Answers:
    return Answers()


@st.cache_resource(max_entries=8, show_spinner=False)
def scored(model_version: str, digits_version: tuple, token: str | None, _model) -> tuple[ClassDigits, Evaluation]:
    """The class's digits (or one student's: token) and the model on them; cached by the model's
    and the digits' versions (a round's send, a delete or a new model: scored again, the new ones only)."""
    digits = class_store().digits(token=token)
    return digits, answers().evaluation(model_version, _model, digits)


def mnist_accuracy(loaded) -> float | None:
    """The model's accuracy on MNIST's 10,000 test images: as its checkpoint recorded it, else measured."""
    recorded = loaded.test_accuracy
    return recorded if recorded is not None else evaluation(loaded.version, loaded.model).accuracy


def redraw_part() -> None:
    """After a teacher's change: the part again, by itself when this is one of its fragment's own
    runs (a press in a browser), else the page (the same press arriving in a run of the whole page)."""
    ctx = get_script_run_ctx()
    st.rerun(scope="fragment" if ctx is not None and ctx.fragment_ids_this_run else "app")


def say_once() -> None:
    said = st.session_state.pop(SAID, None)
    if said is not None:
        kind, text = said
        getattr(st, kind)(text)


def said(kind: str, text: str) -> None:
    st.session_state[SAID] = (kind, text)


# --- rounds -----------------------------------------------------------------------------------


def round_title(r: Round) -> str:
    if r.kind == ONE:
        return t("rounds.kind_one", round=r.id, digit=r.digit)
    return t(f"rounds.kind_{r.kind}", round=r.id)


@st.fragment(run_every=PROGRESS_EVERY_S)
def round_status() -> None:
    """The open round and how many have sent: follows the class by itself."""
    open_round = class_store().current_round()
    if open_round is None:
        st.info(t("rounds.none_open"))
        return
    sent, students = class_store().round_progress(open_round.id)
    with st.container(key="round_status"):
        st.metric(round_title(open_round), t("rounds.progress_class", sent=sent, students=students))


def round_controls(teacher: bool) -> None:
    """Start a round (each digit, one digit, fool the network) or end the open one: the teacher's."""
    store = class_store()
    row = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
    each = row.button(t("rounds.start_each"), icon=":material/format_list_numbered:", disabled=not teacher)
    digit = row.selectbox(t("rounds.one_digit"), range(10), index=7, key="round_digit", width=110, disabled=not teacher)
    one = row.button(t("rounds.start_one", digit=digit), icon=":material/looks_one:", disabled=not teacher)
    fool = row.button(t("rounds.start_fool"), icon=":material/psychology_alt:", disabled=not teacher)
    end = row.button(
        t("rounds.end"), icon=":material/stop_circle:", disabled=not teacher or store.current_round() is None
    )
    for pressed, kind in ((each, EACH), (one, ONE), (fool, FOOL)):
        if teacher_action(pressed):
            store.start_round(kind, digit if kind == ONE else None)
            st.rerun()
    if teacher_action(end):
        store.end_round()
        st.rerun()
    teacher_only_note("rounds")


# --- results ----------------------------------------------------------------------------------


def drawing_tile(sent: Sent, caption: str, teacher: bool, token: str, key: str) -> None:
    """One drawing: the drawing, what the model answered, whose (as text); a delete for the
    teacher, a take-back for its own student."""
    with st.container(width=tile_width(), border=True, key=key, gap="small"):
        st.image(sent.drawing_png, width="stretch", output_format="PNG")
        st.caption(caption)
        st.text(sent.name)
        if teacher and st.button(t("rounds.delete_one"), key=f"{key}_delete", icon=":material/delete:"):
            if teacher_action(True):
                class_store().delete(sent.id)
                said("info", t("rounds.deleted", count=1))
                st.rerun()
        elif not teacher and sent.token == token:
            if st.button(t("class.take_back"), key=f"{key}_take_back", help=t("class.take_back_help")):
                class_store().take_back(token, sent.id)  # the store checks the token: only one's own
                said("info", t("class.taken_back"))
                st.rerun()


def tiles(digits: ClassDigits, result: Evaluation, index, teacher: bool, token: str, key: str) -> None:
    """The drawings at these indices of `digits`, each captioned "a 7, read as 1 (93%)"."""
    sent = {s.id: s for s in class_store().get_many(digits.ids[index])}
    with st.container(horizontal=True, gap="small", key=key):
        for i in index:
            s = sent.get(int(digits.ids[i]))
            if s is None:
                continue  # deleted since it was scored
            caption = t(
                "rounds.read_as",
                digit=int(digits.labels[i]),
                answer=int(result.predictions[i]),
                percent=f"{result.confidences[i]:.0%}",
            )
            drawing_tile(s, caption, teacher, token, key=f"{key}_{s.id}")


def tile_width() -> int:
    """A drawing's tile, in pixels: larger on a projector, where its text is."""
    return round(TILE * 1.4) + 24 if projector() else TILE + 24


def confusion_part(digits: ClassDigits, result: Evaluation, teacher: bool, token: str) -> None:
    """The confusion matrix of the class's digits (as the Evaluate page's); a click on a cell opens its drawings."""
    # One under the other: the cell's drawings are tiles that wrap, too narrow beside the matrix on a tablet
    beside, true, predicted = confusion_picker(result, "class", heights=(520, 620))
    with beside:
        cell = result.cell(true, predicted)
        what = "right" if true == predicted else "wrong"
        st.markdown(t(f"rounds.cell_{what}", count=f"{len(cell):,}", true=true, predicted=predicted))
        if not len(cell):
            return
        order = cell[np.argsort(-result.confidences[cell], kind="stable")][:CELL_TILES]
        tiles(digits, result, order, teacher, token, key="cell")


def results_part(teacher: bool) -> None:
    """The model on the class's digits (a student: their own) beside MNIST's test set; the
    confusion matrix and its drawings; the hardest drawings."""
    loaded = active()
    store = class_store()
    token = student_token()
    digits, result = scored(loaded.version, store.digits_version(), None if teacher else token, loaded.model)
    head = st.container(horizontal=True, vertical_alignment="center")
    head.subheader(t("rounds.results_title" if teacher else "rounds.results_mine"), anchor=False)
    head.button(t("rounds.refresh"), icon=":material/refresh:", key="results_refresh")
    st.caption(t("rounds.results_caption", model=loaded.name, time=datetime.now().strftime("%H:%M:%S")))
    if not len(digits):
        st.info(t("rounds.no_digits" if teacher else "rounds.no_digits_mine"))
        return
    a, b, c = st.columns(3)
    a.metric(
        t("rounds.digits_count"),
        f"{len(digits):,}",
        t("rounds.from_students", students=digits.student_count()),
        delta_color="off",
        delta_arrow="off",
    )
    b.metric(
        t("rounds.on_ours"),
        accuracy_text(result.accuracy),
        t("rounds.right_of", right=int(np.trace(result.confusion)), total=len(digits)),
        delta_color="off",
        delta_arrow="off",
    )
    b_mnist = mnist_accuracy(loaded)
    c.metric(t("rounds.on_mnist"), accuracy_text(b_mnist), t("rounds.mnist_what"), delta_color="off", delta_arrow="off")
    st.caption(t("rounds.why_differ"))
    confusion_part(digits, result, teacher, token)
    wrong = result.mistakes()[:HARDEST]
    st.subheader(t("rounds.hardest_title"), anchor=False)
    if not len(wrong):
        st.success(t("rounds.none_wrong"))
    else:
        st.caption(t("rounds.hardest_caption"))
        tiles(digits, result, wrong, teacher, token, key="hardest")


# --- the teacher's deletes, export and import -------------------------------------------------------


def imported() -> None:
    """Runs when a file is dropped in: check it, import what is new, say how many."""
    key = f"digits_import_{st.session_state.get('digits_import_n', 0)}"
    file = st.session_state.get(key)
    st.session_state.digits_import_n = st.session_state.get("digits_import_n", 0) + 1  # a new, empty uploader
    if file is None:
        return
    if not is_teacher():  # checked here: a student's browser can still send a file
        said("error", t("class.refused"))
        return
    if file.size > IMPORT_MAX_MB * 2**20:
        said("error", t("rounds.import_refused", error=t("rounds.too_big", mb=IMPORT_MAX_MB)))
        return
    try:
        added, skipped = class_store().import_digits(ClassDigits.from_npz(file.getvalue()))
    except ImportRefused as e:
        said("error", t("rounds.import_refused", error=e))
        return
    said("success", t("rounds.imported", added=added, skipped=skipped))


def manage_part(teacher: bool) -> None:
    """Delete a student's digits, a round's, or all; export the class's digits and import them back."""
    store = class_store()
    with st.container(border=True, key="digits_manage"):
        st.subheader(t("rounds.manage_title"), anchor=False)
        left, right = st.columns(2, gap="large")
        with left:
            students = store.students_with_digits()
            if students:
                picked = st.selectbox(
                    t("rounds.student"),
                    students,
                    format_func=lambda s: t("rounds.student_option", name=s[1], count=s[2]),
                    key="digits_student",
                    disabled=not teacher,
                )
                if teacher_action(st.button(t("rounds.delete_student"), disabled=not teacher, key="delete_student")):
                    said("info", t("rounds.deleted", count=store.delete_student(picked[0])))
                    st.rerun()
            rounds = store.rounds()
            if rounds:
                picked_round = st.selectbox(
                    t("rounds.round"), rounds, format_func=round_title, key="digits_round", disabled=not teacher
                )
                if teacher_action(st.button(t("rounds.delete_round"), disabled=not teacher, key="delete_round")):
                    said("info", t("rounds.deleted", count=store.delete_round(picked_round.id)))
                    st.rerun()
            with st.popover(t("rounds.delete_all"), icon=":material/delete_forever:", disabled=not teacher):
                st.write(t("rounds.delete_all_confirm"))
                if teacher_action(st.button(t("rounds.delete_all_yes"), type="primary", key="delete_all_yes")):
                    said("info", t("rounds.deleted", count=store.delete_digits()))
                    st.rerun()
        with right:
            st.download_button(
                t("rounds.export"),
                data=lambda: class_store().digits(strokes=True).to_npz(),
                file_name=f"class-digits-{time.strftime('%Y%m%d-%H%M')}.npz",
                mime="application/octet-stream",
                on_click="ignore",
                icon=":material/download:",
                disabled=not teacher,
                key="digits_export",
            )
            st.caption(t("rounds.export_how"))
            st.file_uploader(
                t("rounds.import"),
                type=["npz"],
                key=f"digits_import_{st.session_state.get('digits_import_n', 0)}",
                on_change=imported,
                disabled=not teacher,
            )
        teacher_only_note("digits")


def digits_tab() -> None:
    """The Class page's "Our digits": rounds, results, and the teacher's deletes, export, import."""
    teacher = is_teacher()
    say_once()
    st.caption(t("rounds.intro"))
    round_status()
    round_controls(teacher)
    st.divider()
    results_part(teacher)
    if teacher:
        manage_part(teacher)


# --- fool the network ------------------------------------------------------------------------------


def fooling_tile(sent: Sent, teacher: bool, key: str) -> None:
    with st.container(width=tile_width() + 36, border=True, key=key, gap="small"):
        st.image(sent.drawing_png, width="stretch", output_format="PNG")
        st.caption(t("rounds.fooled_caption", digit=sent.label, answer=sent.answer, percent=f"{sent.confidence:.0%}"))
        st.text(sent.name)
        if sent.fool == PENDING:
            row = st.container(horizontal=True, gap="small")
            accept = row.button(t("rounds.accept"), key=f"{key}_accept", disabled=not teacher, type="primary")
            reject = row.button(t("rounds.reject"), key=f"{key}_reject", disabled=not teacher)
            if teacher_action(accept or reject):
                class_store().judge(sent.id, accepted=accept)
                redraw_part()


@st.fragment(run_every=3.0)
def fool_tab() -> None:
    """The fooling drawings: the teacher judges each (is it really readable?); the accepted ones,
    with the network's answer and their student, and a count per student."""
    teacher = is_teacher()
    store = class_store()
    say_once()  # what "Add the accepted ones" said: its st.rerun() comes back to this tab
    st.caption(t("rounds.fool_intro"))
    pending = store.fooling(PENDING)
    if teacher:
        st.subheader(t("rounds.pending_title", count=len(pending)), anchor=False)
        if not pending:
            st.caption(t("rounds.pending_none"))
        with st.container(horizontal=True, gap="small", key="fool_pending"):
            for sent in pending[:30]:
                fooling_tile(sent, teacher, key=f"pending_{sent.id}")
    else:
        st.caption(t("rounds.pending_count", count=len(pending)))
    accepted = store.fooling(ACCEPTED)
    st.subheader(t("rounds.accepted_title", count=len(accepted)), anchor=False)
    if not accepted:
        st.info(t("rounds.accepted_none"))
        return
    counts = store.fooled_counts()
    st.dataframe(
        {t("rounds.col_name"): [n for n, _ in counts], t("rounds.col_fooled"): [c for _, c in counts]},
        hide_index=True,
        width=360,
        key="fool_counts",
    )
    with st.container(horizontal=True, gap="small", key="fool_accepted"):
        for sent in accepted[-60:][::-1]:
            fooling_tile(sent, teacher, key=f"accepted_{sent.id}")
    waiting = sum(not s.in_digits for s in accepted)
    if teacher_action(
        st.button(t("rounds.add_fooled", count=waiting), disabled=not teacher or not waiting, key="add_fooled")
    ):
        added = store.add_fooled_to_digits()
        said("success", t("rounds.added_fooled", count=added))
        st.rerun()
    teacher_only_note("fool")
