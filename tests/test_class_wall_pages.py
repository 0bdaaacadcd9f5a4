"""The wall's pages with Streamlit's AppTest (no browser; a page test is the teacher): names shown
as text, the teacher's spotlight, remove and clear on the Class page, and the Draw page's name box
and a student's own drawings. The browser tests (tests/e2e/test_class_wall.py) draw and send."""

import json
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app_pages.wall_tiles import Action, parse_action
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


def wall_data(at: AppTest) -> dict:
    """What the wall's element (app_pages/wall_tiles.py) was given to draw."""
    element = next(e for e in at.get("bidi_component") if e.proto.component_name == "cnn_demo.wall_tiles")
    return json.loads(element.proto.json)


def test_the_wall_gives_names_as_they_were_typed_and_the_answers(store_path):
    """The names go to the element as the students typed them (it sets them as text, never as
    HTML: tests/e2e/test_class_wall.py); no Markdown or HTML element of the page holds them."""
    seed(store_path, ["<b>Ann</b>", "**Bob** :red[x]"])
    data = wall_data(class_page())
    assert [tile["name"] for tile in data["tiles"]] == ["<b>Ann</b>", "**Bob** :red[x]"]
    assert [tile["answer"] for tile in data["tiles"]] == ["0 · 100% sure", "1 · 100% sure"]
    assert all(tile["src"].startswith("data:image/png;base64,") for tile in data["tiles"])
    assert data["teacher"] is True  # a page test is this machine's browser: the teacher


def test_the_spotlight_shows_the_name_as_text_and_clear_empties_the_wall(store_path):
    first, _ = seed(store_path, ["**Ann**", "Bob"])
    store = ClassStore(store_path)
    store.spotlight(first)  # as the magnifier does (pressed in a browser: tests/e2e/test_class_wall.py)
    at = class_page()
    assert "**Ann**" in [x.value for x in at.text]  # the spotlight's name, large, as st.text
    assert not any("Ann" in m.value for m in at.markdown)
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


def test_a_tile_button_press_is_read_only_when_well_formed():
    assert parse_action({"kind": "spot", "id": 3}) == Action("spot", 3)
    assert parse_action({"kind": "remove", "id": 12}) == Action("remove", 12)
    for forged in (None, "spot", [], {"kind": "delete_all", "id": 1}, {"kind": "spot"}, {"kind": "spot", "id": "1"},
                   {"kind": "spot", "id": True}, {"kind": "remove", "id": 1.5}):  # fmt: skip
        assert parse_action(forged) is None, forged
