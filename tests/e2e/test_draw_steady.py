"""The Draw page's canvas fragment writes the same places in every run (app_pages/draw.py, STEADY).

A browser drops what a run did not write again only when that run is reported finished, and
Streamlit 1.67 reports a fragment's run as stopped early when another fragment's run (the
round's look, every 4 s) starts before the report went out. Then whatever the earlier run wrote
and the new one did not stays on the page: CI saw the old answer beside the prompt after the
canvas was cleared. So each change of what the page shows must overwrite, at the protocol level,
every place the run before it wrote: the place itself, or a place above it replaced by a plain
element (an empty one), which takes everything below it away.
"""

import numpy as np
from streamlit.proto.WidgetStates_pb2 import WidgetState

from cnn_demo.drawings.drawn import drawings
from harness.canvas import canvas_value
from harness.websocket import Run, Session, json_widget, left_behind, run_sync

DIGITS = drawings(10, seed=21)
BRUSH = 20  # the page's default stroke width
FIT = "MNIST-style fitting"


async def page_states(url: str) -> dict[str, tuple[dict, Run]]:
    """The canvas fragment's writes for: a clear digit, the canvas cleared, an unsure drawing (a 0
    and a 2 on top of each other), the same with fitting off, and a clear digit again."""
    async with Session(url) as session:
        first = await session.open("draw")
        assert not first.errors(), first.errors()
        fragment, canvas = first.component("drawable_canvas")
        _, fit = first.widget("checkbox", FIT)
        states = {}

        async def show(name: str, strokes: list[np.ndarray], fitting: bool = True) -> None:
            widgets = [json_widget(canvas.id, canvas_value(strokes, BRUSH)), WidgetState(id=fit, bool_value=fitting)]
            run = await session.rerun_fragment(fragment, widgets)
            assert not run.errors(), (name, run.errors())
            states[name] = (run.writes(fragment), run)

        await show("clear 7", DIGITS[7].strokes)
        await show("empty", [])
        await show("unsure", list(DIGITS[0].strokes) + list(DIGITS[2].strokes))
        await show("unsure, fitting off", list(DIGITS[0].strokes) + list(DIGITS[2].strokes), fitting=False)
        await show("clear 3", DIGITS[3].strokes)
        await show("empty again", [])
        return states


def test_each_run_of_the_canvas_overwrites_all_the_run_before_it_wrote(server):
    states = run_sync(page_states(server.url))
    # What each state shows, so that the comparisons below compare what they say they do
    assert states["clear 7"][1].metrics()["Prediction"][0] == "7"
    assert not states["empty"][1].metrics()
    assert states["unsure"][1].metrics()["Prediction"][0].endswith("?")  # with the "only … sure" warning
    names = list(states)
    for before, after in zip(names, names[1:]):
        stale = left_behind(states[before][0], states[after][0])
        assert not stale, f"{before} -> {after}: places the new run leaves to the browser's clean-up: {stale}"
    # ...and the other way round: a sure answer after an unsure one, the prompt after fitting off
    for before, after in [("unsure", "clear 7"), ("unsure, fitting off", "empty")]:
        stale = left_behind(states[before][0], states[after][0])
        assert not stale, f"{before} -> {after}: {stale}"
