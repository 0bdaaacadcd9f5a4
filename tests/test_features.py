"""cnn_demo.inside.features against independent truths (F.conv2d, max_pool2d, the model's own forward),
and the shared model left as it was, from one thread or many."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_demo.inside import features
from cnn_demo.inside.attribution import grad_cam

SHAPES = {
    "conv1": (16, 24, 24),
    "relu1": (16, 24, 24),
    "conv2": (32, 20, 20),
    "relu2": (32, 20, 20),
    "pool1": (32, 10, 10),
    "conv3": (64, 6, 6),
    "relu3": (64, 6, 6),
    "pool2": (64, 3, 3),
    "flatten": (576,),
    "hidden": (100,),
    "logits": (10,),
}


def no_hooks(model: torch.nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_shapes_and_order(model, digits):
    maps = features.feature_maps(model, digits[0])
    assert list(maps) == list(SHAPES)
    assert {k: v.shape for k, v in maps.items()} == SHAPES
    assert all(v.dtype == np.float32 for v in maps.values())


def test_conv1_is_conv2d_with_its_own_weights(model, digits):
    maps = features.feature_maps(model, digits[1])
    conv = model.layer[0]
    x = torch.from_numpy(digits[1])[None, None]
    expected = F.conv2d(x, conv.weight, conv.bias)[0].detach().numpy()
    np.testing.assert_allclose(maps["conv1"], expected, atol=1e-5)


def test_relu_pool_flatten_and_logits(model, digits):
    maps = features.feature_maps(model, digits[2])
    np.testing.assert_array_equal(maps["relu1"], np.maximum(maps["conv1"], 0))
    np.testing.assert_array_equal(maps["relu3"], np.maximum(maps["conv3"], 0))
    pooled = F.max_pool2d(torch.from_numpy(maps["relu2"])[None], 2)[0].numpy()
    np.testing.assert_array_equal(maps["pool1"], pooled)
    np.testing.assert_array_equal(maps["flatten"], maps["pool2"].reshape(-1))
    assert (maps["hidden"] >= 0).all()
    with torch.no_grad():
        logits = model(torch.from_numpy(digits[2])[None, None])[0].numpy()
    np.testing.assert_allclose(maps["logits"], logits, atol=1e-5)
    probs = features.probabilities(maps["logits"])
    assert probs.sum() == pytest.approx(1, abs=1e-6) and probs.argmax() == logits.argmax()


def test_bad_input_is_refused(model):
    with pytest.raises(ValueError, match="28 x 28"):
        features.feature_maps(model, np.zeros((27, 28)))


def test_hooks_removed_even_after_an_error(model, digits):
    threads = torch.get_num_threads()
    features.feature_maps(model, digits[0])
    grad_cam(model, digits[0])
    assert no_hooks(model)
    assert torch.get_num_threads() == threads  # the one-thread section gave the threads back

    def boom(module, inputs, output):
        raise RuntimeError("boom")

    handle = model.fc_layer[2].register_forward_hook(boom)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            features.feature_maps(model, digits[0])
        assert len(model.fc_layer[2]._forward_hooks) == 1  # only ours is left
    finally:
        handle.remove()
    assert no_hooks(model)
    assert not features._HOOK_LOCK.locked()


def test_concurrent_calls_each_get_their_own_maps(model, digits):
    expected = [features.feature_maps(model, d) for d in digits]
    stop = threading.Event()

    def plain_predictions():  # another page predicting, without the lock, meanwhile
        x = torch.from_numpy(digits[::-1].copy())[:, None]
        with torch.no_grad():
            while not stop.is_set():
                model(x)

    other = threading.Thread(target=plain_predictions)
    other.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            jobs = [
                (i % len(digits), pool.submit(features.feature_maps, model, digits[i % len(digits)])) for i in range(48)
            ]
            for i, job in jobs:
                got = job.result()
                for name in SHAPES:
                    np.testing.assert_allclose(got[name], expected[i][name], atol=1e-5, err_msg=f"{name} of image {i}")
    finally:
        stop.set()
        other.join()
    assert no_hooks(model)


def test_kernels(model):
    k = features.kernels(model)
    assert {n: v.shape for n, v in k.items()} == {
        "conv1": (16, 1, 5, 5),
        "conv2": (32, 16, 5, 5),
        "conv3": (64, 32, 5, 5),
    }
    np.testing.assert_array_equal(k["conv2"], model.layer[2].weight.detach().numpy())
    k["conv1"][:] = 0  # a copy: the shared model's weights are untouched
    assert model.layer[0].weight.abs().sum() > 0


def test_pool_winners_are_what_max_pool_keeps(model, digits):
    relu2 = features.feature_maps(model, digits[4])["relu2"]  # (32, 20, 20)
    pooled = F.max_pool2d(torch.from_numpy(relu2)[None], 2)[0].numpy()
    for c in range(0, 32, 5):
        rows, cols = features.pool_winners(relu2[c])
        np.testing.assert_array_equal(relu2[c][rows, cols], pooled[c][rows // 2, cols // 2])
        assert len(rows) == np.count_nonzero(pooled[c])  # one winner per non-zero block


def test_strongest_channel():
    maps = np.zeros((3, 4, 4), dtype=np.float32)
    maps[1, 2, 3], maps[2, 0, 0] = 5, 4
    assert features.strongest_channel(maps) == 1
