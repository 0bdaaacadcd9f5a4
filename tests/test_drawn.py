"""The drawn digits: reproducible, on the canvas, MNIST-like after preprocessing, and read well."""

import json

import numpy as np
import pytest
import torch

from cnn_demo.drawings.drawn import CANVAS, TEMPLATES, accuracy_on_drawings, draw_digit, drawings, main, render
from cnn_demo.drawings.preprocess import canvas_to_mnist
from cnn_demo.inside.predict import predict_proba
from cnn_demo.network.model import Net, build
from cnn_demo.storage import checkpoint


def test_reproducible_with_a_seed():
    a, b, c = drawings(12, seed=3), drawings(12, seed=3), drawings(12, seed=4)
    assert [d.label for d in a] == [i % 10 for i in range(12)]
    assert all(np.array_equal(x.canvas, y.canvas) for x, y in zip(a, b))
    assert all(np.array_equal(sx, sy) for x, y in zip(a, b) for sx, sy in zip(x.strokes, y.strokes))
    assert not all(np.array_equal(x.canvas, z.canvas) for x, z in zip(a, c))
    assert np.array_equal(drawings(3, seed=3)[2].canvas, a[2].canvas)  # drawing i does not depend on n


def test_canvases_look_like_the_canvas_component():
    for d in drawings(20, seed=0):
        assert d.canvas.shape == (CANVAS, CANVAS, 4) and d.canvas.dtype == np.uint8
        assert (d.canvas[..., 3] == 255).all() and d.canvas[..., 0].max() == 255  # white on opaque black
        assert 5 <= d.brush <= 28
        for stroke in d.strokes:  # every stroke, brush included, is on the canvas
            assert (stroke - d.brush / 2 >= -1).all() and (stroke + d.brush / 2 <= CANVAS + 1).all()
        np.testing.assert_array_equal(render(d.strokes, d.brush), d.canvas)  # replaying the strokes redraws it


def test_no_strokes_is_a_blank_canvas_the_page_reads_as_empty():
    """A cleared canvas, as the component sends it after its bin button."""
    black, clear = render([], 20), render([], 20, background="transparent")
    assert black.shape == clear.shape == (CANVAS, CANVAS, 4)
    assert (black[..., :3] == 0).all() and (black[..., 3] == 255).all()  # opaque black
    assert (clear == 0).all()
    assert canvas_to_mnist(black) is None and canvas_to_mnist(clear) is None


def test_transparent_background_reads_the_same():
    black, clear = drawings(5, seed=7), drawings(5, seed=7, background="transparent")
    for b, c in zip(black, clear):
        assert c.canvas[..., 3].min() == 0
        np.testing.assert_allclose(canvas_to_mnist(b.canvas), canvas_to_mnist(c.canvas), atol=1e-4)


def test_every_style_draws_something_mnist_sized():
    # Independent truth: MNIST's ink per digit (sum of the 28x28 values) is 52-164 for 90% of
    # its training images; drawn digits after preprocessing should be in the same range.
    rng = np.random.default_rng(0)
    ink = []
    for label, styles in TEMPLATES.items():
        seen = set()
        while len(seen) < len(styles):
            d = draw_digit(label, rng)
            seen.add(d.style)
            image = canvas_to_mnist(d.canvas)
            assert image is not None, (label, d.style)
            ink.append(image.sum())
    assert 52 < np.median(ink) < 164


def always_three() -> Net:
    """A tutorial network whose answer is known whatever it is shown: its last layer ignores its
    input and always gives digit 3 the highest logit."""
    model = build()
    with torch.no_grad():
        model.fc_layer[2].weight.zero_()
        model.fc_layer[2].bias.copy_(torch.eye(10)[3] * 5)
    return model.eval()


def test_accuracy_on_drawings_scores_what_the_model_answers():
    items = drawings(20, seed=0)  # 0..9 twice
    acc, per_class, predictions = accuracy_on_drawings(always_three(), items)
    assert predictions.tolist() == [3] * 20
    assert acc == 0.1  # the two 3s of twenty
    assert per_class == [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]


needs_default = pytest.mark.skipif(not checkpoint.DEFAULT.exists(), reason="the shipped default model is not there")


def read_directly(model, items, fit):
    """The Draw page's path worked out here: canvas_to_mnist, predict_proba, argmax."""
    return predict_proba(model, np.stack([canvas_to_mnist(d.canvas, fit=fit) for d in items])).argmax(1)


@needs_default
def test_accuracy_on_drawings_and_the_cli_read_them_as_the_draw_page_does(capsys):
    model, items = checkpoint.load(checkpoint.DEFAULT)[0], drawings(30, seed=5)
    labels = np.array([d.label for d in items])
    answers = {fit: read_directly(model, items, fit) for fit in (True, False)}
    assert not np.array_equal(answers[True], answers[False])  # so that mixing them up shows
    for fit, expected in answers.items():
        acc, per_class, predictions = accuracy_on_drawings(model, items, fit=fit)
        np.testing.assert_array_equal(predictions, expected)
        assert acc == pytest.approx((expected == labels).mean())
        assert per_class == pytest.approx([(expected[labels == c] == c).mean() for c in range(10)])
    assert main(["--n", "30", "--seed", "5", "--json"]) == 0  # the same drawings, the default checkpoint
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["accuracy"] == round((answers[True] == labels).mean(), 4)
    assert result["accuracy_no_fit"] == round((answers[False] == labels).mean(), 4)


def test_cli_reports_the_checkpoint_it_is_given(tmp_path, capsys):
    path = checkpoint.save(always_three(), tmp_path / "threes.safetensors", {"recipe": "test"})
    assert main(["--n", "20", "--checkpoint", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["n"] == 20 and result["accuracy"] == 0.1 and result["accuracy_no_fit"] == 0.1
    assert result["per_class"] == result["per_class_no_fit"] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert "10.00% of 20 drawn digits" in out and ") read as 3" in out
    assert main(["--n", "5", "--checkpoint", str(tmp_path / "missing.safetensors")]) == 1
    assert "error: missing.safetensors" in capsys.readouterr().err


@needs_default
def test_default_model_reads_drawn_digits():
    model, _ = checkpoint.load(checkpoint.DEFAULT)
    acc, per_class, _ = accuracy_on_drawings(model, drawings(200, seed=123))
    assert acc >= 0.98, f"{100 * acc:.1f}% of 200 drawn digits, per class {per_class}"
