"""The Inspect page in a real browser: test images by index and by class, a digit drawn on
the Draw page and sent over, every tab, filter snapshots, and how fast an input change renders.

Screenshots go to $E2E_SHOTS (default /tmp/shots); the viewport is made tall before each one,
because Streamlit scrolls inside its own container and a full-page shot stops at the window.
"""

import re
import statistics
import time

import numpy as np
import pytest

from cnn_demo import checkpoint
from cnn_demo.data import load_mnist
from cnn_demo.drawn import draw_digit
from cnn_demo.model import SeedCNN
from cnn_demo.train import History, TrainConfig, fit

STAGE_SHAPES = ["16 × 24 × 24", "32 × 20 × 20", "32 × 10 × 10", "64 × 6 × 6", "64 × 3 × 3"]
RENDER_BUDGET_S = 1.0  # the target, from an input change to the script's end


def open_inspect(app) -> None:
    # The home page first: on a fresh server the first request straight to /inspect runs
    # pages/inspect.py without app.py (Streamlit's legacy pages/ folder), see the report.
    app.goto("")
    app.goto("inspect")


def shot(app, name: str, height: int = 2600) -> None:
    app.page.set_viewport_size({"width": 1400, "height": height})
    app.page.wait_for_timeout(400)  # charts resize to the new viewport
    app.screenshot(name)
    app.page.set_viewport_size({"width": 1400, "height": 1000})


def input_title(app) -> str:
    """The title over the 28 x 28 input picture (Plotly draws it as SVG text)."""
    return app.page.locator(".gtitle", has_text="1 × 28 × 28").first.text_content()


def open_tab(app, name: str) -> None:
    app.page.get_by_role("tab", name=name).click()
    app.wait_idle()


def timed(app, change, expect: str) -> float:
    """Seconds from an input change until the script has finished and the input's title says `expect`."""
    done = (
        "() => { const a = document.querySelector(\"[data-testid='stApp']\");"
        " const titles = [...document.querySelectorAll('.gtitle')].map(t => t.textContent);"
        f" return a.getAttribute('data-test-script-state') === 'notRunning' && titles.some(t => t.includes({expect!r})); }}"
    )
    t0 = time.perf_counter()
    change()
    app.page.wait_for_function(done, timeout=30_000, polling=10)
    return time.perf_counter() - t0


def test_stages_by_index_and_class(app):
    open_inspect(app)
    assert app.page.get_by_role("heading", name="Inspect the network").is_visible()
    for shape in STAGE_SHAPES:
        assert app.page.get_by_text(shape).count() >= 1, f"stage shape {shape} not shown"
    assert app.page.get_by_text("(28 − 5 + 2·0) / 1 + 1 = 24").count() == 1
    assert app.page.get_by_text("(20 − 2 + 2·0) / 2 + 1 = 10").count() == 1

    box = app.page.get_by_label("Test image index", exact=True)
    box.fill("42")
    box.press("Enter")
    app.wait_idle()
    _, labels = load_mnist("test")
    assert input_title(app).startswith(f"test image #42 · label {labels[42].item()}")
    assert re.fullmatch(r"\d", app.metric("Prediction"))
    shot(app, "inspect_index_42")

    for digit in (3, 8):
        app.button(str(digit)).click()
        app.wait_idle()
        assert f"· label {digit}" in input_title(app)
    app.page.get_by_text("Scale each map on its own").click()
    app.wait_idle()
    shot(app, "inspect_class_8_per_map")


def test_every_tab(app):
    open_inspect(app)
    open_tab(app, "One channel")
    app.page.get_by_text("conv2", exact=True).click()
    app.wait_idle()
    assert app.page.get_by_text("after max-pool · 10 × 10").count() == 1
    assert app.page.get_by_text(re.compile(r"The circles mark the \d+ values max-pooling keeps")).count() == 1
    shot(app, "inspect_one_channel", 1400)

    open_tab(app, "Learned filters")
    assert app.page.get_by_text("conv1's 16 kernels").count() == 1
    assert app.page.get_by_text("16 × 5 × 5").count() >= 1 and app.page.get_by_text("32 × 5 × 5").count() >= 1
    shot(app, "inspect_filters", 1800)

    open_tab(app, "End of the network")
    for text in ("576 = 64 × 3 × 3", "Linear(576→100) + ReLU, 57,700 parameters", "Linear(100→10), 1,010 parameters"):
        assert app.page.get_by_text(text).count() == 1, text
    shot(app, "inspect_end", 1500)

    open_tab(app, "Where it looks")
    app.page.get_by_text("relu3 (64 × 6 × 6)").click()
    app.wait_idle()
    assert app.page.locator(".gtitle", has_text="Grad-CAM").count() == 2
    shot(app, "inspect_where", 1300)

    open_tab(app, "How it works")
    for text in ("16·(1·5·5) + 16 = 416", "784·9,216 + 9,216 = 7,234,560", "after shifting back"):
        assert app.page.get_by_text(text).count() >= 1, text
    box = app.page.get_by_label("stride S", exact=True)
    box.fill("2")
    box.press("Enter")
    app.wait_idle()
    assert app.page.get_by_text("⌊(28 − 5 + 2·0) / 2⌋ + 1 = 12").count() == 1
    shot(app, "inspect_how", 2600)


def test_filters_over_time(app, server, tmp_path):
    """A run with per-epoch snapshots, trained here in a second, picked in the sidebar."""
    config = TrainConfig.from_recipe("seed", epochs=2, train_images=512, batch_size=64, lr=2e-3, device="cpu")
    model, history = SeedCNN(), History()
    for _ in fit(model, config, load_mnist("train"), load_mnist("test"), history):
        pass
    path = checkpoint.save(model.cpu(), server.runs_dir / "inspect-snapshots.safetensors", history.meta(config, "cpu"), history.filters)
    assert len(checkpoint.filter_history(path)) == 3

    open_inspect(app)
    open_tab(app, "Learned filters")
    app.page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").click()
    app.page.get_by_role("option", name=re.compile("inspect-snapshots")).click()
    app.wait_idle()
    assert app.page.get_by_text("conv1 after epoch 2").count() == 1
    slider = app.page.get_by_role("slider", name="Epoch (0 = the random start)")
    slider.focus()
    slider.press("Home")
    app.wait_idle()
    assert app.page.get_by_text("conv1 after epoch 0").count() == 1
    shot(app, "inspect_filters_epoch0", 1800)


def test_drawing_sent_from_draw(app):
    app.goto("")
    app.goto("draw")
    canvas = app.page.locator("canvas.upper-canvas").first
    canvas.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    app.page.mouse.move(box["x"] + 140, box["y"] + 200)
    app.page.wait_for_timeout(400)  # let the canvas toolbar slide out of the way (see real-browser.md)
    for stroke in draw_digit(4, np.random.default_rng(3)).strokes:
        app.page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        app.page.mouse.down()
        for x, y in stroke[1:]:
            app.page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
        app.page.mouse.up()
        app.wait_idle()
    app.button("Send to Inspect").click()
    app.page.wait_for_url(re.compile(r"/inspect"), timeout=30_000)
    app.wait_idle()
    assert input_title(app).startswith("your drawing")
    assert app.page.get_by_role("radiogroup").first.get_by_text("Drawing sent from Draw").count() == 1
    for shape in STAGE_SHAPES:
        assert app.page.get_by_text(shape).count() >= 1
    shot(app, "inspect_drawing")
    # Picking a test image leaves the drawing; the radio brings it back.
    app.button("7").click()
    app.wait_idle()
    assert "· label 7" in input_title(app)
    app.page.get_by_text("Drawing sent from Draw").click()
    app.wait_idle()
    assert input_title(app).startswith("your drawing")


def test_render_time_after_an_input_change(app):
    """Each input change reruns the page: the input, the prediction and the open tab (the
    Feature maps tab, the heaviest one, with its 8 mosaics)."""
    open_inspect(app)
    times = []
    box = app.page.get_by_label("Test image index", exact=True)
    for index in range(10, 20):
        times.append(timed(app, lambda: (box.fill(str(index)), box.press("Enter")), f"test image #{index} ·"))
    for digit in (1, 2, 5):
        times.append(timed(app, lambda: app.button(str(digit)).click(), f"label {digit}"))
    p50 = statistics.median(times)
    print(f"\nInspect rerun after an input change: p50 {p50:.2f} s, max {max(times):.2f} s over {len(times)} changes")
    assert p50 <= RENDER_BUDGET_S, f"median {p50:.2f} s, all {[round(t, 2) for t in times]}"
