"""Rounds, the class's own digits and the challenge to fool the network, in Chromium with a teacher
and two students (three browser contexts on one server; every address a student until it enters
the code). The tests run in order on one class, as a lesson goes:

    a 0-9 round from start to end (each student draws the asked digits with the mouse)
    a late send refused (the round ends between the drawing and the press)
    the results and the confusion matrix's drill-down (wrong ones seeded through the store)
    a student's own view (their digits only, no teacher controls)
    deletes: a student's take-back, the teacher's one, a student's, a round's
    export, delete all, import (twice: nothing added), a bad file refused
    fool the network: two fooling drawings, one accepted, one rejected, the accepted one added

Each step is checked in the server's store (ClassStore on the same SQLite file, as a second process
reads it) and, where the page computes something, against the model scored here in the test."""

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from playwright.sync_api import expect

from cnn_demo.classroom.digits import student_id
from cnn_demo.classroom.wall import ACCEPTED, PENDING, REJECTED, ClassStore
from cnn_demo.drawings.drawn import draw_digit, render
from cnn_demo.drawings.preprocess import canvas_to_mnist
from harness.browser import App, Server
from harness.canvas import draw_strokes, prediction

CODE = "ROUND42"
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("rounds")


@pytest.fixture(scope="module")
def store(folder):
    """The server's store, opened here as a second process would."""
    s = ClassStore(folder / "class.sqlite3")
    yield s
    s.close()


@pytest.fixture(scope="module")
def model():
    """The model the server answers with (a fresh runs folder: the shipped default)."""
    from cnn_demo.storage.checkpoint import DEFAULT, load

    loaded, _ = load(DEFAULT)
    return loaded


@pytest.fixture(scope="module")
def rounds_server(folder, store):
    mp = pytest.MonkeyPatch()
    mp.setenv("CNN_DEMO_ALL_STUDENTS", "1")
    mp.setenv("CNN_DEMO_TEACHER_CODE", CODE)
    mp.setenv("CNN_DEMO_CLASS_DB", str(folder / "class.sqlite3"))
    try:
        server = Server(folder / "runs", folder / "server.log")
    finally:
        mp.undo()
    yield server
    server.stop()


@dataclass
class Student:
    app: App
    token: str  # the ?me= of their address: the same student across page loads

    @property
    def page(self):
        return self.app.page

    def open(self, page: str) -> None:
        self.app.goto(f"{page}?me={self.token}")


@dataclass
class Room:
    teacher: App
    ann: Student
    bob: Student


@pytest.fixture(scope="module")
def room(rounds_server, browser):
    teacher, ann, bob = (App(rounds_server, browser) for _ in range(3))
    teacher.expected_errors.append("Not imported")  # the bad file of the import test
    try:
        teacher.lead_class(CODE)
        students = []
        for app in (ann, bob):
            app.goto("draw")
            students.append(Student(app, parse_qs(urlsplit(app.page.url).query)["me"][0]))
        yield Room(teacher, *students)
        for app in (teacher, ann, bob):
            app.check()
    finally:
        for app in (teacher, ann, bob):
            app.close()


# --- helpers ----------------------------------------------------------------------------------------


def main(app: App):
    return app.page.locator("[data-testid='stMain']")


def press(app: App, label: str, within=None) -> None:
    """A button whose label contains `label` (an icon's name is part of a button's text)."""
    (within or main(app)).get_by_role("button", name=label).click()
    app.wait_idle()


def open_tab(app: App, name: str) -> None:
    app.page.get_by_role("tab", name=name, exact=True).click()
    app.wait_idle()


def pick(app: App, label: str, option: str) -> None:
    """Choose an option of the selectbox with this label (opened again if a rerun closed its list)."""
    box = main(app).get_by_role("combobox", name=label, exact=True)
    for attempt in range(3):
        box.click()
        try:
            app.page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            break
        except Exception:
            if attempt == 2:
                app.screenshot(f"failed/pick_{label}_{option}")
                raise
            app.page.keyboard.press("Escape")
            app.wait_idle()
    app.wait_idle()
    assert box.input_value() == option


def metric(app: App, label: str) -> tuple[str, str]:
    """(value, delta) of the st.metric labelled exactly so."""
    found = app.page.locator("[data-testid='stMetric']").filter(
        has=app.page.locator("[data-testid='stMetricLabel']", has_text=re.compile(rf"^{re.escape(label)}$"))
    )
    found.first.wait_for(timeout=WAIT_MS)
    delta = found.first.locator("[data-testid='stMetricDelta']")
    return found.first.locator("[data-testid='stMetricValue']").inner_text(), (
        delta.inner_text() if delta.count() else ""
    )


def refresh_results(teacher: App) -> None:
    press(teacher, "Refresh")


def keyed_ids(app: App, prefix: str) -> set[int]:
    """The ids of the tiles keyed `<prefix>_<id>` on the page (st-key-<prefix>_<id>)."""
    classes = app.page.locator(f"[class*='st-key-{prefix}_']").evaluate_all("els => els.map(e => e.className)")
    return {int(m.group(1)) for c in classes for m in [re.search(rf"st-key-{prefix}_(\d+)\b", c)] if m}


def asked(student: Student) -> str:
    """The text of the round's request at the top of the Draw page."""
    box = student.page.locator(".st-key-round_request")
    box.wait_for(timeout=WAIT_MS)
    return box.inner_text()


def asked_digit(student: Student) -> int | None:
    found = re.search(r"draw a (\d)\b", asked(student))
    return int(found.group(1)) if found else None


def draw(student: Student, digit: int, seed: int) -> None:
    """Draw a digit with the mouse on the real canvas and wait for the page's answer."""
    draw_strokes(student.page, draw_digit(digit, np.random.default_rng(seed)).strokes)
    student.app.wait_idle()


def click_cell(app: App, true: int, predicted: int) -> None:
    """Click the centre of a cell of the class's confusion matrix, found through Plotly's axes."""
    matrix = app.page.locator("[class*='st-key-class_confusion_'] .js-plotly-plot")  # its key changes after a click
    matrix.wait_for(timeout=WAIT_MS)
    matrix.scroll_into_view_if_needed()
    x, y = matrix.evaluate(
        "(g, [t, p]) => { const l = g._fullLayout, r = g.getBoundingClientRect();"
        " return [r.left + l.xaxis._offset + l.xaxis.d2p(p), r.top + l.yaxis._offset + l.yaxis.d2p(t)]; }",
        [true, predicted],
    )
    app.page.mouse.move(x, y)
    app.page.wait_for_timeout(200)
    app.page.mouse.click(x, y)
    app.wait_idle()


def selected_cell(app: App) -> tuple[int, int]:
    """The cell the selectboxes show now."""
    pair = [
        main(app).get_by_role("combobox", name=label, exact=True).input_value()
        for label in ("True digit", "Predicted digit")
    ]
    return int(pair[0]), int(pair[1])


def scored(store: ClassStore, model, token: str | None = None):
    """The class's digits and the model on them, computed here as the page does."""
    from cnn_demo.training.evaluate import evaluate_arrays

    digits = store.digits(token=token)
    return digits, evaluate_arrays(model, digits.images, digits.labels)


def pick_cell(app: App, true: int, predicted: int) -> None:
    pick(app, "True digit", str(true))
    pick(app, "Predicted digit", str(predicted))


# --- the tests, in the order of a lesson ---------------------------------------------------------


def test_a_round_of_each_digit_from_start_to_end(room, store):
    teacher = room.teacher
    open_tab(teacher, "Our digits")
    teacher.page.get_by_text("No round is open").wait_for(timeout=WAIT_MS)
    press(teacher, "Start: each digit 0–9")
    teacher.page.locator(".st-key-round_status").get_by_text("0 drawings from 0 students").wait_for(timeout=WAIT_MS)
    the_round = store.current_round()
    assert the_round is not None and the_round.kind == "each"

    for student in (room.ann, room.bob):
        student.open("draw")
        assert f"Round {the_round.id}" in asked(student)
    seed = 100
    for turn in range(10):
        for student in (room.ann, room.bob):
            digit = asked_digit(student)
            assert digit is not None, asked(student)
            draw(student, digit, seed := seed + 1)
            press(student.app, f"Send my {digit}")
            student.page.get_by_text(re.compile(rf"^Sent as a {digit}; the model read \d")).first.wait_for(
                timeout=WAIT_MS
            )
            if turn < 9:
                assert f"{turn + 1} of 10 sent" in asked(student)
            # a fresh canvas for the next digit: no answer until something is drawn
            assert student.page.locator(".st-key-seen img").count() == 0
    for student in (room.ann, room.bob):
        assert "you have sent every digit this round asks for" in asked(student)
        assert main(student.app).get_by_role("button", name=re.compile(r"^Send my")).count() == 0

    teacher.page.locator(".st-key-round_status").get_by_text("20 drawings from 2 students").wait_for(timeout=10_000)
    refresh_results(teacher)
    assert metric(teacher, "Our digits") == ("20", "from 2 students")
    press(teacher, "End the round")
    teacher.page.get_by_text("No round is open").wait_for(timeout=WAIT_MS)
    assert store.current_round() is None and not store.round(the_round.id).open

    # In the store: each student each digit once, labelled as asked, in the order each was asked
    for student in (room.ann, room.bob):
        sent = sorted(store.mine(student.token, limit=50), key=lambda s: s.id)
        assert [s.round_id for s in sent] == [the_round.id] * 10
        assert [s.label for s in sent] == the_round.order(student.token)
        assert all(s.in_digits and s.student for s in sent)
    digits = store.digits()
    assert len(digits) == 20 and digits.student_count() == 2
    assert sorted(digits.labels.tolist()) == sorted(list(range(10)) * 2)


def test_a_late_send_is_refused(room, store):
    """A student draws the asked 7; the round ends (through the store, at once: before the page's
    poll, every 4 s, notices); the student presses Send: "not kept", and nothing is kept."""
    ann, teacher = room.ann, room.teacher
    press(teacher, "Start: draw a 7")
    for attempt in range(3):
        the_round = store.current_round()
        assert the_round is not None and the_round.kind == "one" and the_round.digit == 7
        ann.open("draw")
        assert asked_digit(ann) == 7
        draw(ann, 7, seed=200 + attempt)
        send = main(ann.app).get_by_role("button", name="Send my 7")
        send.wait_for(timeout=WAIT_MS)
        rows_before = len(store.mine(ann.token, limit=1000))
        store.end_round()
        try:
            send.click(timeout=2_000)
        except Exception:  # the page's poll noticed the end first (rare): a new round, again
            store.start_round("one", 7)
            continue
        ann.app.wait_idle()
        ann.page.get_by_text("The round has ended or moved on: this drawing was not kept.").first.wait_for(
            timeout=WAIT_MS
        )
        break
    else:
        pytest.fail("three tries, and the page noticed the round's end before each press")
    assert store.round_progress(the_round.id) == (0, 0)  # nothing kept in the round
    assert len(store.mine(ann.token, limit=1000)) == rows_before  # nor anywhere else
    # The page now shows no round, and a plain "Send to the class"
    ann.open("draw")
    assert ann.page.locator(".st-key-round_request").count() == 0
    assert store.current_round() is None


def seed_wrong(store: ClassStore, model) -> tuple[int, list[int]]:
    """Three drawings of a 1 sent in a "draw a 7" round by a third student, through the store: the
    model reads them 1, so the class's digits have mistakes for certain. (round id, their ids)."""
    from cnn_demo.inside.predict import predict_proba

    the_round = store.start_round("one", 7)
    ids = []
    for i in range(3):
        d = draw_digit(1, np.random.default_rng(300 + i))
        image28 = canvas_to_mnist(render(d.strokes, d.brush))
        probs = predict_proba(model, image28)
        assert probs.argmax() == 1
        token = f"seeded-student-{i:02d}-xxxxxx"
        ink = image28  # the drawing as kept: any picture of it will do
        ids.append(store.send(token, f"Seeded {i}", ink, image28, probs, "tutorial", the_round.id, 7).id)
    store.end_round()
    return the_round.id, ids


def test_results_and_the_confusion_drill_down(room, store, model):
    teacher = room.teacher
    _, seeded = seed_wrong(store, model)
    refresh_results(teacher)
    digits, result = scored(store, model)
    assert len(digits) == 23
    assert metric(teacher, "Our digits") == ("23", "from 5 students")
    right = int(np.trace(result.confusion))
    assert metric(teacher, "Accuracy on our digits")[1] == f"{right} of 23 read right"
    assert metric(teacher, "Accuracy on MNIST's test set")[0].endswith("%")

    # A click on the cell (7 read as 1) opens its drawings: the three seeded, and any other
    click_cell(teacher, 7, 1)
    assert selected_cell(teacher) == (7, 1)
    cell = set(digits.ids[result.cell(7, 1)].tolist())
    assert set(seeded) <= cell
    main(teacher).get_by_text(f"{len(cell)} of our 7s read as 1").wait_for(timeout=WAIT_MS)
    assert keyed_ids(teacher, "cell") == cell
    for sent_id in seeded:
        tile = teacher.page.locator(f".st-key-cell_{sent_id}")
        assert "a 7, read as 1" in tile.inner_text()
        assert tile.get_by_role("button", name="Delete").count() == 1  # the teacher's

    # The selectboxes pick a cell too: a diagonal one, the 3s read right
    pick_cell(teacher, 3, 3)
    threes = set(digits.ids[result.cell(3, 3)].tolist())
    main(teacher).get_by_text(f"{len(threes)} of our 3s read right").wait_for(timeout=WAIT_MS)
    assert keyed_ids(teacher, "cell") == threes

    # The hardest drawings: the mistakes, most sure first, the seeded ones among them
    hardest = digits.ids[result.mistakes()[:12]].tolist()
    assert set(seeded) <= set(hardest)
    main(teacher).get_by_text("The hardest drawings").wait_for(timeout=WAIT_MS)
    assert keyed_ids(teacher, "hardest") == set(hardest)


def test_a_students_own_view(room, store, model):
    ann = room.ann
    ann.open("class")
    open_tab(ann.app, "Our digits")
    main(ann.app).get_by_text("The model on your digits").wait_for(timeout=WAIT_MS)
    assert metric(ann.app, "Our digits") == ("10", "from 1 students")
    digits, result = scored(store, model, token=ann.token)
    assert metric(ann.app, "Accuracy on our digits")[1] == f"{int(np.trace(result.confusion))} of 10 read right"
    for label in ("Start: each digit 0–9", "Start: draw a 7", "Start: fool the network", "End the round"):
        assert main(ann.app).get_by_role("button", name=label).is_disabled(), label
    assert ann.page.locator(".st-key-digits_manage").count() == 0
    # Her drawings only, each hers to take back, none to delete
    true, predicted = int(digits.labels[0]), int(result.predictions[0])
    pick_cell(ann.app, true, predicted)
    shown = keyed_ids(ann.app, "cell")
    assert shown == set(digits.ids[result.cell(true, predicted)].tolist()) and shown
    assert all(store.get(i).token == ann.token for i in shown)
    assert main(ann.app).get_by_role("button", name="Take back").count() == len(shown)
    assert main(ann.app).get_by_role("button", name="Delete").count() == 0


def test_deletes_by_a_student_and_by_the_teacher(room, store, model):
    ann, bob, teacher = room.ann, room.bob, room.teacher
    # Ann takes one of hers back, on her Class page (the cell picked in the test before)
    digits, result = scored(store, model, token=ann.token)
    gone = int(digits.ids[0])
    ann.page.locator(f".st-key-cell_{gone}").get_by_role("button", name="Take back").click()
    ann.app.wait_idle()
    ann.page.get_by_text("Taken back").first.wait_for(timeout=WAIT_MS)
    assert metric(ann.app, "Our digits") == ("9", "from 1 students")
    assert store.get(gone) is None
    assert len(store.digits(token=ann.token)) == 9 and len(store.digits(token=bob.token)) == 10

    # The teacher deletes one of Bob's drawings from its cell
    refresh_results(teacher)
    digits, result = scored(store, model, token=bob.token)
    one = int(digits.ids[0])
    pick_cell(teacher, int(digits.labels[0]), int(result.predictions[0]))
    press(teacher, "Delete", within=teacher.page.locator(f".st-key-cell_{one}"))
    main(teacher).get_by_text("Deleted: 1 drawings.").wait_for(timeout=WAIT_MS)
    assert store.get(one) is None and len(store.digits(token=bob.token)) == 9

    # A student's digits: Ann's, all of them
    manage = teacher.page.locator(".st-key-digits_manage")
    ann_student = student_id(ann.token)
    ann_name, count = next((n, c) for s, n, c in store.students_with_digits() if s == ann_student)
    assert count == 9
    pick(teacher, "A student's digits", f"{ann_name} ({count})")
    press(teacher, "Delete this student's digits", within=manage)
    main(teacher).get_by_text("Deleted: 9 drawings.").wait_for(timeout=WAIT_MS)
    assert len(store.digits(token=ann.token)) == 0 and len(store.digits(student=ann_student)) == 0
    assert len(store.digits(token=bob.token)) == 9

    # A round's: the seeded "draw a 7" round
    seeded_round = next(r for r in store.rounds() if r.kind == "one" and store.round_progress(r.id)[0])
    pick(teacher, "A round's drawings", f"Round {seeded_round.id}: the digit 7")
    press(teacher, "Delete this round's drawings", within=manage)
    main(teacher).get_by_text("Deleted: 3 drawings.").wait_for(timeout=WAIT_MS)
    assert store.round_progress(seeded_round.id) == (0, 0)
    assert store.digit_count() == (9, 1)  # Bob's nine are left
    assert metric(teacher, "Our digits") == ("9", "from 1 students")


def test_export_delete_all_and_import(room, store, tmp_path):
    teacher = room.teacher
    kept = store.digits()
    assert len(kept) == 9
    with teacher.page.expect_download(timeout=WAIT_MS) as info:
        main(teacher).get_by_role("button", name="Export the class's digits (.npz)").click()
    exported = tmp_path / info.value.suggested_filename
    info.value.save_as(exported)
    assert exported.suffix == ".npz"
    with np.load(exported, allow_pickle=False) as npz:  # as a notebook reads it
        x, y = npz["x_class"], npz["y_class"]
    assert x.dtype == np.uint8 and x.shape == (9, 28, 28)
    assert np.array_equal(x, kept.images) and np.array_equal(y, kept.labels)

    # Delete all, behind its question
    press(teacher, "Delete all the class's digits")
    press(teacher, "Yes, delete them all", within=teacher.page)  # the popover is outside stMain
    main(teacher).get_by_text("Deleted: 9 drawings.").wait_for(timeout=WAIT_MS)
    assert store.digit_count() == (0, 0)
    main(teacher).get_by_text("No digits yet").wait_for(timeout=WAIT_MS)

    def upload(path) -> None:
        uploader = main(teacher).locator("[data-testid='stFileUploader']").filter(has_text="Import digits")
        uploader.locator("input[type='file']").set_input_files(str(path))
        teacher.wait_idle()

    upload(exported)
    main(teacher).get_by_text("Imported 9 digits (0 were already here).").wait_for(timeout=WAIT_MS)
    back = store.digits()
    assert np.array_equal(back.images, kept.images) and np.array_equal(back.labels, kept.labels)
    assert np.array_equal(back.sent_at, kept.sent_at) and back.student_count() == 1

    upload(exported)  # the same file again: nothing twice
    main(teacher).get_by_text("Imported 0 digits (9 were already here).").wait_for(timeout=WAIT_MS)
    assert store.digit_count() == (9, 1)

    bad = tmp_path / "not-digits.npz"
    bad.write_text("x,y\n1,2\n")  # a text file renamed
    upload(bad)
    refused = main(teacher).locator("[data-testid='stAlertContentError']").filter(has_text="Not imported")
    refused.wait_for(timeout=WAIT_MS)
    assert "not an .npz file of digits" in refused.inner_text() and "Nothing was changed" in refused.inner_text()
    assert store.digit_count() == (9, 1)
    assert np.array_equal(store.digits().images, kept.images)


def fool_send(student: Student, digit: int, said: int, seed: int) -> None:
    """Draw `digit`, say it is `said`, and send: the network reads `digit`, so it is fooled."""
    student.open("draw")
    assert "fool the network" in asked(student)
    draw(student, digit, seed)
    assert prediction(student.app)[0] == digit
    send = main(student.app).get_by_role("button", name=re.compile(r"^Pick your digit"))
    assert send.is_disabled()  # the digit said comes first
    student.page.locator(".st-key-fool_label").get_by_role("radio", name=str(said), exact=True).click()
    student.app.wait_idle()
    press(student.app, f"Send my {said}")
    student.page.get_by_text(f"Sent: the network read {digit}, not {said}. You fooled it!").first.wait_for(
        timeout=WAIT_MS
    )


def test_fool_the_network(room, store):
    teacher, bob = room.teacher, room.bob
    open_tab(teacher, "Our digits")  # where the rounds start, whichever tab the last test left open
    press(teacher, "Start: fool the network")
    the_round = store.current_round()
    assert the_round is not None and the_round.kind == "fool"
    digits_before = store.digit_count()[0]

    fool_send(bob, 1, 7, seed=400)
    fool_send(bob, 0, 6, seed=401)
    first, second = [sent for sent in store.fooling(PENDING) if sent.round_id == the_round.id]
    assert (first.label, first.answer, second.label, second.answer) == (7, 1, 6, 0)
    assert first.round_id == second.round_id == the_round.id and not first.in_digits

    open_tab(teacher, "Fool the network")
    pending = teacher.page.locator(f".st-key-pending_{first.id}")
    pending.wait_for(timeout=10_000)  # the tab looks every 3 s
    teacher.page.locator(f".st-key-pending_{second.id}").wait_for(timeout=10_000)
    press(teacher, "Accept", within=pending)
    teacher.page.locator(f".st-key-accepted_{first.id}").wait_for(timeout=WAIT_MS)
    press(teacher, "Reject", within=teacher.page.locator(f".st-key-pending_{second.id}"))
    teacher.page.locator(f".st-key-pending_{second.id}").wait_for(state="detached", timeout=WAIT_MS)
    assert store.get(first.id).fool == ACCEPTED and store.get(second.id).fool == REJECTED

    # The accepted one, with the network's answer and its student; the rejected one nowhere
    accepted = teacher.page.locator(f".st-key-accepted_{first.id}")
    assert "a 7, read as 1" in accepted.inner_text()
    assert accepted.get_by_text(first.name, exact=True).count() == 1
    assert teacher.page.locator(f"[class*='st-key-accepted_{second.id}']").count() == 0
    main(teacher).get_by_text("They fooled the network (1)").wait_for(timeout=WAIT_MS)
    assert store.fooled_counts() == [(first.name, 1)]
    # The count per student (glide-data-grid draws it on a canvas, and writes its cells' text for
    # screen readers a frame or more later, so the text is waited for): "Name", "Fooled it", the rows
    table = main(teacher).locator("[data-testid='stDataFrame']")
    assert table.count() == 1
    expect(table).to_have_text(f"NameFooled it{first.name}1", timeout=WAIT_MS)

    press(teacher, "Add the accepted ones to our digits (1)")
    main(teacher).get_by_role("button", name="Add the accepted ones to our digits (0)").wait_for(timeout=WAIT_MS)
    assert store.digit_count()[0] == digits_before + 1
    assert store.get(first.id).in_digits and not store.get(second.id).in_digits
    assert main(teacher).get_by_role("button", name="Add the accepted ones to our digits (0)").is_disabled()
    store.end_round()
