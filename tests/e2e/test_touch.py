"""The Draw page on a tablet and a phone: a finger draws, the page reads well.

Chromium emulates each device (touch events, a mobile viewport); strokes are touch events
sent through the DevTools protocol, a move every ~6 px as a finger reports them
(harness/canvas.py: touch_strokes). The same digits are drawn with the mouse in a laptop
window, and a finger must get them right as often.
"""

import numpy as np
import pytest

from cnn_demo.drawings.drawn import drawings
from harness.browser import App
from harness.canvas import CANVAS, UNTIL_NO_ANSWER, draw_strokes, prediction, touch_strokes

DEVICES = {"tablet": (820, 1180), "phone": (390, 844)}
DIGITS = drawings(10, seed=21)  # 0..9


def read_digits(app, draw, by_finger: bool) -> list[int]:
    """Draw every digit with `draw` (page, strokes -> latencies), read the page's answer after
    it, clear the canvas (a tap, or a click); the digits the page read."""
    answers = []
    for d in DIGITS:
        latencies = draw(app.page, d.strokes)
        assert len(latencies) == len(d.strokes)  # an answer after every stroke
        app.wait_idle()
        answers.append(prediction(app)[0])
        bin_button = app.page.get_by_role("button", name="Reset canvas & history")
        bin_button.tap() if by_finger else bin_button.click()
        app.page.evaluate(UNTIL_NO_ANSWER, [None, 20_000])
    return answers


@pytest.fixture(scope="module")
def mouse_right(server, browser) -> int:
    """How many of the digits the mouse gets right in a laptop window."""
    app = App(server, browser, viewport=(1280, 800))
    try:
        app.goto("draw")
        answers = read_digits(app, draw_strokes, by_finger=False)
        app.check()
    finally:
        app.close()
    return sum(a == d.label for a, d in zip(answers, DIGITS))


def box(app, selector: str) -> dict:
    found = app.page.locator(selector).first
    found.wait_for()
    return found.bounding_box()


@pytest.mark.parametrize("device", DEVICES)
def test_a_finger_draws_every_digit_and_the_page_reads_well(server, browser, mouse_right, device):
    width, height = DEVICES[device]
    app = App(server, browser, viewport=(width, height), touch=True)
    try:
        app.goto("draw")
        # A first stroke that starts at the canvas's top edge, under where the canvas's toolbar
        # rests until a pointer hovers it (a finger never does): it must draw, and be read.
        one = [np.array([[200.0, 3.0], [200.0, 140.0], [200.0, 270.0]])]
        assert len(touch_strokes(app.page, one)) == 1
        app.wait_idle()
        assert prediction(app)[0] == 1
        app.page.get_by_role("button", name="Reset canvas & history").tap()
        app.page.evaluate(UNTIL_NO_ANSWER, [None, 20_000])

        answers = read_digits(app, touch_strokes, by_finger=True)
        right = sum(a == d.label for a, d in zip(answers, DIGITS))
        assert right >= mouse_right, f"{device}: {right} of 10 by finger, {mouse_right} by mouse: read {answers}"

        touch_strokes(app.page, DIGITS[7].strokes)  # a digit on the page, for the layout
        app.wait_idle()
        # Nothing scrolls sideways, and the canvas, the answer, its bars and the picture the
        # model sees are each whole on the screen's width and at a usable size.
        scroll_width = app.page.evaluate("() => document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{device}: the page is {scroll_width} px wide in a {width} px screen"
        canvas = box(app, CANVAS)
        metric = box(app, "[data-testid='stMain'] [data-testid='stMetric']")
        bars = box(app, ".st-key-probs .probs")
        seen = box(app, ".st-key-seen img")
        for name, b in {"canvas": canvas, "answer": metric, "bars": bars, "picture": seen}.items():
            assert b["x"] >= 0 and b["x"] + b["width"] <= width + 0.5, (device, name, b)
        assert canvas["width"] == 280
        assert bars["width"] >= 200 and bars["height"] >= 120, bars  # 20 px a bar or more, not a strip
        assert seen["width"] >= 200, seen
        # The answer comes right after the canvas, before its settings: a student sees it
        # without scrolling past the sliders.
        assert metric["y"] >= canvas["y"] + canvas["height"] - 1 or metric["x"] >= canvas["x"] + canvas["width"]
        stroke_width = box(app, ".st-key-brush")
        assert metric["y"] < stroke_width["y"], "the answer comes after the canvas's settings"
        app.screenshot(f"draw_touch_{device}")
        app.check()
    finally:
        app.close()
