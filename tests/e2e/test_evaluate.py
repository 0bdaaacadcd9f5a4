"""The Evaluate page in a real browser: the default model's accuracy, the confusion matrix and
its drill-down (by the selectboxes and by a click on a cell), the mistakes, the training
curves and the training images alike a test image or a digit drawn on the Draw page.

The expected counts come from the model's own forward pass here, not from the page's code.
Screenshots go to $E2E_SHOTS (default /tmp/shots).
"""

import re

import numpy as np
import pytest
import torch
from playwright.sync_api import expect

from cnn_demo.drawings.drawn import draw_digit
from cnn_demo.network.model import build
from cnn_demo.storage import checkpoint
from cnn_demo.storage.data import load_mnist
from cnn_demo.training.train import History, TrainConfig, fit

SLOW_PAGE = 300_000  # ms: the first visit tests 10,000 images (a few seconds; much more on a busy 2-core box)


@pytest.fixture(scope="module")
def truth():
    """(labels, predictions) of the default model on the 10,000 test images, from a plain forward pass."""
    model, _ = checkpoint.load(checkpoint.DEFAULT)
    images, labels = load_mnist("test")
    with torch.no_grad():
        predictions = torch.cat(
            [model(images[i : i + 1000].unsqueeze(1).float() / 255).argmax(1) for i in range(0, 10_000, 1000)]
        )
    return labels.numpy(), predictions.numpy()


def open_evaluate(app) -> None:
    app.goto("evaluate", timeout=SLOW_PAGE)


def open_tab(app, name: str, shows_chart: str, timeout: float = 60_000) -> None:
    """Open a tab and wait for a chart it draws (the rerun a click starts can begin late)."""
    app.page.get_by_role("tab", name=name).click()
    plot(app, shows_chart, timeout)
    app.wait_idle(timeout)


def choose(app, label: str, option: str) -> None:
    app.page.get_by_label(label, exact=True).click()
    app.page.get_by_role("option", name=option, exact=True).click()
    app.wait_idle()


def shows(app, text: str) -> None:
    """Wait until the page shows this text and its script has finished (a rerun can start late)."""
    app.page.get_by_text(text).wait_for(timeout=30_000)
    app.wait_idle()


def selected(app, label: str) -> str:
    """The value a selectbox shows now."""
    return app.page.get_by_role("combobox", name=label, exact=True).input_value()


def plot(app, key: str, timeout: float = 30_000):
    """The Plotly chart drawn with this key (Plotly draws it a moment after the script ends)."""
    chart = app.page.locator(f".st-key-{key} .js-plotly-plot")
    chart.wait_for(timeout=timeout)
    return chart


def until(app, key: str, condition: str, timeout: float = 30_000) -> None:
    """Wait until the Plotly chart with this key meets `condition`, JS on its div `g`."""
    app.page.wait_for_function(
        f"() => {{ const g = document.querySelector('.st-key-{key} .js-plotly-plot'); return g && g._fullData && ({condition}); }}",
        timeout=timeout,
    )
    app.wait_idle()


def captions(app, key: str) -> list[str]:
    """The captions over the tiles of a gallery (the annotations of its Plotly figure)."""
    return plot(app, key).evaluate("g => g.layout.annotations.map(a => a.text)")


def shot(app, name: str, height: int = 1900) -> None:
    app.page.set_viewport_size({"width": 1400, "height": height})
    app.page.wait_for_timeout(400)  # charts resize to the new viewport
    app.screenshot(name)
    app.page.set_viewport_size({"width": 1400, "height": 1000})


def click_cell(app, true: int, predicted: int) -> None:
    """Click the centre of a confusion-matrix cell, found through Plotly's own axes."""
    matrix = app.page.locator("[class*='st-key-eval_confusion_'] .js-plotly-plot")  # its key changes after a click
    matrix.wait_for()
    matrix.scroll_into_view_if_needed()  # a click outside the window lands nowhere
    x, y = matrix.evaluate(
        "(g, [t, p]) => { const l = g._fullLayout, r = g.getBoundingClientRect();"
        " return [r.left + l.xaxis._offset + l.xaxis.d2p(p), r.top + l.yaxis._offset + l.yaxis.d2p(t)]; }",
        [true, predicted],
    )
    app.page.mouse.move(x, y)
    app.page.wait_for_timeout(200)
    app.page.mouse.click(x, y)


def test_accuracy_and_confusion_drill_down(app, truth):
    labels, predictions = truth
    open_evaluate(app)
    assert app.metric("Measured accuracy") == "99.52%"
    assert app.metric("Wrong") == f"{(labels != predictions).sum():,}"

    # the fallback selectboxes
    choose(app, "True digit", "4")
    choose(app, "Predicted digit", "9")
    expected = int(((labels == 4) & (predictions == 9)).sum())
    assert expected > 0
    shows(app, f"{expected} test images of a 4 that the model called 9 (wrong)")
    assert len(captions(app, "eval_cell_gallery")) == expected
    shot(app, "evaluate_confusion_4_9")

    # a click on the heatmap's cell (6, 0) picks it, and the selectboxes follow
    click_cell(app, 6, 0)
    expected = int(((labels == 6) & (predictions == 0)).sum())
    shows(app, f"{expected} test images of a 6 that the model called 0 (wrong)")
    assert len(captions(app, "eval_cell_gallery")) == expected
    assert selected(app, "True digit") == "6" and selected(app, "Predicted digit") == "0"
    # after the selectboxes move on, a click on the same cell picks it again
    choose(app, "Predicted digit", "1")
    shows(app, "a 6 that the model called 1 (wrong)")
    click_cell(app, 6, 0)
    shows(app, "a 6 that the model called 0 (wrong)")

    # a diagonal cell: the right answers, the first 50 of them shown
    click_cell(app, 1, 1)
    expected = int(((labels == 1) & (predictions == 1)).sum())
    shows(app, f"{expected:,} test images of a 1 that the model called 1 (right)")
    assert len(captions(app, "eval_cell_gallery")) == 50
    shot(app, "evaluate_confusion_1_1")


def test_mistakes_sorted_by_confidence(app, truth):
    labels, predictions = truth
    open_evaluate(app)
    open_tab(app, "Mistakes", "eval_mistakes")
    shown = captions(app, "eval_mistakes")
    assert len(shown) == min(50, (labels != predictions).sum())
    sure = [int(c.rsplit("· ", 1)[1].rstrip("%")) for c in shown]
    assert sure == sorted(sure, reverse=True)
    for c in shown:  # "true→answer · NN%", and the answer is wrong
        true, answer = c.split(" ·")[0].split("→")
        assert true != answer
    shot(app, "evaluate_mistakes")
    app.page.get_by_text("Least confident first").click()
    until(app, "eval_mistakes", "parseInt(g.layout.annotations[0].text.split('· ')[1]) < 50")
    sure = [int(c.rsplit("· ", 1)[1].rstrip("%")) for c in captions(app, "eval_mistakes")]
    assert sure == sorted(sure)


def test_training_curves_overlay_runs(app, server):
    config = TrainConfig.from_recipe("seed", epochs=2, train_images=512, batch_size=64, lr=2e-3, device="cpu")
    model, history = build(), History()
    for _ in fit(model, config, load_mnist("train"), load_mnist("test"), history):
        pass
    checkpoint.save(model.cpu(), server.runs_dir / "evaluate-curves.safetensors", history.meta(config, "cpu"))

    open_evaluate(app)
    open_tab(app, "Training curves", "eval_accuracy_curves")
    box = app.page.get_by_label("Saved models to compare")
    box.click()
    app.page.keyboard.type("evaluate-curves")  # filters the list: a long one shows only some options
    app.page.get_by_role("option", name="evaluate-curves", exact=True).click()
    app.page.keyboard.press("Escape")
    until(app, "eval_accuracy_curves", "g._fullData.length === 2")
    names = plot(app, "eval_accuracy_curves").evaluate("g => g._fullData.map(t => [t.name, t.x.length])")
    assert sorted(names) == [["default", 16], ["evaluate-curves", 2]]
    shot(app, "evaluate_curves", 1500)
    (server.runs_dir / "evaluate-curves.safetensors").unlink()


def test_training_images_alike_a_test_image(app):
    open_evaluate(app)
    open_tab(app, "Alike in training", "eval_alike", timeout=SLOW_PAGE)  # embeds the 60,000 training images once
    box = app.page.get_by_label("Test image index", exact=True)
    box.fill("3")
    box.press("Enter")
    until(app, "eval_alike_query", "g.layout.title.text.includes('test image #3 ')")
    _, test_labels = load_mnist("test")
    shown = captions(app, "eval_alike")
    assert len(shown) == 20
    labels = [int(c.split(" ·")[0]) for c in shown]
    similarity = [float(c.split("· ")[1]) for c in shown]
    assert similarity == sorted(similarity, reverse=True) and 0 < similarity[-1] <= similarity[0] <= 1
    assert labels.count(test_labels[3].item()) >= 18  # a good model's nearest images share its digit
    shot(app, "evaluate_alike", 1300)


def test_training_images_alike_a_drawing(app):
    """A digit drawn on the Draw page and sent over: the Alike tab uses it."""
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
    # on to Evaluate inside the same session (a new page load would start a new one)
    app.page.locator("[data-testid='stSidebarNavLink']", has_text="Evaluate").click()
    app.page.get_by_role("heading", name="Evaluate the model").wait_for(timeout=SLOW_PAGE)
    app.wait_idle(SLOW_PAGE)
    open_tab(app, "Alike in training", "eval_alike", timeout=SLOW_PAGE)
    expect(app.page.get_by_role("radio", name="Drawing sent from Draw")).to_be_checked()
    assert "your drawing" in plot(app, "eval_alike_query").evaluate("g => g.layout.title.text")
    labels = [int(c.split(" ·")[0]) for c in captions(app, "eval_alike")]
    assert max(set(labels), key=labels.count) == 4, labels  # the drawn 4 looks most like 4s to the model
    shot(app, "evaluate_alike_drawing", 1300)
