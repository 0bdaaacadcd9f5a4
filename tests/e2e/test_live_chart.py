"""The Train page's live loss chart (app_pages/live_chart.py), in a real browser: one chart element,
updated in place (Plotly.react) while a run trains, that keeps a zoom the user made.

st.plotly_chart, which it replaces, made a new element and a new plot for every update."""

from tests.e2e.test_train import REDRAW_S, start_run, stop_if_running

CHART = "document.querySelector('.st-key-loss_chart .js-plotly-plot')"
GROWTHS = 10  # successive updates watched on the same node


# The step of the chart's last loss point: it grows with every update, also once the curve has
# as many points as it keeps (thinned to 600, the count stops growing).
LAST_STEP = f"() => {{ const x = {CHART}?._fullData?.[0]?.x; return x && x.length ? x[x.length - 1] : 0; }}"


def wait_for_growth(page, than: int) -> int:
    """Until the chart's last point is past step `than`; its step then."""
    return page.wait_for_function(
        f"() => {{ const n = ({LAST_STEP})(); return n > {than} && n; }}", timeout=5 * REDRAW_S * 1000
    ).json_value()


def same_node(page) -> bool:
    return page.evaluate(f"() => {CHART} === window.__lossChart && window.__lossChart.isConnected")


def x_range(page) -> list[float]:
    return page.evaluate(f"() => {CHART}._fullLayout.xaxis.range.slice()")


def zoom_x(page, start: float, end: float) -> list[float]:
    """Drag a zoom box across the plot, as a user does, from `start` to `end` of its width; the
    x range it set. Retried: an update landing mid-drag may redraw the drag layer under it."""
    before = x_range(page)
    for _ in range(3):
        drag = page.locator(".st-key-loss_chart .js-plotly-plot .nsewdrag").first
        drag.scroll_into_view_if_needed()  # below the network editor: the mouse acts on what is on screen
        box = drag.bounding_box()
        y = box["y"] + box["height"] / 2  # a horizontal drag zooms the x axis only
        page.mouse.move(box["x"] + box["width"] * start, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * end, y, steps=5)
        page.mouse.up()
        page.wait_for_timeout(200)
        after = x_range(page)
        if after != before:
            return after
    raise AssertionError(f"the drag did not zoom: x range still {before}")


def test_loss_chart_updates_in_place_and_keeps_the_users_zoom(app):
    page = app.page
    # 4,690 steps of 128: a run longer than the test's 13 updates even on a fast CPU (a minute
    # with AMX); it is stopped at the end.
    start_run(app, images=60000, epochs=10, batch=128)
    last = wait_for_growth(page, 0)
    page.evaluate(f"() => {{ window.__lossChart = {CHART}; }}")  # the node seen first
    for i in range(GROWTHS):
        last = wait_for_growth(page, last)
        assert same_node(page), f"update {i + 1}: the chart is a new element, not the one first drawn"
    assert page.locator(".st-key-loss_chart .js-plotly-plot").count() == 1
    # plotly.js came once, from the app itself (static/), not with every update or from a CDN
    scripts = page.evaluate("() => [...document.scripts].map(s => s.src).filter(s => s.includes('plotly'))")
    assert len(scripts) == 1 and scripts[0].startswith(f"{app.server.url}/app/static/plotly-"), scripts

    full = x_range(page)
    zoomed = zoom_x(page, 0.2, 0.5)
    assert zoomed[0] > full[0] and zoomed[1] < full[1], (full, zoomed)
    for _ in range(3):  # the next updates draw new points, inside the user's zoom
        last = wait_for_growth(page, last)
        assert same_node(page)
        assert x_range(page) == zoomed, f"an update reset the zoom: {x_range(page)}, zoomed to {zoomed}"
    stop_if_running(app)
