"""The app shell and the Train page, in a real browser."""

import re
import time

import pytest
import torch
from playwright.sync_api import expect

PAGES = {
    "": "How a convolutional neural network sees digits",
    "train": "Train the network",
    "draw": "Draw",
    "inspect": "Inspect",
}


# How many points the live loss chart holds (Plotly keeps its data on the div): the chart by
# its key, not the page's first Plotly figure, and 0 while it is half-way through a redraw.
REDRAW_S = 2.0  # how often the Train page redraws a run's chart and progress (app_pages/train.py, CHART_EVERY_S)
LOSS_POINTS = (
    "() => { const g = document.querySelector('.st-key-loss_chart .js-plotly-plot');"
    " const x = g?._fullData?.[0]?.x; return x ? x.length : 0; }"
)


def set_number(app, label: str, value) -> None:
    box = app.page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    app.wait_idle()


def start_run(app, images: int, epochs: int, batch: int) -> None:
    """A run of the tutorial's recipe, this short."""
    app.goto("train")
    app.page.get_by_text("The tutorial's (Adam 0.0002, 10 epochs)", exact=True).click()
    app.wait_idle()
    set_number(app, "Training images", images)
    set_number(app, "Epochs", epochs)
    set_number(app, "Batch size", batch)
    # A run from an earlier test may still be saving (it measures the test set first).
    expect(app.button("Start training")).to_be_enabled(timeout=60_000)
    app.button("Start training").click()
    # This run's progress, not the last one's ("stopped", "finished") still on the page
    app.page.get_by_text(re.compile(r"epoch \d+/\d+ · step .* · (starting|running)")).wait_for(timeout=30_000)


def progress(app) -> str:
    return app.page.get_by_text(re.compile(r"epoch \d+/\d+ · step")).inner_text()


def step(app) -> int:
    """The step the page shows now: the server's run as of the page's last redraw (every REDRAW_S)."""
    return int(re.search(r"step (\d+)/", progress(app)).group(1))


def wait_until(condition, timeout: float = 60, what: str = "the condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def settled_step(app, window: float = 3 * REDRAW_S, timeout: float = 60) -> int:
    """The step the page shows once it has stopped growing: unchanged over three of the page's
    redraws (a step takes milliseconds)."""
    deadline = time.time() + timeout
    last, since = step(app), time.time()
    while time.time() < deadline:
        time.sleep(0.25)
        now = step(app)
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= window:
            return now
    raise AssertionError(f"the page still showed new steps after {timeout}s: {progress(app)}")


def stop_if_running(app) -> None:
    """Stop the server's run if one is going, and wait until it has been saved."""
    app.wait_idle()
    stop = app.button("Stop")
    if stop.count() and stop.is_enabled():
        stop.click()
        app.page.get_by_text(re.compile("Training stopped|Training finished")).wait_for(timeout=60_000)
        app.wait_idle()


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_loads_clean(app, path):
    app.goto(path)
    assert app.page.get_by_role("heading", name=PAGES[path]).first.is_visible()
    sidebar = app.page.locator("[data-testid='stSidebar']")
    assert "Test accuracy" in sidebar.inner_text()  # the active model is shown on every page


def test_short_run_grows_live_and_ends_with_accuracy(app):
    start_run(app, images=6000, epochs=2, batch=32)  # ~375 steps: several seconds on a laptop
    first = app.page.wait_for_function(
        f"() => {{ const n = ({LOSS_POINTS})(); return n > 0 && n; }}", timeout=30_000
    ).json_value()
    # The chart is redrawn every REDRAW_S while the run trains: it must grow within a few.
    app.page.wait_for_function(f"({LOSS_POINTS})() > {first}", timeout=3 * REDRAW_S * 1000)
    app.page.get_by_text("Training finished.").wait_for(timeout=120_000)
    app.wait_idle()
    accuracy = app.metric("Test accuracy")
    value = float(accuracy.rstrip("%"))
    assert value > 80, f"2 epochs on 6,000 images should pass 80%, got {accuracy}"
    assert app.page.get_by_text(re.compile(r"^epoch 2/2 · step 376/376")).is_visible()
    app.screenshot("train-finished")
    # the finished run can become the active model, shown in the sidebar
    app.button("Use this model").click()
    app.wait_idle()
    expect(app.page.locator("[data-testid='stSidebar']")).to_contain_text(
        re.compile(r"\d{8}-\d{6}-seed"), timeout=20_000
    )


# The test-accuracy points on the live chart: [steps, accuracies in %].
ACCURACY_POINTS = (
    "() => { const g = document.querySelector('.st-key-loss_chart .js-plotly-plot');"
    " const a = g?._fullData?.find(t => t.yaxis === 'y2'); return a ? [[...a.x], [...a.y]] : [[], []]; }"
)


def quick_run(app, device: str = "auto") -> float:
    """The Quick recipe, as a teacher starts it: the page's first choice. Returns the saved accuracy (%)."""
    app.goto("train")
    if device != "auto":
        app.page.get_by_label("Device").click()
        app.page.get_by_role("option", name=device, exact=True).click()
        app.wait_idle()
    app.wait_worker_ready(timeout=120_000)
    expect(app.button("Start training")).to_be_enabled(timeout=60_000)
    app.button("Start training").click()
    # This run on the page, not the last one (its chart and result stay until the next redraw)
    app.page.get_by_text(re.compile(r"epoch 1/1 · step .* · (starting|running)")).wait_for(timeout=30_000)
    # While it trains, test accuracy moves on the chart (the held-out slice), before the epoch ends.
    app.page.wait_for_function(f"({ACCURACY_POINTS})()[0].length > 0", timeout=60_000, polling=100)
    done = app.page.get_by_text(re.compile(r"Training finished\. Test accuracy [\d.]+%"))
    done.wait_for(timeout=180_000)
    return float(re.search(r"Test accuracy ([\d.]+)%", done.inner_text()).group(1))


def test_the_quick_recipe_charts_accuracy_as_it_trains_and_passes_97(app):
    accuracy = quick_run(app)
    steps, accuracies = app.page.evaluate(ACCURACY_POINTS)
    # The slice's points (one every few seconds: none if the epoch is shorter), then the whole test set
    assert steps and steps == sorted(steps) and len(set(steps)) == len(steps), steps
    assert accuracy >= 97, f"the Quick recipe should pass 97%, got {accuracy}%"
    assert accuracies[-1] == pytest.approx(accuracy, abs=0.01)  # the last point is the figure saved


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here (benchmarks/gpu_check.sh runs this on one)")
def test_a_run_on_the_gpu(app):
    accuracy = quick_run(app, device="cuda")
    assert app.metric("Device").startswith("cuda")
    assert accuracy >= 97


def test_stop_ends_the_run_and_keeps_it(app):
    """That Stop stops; how fast is measured by `python -m benchmarks.stop_latency`."""
    start_run(app, images=60000, epochs=3, batch=64)
    app.page.get_by_text(re.compile(r"· running")).wait_for(timeout=60_000)
    wait_until(lambda: step(app) >= 20, what="20 steps on the page")
    app.screenshot("train-running")
    app.button("Stop").click()
    # The worker leaves the loop between two steps, then measures and saves the model.
    app.page.get_by_text(re.compile(r"· (saving|stopped)")).wait_for(timeout=30_000)
    app.page.get_by_text("Training stopped.").wait_for(timeout=60_000)
    app.wait_idle()
    assert step(app) < 3 * 938  # long before the run's end
    assert app.button("Start training").is_enabled()


# Set when the page has shown the "already going" warning, however briefly.
SAW_REFUSAL = """() => {
  window.sawRefusal = false;
  const look = () => { if (document.body.textContent.includes('already going')) window.sawRefusal = true; };
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


RUNNING_LINE = re.compile(r"epoch \d+/3 · step \d+/\d+ · running")


def test_second_browser_sees_the_run_and_cannot_start_another(new_app, server):
    teacher, student = new_app(), new_app()
    for a in (teacher, student):
        a.goto("train")
        set_number(a, "Training images", 60000)
        set_number(a, "Epochs", 3)
        expect(a.button("Start training")).to_be_enabled(timeout=60_000)  # an earlier run has been saved
        a.page.evaluate(SAW_REFUSAL)
    # Both press "Start training" at the same moment, milliseconds apart, long before either
    # page could redraw: both clicks reach the server, and exactly one run may start.
    teacher.button("Start training").click(no_wait_after=True)
    student.button("Start training").click(no_wait_after=True)
    for a in (teacher, student):
        # both watch it live (the last run's "stopped" line can linger a moment while the page redraws)
        a.page.get_by_text(RUNNING_LINE).wait_for(timeout=60_000)
        a.wait_idle()
        expect(a.button("Start training")).to_be_disabled()
    # One run on the server is one training process: a second run would have its own (the same
    # pages would show only the later one). An earlier test's worker may take a moment to exit.
    wait_until(lambda: len(server.training_workers()) == 1, timeout=30, what="exactly one training process")
    time.sleep(2)
    assert len(server.training_workers()) == 1, server.training_workers()
    refused = [a.page.evaluate("window.sawRefusal") for a in (teacher, student)]
    late = new_app()  # a browser opened during the run sees it, and Start is disabled
    late.goto("train")
    assert late.button("Start training").is_disabled()
    assert late.page.get_by_text(RUNNING_LINE).is_visible()
    stop_if_running(teacher)
    # The one training process above is what tells one run from two. The losing click is told
    # "already going" when the server takes it; under load it can instead land in the rerun that
    # picks up the other run, where Start is already disabled and the click does nothing.
    assert refused.count(True) <= 1, refused


def test_a_page_opened_before_the_run_picks_it_up(new_app):
    teacher, student = new_app(), new_app()
    student.goto("train")  # a student's page, open before the teacher starts
    start_run(teacher, images=60000, epochs=3, batch=64)
    student.page.get_by_text(RUNNING_LINE).wait_for(timeout=15_000)
    student.wait_idle()
    expect(student.button("Start training")).to_be_disabled()
    stop_if_running(teacher)


def test_pause_and_resume(app):
    start_run(app, images=60000, epochs=3, batch=64)
    # Pause acts between two steps: wait for the run to be past its first (the training
    # process needs a few seconds to start), then a little more.
    app.page.get_by_text(re.compile(r"· running")).wait_for(timeout=60_000)
    wait_until(lambda: step(app) >= 20, what="20 steps on the page")
    app.button("Pause").click()
    app.page.get_by_text(re.compile(r"· paused")).wait_for(timeout=10_000)
    paused_at = settled_step(app)  # the step in flight when Pause was pressed still ends
    time.sleep(3 * REDRAW_S)  # three redraws, in which a running run takes hundreds of steps
    assert step(app) == paused_at and "· paused" in progress(app)  # nothing trains while paused
    app.button("Resume").click()
    wait_until(lambda: step(app) > paused_at, timeout=30, what="a step after Resume")
    stop_if_running(app)


def test_first_visits_on_a_fresh_server_straight_to_pages_get_the_whole_app(browser, tmp_path):
    """In a real browser: a class arriving at once, each on a different page, gets the whole
    app (the sidebar, app.py's navigation) on the first visit. tests/e2e/test_fresh_server.py
    checks the same at the protocol level, run by run."""
    from harness.browser import App, Server

    fresh = Server(tmp_path / "runs", tmp_path / "fresh.log")
    headings = {"train": "Train the network", "draw": "Draw", "inspect": "Inspect", "models": "Models"}
    try:
        apps = {path: App(fresh, browser) for path in headings}
        for path, app in apps.items():  # all four requests out before any page is drawn
            app.page.goto(f"{fresh.url}/{path}", wait_until="commit")
        for path, app in apps.items():
            app.page.wait_for_selector("[data-testid='stMain'] h1", timeout=60_000)
            app.wait_idle()
            assert app.page.get_by_role("heading", name=headings[path]).first.is_visible()
            nav = app.page.locator("[data-testid='stSidebarNav']").inner_text()
            assert "Draw" in nav and "common" not in nav and "i18n" not in nav, nav
            assert app.metric("Test accuracy") == "99.52%"
            app.check()
            app.close()
    finally:
        fresh.stop()


def test_an_idle_train_page_stops_its_worker_timer_once_the_worker_is_ready(browser, tmp_path):
    """Opened while the training process starts, the page asks every second how it is doing
    (where the process is not ready before the page is drawn); once it is ready, only the 2-s
    watch for another browser's run is left (a class's idle
    browsers would otherwise rerun a fragment each, every second, all lesson)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    from harness.browser import App, Server

    fresh = Server(tmp_path / "runs", tmp_path / "fresh.log")
    reruns: list[str] = []  # the fragment each rerun the page asks for is of ("" for the page)

    def sent(payload) -> None:
        message = BackMsg()
        message.ParseFromString(payload)
        if message.WhichOneof("type") == "rerun_script":
            reruns.append(message.rerun_script.fragment_id)

    try:
        app = App(fresh, browser)
        app.page.on("websocket", lambda ws: ws.on("framesent", sent))
        app.goto("train")
        # The process starts with the server: on a fast machine it is ready before the page is
        # drawn, and the page never asks. Either way, once it is ready only the watch is left.
        app.wait_worker_ready()
        app.page.wait_for_timeout(1500)  # the page's one rerun without the timer
        app.wait_idle()
        before = len(reruns)
        app.page.wait_for_timeout(8000)
        timers = {f: reruns[before:].count(f) for f in set(reruns[before:])}
        assert "" not in timers, timers  # no full rerun of an idle page
        assert len(timers) == 1 and max(timers.values()) <= 5, timers  # watch_for_a_run alone, every 2 s
        app.check()
        app.close()
    finally:
        fresh.stop()


# Each network's smoothed loss in a race, named in the legend: [[name, points], ...].
RACE_LOSSES = (
    "() => { const g = document.querySelector('.st-key-loss_chart .js-plotly-plot');"
    " return (g?._fullData || []).filter(t => t.showlegend && t.yaxis === 'y').map(t => [t.name, t.x.length]); }"
)
LOSS_CHART = "document.querySelector('.st-key-loss_chart .js-plotly-plot')"


def pick_race(app) -> None:
    """Race the tutorial's CNN against the default opponent, the fully connected one."""
    app.page.get_by_text("Race against another network", exact=True).click()
    app.wait_idle()
    expect(app.page.get_by_role("combobox", name="Race against", exact=True)).to_have_value("Fully connected")


def test_a_race_charts_both_networks_live_in_place_and_saves_both(app, server):
    app.goto("train")
    pick_race(app)
    expect(app.page.get_by_text(re.compile(r"fc 155 · 123,235 parameters"))).to_be_visible()
    set_number(app, "Training images", 20000)
    set_number(app, "Batch size", 32)  # 625 steps of each: both curves grow over several redraws, even with AMX
    expect(app.button("Start training")).to_be_enabled(timeout=60_000)
    app.button("Start training").click()
    app.page.get_by_text(re.compile(r"epoch 1/1 · step .* · (starting|running)")).wait_for(timeout=30_000)
    grown = f"() => {{ const l = ({RACE_LOSSES})(); return l.length == 2 && l.every(([n, k]) => k > 0) && l; }}"
    first = app.page.wait_for_function(grown, timeout=60_000).json_value()
    assert [name for name, _ in first] == ["The tutorial's CNN", "Fully connected"]
    app.page.evaluate(f"() => {{ window.__raceChart = {LOSS_CHART}; }}")
    more = (
        f"() => {{ const l = ({RACE_LOSSES})(); return l.length == 2 && l.every(([n, k], i) => k > {first}[i][1]); }}"
    )
    main = app.page.get_by_test_id("stMainBlockContainer")  # the sidebar names the active model's network too
    expect(main.get_by_text("Network: The tutorial's CNN")).to_be_visible()  # fixed while it runs
    app.page.wait_for_function(more, timeout=30_000)  # both curves grew ...
    assert app.page.evaluate(f"() => {LOSS_CHART} === window.__raceChart")  # ... on the chart first drawn
    app.screenshot("train-race-running")
    app.page.get_by_text("Race finished.").wait_for(timeout=300_000)
    app.wait_idle()
    for name in ("The tutorial's CNN", "Fully connected"):
        expect(app.page.get_by_text(re.compile(rf"{name}: test accuracy [\d.]+%\. Saved as"))).to_be_visible()
    assert app.button("Use this model").count() == 2
    # The editor, not drawn while the race ran, comes back as it was: the same race is one click away
    expect(app.page.get_by_role("combobox", name="Race against", exact=True)).to_have_value("Fully connected")
    saved = sorted(p.name for p in server.runs_dir.glob("*.safetensors"))
    assert any(n.endswith("-quick.safetensors") for n in saved), saved
    assert any(n.endswith("-quick-fully_connected.safetensors") for n in saved), saved
    app.goto("models")
    main = app.page.locator("[data-testid='stMain']")
    expect(main).to_contain_text("-quick-fully_connected")


def steady_box(locator) -> dict:
    """The element's box once it stops moving (an expander opening, a run's results appearing
    above it): a click at a box measured mid-move lands on another cell."""
    box = locator.bounding_box()
    for _ in range(20):
        locator.page.wait_for_timeout(150)
        now = locator.bounding_box()
        if now == box:
            return box
        box = now
    return box


def edit_cell(app, row: int, column: int, value, shows: str) -> None:
    """Type a value into a data editor's cell, as a user does: click the first cell, move there
    with the arrow keys, Enter to open the cell's editor, type over it, Enter (the grid is a
    canvas: its cells are not elements, but the editor is an input). Done when the page shows
    `shows`.

    Enter is pressed only once the editor holds the value and the browser has drawn a frame:
    the grid commits the value its editor last rendered, so an Enter at once after the keys
    (as a test types, not a person) commits the old value, which is no edit at all."""
    grid = app.page.locator("[data-testid='stDataFrame']").first
    cell_editor = app.page.locator(".gdg-input").first
    for _ in range(3):
        box = steady_box(grid)  # measured each time: an error shown above it moves the grid
        app.page.mouse.click(
            box["x"] + 70, box["y"] + 35 + 17
        )  # past the row markers, below the header: the first cell
        for key in ["ArrowDown"] * row + ["ArrowRight"] * column + ["Enter"]:
            app.page.wait_for_timeout(100)
            app.page.keyboard.press(key)
        try:
            expect(cell_editor).to_be_focused(timeout=3000)
            cell_editor.fill(str(value))
            expect(cell_editor).to_have_value(str(value))
            app.page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
            app.page.keyboard.press("Enter")
            app.wait_idle()
            expect(app.page.get_by_text(shows).first).to_be_visible(timeout=5000)
            return
        except AssertionError:
            app.page.keyboard.press("Escape")  # close a cell editor left open, then try again
    raise AssertionError(f"the edit did not take: the page never showed {shows!r}")


def test_a_bad_spec_in_the_editor_names_the_stage_and_starts_no_run(app, server):
    app.goto("train")
    app.page.get_by_text("Change the numbers of The tutorial's CNN").click()
    app.wait_idle()
    expect(
        app.page.get_by_text("(28 − 5 + 2·0) / 1 + 1 = 24").first
    ).to_be_visible()  # the shapes, before anything trains
    # conv1 steps 3 pixels: 28 -> 8, conv2 -> 4, pooled to 2
    message = "conv3: a 5×5 kernel does not fit in its 2×2 input with padding 0"
    app.expected_errors = [message]
    edit_cell(app, row=0, column=2, value=3, shows=message)
    expect(app.page.get_by_text(re.compile("This network cannot work: " + re.escape(message)))).to_be_visible()
    before = sorted(server.runs_dir.glob("*.safetensors"))
    app.button("Start training").click()
    app.wait_idle()
    expect(app.page.get_by_text(re.compile("Training did not start: " + re.escape(message)))).to_be_visible()
    assert not app.page.get_by_text(re.compile(r"· (starting|running)")).count()  # no run on the page
    assert sorted(server.runs_dir.glob("*.safetensors")) == before
    app.screenshot("train-bad-spec")
