"""The Train page's "Fine-tune on our digits", in Chromium: with too few of the class's digits it
says how many are needed and Start starts nothing; with enough, the run charts two accuracies
live (MNIST's test set, the held-out digits) and ends with both, before and after.

The class's digits are sent through the class store in a 0-9 round, as the Draw page sends them
(ClassStore.send with the round and the digit asked), by students made here: each draws with
the project's generator (cnn_demo.drawings.drawn), a hand of its own."""

import re

import numpy as np
import pytest
from playwright.sync_api import expect

from cnn_demo.classroom.wall import ClassStore
from cnn_demo.drawings.drawn import draw_digit
from cnn_demo.drawings.preprocess import canvas_to_mnist, to_ink
from harness.browser import App, Server

RECIPE = "Fine-tune on our digits"
# The accuracy series on the live chart (those on the right axis): {name: [steps, accuracies in %]}
ACCURACY_SERIES = (
    "() => { const g = document.querySelector('.st-key-loss_chart .js-plotly-plot');"
    " const out = {}; for (const t of (g?._fullData || [])) if (t.yaxis === 'y2') out[t.name] = [[...t.x], [...t.y]];"
    " return out; }"
)
MNIST_LINE, HELD_OUT_LINE = "MNIST test accuracy %", "our held-out digits %"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("finetune")


@pytest.fixture(scope="module")
def store(folder):
    s = ClassStore(folder / "class.sqlite3")
    yield s
    s.close()


@pytest.fixture(scope="module")
def class_server(folder, store):
    mp = pytest.MonkeyPatch()
    mp.setenv("CNN_DEMO_CLASS_DB", str(folder / "class.sqlite3"))
    try:
        server = Server(folder / "runs", folder / "server.log")
    finally:
        mp.undo()
    yield server
    server.stop()


@pytest.fixture
def teacher(class_server, browser):
    a = App(class_server, browser)  # this machine's own browser: the teacher
    yield a
    try:
        a.check()
    finally:
        a.close()


def send_round(store: ClassStore, students: range, each: int = 10) -> None:
    """A 0-9 round: each student sends the digits the round asks of them, `each` in all."""
    open_round = store.start_round("each")
    for s in students:
        token = f"finetune-student-{s:04d}"
        for k in range(each):
            asked_round, digit = store.asked(token)
            assert asked_round.id == open_round.id and digit is not None
            drawing = draw_digit(digit, np.random.default_rng([s, k]))
            image28 = canvas_to_mnist(drawing.canvas)
            store.send(
                token, f"Student {s}", to_ink(drawing.canvas), image28, np.eye(10)[digit], "default",
                round_id=open_round.id, label=digit,
            )  # fmt: skip
    store.end_round()


def choose_recipe(app: App) -> None:
    app.goto("train")
    app.page.get_by_text(RECIPE, exact=True).click()
    app.wait_idle()


def test_too_few_digits_says_how_many_are_needed_and_starts_nothing(teacher, store):
    send_round(store, range(3))  # 30 digits from 3 students
    assert store.digit_count() == (30, 3)
    choose_recipe(teacher)
    expect(
        teacher.page.get_by_text(re.compile(r"needs at least 50 of the class's digits: there are 30\. 20 more"))
    ).to_be_visible()
    expect(teacher.button("Start training")).to_be_disabled()
    assert not teacher.page.locator(".st-key-loss_chart").count()  # no run on this server


def test_a_fine_tune_charts_both_accuracies_live_and_ends_with_before_and_after(teacher, store):
    send_round(store, range(3, 6))  # 30 more, from 3 more students: 60 from 6
    assert store.digit_count() == (60, 6)
    choose_recipe(teacher)
    page = teacher.page
    expect(page.get_by_text(re.compile(r"The class's digits: 60, from 6 students"))).to_be_visible()
    teacher.wait_worker_ready(timeout=180_000)
    expect(teacher.button("Start training")).to_be_enabled(timeout=60_000)
    teacher.button("Start training").click()
    # While it trains: both series on the chart, each from step 0 (the model before)
    live = page.wait_for_function(
        f"() => {{ const s = ({ACCURACY_SERIES})(); const running = /· (starting|running)/.test(document.body.innerText);"
        f" return running && s['{MNIST_LINE}'] && s['{HELD_OUT_LINE}'] && s; }}",
        timeout=60_000,
    ).json_value()
    assert live[MNIST_LINE][0][0] == 0 and live[HELD_OUT_LINE][0][0] == 0
    assert 90 < live[MNIST_LINE][1][0] <= 100  # the shipped model before: 99.52% of MNIST's test set
    page.get_by_text("Training finished.").wait_for(timeout=180_000)
    teacher.wait_idle()
    # The result: before and after, for both
    table = page.locator("table").filter(has_text="before").last
    expect(table).to_contain_text("after")
    expect(table).to_contain_text("MNIST's test set")
    expect(table).to_contain_text(re.compile(r"our held-out digits \(\d+, from \d+ student"))
    rows = table.locator("tbody tr")
    assert rows.count() == 2
    for i in range(2):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert all(re.fullmatch(r"\d+\.\d\d%", c.strip()) for c in cells[1:]), cells
    # The chart ends with more than the "before" point on each series
    final = page.evaluate(ACCURACY_SERIES)
    assert len(final[MNIST_LINE][0]) >= 2 and len(final[HELD_OUT_LINE][0]) >= 2
    assert final[HELD_OUT_LINE][0][-1] > 0
    teacher.screenshot("finetune-finished")
