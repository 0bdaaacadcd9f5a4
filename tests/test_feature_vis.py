"""What each channel looks for (cnn_demo.inside.feature_vis): the picture drawn for a unit makes
that unit fire more than any of the images given, for conv channels, hidden units and outputs,
of a CNN and of a fully connected net; the top images really are the strongest; the model is
never changed."""

import numpy as np
import pytest
import torch

from cnn_demo.inside.feature_vis import (
    picture_values,
    top_images,
    unit_activations,
    unit_count,
    unit_names,
    unit_pictures,
)
from cnn_demo.network.model import ConvStage, NetSpec, build

SMALL = NetSpec((ConvStage(4, 5), ConvStage(6, 3, pool="max")), hidden=12)
STEPS = 60  # enough for these small nets; the app uses feature_vis.STEPS


def images(n: int = 200) -> torch.Tensor:
    """Digit-like test images: a few random strokes (bright bars) on black, uint8 (n, 28, 28)."""
    rng = np.random.default_rng(0)
    out = np.zeros((n, 28, 28), np.uint8)
    for image in out:
        for _ in range(3):
            r, c = rng.integers(4, 24, 2)
            if rng.random() < 0.5:
                image[r : r + 2, c - 4 : c + 4] = 255
            else:
                image[r - 4 : r + 4, c : c + 2] = 255
    return torch.as_tensor(out)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build(SMALL).eval()


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("unit", ["conv1", "conv2", "hidden", "logits"])
def test_each_picture_beats_every_test_image(model, unit):
    before = snapshot(model)
    test = images()
    pictures = unit_pictures(model, unit, steps=STEPS)
    assert pictures.shape == (unit_count(model, unit), 28, 28) and pictures.dtype == np.float32
    assert pictures.min() >= 0 and pictures.max() <= 1
    drawn = picture_values(model, unit, pictures)  # (N,)
    best_test = unit_activations(model, unit, test).max(axis=0)  # (N,)
    assert (drawn > best_test).all(), f"{unit}: drawn {drawn} vs best test image {best_test}"
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())  # the ascent never touched the model's gradients


def test_a_fully_connected_net_too():
    torch.manual_seed(0)
    net = build(NetSpec((), hidden=16)).eval()
    assert unit_names(net) == ["hidden", "logits"]
    pictures = unit_pictures(net, "hidden", steps=STEPS)
    assert (picture_values(net, "hidden", pictures) > unit_activations(net, "hidden", images()).max(axis=0)).all()


def test_pictures_are_repeatable_and_progress_is_reported(model):
    seen = []
    a = unit_pictures(model, "conv1", steps=20, progress=lambda done, total: seen.append((done, total)))
    b = unit_pictures(model, "conv1", steps=20)
    assert np.array_equal(a, b)
    assert seen == [(10, 20), (20, 20)]


def test_top_images_are_the_strongest(model):
    test = images(50)
    order, values = top_images(model, "conv2", test, k=3)
    all_values = unit_activations(model, "conv2", test)  # (50, 6)
    assert order.shape == values.shape == (6, 3)
    for unit in range(6):
        expected = np.sort(all_values[:, unit])[::-1][:3]
        assert np.allclose(values[unit], expected)
        assert np.allclose(all_values[order[unit], unit], values[unit])


def test_an_unknown_unit_is_refused(model):
    with pytest.raises(ValueError):
        unit_pictures(model, "pool1")
