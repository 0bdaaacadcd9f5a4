"""The drawn digits: reproducible, on the canvas, MNIST-like after preprocessing, and read well."""

import json

import numpy as np
import pytest
import torch

from cnn_demo import checkpoint
from cnn_demo.drawn import CANVAS, TEMPLATES, draw_digit, drawings, evaluate, main, render
from cnn_demo.model import SeedCNN
from cnn_demo.preprocess import canvas_to_mnist


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


def test_evaluate_and_cli(tmp_path, capsys):
    torch.manual_seed(0)
    path = checkpoint.save(SeedCNN(), tmp_path / "untrained.safetensors", {"recipe": "test"})
    acc, per_class, predictions = evaluate(checkpoint.load(path)[0], drawings(20, seed=0))
    assert 0 <= acc <= 1 and len(per_class) == 10 and predictions.shape == (20,)
    assert main(["--n", "20", "--checkpoint", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] == 20 and len(result["per_class"]) == 10 and 0 <= result["accuracy_no_fit"] <= 1
    assert main(["--n", "5", "--checkpoint", str(tmp_path / "missing.safetensors")]) == 1


@pytest.mark.skipif(not checkpoint.DEFAULT.exists(), reason="the shipped default model is not there")
def test_default_model_reads_drawn_digits():
    model, _ = checkpoint.load(checkpoint.DEFAULT)
    acc, per_class, _ = evaluate(model, drawings(200, seed=123))
    assert acc >= 0.98, f"{100 * acc:.1f}% of 200 drawn digits, per class {per_class}"
