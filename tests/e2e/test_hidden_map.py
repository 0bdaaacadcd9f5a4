"""Inspect's map of the hidden layer in a real browser: a digit drawn on the Draw page placed on
the map as a star, a click on a dot opening that test image, and the tab's screenshots.
Screenshots go to $E2E_SHOTS (default /tmp/shots)."""

import re

import numpy as np
from playwright.sync_api import expect

from cnn_demo.drawings.drawn import draw_digit
from harness.canvas import draw_strokes

WAIT_MS = 60_000
TAB = "Map of the hidden layer"

# Where on the screen a point of the map is: Plotly's own axes turn its data into pixels. The
# point: digit 9's (the last digit trace, drawn over the others) farthest from its cloud's middle,
# so that no other dot and no digit label lies over it. Returns [x, y, its test image number].
POINT_ON_SCREEN = """() => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g._fullData && g._fullData.length > 10);
  const fl = gd._fullLayout, tr = gd._fullData[9], n = tr.x.length;
  const mx = tr.x.reduce((a, b) => a + b, 0) / n, my = tr.y.reduce((a, b) => a + b, 0) / n;
  let best = 0, far = -1;
  for (let i = 0; i < n; i++) {
    const d = (tr.x[i] - mx) ** 2 + (tr.y[i] - my) ** 2;
    if (d > far) { far = d; best = i; }
  }
  gd.scrollIntoView({block: 'center'});  // a click outside the window reaches nothing
  const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
  return [box.left + fl.xaxis.l2p(tr.x[best]), box.top + fl.yaxis.l2p(tr.y[best]), tr.customdata[best][0]];
}"""


def see(app, text):
    app.page.get_by_text(text).first.wait_for(timeout=WAIT_MS)
    app.wait_idle()


def test_drawn_digit_placed_and_a_dot_opens_its_image(app):
    app.goto("")
    app.goto("draw")
    draw_strokes(app.page, draw_digit(4, np.random.default_rng(3)).strokes)
    app.button("Send to Inspect").click()
    app.page.wait_for_url(re.compile(r"/inspect"), timeout=WAIT_MS)
    app.wait_for_chart_title("your drawing", timeout=WAIT_MS)
    app.page.get_by_role("tab", name=TAB).click()
    see(app, "exactly where its own hidden values land")
    legend = app.page.locator(".js-plotly-plot .legendtext").all_text_contents()
    assert "the digit in view" in legend and {str(d) for d in range(10)} <= set(legend)
    star = app.page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(g => g._fullData || [])"
        ".filter(t => t.name === 'the digit in view').map(t => [t.x.length, t.marker.symbol])"
    )
    assert star == [[1, "star"]]  # the drawing, one large star on the map
    app.screenshot("map/inspect_map_drawing")
    x, y, index = app.page.evaluate(POINT_ON_SCREEN)
    app.page.mouse.click(x, y)
    app.wait_for_chart_title(f"test image #{index} · label 9", timeout=WAIT_MS)
    # the input is the test image now: its radio may follow the title by a frame (a busy CI
    # machine read the old one), so waited for, as Playwright's assertions do
    expect(app.page.get_by_role("radio", name="MNIST test image")).to_be_checked()
    app.check()


def test_map_screenshots(app):
    """The tab at laptop, tablet and projector size, in English and Korean (looked at by hand)."""
    for lang, tab, note in (("en", TAB, "exactly where"), ("ko", "은닉층 지도", "바로 그 자리")):
        app.goto(f"inspect?lang={lang}")
        app.page.get_by_role("tab", name=tab).click()
        see(app, note)
        for width, height in ((1400, 1000), (820, 1180), (1920, 1080)):
            app.page.set_viewport_size({"width": width, "height": height})
            app.page.wait_for_timeout(500)
            app.screenshot(f"map/inspect_map_{lang}_{width}x{height}")
        app.page.set_viewport_size({"width": 1400, "height": 1000})
    app.check()
