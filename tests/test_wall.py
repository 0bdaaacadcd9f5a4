"""The class store (cnn_demo/classroom/wall.py): what students send is kept on disk when the send
returns, every student's latest drawing is on the wall, and only its student takes it back."""

import io
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from cnn_demo.classroom.wall import DRAWING_SIDE, NAME_MAX, BadName, ClassStore, anonymous_name, clean_name

ADJECTIVES = ["Blue", "Red", "Green", "Quiet"]
ANIMALS = ["Otter", "Fox", "Owl"]


def a_drawing(seed: int):
    """(280, 280) ink, (28, 28) image and (10,) probabilities, as the Draw page has them."""
    rng = np.random.default_rng(seed)
    ink = np.zeros((280, 280), np.float32)
    ink[60:220, 120 + seed % 40 : 160 + seed % 40] = 1.0
    image28 = rng.random((28, 28)).astype(np.float32)
    probs = rng.dirichlet(np.ones(10)).astype(np.float32)
    return ink, image28, probs


def send(store, token, seed=0, name="Ann"):
    return store.send(token, name, *a_drawing(seed), model="tutorial")


@pytest.fixture
def store(tmp_path):
    s = ClassStore(tmp_path / "class.sqlite3")
    yield s
    s.close()


def test_a_send_is_kept_as_sent(store):
    ink, image28, probs = a_drawing(3)
    sent = store.send("token-aaaaaaaaaaaa", "Ann", ink, image28, probs, model="tutorial")
    assert sent.name == "Ann" and sent.on_wall and sent.model == "tutorial"
    assert np.array_equal(sent.probs, probs) and sent.answer == int(probs.argmax())
    assert np.abs(sent.image28 - image28).max() <= 0.5 / 255 + 1e-6  # kept as 8-bit pixels
    picture = Image.open(io.BytesIO(sent.drawing_png))
    assert picture.size == (DRAWING_SIDE, DRAWING_SIDE) and picture.mode == "L"
    assert np.asarray(picture).max() > 200 and np.asarray(picture).min() == 0  # the stroke, white on black


def test_the_wall_shows_each_students_latest_in_the_order_they_came(store):
    clock = iter(range(100))
    store.clock = lambda: float(next(clock))
    send(store, "ann-aaaaaaaaaaaaaa", 1)
    bob = send(store, "bob-bbbbbbbbbbbbbb", 2, name="Bob")
    latest_ann = send(store, "ann-aaaaaaaaaaaaaa", 3)
    wall = store.wall()
    assert [s.id for s in wall] == [latest_ann.id, bob.id] and [s.name for s in wall] == ["Ann", "Bob"]
    assert len(store.mine("ann-aaaaaaaaaaaaaa")) == 2


def test_the_wall_survives_the_store_closed_and_opened(tmp_path):
    path = tmp_path / "class.sqlite3"
    first = ClassStore(path)
    sent = send(first, "ann-aaaaaaaaaaaaaa", 1)
    first.spotlight(sent.id)
    first.close()
    again = ClassStore(path)
    assert [s.id for s in again.wall()] == [sent.id] and again.spotlit().id == sent.id


def test_a_send_acknowledged_survives_the_process_killed(tmp_path):
    """The server killed (SIGKILL, no clean-up) right after a send returned: the send is on disk."""
    path = tmp_path / "class.sqlite3"
    script = (
        "import os, signal, numpy as np\n"
        "from cnn_demo.classroom.wall import ClassStore\n"
        f"store = ClassStore({str(path)!r})\n"
        "for i in range(5):\n"
        "    store.send(f'student-{i:012d}', f'S{i}', np.ones((280, 280)), np.zeros((28, 28)), np.eye(10)[i], 'm')\n"
        "print('sent', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "sent" and done.returncode == -9, done.stderr
    wall = ClassStore(path).wall()
    assert sorted(s.name for s in wall) == [f"S{i}" for i in range(5)]
    assert sorted(s.answer for s in wall) == list(range(5))


def test_only_its_student_takes_a_drawing_back(store):
    sent = send(store, "ann-aaaaaaaaaaaaaa", 1)
    assert not store.take_back("bob-bbbbbbbbbbbbbb", sent.id)  # not Bob's
    assert [s.id for s in store.wall()] == [sent.id]
    assert store.take_back("ann-aaaaaaaaaaaaaa", sent.id)
    assert store.wall() == [] and store.mine("ann-aaaaaaaaaaaaaa") == [] and store.get(sent.id) is None


def test_removed_goes_off_the_wall_but_its_student_keeps_it(store):
    older = send(store, "ann-aaaaaaaaaaaaaa", 1)
    rude = send(store, "ann-aaaaaaaaaaaaaa", 2)
    store.spotlight(rude.id)
    store.remove(rude.id)
    assert [s.id for s in store.wall()] == [older.id]  # her earlier drawing is her latest on the wall now
    assert store.spotlit() is None  # off the wall: out of the spotlight too
    assert [(s.id, s.on_wall) for s in store.mine("ann-aaaaaaaaaaaaaa")] == [(rude.id, False), (older.id, True)]


def test_clear_empties_the_wall_and_new_sends_come_back(store):
    sent = send(store, "ann-aaaaaaaaaaaaaa", 1)
    send(store, "bob-bbbbbbbbbbbbbb", 2)
    store.spotlight(sent.id)
    store.clear_wall()
    assert store.wall() == [] and store.spotlit_id() is None
    assert len(store.mine("ann-aaaaaaaaaaaaaa")) == 1
    again = send(store, "bob-bbbbbbbbbbbbbb", 3)
    assert [s.id for s in store.wall()] == [again.id]


def test_a_new_name_follows_the_students_drawings(store):
    send(store, "ann-aaaaaaaaaaaaaa", 1, name="Blue Otter")
    assert store.name("ann-aaaaaaaaaaaaaa") == "Blue Otter"
    assert store.rename("ann-aaaaaaaaaaaaaa", "  Ann \n K. ") == "Ann K."
    assert [s.name for s in store.wall()] == ["Ann K."]
    send(store, "ann-aaaaaaaaaaaaaa", 2, name="ignored: the kept name wins")
    assert [s.name for s in store.mine("ann-aaaaaaaaaaaaaa")] == ["Ann K.", "Ann K."]
    assert store.name("nobody-xxxxxxxxxxx") is None


def test_names_are_cleaned_and_bounded():
    assert clean_name("<b>Ann</b>") == "<b>Ann</b>"  # kept as typed: the pages show it as text
    assert clean_name("a\x00b\u200bc\td") == "a b c d"  # no control or invisible characters
    assert len(clean_name("x" * 50)) == NAME_MAX
    assert clean_name("수달 " * 10) == ("수달 " * 10)[:NAME_MAX].strip()
    for empty in ["", "   ", "\n\t", "\u200b"]:
        with pytest.raises(BadName):
            clean_name(empty)


def test_anonymous_names_are_stable_and_varied():
    tokens = [f"token-{i:012d}" for i in range(60)]
    names = [anonymous_name(tk, ADJECTIVES, ANIMALS) for tk in tokens]
    assert names == [anonymous_name(tk, ADJECTIVES, ANIMALS) for tk in tokens]  # a reload keeps it
    assert len(set(names)) == len(ADJECTIVES) * len(ANIMALS)  # 60 students use every pair of 12
    assert all(n.split()[0] in ADJECTIVES and n.split()[1] in ANIMALS for n in names)
    assert anonymous_name("t" * 16, ["파란"], ["수달"], "{adjective} {animal}") == "파란 수달"


def test_every_write_changes_the_version(store):
    versions = [store.version()]
    sent = send(store, "ann-aaaaaaaaaaaaaa", 1)
    versions.append(store.version())
    store.spotlight(sent.id)
    versions.append(store.version())
    store.remove(sent.id)
    versions.append(store.version())
    assert len(set(versions)) == 4 and versions == sorted(versions)


def test_sends_from_many_threads_are_all_kept(store):
    """Every browser session runs on a thread of its own: 8 students sending 15 each at once."""
    errors = []

    def student(i):
        try:
            for j in range(15):
                send(store, f"student-{i:010d}", seed=j)
        except Exception as e:  # any failure fails the test below
            errors.append(e)

    threads = [threading.Thread(target=student, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(store.wall()) == 8
    assert all(len(store.mine(f"student-{i:010d}", limit=100)) == 15 for i in range(8))


def test_a_malformed_send_is_refused_and_nothing_is_kept(store):
    ink, image28, probs = a_drawing(1)
    with pytest.raises(ValueError):
        store.send("ann-aaaaaaaaaaaaaa", "Ann", ink, image28[:10], probs, "m")
    with pytest.raises(ValueError):
        store.send("ann-aaaaaaaaaaaaaa", "Ann", ink, image28, probs[:3], "m")
    assert store.wall() == [] and store.name("ann-aaaaaaaaaaaaaa") is None
