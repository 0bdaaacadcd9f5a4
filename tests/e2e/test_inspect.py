"""The Inspect page in a real browser: test images by index and by class, a digit drawn on
the Draw page and sent over, every tab, filter snapshots, and how fast an input change renders.

After each action the tests wait for what the action must show (`see`), not only for the
script to be idle: on a busy machine a rerun can start after an idle check has passed.
Screenshots go to $E2E_SHOTS (default /tmp/shots); the viewport is made tall before each one,
because Streamlit scrolls inside its own container and a full-page shot stops at the window.
"""

import re

import numpy as np

from cnn_demo.drawings.drawn import draw_digit
from cnn_demo.network.model import build
from cnn_demo.storage import checkpoint
from cnn_demo.storage.data import load_mnist
from cnn_demo.training.train import History, TrainConfig, fit
from harness.browser import CHART_TITLES
from harness.canvas import draw_strokes

STAGE_SHAPES = ["16 × 24 × 24", "32 × 20 × 20", "32 × 10 × 10", "64 × 6 × 6", "64 × 3 × 3"]
WAIT_MS = 30_000


# True once the script has finished and one of the Plotly titles contains the text in `expect`.
def open_inspect(app) -> None:
    app.goto("inspect")


def see(app, text, exact: bool = False):
    """Wait until `text` (a string or a regex) is on the page and the script is idle; the locator."""
    found = app.page.get_by_text(text, exact=exact).first
    found.wait_for(timeout=WAIT_MS)
    app.wait_idle()
    return found


def see_title(app, text: str) -> None:
    app.wait_for_chart_title(text, timeout=WAIT_MS)


def shot(app, name: str, height: int = 2600) -> None:
    app.page.set_viewport_size({"width": 1400, "height": height})
    app.page.wait_for_timeout(400)  # charts resize to the new viewport
    app.screenshot(name)
    app.page.set_viewport_size({"width": 1400, "height": 1000})


def open_tab(app, name: str, shows: str) -> None:
    app.page.get_by_role("tab", name=name).click()
    see(app, shows)


def type_number(app, label: str, value) -> None:
    app.type_number(label, value)


def test_stages_by_index_and_class(app):
    open_inspect(app)
    assert app.page.get_by_role("heading", name="Inspect the network").is_visible()
    see(app, "input · 1 × 28 × 28")
    for shape in STAGE_SHAPES:
        assert app.page.get_by_text(shape).count() >= 1, f"stage shape {shape} not shown"
    assert app.page.get_by_text("(28 − 5 + 2·0) / 1 + 1 = 24").count() == 1
    assert app.page.get_by_text("(20 − 2 + 2·0) / 2 + 1 = 10").count() == 1

    _, labels = load_mnist("test")
    type_number(app, "Test image index", 42)
    see_title(app, f"test image #42 · label {labels[42].item()}")
    assert re.fullmatch(r"\d", app.metric("Prediction"))
    shot(app, "inspect_index_42")

    for digit in (3, 8):
        app.button(str(digit)).click()
        see_title(app, f"· label {digit}")
    app.page.get_by_text("Scale each map on its own").click()
    app.page.wait_for_timeout(500)  # only the colours change: nothing to wait for but the rerun
    app.wait_idle()
    shot(app, "inspect_class_8_per_map")


def test_every_tab(app):
    open_inspect(app)
    open_tab(app, "One channel", "conv1 · before ReLU")
    app.page.get_by_text("conv2", exact=True).click()
    see(app, re.compile(r"The circles mark the \d+ values max-pooling keeps"))
    assert app.page.locator(CHART_TITLES, has_text="after max-pool · 10 × 10").count() == 1
    shot(app, "inspect_one_channel", 1400)

    open_tab(app, "Learned filters", "conv1's 16 kernels")
    see(app, "16 × 5 × 5")
    see(app, "32 × 5 × 5")
    shot(app, "inspect_filters", 1800)

    open_tab(app, "End of the network", "576 = 64 × 3 × 3")
    for text in ("Linear(576→100) + ReLU, 57,700 parameters", "Linear(100→10), 1,010 parameters"):
        see(app, text)
    shot(app, "inspect_end", 1500)

    open_tab(app, "Where it looks", "Compare with the digit")
    app.page.get_by_text("relu3 (64 × 6 × 6)").click()
    see(app, re.compile(r"relu3 is the last conv stage"))
    titles = app.page.locator(CHART_TITLES).all_text_contents()
    assert sum(t.startswith("Grad-CAM · ") for t in titles) >= 2, titles
    assert sum(t.startswith("saliency · ") for t in titles) >= 2, titles
    shot(app, "inspect_where", 1300)

    open_tab(app, "How it works", "Five numbers make a conv layer")
    for text in ("16·(1·5·5) + 16 = 416", "784·9,216 + 9,216 = 7,234,560", "after shifting back"):
        see(app, text)
    stride = app.page.get_by_role("slider", name="stride S")  # the sandbox (tests/e2e/test_step.py)
    stride.focus()
    stride.press("ArrowRight")
    see(app, "(28 − 5 + 2·0) / 2 = 23 / 2 is not a whole number")
    shot(app, "inspect_how", 2600)


def test_filters_over_time(app, server):
    """A run with per-epoch snapshots, trained here in a second, picked in the sidebar."""
    config = TrainConfig.from_recipe("seed", epochs=2, train_images=512, batch_size=64, lr=2e-3, device="cpu")
    model, history = build(), History()
    for _ in fit(model, config, load_mnist("train"), load_mnist("test"), history):
        pass
    path = server.runs_dir / "inspect-snapshots.safetensors"
    checkpoint.save(model.cpu(), path, history.meta(config, "cpu"), history.filters)
    assert len(checkpoint.filter_history(path)) == 3

    open_inspect(app)
    open_tab(app, "Learned filters", "Filters over time")
    app.page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").click()
    app.page.get_by_role("option", name=re.compile("inspect-snapshots")).click()
    see(app, "conv1 after epoch 2")
    slider = app.page.get_by_role("slider", name="Epoch (0 = the random start)")
    slider.focus()
    slider.press("Home")
    see(app, "conv1 after epoch 0")
    shot(app, "inspect_filters_epoch0", 1800)


def test_drawing_sent_from_draw(app):
    app.goto("")
    app.goto("draw")
    draw_strokes(app.page, draw_digit(4, np.random.default_rng(3)).strokes)
    app.button("Send to Inspect").click()
    app.page.wait_for_url(re.compile(r"/inspect"), timeout=WAIT_MS)
    see_title(app, "your drawing")
    see(app, "input · 1 × 28 × 28")
    assert app.page.get_by_role("radio", name="Drawing sent from Draw").is_checked()
    for shape in STAGE_SHAPES:
        assert app.page.get_by_text(shape).count() >= 1
    shot(app, "inspect_drawing")
    # Picking a test image leaves the drawing; the radio brings it back.
    app.button("7").click()
    see_title(app, "· label 7")
    app.page.get_by_text("Drawing sent from Draw").click()
    see_title(app, "your drawing")


def test_every_input_change_redraws_the_page(app):
    """Each input change reruns the page: the input, the prediction and the open tab (the
    Feature maps tab, the heaviest one). How long that takes is a benchmark:
    python -m benchmarks.inspect_render."""
    open_inspect(app)
    for i in (10, 11):
        type_number(app, "Test image index", i)
        see_title(app, f"test image #{i} ·")
    for d in (1, 5):
        app.button(str(d)).click()
        see_title(app, f"label {d}")
