"""A class arriving at a freshly started server: every first run draws the whole page.

Spoken at the protocol level (harness/websocket.py), as several browsers open their first
websocket at once: each session's very first script run must be the real page, routed by
app.py, with no second run and no navigation of Streamlit's older pages/ folder mode.
"""

import asyncio

from harness.browser import Server
from harness.websocket import Session, run_sync

PAGES = ["", "train", "draw", "inspect", "evaluate", "models", "experiments"]  # app.py's URL paths, home first
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
