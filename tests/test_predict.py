"""predict_proba: the one place a drawing meets the model."""

import numpy as np
import pytest
import torch

from cnn_demo.inside.predict import predict_proba, runner_up
from cnn_demo.network.model import Net, build


@pytest.fixture(scope="module")
def model() -> Net:
    torch.manual_seed(0)
    return build().eval()


def test_probabilities_sum_to_one_and_match_the_model(model):
    image = np.random.default_rng(0).random((28, 28), dtype=np.float32)
    probs = predict_proba(model, image)
    assert probs.shape == (10,) and np.isclose(probs.sum(), 1, atol=1e-12) and (probs >= 0).all()
    with torch.no_grad():  # independent truth: the model's own logits, softmaxed by torch
        expected = torch.softmax(model(torch.from_numpy(image)[None, None]), 1)[0].numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-6)


def test_a_batch_gives_one_row_per_image(model):
    images = np.random.default_rng(1).random((5, 28, 28))
    probs = predict_proba(model, images)
    assert probs.shape == (5, 10)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-12)
    np.testing.assert_allclose(probs[3], predict_proba(model, images[3]), atol=1e-6)


def test_the_shared_model_is_left_as_it_was(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    predict_proba(model, np.zeros((28, 28)))
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_wrong_shapes_are_refused(model):
    for shape in [(28,), (27, 28), (1, 1, 28, 28), (280, 280)]:
        with pytest.raises(ValueError):
            predict_proba(model, np.zeros(shape))


def test_runner_up_is_the_second_most_likely_digit():
    probs = np.array([0.05, 0.6, 0.01, 0.25, 0.01, 0.02, 0.02, 0.02, 0.01, 0.01])
    assert runner_up(probs) == 3
    assert runner_up(np.eye(10)[7] * 0.9 + np.eye(10)[2] * 0.1) == 2
