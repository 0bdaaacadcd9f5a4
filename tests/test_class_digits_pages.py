"""The Class page's "Our digits" and "Fool the network" tabs, the Draw page's round request and the
Models page's column, with Streamlit's AppTest (no browser; a page test is the teacher). The browser
tests (tests/e2e/test_class_rounds.py) draw, send, export and import with a teacher and two students."""

from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cnn_demo.classroom.rounds import EACH, FOOL
from cnn_demo.classroom.wall import ACCEPTED, REJECTED, ClassStore
from cnn_demo.storage.store import ModelStore
from cnn_demo.training.evaluate import evaluate_arrays

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def store_path(tmp_path, monkeypatch):
    path = tmp_path / "class.sqlite3"
    monkeypatch.setenv("CNN_DEMO_CLASS_DB", str(path))
    monkeypatch.setenv("CNN_DEMO_TRAINING", "thread")
    st.cache_resource.clear()  # a fresh "server": its own class store
    yield path
    st.cache_resource.clear()


def digit_image(digit: int) -> np.ndarray:
    """(28, 28) in [0, 1]: a test image of MNIST, so that the shipped model reads most of them."""
    from cnn_demo.storage.data import load_mnist

    images, labels = load_mnist("test")
    index = int(np.flatnonzero(labels.numpy() == digit)[0])
    return images[index].numpy().astype(np.float32) / 255


def seed_round(path: Path, students: int = 3) -> ClassStore:
    """An "each" round: every student sends each digit, the third student's 3 is a 5 (read wrong)."""
    store = ClassStore(path)
    r = store.start_round(EACH)
    for s in range(students):
        token = f"student-{s:011d}"
        store.rename(token, f"Student {s}")
        while (digit := store.asked(token)[1]) is not None:
            image = digit_image(5 if (s == 2 and digit == 3) else digit)
            probs = np.eye(10, dtype=np.float32)[digit]
            store.send(token, "x", np.zeros((280, 280)), image, probs, "m", round_id=r.id, label=digit)
    return store


def page(name: str, tab: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.switch_page(f"app_pages/{name}.py")
    if tab is not None:
        at.session_state["class_tab"] = tab
    at.run()
    assert not at.exception
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_our_digits_scores_the_active_model_on_the_class_digits(store_path):
    store = seed_round(store_path)
    at = page("class_page", "Our digits")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Our digits"] == "30"
    digits = store.digits()
    expected = evaluate_arrays(ModelStore().active().model, digits.images, digits.labels)
    assert expected.accuracy < 1  # the 5 drawn for a 3 is read wrong
    assert metrics["Accuracy on our digits"] == f"{100 * expected.accuracy:.2f}%"
    assert metrics["Accuracy on MNIST's test set"].endswith("%")
    # The hardest drawings hold the wrong one, with its student's name as plain text
    assert any(text.value == "Student 2" for text in at.text)
    assert any("a 3, read as 5" in c.value for c in at.caption)


def test_the_confusion_cell_opens_its_drawings_and_the_teacher_deletes_one(store_path):
    store = seed_round(store_path)
    at = page("class_page", "Our digits")
    at.selectbox(key="class_true").set_value(3)
    at.selectbox(key="class_predicted").set_value(3).run()
    assert any("of our 3s read right" in m.value for m in at.markdown)
    shown = [b for b in at.button if b.key and b.key.startswith("cell_") and b.key.endswith("_delete")]
    assert len(shown) == 2  # two of the three 3s were 3s
    before = store.digit_count()[0]
    shown[0].click().run()
    assert store.digit_count()[0] == before - 1
    assert any("Deleted: 1 drawings" in s.value for s in at.info) or not at.exception


def test_the_teacher_starts_and_ends_rounds(store_path):
    store = ClassStore(store_path)
    at = page("class_page", "Our digits")
    assert store.current_round() is None
    button(at, "Start: each digit 0–9").click().run()
    assert store.current_round().kind == EACH
    at.selectbox(key="round_digit").set_value(4).run()
    button(at, "Start: draw a 4").click().run()
    current = store.current_round()
    assert (current.kind, current.digit) == ("one", 4)
    assert len([r for r in store.rounds() if r.open]) == 1  # the earlier round ended
    button(at, "End the round").click().run()
    assert store.current_round() is None


def test_the_draw_page_asks_this_student_for_the_round_digit(store_path):
    store = ClassStore(store_path)
    store.start_round(EACH)
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.switch_page("app_pages/draw.py").run()
    assert not at.exception
    token = at.session_state["student_token"]
    _, digit = store.asked(token)
    assert any(f"Now draw a **{digit}**" in m.value for m in at.markdown)


def test_fooling_drawings_are_judged_and_the_accepted_join_the_digits(store_path):
    store = ClassStore(store_path)
    r = store.start_round(FOOL)
    wrong = np.eye(10, dtype=np.float32)[1]  # the network says 1
    ids = [
        store.send(f"student-{s:011d}", f"Fooler {s}", np.zeros((280, 280)), digit_image(7), wrong, "m", r.id, 7).id
        for s in range(2)
    ]
    at = page("class_page", "Fool the network")
    next(b for b in at.button if b.key == f"pending_{ids[0]}_accept").click().run()
    next(b for b in at.button if b.key == f"pending_{ids[1]}_reject").click().run()
    assert [s.fool for s in store.get_many(ids)] == [ACCEPTED, REJECTED]
    assert store.fooled_counts() == [("Fooler 0", 1)]
    assert store.digit_count()[0] == 0
    button(at, "Add the accepted ones to our digits (1)").click().run()
    assert store.digits().ids.tolist() == [ids[0]]


def test_the_models_page_scores_every_model_on_our_digits(store_path):
    seed_round(store_path, students=2)
    at = page("models")
    table = at.table[0].value
    assert "On our 20 digits" in table.columns
    assert table["On our 20 digits"].str.endswith("%").all()


def test_the_class_digits_are_scored_once_each_per_model(store_path):
    """A round adds a few digits at a time: a look at the results scores only those, and its
    figures are the same as scoring them all again."""
    from app_pages.class_digits import Answers

    store = seed_round(store_path, students=2)
    model = ModelStore().active().model
    seen = []
    hook = model.register_forward_hook(lambda module, inputs, output: seen.append(len(inputs[0])))
    try:
        answers = Answers()
        first = answers.evaluation("v1", model, store.digits())
        assert sum(seen) == 20
        r = store.start_round(EACH)
        token = "student-late-000"
        digit = store.asked(token)[1]
        store.send(token, "Late", np.zeros((280, 280)), digit_image(digit), np.eye(10)[digit], "m", r.id, digit)
        seen.clear()
        again = answers.evaluation("v1", model, store.digits())
        assert sum(seen) == 1  # the new digit only
        whole = evaluate_arrays(model, store.digits().images, store.digits().labels)
        assert (again.confusion == whole.confusion).all() and np.allclose(again.confidences, whole.confidences)
        assert again.confusion.sum() == first.confusion.sum() + 1
        seen.clear()
        answers.evaluation("v2", model, store.digits())  # another model version: all scored again
        assert sum(seen) == 21
    finally:
        hook.remove()
