"""The class's rounds and its own digits (cnn_demo/classroom/rounds.py, digits.py and the rounds
part of wall.py): what a round asks each student, what a send in it keeps or refuses, the digits
as arrays, deletes, export and import, the held-out students, the fool round, and a store made
before rounds opened by this code. A store in tmp_path; no Streamlit, no MNIST."""

import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import zipfile

import numpy as np
import pytest

from cnn_demo.classroom.digits import ClassDigits, ImportRefused, held_out_students, student_id
from cnn_demo.classroom.rounds import EACH, FOOL, ONE, RoundClosed
from cnn_demo.classroom.wall import ACCEPTED, PENDING, REJECTED, ClassStore

ANN, BOB, CHO = "ann-aaaaaaaaaaaaaa", "bob-bbbbbbbbbbbbbb", "cho-cccccccccccccc"
NAMES = {ANN: "Ann", BOB: "Bob", CHO: "Cho"}


def an_image(seed: int) -> np.ndarray:
    """(28, 28) float32 in [0, 1], as the model sees a drawing."""
    return np.random.default_rng(seed).random((28, 28)).astype(np.float32)


def answering(digit: int) -> np.ndarray:
    """(10,) probabilities whose answer is digit."""
    probs = np.full(10, 0.01, np.float32)
    probs[digit] = 0.91
    return probs


def send(store, token, label=None, round_id=None, answer=0, seed=0, strokes=None):
    ink = np.zeros((28, 28), np.float32)  # a small canvas: the tile's PNG is not what is tested here
    return store.send(
        token,
        NAMES.get(token, "Someone"),
        ink,
        an_image(seed),
        answering(answer),
        "tutorial",
        round_id=round_id,
        label=label,
        strokes=strokes,
    )


def draw_all_asked(store, token, seed=0) -> list:
    """A student draws what the open round asks until it asks nothing more; their sends."""
    sends = []
    while True:
        open_round, digit = store.asked(token)
        if digit is None:
            return sends
        sends.append(send(store, token, digit, open_round.id, answer=digit, seed=seed + len(sends)))


@pytest.fixture
def store(tmp_path):
    s = ClassStore(tmp_path / "class.sqlite3")
    yield s
    s.close()


# --- rounds -------------------------------------------------------------------------------------


def test_an_each_round_asks_every_digit_once_in_each_students_own_order(store, tmp_path):
    assert store.asked(ANN) == (None, None)  # no round: nothing asked
    each = store.start_round(EACH)
    assert store.current_round() == each and each.open and each.kind == EACH
    first_three = [send(store, ANN, store.asked(ANN)[1], each.id, seed=i) for i in range(3)]
    # A reload (or the server started again) asks the same next digit
    again = ClassStore(tmp_path / "class.sqlite3")
    assert again.asked(ANN) == store.asked(ANN)
    again.close()
    ann = [s.label for s in first_three + draw_all_asked(store, ANN)]
    bob = [s.label for s in draw_all_asked(store, BOB)]
    assert sorted(ann) == sorted(bob) == list(range(10))
    assert ann != bob  # an order of their own
    assert ann == each.order(ANN) and bob == each.order(BOB)
    assert store.asked(ANN) == (each, None) and store.asked(BOB) == (each, None)
    assert store.round_progress(each.id) == (20, 2)
    # A new round asks again, in a new order
    second = store.start_round(EACH)
    assert second.id != each.id and not store.round(each.id).open  # the open one ended
    assert second.order(ANN) != each.order(ANN) and store.asked(ANN)[1] == second.order(ANN)[0]


def test_a_send_not_asked_now_or_after_the_round_ended_is_refused_and_nothing_is_kept(store):
    each = store.start_round(EACH)
    _, asked = store.asked(ANN)
    version = store.version()
    for wrong in [d for d in range(10) if d != asked]:
        with pytest.raises(RoundClosed):
            send(store, ANN, wrong, each.id)
    assert store.mine(ANN) == [] and store.name(ANN) is None and store.version() == version
    kept = send(store, ANN, asked, each.id)
    assert kept.label == asked and kept.round_id == each.id and kept.in_digits
    with pytest.raises(RoundClosed):  # twice the same digit: no longer asked
        send(store, ANN, asked, each.id)
    with pytest.raises(ValueError):  # a send in a round needs its digit
        send(store, ANN, None, each.id)
    with pytest.raises(RoundClosed):  # a round that never was
        send(store, ANN, 0, each.id + 100)
    ended = store.end_round()
    assert ended.id == each.id and not ended.open and store.current_round() is None
    assert store.asked(ANN) == (None, None) and store.end_round() is None
    late = each.next_digit(ANN, [asked])  # what it would have asked next
    with pytest.raises(RoundClosed):
        send(store, ANN, late, each.id)
    assert [s.id for s in store.mine(ANN)] == [kept.id] and store.round_progress(each.id) == (1, 1)


def test_a_one_round_asks_one_digit(store):
    seven = store.start_round(ONE, 7)
    assert seven.digit == 7 and store.asked(ANN) == (seven, 7)
    with pytest.raises(RoundClosed):
        send(store, ANN, 3, seven.id)
    assert send(store, ANN, 7, seven.id).label == 7
    assert store.asked(ANN) == (seven, None) and store.asked(BOB) == (seven, 7)
    with pytest.raises(RoundClosed):
        send(store, ANN, 7, seven.id)
    for kind, digit in [(ONE, None), (ONE, 10), (ONE, -1), ("all", None)]:
        with pytest.raises(ValueError):
            store.start_round(kind, digit)
    assert store.current_round() == seven  # a refused start leaves the open round open


def test_a_fool_round_keeps_the_students_label_and_the_teacher_judges(store):
    fool = store.start_round(FOOL)
    assert store.asked(ANN) == (fool, None)  # the student says which digit they drew
    read = send(store, ANN, 3, fool.id, answer=3)  # the network read it: not fooling
    assert read.label == 3 and read.fool is None and not read.in_digits and read.right
    fooled = send(store, ANN, 3, fool.id, answer=8)  # as many tries as they like
    assert fooled.label == 3 and fooled.answer == 8 and fooled.fool == PENDING and not fooled.right
    bob_1 = send(store, BOB, 5, fool.id, answer=6, seed=1)
    bob_2 = send(store, BOB, 1, fool.id, answer=7, seed=2)
    bob_3 = send(store, BOB, 4, fool.id, answer=9, seed=3)
    assert [s.id for s in store.fooling(PENDING)] == [fooled.id, bob_1.id, bob_2.id, bob_3.id]
    assert store.judge(fooled.id, accepted=True) and store.judge(bob_1.id, True) and store.judge(bob_2.id, True)
    assert store.judge(bob_3.id, accepted=False)
    assert not store.judge(read.id, accepted=True)  # not a fooling drawing: nothing to judge
    assert store.get(read.id).fool is None
    assert [s.id for s in store.fooling(ACCEPTED)] == [fooled.id, bob_1.id, bob_2.id]
    assert [s.id for s in store.fooling(REJECTED)] == [bob_3.id] and store.fooling(PENDING) == []
    assert len(store.fooling()) == 4
    assert store.fooled_counts() == [("Bob", 2), ("Ann", 1)]
    assert len(store.digits()) == 0  # a fool round's sends are not the class's digits until added
    assert store.add_fooled_to_digits() == 3 and store.add_fooled_to_digits() == 0
    digits = store.digits()
    assert digits.ids.tolist() == [fooled.id, bob_1.id, bob_2.id]
    assert digits.labels.tolist() == [3, 5, 1] and digits.answers.tolist() == [8, 6, 7]
    assert store.get(read.id).in_digits is False and store.get(bob_3.id).in_digits is False


# --- the class's digits -------------------------------------------------------------------------


def test_the_digits_are_the_arrays_of_what_was_sent(store):
    clock = iter(range(1000, 2000))
    store.clock = lambda: float(next(clock))
    send(store, CHO, seed=99)  # a send outside rounds: on the wall, not a labelled digit
    each = store.start_round(EACH)
    sent = []
    for n, token in enumerate([ANN, BOB, ANN, BOB, ANN]):
        _, digit = store.asked(token)
        sent.append(send(store, token, digit, each.id, answer=(digit + n) % 10, seed=n, strokes=f'{{"n": {n}}}'))
    digits = store.digits()
    assert len(digits) == 5 and digits.ids.tolist() == [s.id for s in sent]
    expected = np.stack([(an_image(n) * 255).round().astype(np.uint8) for n in range(5)])
    assert digits.images.dtype == np.uint8 and digits.images.shape == (5, 28, 28)
    assert np.array_equal(digits.images, expected)
    assert digits.labels.tolist() == [s.label for s in sent]
    assert digits.answers.tolist() == [(s.label + n) % 10 for n, s in enumerate(sent)]
    assert digits.students.tolist() == [student_id(s.token) for s in sent]
    assert ANN not in digits.students.tolist()  # the token itself never leaves the store
    assert digits.names.tolist() == ["Ann", "Bob", "Ann", "Bob", "Ann"]
    assert digits.rounds.tolist() == [each.id] * 5 and digits.models.tolist() == ["tutorial"] * 5
    assert digits.strokes == [""] * 5  # the strokes are read only when asked (an export)
    assert store.digits(strokes=True).strokes == [f'{{"n": {n}}}' for n in range(5)]
    assert digits.sent_at.tolist() == [s.sent_at for s in sent]
    assert store.digit_count() == (5, 2) and digits.student_count() == 2
    assert store.digits(token=ANN).ids.tolist() == [sent[0].id, sent[2].id, sent[4].id]
    assert store.digits(student=student_id(BOB)).ids.tolist() == [sent[1].id, sent[3].id]
    assert store.students_with_digits() == [(student_id(ANN), "Ann", 3), (student_id(BOB), "Bob", 2)]
    wanted = [sent[3].id, 10_000, sent[0].id]  # in that order; an id not there is left out
    assert [s.id for s in store.get_many(wanted)] == [sent[3].id, sent[0].id] and store.get_many([]) == []


def test_an_empty_store_has_no_digits(store):
    digits = store.digits()
    assert len(digits) == 0 and digits.images.shape == (0, 28, 28) and store.digit_count() == (0, 0)
    learn, held = digits.split()
    assert len(learn) == len(held) == 0
    assert len(ClassDigits.from_npz(digits.to_npz())) == 0


def test_the_teacher_deletes_one_a_students_a_rounds_or_all_and_a_student_only_their_own(store):
    first = store.start_round(EACH)
    ann = [send(store, ANN, store.asked(ANN)[1], first.id, seed=i) for i in range(3)]
    bob = [send(store, BOB, store.asked(BOB)[1], first.id, seed=i) for i in range(3)]
    second = store.start_round(ONE, 4)
    cho = send(store, CHO, 4, second.id)
    ann_4 = send(store, ANN, 4, second.id)
    fool = store.start_round(FOOL)
    fooling = send(store, BOB, 2, fool.id, answer=5)
    on_wall = send(store, CHO, seed=9)  # outside rounds
    assert store.digit_count() == (8, 3)

    assert not store.take_back(BOB, ann[0].id)  # not Bob's to take
    assert store.get(ann[0].id) is not None
    assert store.take_back(ANN, ann[0].id) and store.get(ann[0].id) is None
    assert store.delete(ann[1].id) and not store.delete(ann[1].id)
    assert store.delete_student(student_id(BOB)) == 3 and store.get_many(s.id for s in bob) == []
    assert store.digits().ids.tolist() == [ann[2].id, cho.id, ann_4.id]
    assert store.get(fooling.id) is not None  # a fooling drawing is not (yet) a labelled digit
    assert store.delete_round(second.id) == 2
    assert store.digits().ids.tolist() == [ann[2].id]
    assert store.delete_digits() == 2  # Ann's last digit and Bob's fooling drawing
    assert len(store.digits()) == 0 and store.fooling() == []
    assert [s.id for s in store.wall()] == [on_wall.id]  # an unlabelled send stays on the wall


# --- export and import --------------------------------------------------------------------------


def a_class(store, students=(ANN, BOB, CHO)):
    each = store.start_round(EACH)
    for n, token in enumerate(students):
        for i in range(4):
            digit = store.asked(token)[1]
            send(
                store, token, digit, each.id, answer=(digit + i) % 10, seed=10 * n + i, strokes=f'{{"s": "{token}{i}"}}'
            )
    store.end_round()
    return store.digits(strokes=True)


def test_export_and_import_round_trip(tmp_path, store):
    exported = a_class(store)
    data = exported.to_npz()
    with np.load(io.BytesIO(data)) as npz:  # a notebook reads it in one line, without pickles
        assert np.array_equal(npz["x_class"], exported.images) and npz["y_class"].tolist() == exported.labels.tolist()
    back = ClassDigits.from_npz(data)
    for key in ("images", "labels", "students", "names", "rounds", "sent_at", "answers", "probs", "models"):
        assert np.array_equal(getattr(back, key), getattr(exported, key)), key
    assert np.array_equal(exported.probs[0], answering(exported.answers[0]))  # the ten, not only the answer
    assert back.strokes == exported.strokes

    other = ClassStore(tmp_path / "other.sqlite3")
    assert other.import_digits(back) == (12, 0)
    assert other.import_digits(ClassDigits.from_npz(data)) == (0, 12)  # the second import adds nothing
    mine = other.digits(strokes=True)
    assert np.array_equal(mine.images, exported.images) and np.array_equal(mine.labels, exported.labels)
    assert np.array_equal(mine.students, exported.students) and mine.strokes == exported.strokes
    assert np.array_equal(mine.answers, exported.answers) and mine.names.tolist() == exported.names.tolist()
    assert np.array_equal(mine.probs, exported.probs)  # how sure it was, as well as what it said
    assert other.digit_count() == (12, 3) and other.wall() == []  # imported digits are not on the wall
    tokens = {row[0] for row in other._read("SELECT DISTINCT token FROM drawings")}
    assert len(tokens) == 3 and not tokens & {ANN, BOB, CHO}
    assert not any(s in t for t in tokens for s in exported.students.tolist())  # not derived from the file
    third = ClassStore(tmp_path / "third.sqlite3")
    third.import_digits(back)
    assert not tokens & {row[0] for row in third._read("SELECT DISTINCT token FROM drawings")}  # random each time
    # Back into the store it came from: nothing twice
    assert store.import_digits(back) == (0, 12) and store.digit_count() == (12, 3)
    other.close()
    third.close()


def test_a_plain_npz_of_images_and_labels_is_imported(store):
    out = io.BytesIO()
    x = np.random.default_rng(0).random((3, 28, 28)).astype(np.float32)  # floats 0-1, as a notebook has them
    np.savez(out, x_class=x, y_class=np.array([1, 2, 3]))
    digits = ClassDigits.from_npz(out.getvalue())
    assert digits.images.dtype == np.uint8 and np.array_equal(digits.images, (x * 255).round().astype(np.uint8))
    assert digits.labels.tolist() == [1, 2, 3] and digits.strokes == ["", "", ""]
    assert np.isnan(digits.probs).all() and digits.answers.tolist() == [-1, -1, -1]  # not known
    assert store.import_digits(digits) == (3, 0) and store.digits().labels.tolist() == [1, 2, 3]


def test_a_file_with_answers_but_no_probabilities_keeps_the_answers(store):
    """An export from before the probabilities were in it: each answer, as a sure one."""
    answers = np.array([7, -1])
    digits = ClassDigits.from_npz(npz(x_class=X, y_class=Y, answers=answers))
    assert store.import_digits(digits) == (2, 0)
    probs = store.digits().probs
    assert probs[0].tolist() == [0.0] * 7 + [1.0] + [0.0] * 2 and probs[1].tolist() == [0.0] * 10


def npz(**arrays) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def a_zip_of_texts() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("x_class", "not an array")
        z.writestr("y_class", "nor this")
    return out.getvalue()


def an_npy() -> bytes:
    out = io.BytesIO()
    np.save(out, np.zeros((2, 28, 28), np.uint8))
    return out.getvalue()


X, Y = np.zeros((2, 28, 28), np.uint8), np.array([3, 4])
REFUSED = {
    "not a zip": (b"%PDF-1.4 not digits at all", "npz"),
    "empty": (b"", "npz"),
    "an .npy, not an .npz": (an_npy(), "npz"),
    "a zip of texts": (a_zip_of_texts(), "npz"),
    "pickled objects": (npz(x_class=np.array([{}], dtype=object), y_class=np.array([1])), "npz"),
    "a pickled extra column": (npz(x_class=X, y_class=Y, names=np.array([{}, {}], dtype=object)), "npz"),
    "no y_class": (npz(x_class=X), "y_class"),
    "no x_class": (npz(y_class=Y), "x_class"),
    "27 pixels wide": (npz(x_class=np.zeros((2, 28, 27), np.uint8), y_class=Y), "28 × 28"),
    "flat images": (npz(x_class=np.zeros((2, 784), np.uint8), y_class=Y), "28 × 28"),
    "a label too few": (npz(x_class=X, y_class=np.array([3])), "one label per image"),
    "a 10": (npz(x_class=X, y_class=np.array([3, 10])), "0 to 9"),
    "a -1": (npz(x_class=X, y_class=np.array([-1, 3])), "0 to 9"),
    "float labels": (npz(x_class=X, y_class=np.array([3.0, 4.0])), "0 to 9"),
    "floats over 1": (npz(x_class=np.full((2, 28, 28), 255.0), y_class=Y), "0-1"),
    "negative floats": (npz(x_class=np.full((2, 28, 28), -0.5), y_class=Y), "0-1"),
    "NaN floats": (npz(x_class=np.full((2, 28, 28), np.nan), y_class=Y), "0-1"),
    "int64 images": (npz(x_class=np.zeros((2, 28, 28), np.int64), y_class=Y), "uint8"),
    "a column too short": (npz(x_class=X, y_class=Y, students=np.array(["a"])), "students"),
    "probs of 9": (npz(x_class=X, y_class=Y, probs=np.full((2, 9), 1 / 9)), "ten probabilities"),
    "probs as ints": (npz(x_class=X, y_class=Y, probs=np.eye(10, dtype=np.int64)[:2]), "ten probabilities"),
    "probs over 1": (npz(x_class=X, y_class=Y, probs=np.eye(10)[:2] * 2), "from 0 to 1"),
    "probs not adding up": (npz(x_class=X, y_class=Y, probs=np.full((2, 10), 0.2)), "adding up to 1"),
    "a NaN among probs": (npz(x_class=X, y_class=Y, probs=np.array([[np.nan] + [0.1] * 9] * 2)), "from 0 to 1"),
    "strokes not JSON": (npz(x_class=X, y_class=Y, strokes_json=np.frombuffer(b"{nope", np.uint8)), "strokes"),
    "strokes not one a digit": (
        npz(x_class=X, y_class=Y, strokes_json=np.frombuffer(b'["only one"]', np.uint8)),
        "strokes",
    ),
}


@pytest.mark.parametrize("why", list(REFUSED))
def test_a_file_that_is_not_the_class_digits_is_refused_with_a_reason(why, store):
    data, says = REFUSED[why]
    with pytest.raises(ImportRefused, match=says):
        ClassDigits.from_npz(data)
    assert store.digit_count() == (0, 0)


# --- held out by student ------------------------------------------------------------------------


def many_students(n: int) -> list[str]:
    return [student_id(f"student-{i:04d}") for i in range(n)]


def test_a_students_digits_are_all_held_out_or_none(store):
    digits = a_class(store, [f"student-{i:012d}" for i in range(8)])
    held = digits.held_out()
    for student in set(digits.students.tolist()):
        mine = held[digits.students == student]
        assert mine.all() or not mine.any()
    learn, out = digits.split()
    assert len(learn) + len(out) == len(digits) and len(out) > 0 and len(learn) > 0
    assert not set(learn.students.tolist()) & set(out.students.tolist())
    assert set(out.ids.tolist()) == set(digits.ids[held].tolist())


def test_about_one_student_in_five_is_held_out():
    students = many_students(300)
    held = held_out_students(students * 3)  # a student's several digits count once
    assert 0.12 <= len(held) / 300 <= 0.28 and held <= set(students)


def test_a_held_out_student_stays_held_out_as_the_class_grows():
    students = many_students(300)
    before = held_out_students(students[:10])
    for n in range(11, 301):
        now = held_out_students(students[:n])
        assert now & set(students[: n - 1]) == before  # nobody moves: not in, not out
        before = now


def test_two_students_or_more_hold_one_out_and_one_holds_none():
    assert held_out_students([]) == set()
    assert held_out_students(["only-one"] * 20) == set()
    one = ClassDigits(images=np.zeros((3, 28, 28), np.uint8), labels=np.array([1, 2, 3]), students=np.array(["a"] * 3))
    assert not one.held_out().any()
    for n in range(2, 12):
        students = many_students(n)
        held = held_out_students(students)
        assert 0 < len(held) < n, n


# --- a store made before rounds -----------------------------------------------------------------

# wall.py's SCHEMA before rounds (git show HEAD:cnn_demo/classroom/wall.py, before issue 21)
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS students (
    token TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    since REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS drawings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT NOT NULL REFERENCES students(token),
    name TEXT NOT NULL,          -- the name at the time of the send
    sent_at REAL NOT NULL,
    drawing BLOB NOT NULL,       -- PNG, grey, DRAWING_SIDE a side, ink white
    image28 BLOB NOT NULL,       -- 784 bytes, uint8: what the model saw
    probs BLOB NOT NULL,         -- 10 float32: the model's answer
    model TEXT NOT NULL,
    on_wall INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS drawings_by_student ON drawings(token, id);
CREATE TABLE IF NOT EXISTS wall (
    key TEXT PRIMARY KEY,
    value INTEGER
);
"""


def test_a_store_made_before_rounds_keeps_its_wall_and_takes_rounds(tmp_path):
    path = tmp_path / "class.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(OLD_SCHEMA)
    pixels = (an_image(5) * 255).round().astype(np.uint8)
    with old:
        old.execute("INSERT INTO students(token, name, since) VALUES (?, ?, ?)", (ANN, "Ann", 1.0))
        old.execute(
            "INSERT INTO drawings(token, name, sent_at, drawing, image28, probs, model) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ANN, "Ann", 2.0, b"png", pixels.tobytes(), answering(6).tobytes(), "tutorial"),
        )
        old.execute("INSERT INTO wall(key, value) VALUES ('version', 7)")
    old.close()

    store = ClassStore(path)
    [before] = store.wall()
    assert (before.name, before.answer, before.model, before.sent_at) == ("Ann", 6, "tutorial", 2.0)
    assert np.array_equal((before.image28 * 255).round().astype(np.uint8), pixels)
    assert before.label is None and before.round_id is None and before.fool is None and not before.in_digits
    assert before.student == student_id(ANN) and len(store.digits()) == 0
    each = store.start_round(EACH)
    sent = send(store, ANN, store.asked(ANN)[1], each.id)
    assert store.digits().ids.tolist() == [sent.id] and [s.id for s in store.wall()] == [sent.id]
    store.close()
    again = ClassStore(path)  # opened a second time: nothing to add, nothing lost
    assert [s.id for s in again.mine(ANN)] == [sent.id, before.id] and again.current_round() == each
    again.close()


# --- a server killed during a round -------------------------------------------------------------

SENDER = """
import sys
import numpy as np
from cnn_demo.classroom.wall import ClassStore

store = ClassStore(sys.argv[1])
each = store.current_round() or store.start_round("each")
ink, image28 = np.zeros((28, 28), np.float32), np.full((28, 28), 0.5, np.float32)
for i in range(100_000):
    token = f"student-{i:012d}"
    while True:
        _, digit = store.asked(token)
        if digit is None:
            break
        sent = store.send(token, f"S{i}", ink, image28, np.eye(10, dtype=np.float32)[digit], "m",
                          round_id=each.id, label=digit)
        print(sent.id, digit, token, flush=True)
"""


def test_every_send_acknowledged_before_the_server_is_killed_is_kept_once(tmp_path):
    path = tmp_path / "class.sqlite3"
    sender = subprocess.Popen(
        [sys.executable, "-c", SENDER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    watchdog = threading.Timer(60, sender.kill)  # a sender that hangs fails the test, not the suite
    watchdog.start()
    acknowledged = {}
    try:
        while len(acknowledged) < 30:
            line = sender.stdout.readline()
            assert line, f"the sender stopped: {sender.stderr.read()}"
            sent_id, digit, token = line.split()
            acknowledged[int(sent_id)] = (token, int(digit))
        sender.send_signal(signal.SIGKILL)  # mid-send, most likely: no clean-up
        sender.wait(timeout=10)
    finally:
        watchdog.cancel()
        sender.kill()
        sender.stdout.close()
        sender.stderr.close()
    assert sender.returncode == -signal.SIGKILL

    store = ClassStore(path)
    kept = {s.id: (s.token, s.label) for s in store.get_many(acknowledged)}
    assert kept == acknowledged  # every acknowledged send, with its student and label
    twice = store._read(
        "SELECT token, round_id, label, COUNT(*) FROM drawings GROUP BY token, round_id, label HAVING COUNT(*) > 1"
    )
    assert twice == []
    assert store.digit_count()[0] >= 30
    # The class goes on where it stopped: each student is asked what they have not drawn
    each = store.current_round()
    token = acknowledged[max(acknowledged)][0]
    done = store.digits(token=token).labels.tolist()
    assert store.asked(token) == (each, each.next_digit(token, done))
    store.close()
