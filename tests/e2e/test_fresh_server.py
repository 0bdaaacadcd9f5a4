"""A class arriving at a freshly started server: every first run draws the whole page, and a
teacher's first Start trains at once, measured or not.

Spoken at the protocol level (harness/websocket.py), as several browsers open their first
websocket at once: each session's very first script run must be the real page, routed by
app.py, with no second run and no navigation of Streamlit's older pages/ folder mode.
"""

import asyncio

from benchmarks.time_to_accuracy import THRESHOLDS, WATCH
from harness.browser import App, Server
from harness.websocket import Session, run_sync

# Seconds from Start to the first loss point on a fresh server with no calibration kept. The
# target is 2 s (benchmarks/time_to_accuracy.py --fresh measures it); this bound is for a busy
# CI machine, and still fails where the run waits for the measurement (29.9 s when it did).
FIRST_LOSS_BOUND_S = 6.0

PAGES = ["", "train", "draw", "inspect", "evaluate", "models", "experiments", "class"]  # app.py's URL paths, home first
STUDENTS = 6


async def first_runs(url: str, page: str, n: int):
    async def one():
        async with Session(url) as session:
            return await session.open(page)

    return await asyncio.gather(*(one() for _ in range(n)))


def test_first_run_of_draw_on_a_fresh_server_draws_the_canvas(tmp_path):
    fresh = Server(tmp_path / "runs", tmp_path / "fresh.log")
    try:
        runs = run_sync(first_runs(fresh.url, "draw", STUDENTS))
    finally:
        fresh.stop()
    for run in runs:
        assert run.finished == "FINISHED_SUCCESSFULLY"
        assert len(run.of("script_finished")) == 1  # one run: not ended early for a rerun
        assert run.pages() == PAGES  # app.py's navigation, not a file listing (no "common", no "i18n")
        assert "Draw" in run.headings()
        names = [e.bidi_component.component_name for e in run.elements("bidi_component")]  # components v2
        assert sum("drawable_canvas" in n for n in names) == 1, names  # the canvas, once
    assert "Traceback" not in fresh.log_path.read_text()


def test_a_fresh_servers_first_run_does_not_wait_for_the_machine_to_be_measured(tmp_path, browser, monkeypatch):
    """Nothing kept of this machine's calibration: Start, pressed as soon as Train has drawn,
    trains with the safe defaults at once; the machine is measured in the background later."""
    monkeypatch.setenv("CNN_DEMO_CACHE", str(tmp_path / "no-calibration"))  # read by the server
    fresh = Server(tmp_path / "runs", tmp_path / "fresh.log")
    app = App(fresh, browser)
    try:
        app.goto("train")  # the page has drawn: the training process may still be starting
        app.page.evaluate(WATCH, list(THRESHOLDS))  # presses Start, times the chart from the click
        app.page.wait_for_function("() => window.__timeToAccuracy.first_loss_s !== null", timeout=60_000)
        first_loss_s = app.page.evaluate("() => window.__timeToAccuracy.first_loss_s")
        assert first_loss_s <= FIRST_LOSS_BOUND_S, f"the first loss point {first_loss_s:.1f} s after Start"
        app.check()
    finally:
        app.close()
        fresh.stop()
