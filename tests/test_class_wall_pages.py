"""The wall's pages with Streamlit's AppTest (no browser; a page test is the teacher): names shown
as text, the teacher's spotlight, remove and clear on the Class page, and the Draw page's name box
and a student's own drawings. The browser tests (tests/e2e/test_class_wall.py) draw and send."""

from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cnn_demo.classroom.wall import ClassStore

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def store_path(tmp_path, monkeypatch):
    path = tmp_path / "class.sqlite3"
    monkeypatch.setenv("CNN_DEMO_CLASS_DB", str(path))
    monkeypatch.setenv("CNN_DEMO_TRAINING", "thread")
    st.cache_resource.clear()  # a fresh "server": its own class store
    yield path
    st.cache_resource.clear()


def seed(path, names) -> list[int]:
    store = ClassStore(path)
    ids = [
        store.send(f"student-{i:011d}", name, np.ones((280, 280)), np.zeros((28, 28)), np.eye(10)[i], "m").id
        for i, name in enumerate(names)
    ]
    store.close()
    return ids


def class_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/class_page.py").run()
    assert not at.exception
    return at


def button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def test_the_wall_shows_names_as_text_and_the_answers(store_path):
    seed(store_path, ["<b>Ann</b>", "**Bob** :red[x]"])
    at = class_page()
    assert [x.value for x in at.text][-2:] == ["<b>Ann</b>", "**Bob** :red[x]"]  # st.text: no Markdown, no HTML
    assert not any("Ann" in m.value or "Bob" in m.value for m in at.markdown)
    assert {c.value for c in at.caption} >= {"0 · 100% sure", "1 · 100% sure"}


def test_the_teachers_spotlight_remove_and_clear(store_path):
    first, second = seed(store_path, ["Ann", "Bob"])
    at = class_page()
    button(at, f"spot_{first}").click().run()
    store = ClassStore(store_path)
    assert store.spotlit_id() == first
    assert "Ann" in [x.value for x in at.text]  # the spotlight's name, large
    button(at, f"remove_{second}").click().run()
    assert [s.id for s in store.wall()] == [first]
    button(at, "clear_yes").click().run()
    assert store.wall() == [] and store.spotlit() is None
    assert any("No drawings yet" in i.value for i in at.info)


def test_the_draw_page_keeps_a_name_and_refuses_an_empty_one(store_path):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/draw.py").run()
    token = at.query_params["me"][0] if isinstance(at.query_params["me"], list) else at.query_params["me"]
    box = next(b for b in at.text_input if b.key == "my_name_input")
    assert len(box.value.split()) >= 2  # an anonymous adjective and animal (Korean names may be one word each)
    box.set_value("  Zoë   the great  ").run()
    assert ClassStore(store_path).name(token) == "Zoë the great"
    assert next(b for b in at.text_input if b.key == "my_name_input").value == "Zoë the great"
    next(b for b in at.text_input if b.key == "my_name_input").set_value("   ").run()
    assert any("at least one letter" in w.value for w in at.warning)
    assert ClassStore(store_path).name(token) == "Zoë the great"  # the empty name kept nothing


def test_the_draw_page_lists_a_students_own_drawings_to_take_back(store_path):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/draw.py").run()
    token = at.query_params["me"][0] if isinstance(at.query_params["me"], list) else at.query_params["me"]
    store = ClassStore(store_path)
    sent = store.send(token, "Ann", np.ones((280, 280)), np.zeros((28, 28)), np.eye(10)[4], "m")
    at.run()
    button(at, f"take_back_{sent.id}").click().run()
    assert store.mine(token) == [] and store.wall() == []
    assert any("Taken back" in i.value for i in at.info)
