"""Draw on the Draw page's real canvas with the mouse or a finger, and read the page's answer;
and the canvas's value as the component sends it, for sessions without a browser.

Used by the end-to-end tests and by the benchmarks (benchmarks/measure_draw.py,
benchmarks/class_load.py).
"""

import io
import re
import time

import numpy as np

CANVAS = "canvas.upper-canvas"  # Fabric's top canvas takes the mouse
# The "What the model sees" picture: its address once loaded ("" while it loads, null when
# there is none). It changes with every stroke that adds ink, in the same fragment run as the
# Prediction metric. Cheap to poll on every animation frame, even in thirty pages at once.
SEEN_SRC = """() => {
    const img = document.querySelector('.st-key-seen img');
    return img ? (img.complete && img.naturalWidth ? img.src : "") : null;
}"""
# Wait for: a new answer after a stroke (arg: the address before it), and no answer at all.
NEW_ANSWER = f"(before) => {{ const now = ({SEEN_SRC})(); return !!now && now !== before; }}"
NO_ANSWER = f"() => ({SEEN_SRC})() === null"


def on_change(test: str) -> str:
    """JS taking [arg, timeout_ms]: resolves once test(arg) holds, checked at each change of
    the page and each picture loaded. Unlike wait_for_function's polling on every animation
    frame, it makes the browser draw nothing extra: with thirty pages waiting at once, the
    polling alone kept both cores busy."""
    return f"""([arg, timeoutMs]) => new Promise((resolve, reject) => {{
        const test = {test};
        if (test(arg)) return resolve(true);
        const done = (ok) => {{ observer.disconnect(); document.removeEventListener('load', check, true); clearTimeout(timer); ok ? resolve(true) : reject(new Error('timed out after ' + timeoutMs + ' ms')); }};
        const check = () => {{ if (test(arg)) done(true); }};
        const observer = new MutationObserver(check);
        observer.observe(document.body, {{ subtree: true, childList: true, attributes: true, characterData: true }});
        document.addEventListener('load', check, true);  // an <img> finished loading
        const timer = setTimeout(() => done(false), timeoutMs);
    }})"""


UNTIL_NEW_ANSWER = on_change(NEW_ANSWER)
UNTIL_NO_ANSWER = on_change(NO_ANSWER)


def seen_src(page) -> str | None:
    return page.evaluate(SEEN_SRC)


def seen_pixels(page) -> np.ndarray | None:
    """The 28x28 the page shows, in [0, 1]; None when it shows none. Read from the very PNG
    the browser got (a canvas read-back in Chromium adds a faint dither)."""
    from PIL import Image

    for _ in range(50):
        src = seen_src(page)
        if not src:
            return None
        response = page.request.get(src)
        if response.ok:
            break
        page.wait_for_timeout(100)  # a rerun replaced the picture since its address was read
    picture = np.asarray(Image.open(io.BytesIO(response.body())).convert("L"), np.float64)
    scale = picture.shape[0] // 28  # each pixel is a scale x scale square, its last row and column the grid
    return picture[scale // 2 :: scale, scale // 2 :: scale][:28, :28] / 255


def rest_on_canvas(page) -> dict:
    """Move the pointer over the canvas and wait: the toolbar slides out of the way (see
    docs/streamlit-notes.md). Returns the canvas's box on the page."""
    canvas = page.locator(CANVAS)
    canvas.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(400)
    return box


def draw_strokes(page, strokes: list[np.ndarray], every: int = 2, timeout: float = 20_000) -> list[float]:
    """Replay strokes (canvas pixels) with the mouse; after each, wait for the page's new answer.

    Returns one latency per stroke, in ms: mouse-up to the new 28x28 image on the page.
    """
    box = rest_on_canvas(page)
    latencies = []
    for stroke in strokes:
        points = np.concatenate([stroke[::every], stroke[-1:]]) + (box["x"], box["y"])
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y)
        before = seen_src(page)
        start = time.perf_counter()
        page.mouse.up()
        page.evaluate(UNTIL_NEW_ANSWER, [before, timeout])
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def finger_path(stroke: np.ndarray, spacing: float = 6.0) -> np.ndarray:
    """A stroke (K, 2) -> points `spacing` pixels apart along it, its ends kept: a finger on a
    touch screen reports a move every few pixels (sparse moves lose a stroke's last segment)."""
    stroke = np.asarray(stroke, float)
    along = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(stroke, axis=0), axis=1))])
    t = np.linspace(0, along[-1], max(2, int(np.ceil(along[-1] / spacing)) + 1))
    return np.stack([np.interp(t, along, stroke[:, 0]), np.interp(t, along, stroke[:, 1])], 1)


def touch_strokes(page, strokes: list[np.ndarray], spacing: float = 6.0, timeout: float = 20_000) -> list[float]:
    """Replay strokes with a finger: touch events through the DevTools protocol
    (Input.dispatchTouchEvent), a move every `spacing` pixels; after each stroke, wait for the
    page's new answer. No pointer rests on the canvas first: a finger does not hover. Needs a
    context with has_touch. Returns one latency per stroke, in ms: finger up to the answer."""
    canvas = page.locator(CANVAS)
    canvas.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    cdp = page.context.new_cdp_session(page)
    latencies = []
    try:
        for stroke in strokes:
            points = finger_path(stroke, spacing) + (box["x"], box["y"])
            touch = lambda kind, pts: cdp.send(  # noqa: E731
                "Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y} for x, y in pts]}
            )
            touch("touchStart", points[:1])
            for point in points[1:]:
                touch("touchMove", [point])
            before = seen_src(page)
            start = time.perf_counter()
            touch("touchEnd", [])
            page.evaluate(UNTIL_NEW_ANSWER, [before, timeout])
            latencies.append((time.perf_counter() - start) * 1000)
    finally:
        cdp.detach()
    return latencies


def clear_canvas(page) -> None:
    """The canvas toolbar's bin button, then wait for the page to go back to its prompt."""
    rest_on_canvas(page)
    page.get_by_role("button", name="Reset canvas & history").click()
    page.evaluate(UNTIL_NO_ANSWER, [None, 20_000])


def prediction(app) -> tuple[int, float, bool]:
    """(digit, confidence, unsure) as the page shows them in the "Prediction" metric."""
    value = app.metric("Prediction")  # "7", or "7?" when unsure
    metric = app.page.locator("[data-testid='stMetric']").filter(has_text="Prediction").first
    delta = metric.locator("[data-testid='stMetricDelta']").inner_text()  # "93% sure", "only 41% sure"
    confidence = float(re.search(r"(\d+)%", delta).group(1)) / 100
    return int(value.strip()[0]), confidence, value.strip().endswith("?")


# One fabric.js Path object as streamlit-drawable-canvas 0.13 (fabric 7.4) reports a freehand
# stroke: every property fabric serialises, in its order; left/top/width/height and the path
# are filled in per stroke.
_FABRIC_PATH = {
    "lockMovementX": False,
    "lockMovementY": False,
    "lockRotation": False,
    "lockScalingX": False,
    "lockScalingY": False,
    "lockSkewingX": False,
    "lockSkewingY": False,
    "lockScalingFlip": False,
    "type": "Path",
    "version": "7.4.0",
    "originX": "center",
    "originY": "center",
    "left": 0,
    "top": 0,
    "width": 0,
    "height": 0,
    "fill": None,
    "stroke": "#FFFFFF",
    "strokeWidth": 20,
    "strokeDashArray": None,
    "strokeLineCap": "round",
    "strokeDashOffset": 0,
    "strokeLineJoin": "round",
    "strokeUniform": False,
    "strokeMiterLimit": 10,
    "scaleX": 1,
    "scaleY": 1,
    "angle": 0,
    "flipX": False,
    "flipY": False,
    "opacity": 1,
    "shadow": None,
    "visible": True,
    "backgroundColor": "",
    "fillRule": "nonzero",
    "paintFirst": "fill",
    "globalCompositeOperation": "source-over",
    "skewX": 0,
    "skewY": 0,
}


def fabric_path(stroke: np.ndarray, brush: int) -> dict:
    """A stroke (K, 2) in canvas pixels -> the Path object fabric's pencil brush makes of it:
    a move to the first point, a quadratic curve through each point to the midpoint of the
    next, a line to the last."""
    points = np.round(np.asarray(stroke, float), 4)
    path = [["M", *points[0].tolist()]]
    for here, after in zip(points[:-1], points[1:]):
        path.append(["Q", *here.tolist(), *((here + after) / 2).round(4).tolist()])
    path.append(["L", *points[-1].tolist()])
    low, high = points.min(0), points.max(0)
    centre, size = (low + high) / 2, high - low
    return {
        **_FABRIC_PATH,
        "left": round(float(centre[0]), 4),
        "top": round(float(centre[1]), 4),
        "width": round(float(size[0]), 4),
        "height": round(float(size[1]), 4),
        "strokeWidth": brush,
        "path": path,
    }


def canvas_value(strokes: list[np.ndarray], brush: int, image: np.ndarray | None = None) -> str:
    """The canvas widget's value after these strokes, as streamlit-drawable-canvas 0.13 sends
    it from a black canvas with return_image_data=True: the fabric JSON of the paths and a PNG
    data URL of the whole canvas (opaque RGBA). `image`: the (H, W, 4) canvas, drawn here from
    the strokes when not given (cnn_demo.drawings.drawn.render)."""
    import base64
    import json

    from PIL import Image

    if image is None:
        from cnn_demo.drawings.drawn import render

        image = render(strokes, brush)
    png = io.BytesIO()
    Image.fromarray(image, "RGBA").save(png, format="PNG")
    raw = {"version": "7.4.0", "objects": [fabric_path(s, brush) for s in strokes], "background": "#000000"}
    data = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode("ascii")
    return json.dumps({"drawing": {"raw": raw, "data": data}}, separators=(",", ":"))
