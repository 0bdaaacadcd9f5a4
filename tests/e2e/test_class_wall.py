"""The wall of the class's drawings in Chromium, with a teacher and two students (three browser
contexts; every address a student until it enters the code): a student's send on the teacher's
wall within 2 s, the spotlight and "Inspect this one", remove and clear, a name typed as HTML
shown as text and kept across a reload, a drawing taken back, and the wall the same after the
server is killed and started again. Screenshots: the Class page on a projector, a student's
Draw page on a phone, in English and Korean (in $E2E_SHOTS, default /tmp/shots)."""

import os
import re
import signal

import numpy as np
import pytest
from playwright.sync_api import expect

from cnn_demo.classroom.wall import ClassStore
from cnn_demo.drawings.drawn import draw_digit
from harness.browser import App, Server
from harness.canvas import draw_strokes, touch_strokes

CODE = "WALL42"
WAIT_MS = 60_000
TILES = ".wall-tile"  # app_pages/wall_tiles.js


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("wall")


def start_server(folder, log_name: str) -> Server:
    mp = pytest.MonkeyPatch()
    mp.setenv("CNN_DEMO_ALL_STUDENTS", "1")
    mp.setenv("CNN_DEMO_TEACHER_CODE", CODE)
    mp.setenv("CNN_DEMO_CLASS_DB", str(folder / "class.sqlite3"))
    try:
        return Server(folder / "runs", folder / log_name)
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def wall_server(folder):
    server = start_server(folder, "server.log")
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def empty_wall(folder):
    """Each test starts with an empty wall, as a new class does (and a retried test as its first
    try did): the server's store, written here as a second process would."""
    store = ClassStore(folder / "class.sqlite3")
    store.clear_wall()  # the spotlight too
    store.close()


@pytest.fixture
def people(wall_server, browser):
    made = []

    def make(viewport=(1400, 1000), touch=False) -> App:
        made.append(App(wall_server, browser, viewport=viewport, touch=touch))
        return made[-1]

    yield make
    try:
        for a in made:
            a.check()
    finally:
        for a in made:
            a.close()


def open_in_sidebar(app: App, page: str) -> None:
    """Go to a page through the sidebar, as a person does: the same session (a reload is a new
    one, and a teacher who entered the code would have to enter it again)."""
    app.page.locator("[data-testid='stSidebarNav'] a", has_text=page).first.click()
    app.page.wait_for_url(re.compile(rf"/{page.lower()}"), timeout=WAIT_MS)
    app.wait_idle()


def draw_and_send(student: App, digit: int, seed: int) -> None:
    """Draw a digit on the Draw page and press "Send to the class"."""
    draw_strokes(student.page, draw_digit(digit, np.random.default_rng(seed)).strokes)
    student.wait_idle()
    student.button("Send to the class").click()


def my_name(student: App) -> str:
    return student.page.get_by_label("Your name on the wall", exact=True).input_value()


def reload(student: App) -> None:
    student.page.reload()
    student.page.get_by_label("Your name on the wall", exact=True).wait_for(timeout=WAIT_MS)
    student.wait_idle()


def tile(teacher: App, name: str):
    return teacher.page.locator(TILES).filter(has=teacher.page.get_by_text(name, exact=True))


def test_sends_the_spotlight_remove_and_clear(people):
    teacher, ann, bob = people(viewport=(1920, 1080)), people(), people()
    teacher.lead_class(CODE)
    assert teacher.page.get_by_text("No drawings yet").count() == 1

    ann.goto("draw")
    ann_name = my_name(ann)
    assert re.fullmatch(r"\S+ \S+", ann_name), ann_name  # an anonymous adjective and animal
    draw_and_send(ann, 7, seed=1)
    # On the teacher's wall without a reload (how soon is benchmarks.class_load's to measure,
    # on a quiet machine: the issue's 2 s is the p95 of 60 students' sends, not a test's timer)
    tile(teacher, ann_name).wait_for(timeout=WAIT_MS)
    ann.page.get_by_text("Sent to the class: it is on the wall").first.wait_for(timeout=WAIT_MS)
    assert ann.page.locator("[class*='st-key-mine_']").count() == 1  # her own sent drawing

    # A name typed as HTML is shown as text, on the wall too, and survives a reload
    bob.goto("draw")
    name_box = bob.page.get_by_label("Your name on the wall", exact=True)
    name_box.fill("<b>Bob</b> **x**")
    name_box.press("Enter")
    bob.page.get_by_text("Name kept: your drawings").first.wait_for(timeout=WAIT_MS)
    draw_and_send(bob, 3, seed=2)
    tile(teacher, "<b>Bob</b> **x**").wait_for(timeout=10_000)
    assert teacher.page.locator(f"{TILES} b, {TILES} strong").count() == 0  # no markup made of it
    reload(bob)
    assert my_name(bob) == "<b>Bob</b> **x**"
    assert "me=" in bob.page.url and bob.page.locator("[class*='st-key-mine_']").count() == 1
    assert teacher.page.locator(TILES).count() == 2
    teacher.screenshot("wall/class_projector_wall_en")

    # The spotlight: large, with the ten probabilities and the 28 x 28 image; Inspect this one
    tile(teacher, ann_name).locator(".wall-spot").click()  # the magnifier
    spot = teacher.page.locator(".st-key-spotlight")
    spot.get_by_text(ann_name, exact=True).wait_for(timeout=WAIT_MS)
    assert spot.locator(".probs .col").count() == 10
    assert spot.locator(".st-key-spotlight_seen img").count() == 1
    teacher.wait_idle()
    teacher.screenshot("wall/class_projector_spotlight_en")
    teacher.button("Inspect this one").click()
    teacher.page.wait_for_url(re.compile(r"/inspect"), timeout=WAIT_MS)
    teacher.wait_for_chart_title("your drawing", timeout=WAIT_MS)
    # the radio may follow the title by a frame: waited for, as Playwright's assertions do
    expect(teacher.page.get_by_role("radio", name="Drawing sent from Draw")).to_be_checked()

    # Remove Bob's tile; he still has it, marked; then clear the wall
    open_in_sidebar(teacher, "Class")
    teacher.wait_idle()
    tile(teacher, "<b>Bob</b> **x**").locator(".wall-remove").click()  # the bin
    tile(teacher, "<b>Bob</b> **x**").wait_for(state="detached", timeout=10_000)
    reload(bob)  # his address keeps ?me=: the same student
    bob.page.get_by_text("Taken off the wall by the teacher.").first.wait_for(timeout=WAIT_MS)
    teacher.page.get_by_role("button", name="Clear the wall").click()
    teacher.page.get_by_role("button", name="Yes, clear the wall").click()
    teacher.page.get_by_text("No drawings yet").wait_for(timeout=10_000)
    assert teacher.page.locator(TILES).count() == 0

    # Ann takes hers back: gone from her page, and from the server's store
    reload(ann)
    ann.button("Take back").click()
    ann.page.get_by_text("Taken back").first.wait_for(timeout=WAIT_MS)
    assert ann.page.locator("[class*='st-key-mine_']").count() == 0


def test_a_student_sees_the_wall_without_the_teachers_controls(people):
    carol, dan = people(), people()
    carol.goto("draw")
    draw_and_send(carol, 5, seed=3)
    carol.page.get_by_text("Sent to the class: it is on the wall").first.wait_for(timeout=WAIT_MS)
    dan.goto("class")
    tile(dan, my_name(carol)).wait_for(timeout=15_000)  # a student's wall looks each 5 s
    assert dan.page.locator(f"{TILES} button").count() == 0
    assert dan.page.get_by_text("Only the teacher puts drawings in the spotlight").count() == 1
    assert dan.page.get_by_role("button", name="Clear the wall").is_disabled()


def test_screenshots_phone_draw_and_projector_class(people):
    """A phone draws with a finger and sends; the teacher's projected wall, the join part folded."""
    phone, teacher = people(viewport=(390, 844), touch=True), people(viewport=(1920, 1080))
    teacher.lead_class(CODE)
    for lang in ("en", "ko"):
        phone.goto(f"draw?lang={lang}")
        touch_strokes(phone.page, draw_digit(6, np.random.default_rng(5)).strokes)
        phone.wait_idle()
        phone.page.locator("[data-testid='stMain']").get_by_role("button", name=SEND[lang]).tap()
        phone.page.locator("[class*='st-key-mine_']").first.wait_for(timeout=WAIT_MS)
        phone.wait_idle()
        phone.screenshot(f"wall/draw_phone_{lang}")
        teacher.page.locator("[data-testid='stSidebar']").get_by_text(LANG[lang], exact=True).click()
        teacher.wait_idle()
        projector = teacher.page.locator("[data-testid='stSidebar']").get_by_text(PROJECTOR[lang])
        projector.click()
        teacher.page.locator("[data-testid='stExpander'] summary").first.click()  # fold the join part away
        teacher.wait_idle()
        teacher.screenshot(f"wall/class_projector_{lang}")
        teacher.page.locator("[data-testid='stExpander'] summary").first.click()
        projector.click()
        teacher.wait_idle()


SEND = {"en": "Send to the class", "ko": "반 친구들에게 보내기"}
LANG = {"en": "English", "ko": "한국어"}
PROJECTOR = {"en": "Projector mode", "ko": "프로젝터 모드"}


def test_the_wall_is_the_same_after_the_server_is_killed(folder, browser):
    """Kill a server (SIGKILL: no clean shutdown) right after a send, start it again on the same
    folder: the wall shows the same drawing. A server of its own: the module's goes on."""
    first = start_server(folder, "killed.log")
    try:
        student = App(first, browser)
        student.goto("draw")
        draw_and_send(student, 2, seed=4)
        student.page.get_by_text("Sent to the class: it is on the wall").first.wait_for(timeout=WAIT_MS)
        name = my_name(student)
        student.close()
    finally:
        os.killpg(first.proc.pid, signal.SIGKILL)
        first.proc.wait()
        first.stop()  # its log closed
    again = start_server(folder, "again.log")
    try:
        viewer = App(again, browser)
        viewer.lead_class(CODE)
        tile(viewer, name).wait_for(timeout=WAIT_MS)
        viewer.check()
        viewer.close()
    finally:
        again.stop()
