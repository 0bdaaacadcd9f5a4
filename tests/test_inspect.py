"""cnn_demo.inspect against independent truths (F.conv2d, max_pool2d, finite differences),
and the Inspect page's logic through Streamlit's AppTest (no browser)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from cnn_demo import checkpoint
from cnn_demo import inspect as ins
from cnn_demo.data import load_mnist
from cnn_demo.model import SeedCNN

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


@pytest.fixture(scope="module")
def model() -> SeedCNN:
    torch.manual_seed(0)
    return SeedCNN().eval()


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    images, _ = load_mnist("test")
    return images[:8].float().div(255).numpy()  # (8, 28, 28) in [0, 1]


def no_hooks(model: torch.nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_shapes_and_order(model, digits):
    maps = ins.feature_maps(model, digits[0])
    assert list(maps) == list(SHAPES)
    assert {k: v.shape for k, v in maps.items()} == SHAPES
    assert all(v.dtype == np.float32 for v in maps.values())


def test_conv1_is_conv2d_with_its_own_weights(model, digits):
    maps = ins.feature_maps(model, digits[1])
    conv = model.layer[0]
    x = torch.from_numpy(digits[1])[None, None]
    expected = F.conv2d(x, conv.weight, conv.bias)[0].detach().numpy()
    np.testing.assert_allclose(maps["conv1"], expected, atol=1e-5)


def test_relu_pool_flatten_and_logits(model, digits):
    maps = ins.feature_maps(model, digits[2])
    np.testing.assert_array_equal(maps["relu1"], np.maximum(maps["conv1"], 0))
    np.testing.assert_array_equal(maps["relu3"], np.maximum(maps["conv3"], 0))
    pooled = F.max_pool2d(torch.from_numpy(maps["relu2"])[None], 2)[0].numpy()
    np.testing.assert_array_equal(maps["pool1"], pooled)
    np.testing.assert_array_equal(maps["flatten"], maps["pool2"].reshape(-1))
    assert (maps["hidden"] >= 0).all()
    with torch.no_grad():
        logits = model(torch.from_numpy(digits[2])[None, None])[0].numpy()
    np.testing.assert_allclose(maps["logits"], logits, atol=1e-5)
    probs = ins.probabilities(maps["logits"])
    assert probs.sum() == pytest.approx(1, abs=1e-6) and probs.argmax() == logits.argmax()


def test_bad_input_is_refused(model):
    with pytest.raises(ValueError, match="28 x 28"):
        ins.feature_maps(model, np.zeros((27, 28)))


def test_hooks_removed_even_after_an_error(model, digits):
    threads = torch.get_num_threads()
    ins.feature_maps(model, digits[0])
    ins.grad_cam(model, digits[0])
    assert no_hooks(model)
    assert torch.get_num_threads() == threads  # the one-thread section gave the threads back

    def boom(module, inputs, output):
        raise RuntimeError("boom")

    handle = model.fc_layer[2].register_forward_hook(boom)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            ins.feature_maps(model, digits[0])
        assert len(model.fc_layer[2]._forward_hooks) == 1  # only ours is left
    finally:
        handle.remove()
    assert no_hooks(model)
    assert not ins._HOOK_LOCK.locked()


def test_concurrent_calls_each_get_their_own_maps(model, digits):
    expected = [ins.feature_maps(model, d) for d in digits]
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
            jobs = [(i % len(digits), pool.submit(ins.feature_maps, model, digits[i % len(digits)])) for i in range(48)]
            for i, job in jobs:
                got = job.result()
                for name in SHAPES:
                    np.testing.assert_allclose(got[name], expected[i][name], atol=1e-5, err_msg=f"{name} of image {i}")
    finally:
        stop.set()
        other.join()
    assert no_hooks(model)


def test_kernels(model):
    k = ins.kernels(model)
    assert {n: v.shape for n, v in k.items()} == {
        "conv1": (16, 1, 5, 5),
        "conv2": (32, 16, 5, 5),
        "conv3": (64, 32, 5, 5),
    }
    np.testing.assert_array_equal(k["conv2"], model.layer[2].weight.detach().numpy())
    k["conv1"][:] = 0  # a copy: the shared model's weights are untouched
    assert model.layer[0].weight.abs().sum() > 0


def test_output_size_and_formula():
    assert ins.output_size(28, 5) == 24
    assert ins.output_size(28, 5, 1, 2) == 28  # "same" padding
    assert ins.output_size(7, 3, 2, 0) == 3  # floor((7 - 3) / 2) + 1
    assert ins.output_size(8, 3, 2, 0) == 3  # the last partial window is dropped
    assert ins.formula(28, 5, 1, 0) == "(28 − 5 + 2·0) / 1 + 1 = 24"
    assert ins.formula(8, 3, 2, 0) == "⌊(8 − 3 + 2·0) / 2⌋ + 1 = 3"
    with pytest.raises(ValueError):
        ins.output_size(4, 5)
    with pytest.raises(ValueError):
        ins.output_size(28, 5, 0)


def test_layer_arithmetic_matches_the_maps(model, digits):
    layers = ins.layer_arithmetic(model)
    maps = ins.feature_maps(model, digits[0])
    assert [r.name for r in layers] == ["conv1", "conv2", "pool1", "conv3", "pool2"]
    for row in layers:
        assert row.out_shape == maps[row.name].shape
    by = {r.name: r for r in layers}
    assert by["conv1"].formula == "(28 − 5 + 2·0) / 1 + 1 = 24"
    assert by["pool1"].formula == "(20 − 2 + 2·0) / 2 + 1 = 10"
    assert by["pool2"].formula == "(6 − 2 + 2·0) / 2 + 1 = 3"
    assert by["pool1"].in_shape == (32, 20, 20) and by["pool1"].out_shape == (32, 10, 10)
    assert [r.receptive_field for r in layers] == [5, 9, 10, 18, 20]


def test_receptive_field_by_gradient(model):
    """The pixels that can change conv3 unit (0, 0) are exactly its computed receptive field."""
    row = {r.name: r for r in ins.layer_arithmetic(model)}["conv3"]
    x = torch.rand(1, 1, 28, 28, requires_grad=True)
    out = model.layer[:6](x)  # up to conv3: (1, 64, 6, 6)
    (grad,) = torch.autograd.grad(out[0, :, 0, 0].sum(), x)
    rows, cols = np.nonzero(grad[0, 0].abs().numpy() > 0)
    assert rows.max() + 1 == cols.max() + 1 == row.receptive_field
    assert (rows.max() + 1) / 2 == row.first_centre  # unit 0's patch is [0, 18): centre 9


def test_param_counts(model):
    rows = {r.name: r for r in ins.param_counts(model)}
    for name, index in (("conv1", 0), ("conv2", 2), ("conv3", 5)):
        assert rows[name].params == sum(p.numel() for p in model.layer[index].parameters())
    fc = sum(p.numel() for p in model.fc_layer.parameters())
    assert sum(r.params for r in rows.values()) + fc == sum(p.numel() for p in model.parameters())
    assert rows["conv1"].params_formula == "16·(1·5·5) + 16 = 416"
    assert rows["conv1"].fc_params == 784 * 9216 + 9216
    assert rows["conv1"].inputs_per_unit == 25 and rows["conv1"].uses_per_weight == 24 * 24
    assert rows["conv3"].fc_params == 3200 * 2304 + 2304


def test_saliency_matches_finite_differences(model, digits):
    # A little noise: on a blank background max-pool windows hold exact ties, where the
    # gradient picks one input and a finite difference splits the change between them.
    x = digits[3] + np.random.default_rng(1).uniform(0, 0.01, (28, 28)).astype(np.float32)
    s = ins.saliency(model, x, target=4)
    assert s.shape == (28, 28) and s.min() >= 0 and s.max() == pytest.approx(1)
    # Central differences in float64 on the 40 most salient pixels and 40 others, one batch.
    pixels = np.concatenate([np.argsort(s, axis=None)[-40:], np.random.default_rng(0).choice(784, 40, replace=False)])
    eps = 1e-5
    bumps = torch.zeros(len(pixels), 784, dtype=torch.float64)
    bumps[torch.arange(len(pixels)), torch.from_numpy(pixels)] = eps
    bumps = bumps.reshape(-1, 1, 28, 28)
    base = torch.from_numpy(x)[None, None].double()
    m64 = SeedCNN().double().eval()
    m64.load_state_dict(model.state_dict())
    with torch.no_grad():
        fd = ((m64(base + bumps)[:, 4] - m64(base - bumps)[:, 4]) / (2 * eps)).abs().numpy()
    # The most salient pixel is among them, so both are scaled by the same largest gradient.
    np.testing.assert_allclose(s.reshape(-1)[pixels], fd / fd.max(), atol=1e-3)
    assert all(p.grad is None for p in model.parameters())


def test_grad_cam(model, digits):
    for stage in ("relu3", "relu2"):
        cam = ins.grad_cam(model, digits[0], stage=stage)
        assert cam.shape == (28, 28) and cam.min() >= 0 and cam.max() <= 1 + 1e-6
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError):
        ins.grad_cam(model, digits[0], stage="hidden")


def test_shift_moves_pixels():
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_array_equal(ins.shift(x, 1, 0)[:, 1:], x[:, :3])
    assert (ins.shift(x, 1, 0)[:, 0] == 0).all()
    np.testing.assert_array_equal(ins.shift(x, 0, -2)[:2], x[2:])
    assert (ins.shift(x, 5, 0) == 0).all()


def test_conv_maps_shift_with_the_input_and_pooling_damps_change(model, digits):
    for dx, dy in ((1, 0), (0, -1), (2, 1)):
        rows = {r.stage: r for r in ins.shift_equivariance(model, digits[0], dx, dy)}
        assert rows["input"].changed > 0.2
        for name in ("conv1", "relu1", "conv2", "relu2"):
            assert rows[name].changed > 0.1  # the map did change in place ...
            assert rows[name].shift_error < 1e-4  # ... but it is the old map moved along
        assert rows["pool1"].changed < rows["relu2"].changed
        assert rows["pool2"].changed < rows["relu3"].changed
    # 2 pixels are one unit of pool1 and conv3: they shift exactly too; pool2's are 4 px apart.
    rows = {r.stage: r for r in ins.shift_equivariance(model, digits[0], 2, 0)}
    assert rows["pool1"].shift_error < 1e-4 and rows["conv3"].shift_error < 1e-4
    assert rows["pool2"].shift_error is None and rows["hidden"].shift_error is None


def test_command_line(model, tmp_path, capsys):
    path = checkpoint.save(model, tmp_path / "m.safetensors", {"recipe": "test"})
    assert ins.main([str(path), "--bench", "--runs", "5"]) == 0
    out = capsys.readouterr().out
    assert "16 × 24 × 24" in out and "(28 − 5 + 2·0) / 1 + 1 = 24" in out and "p95" in out
    assert ins.main([str(tmp_path / "missing.safetensors")]) == 1


def test_dense_layers(model):
    fc1, fc2 = ins.dense_layers(model)
    assert (fc1.in_features, fc1.out_features, fc1.params) == (576, 100, 576 * 100 + 100)
    assert (fc2.in_features, fc2.out_features, fc2.params) == (100, 10, 1010)


def test_pool_winners_are_what_max_pool_keeps(model, digits):
    relu2 = ins.feature_maps(model, digits[4])["relu2"]  # (32, 20, 20)
    pooled = F.max_pool2d(torch.from_numpy(relu2)[None], 2)[0].numpy()
    for c in range(0, 32, 5):
        rows, cols = ins.pool_winners(relu2[c])
        np.testing.assert_array_equal(relu2[c][rows, cols], pooled[c][rows // 2, cols // 2])
        assert len(rows) == np.count_nonzero(pooled[c])  # one winner per non-zero block


def test_strongest_channel():
    maps = np.zeros((3, 4, 4), dtype=np.float32)
    maps[1, 2, 3], maps[2, 0, 0] = 5, 4
    assert ins.strongest_channel(maps) == 1


def test_colour_helpers():
    maps = np.array([[[1.0, -4.0]], [[0.5, 0.25]], [[0.0, 0.0]]], dtype=np.float32)
    assert ins.signed_limit(maps) == 4 and ins.signed_limit(np.zeros(3)) == 1
    scaled = ins.scale_each(maps)
    np.testing.assert_allclose(scaled[0, 0], [0.25, -1])
    np.testing.assert_allclose(scaled[1, 0], [1, 0.5])
    assert (scaled[2] == 0).all()


# ---------------------------------------------------------------------------- the page (AppTest)

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TABS = ["Feature maps", "One channel", "Learned filters", "End of the network", "Where it looks", "How it works"]


@pytest.fixture
def page():
    st.cache_resource.clear()  # a fresh "server"
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/inspect.py").run()
    assert not at.exception
    yield at
    st.cache_resource.clear()


def test_page_shows_every_stage_and_every_tab_runs(page):
    text = " ".join(m.value for m in page.markdown)
    for name, shape in SHAPES.items():
        if len(shape) == 3:
            assert f"**{name}** · {' × '.join(map(str, shape))}" in text
    for tab in TABS[1:]:
        page.session_state["inspect_tab"] = tab  # the tabs run only when open
        page.run()
        assert not page.exception, tab


def test_page_prediction_is_the_models(page):
    if not checkpoint.DEFAULT.exists():
        pytest.skip("no shipped default model")
    model, _ = checkpoint.load(checkpoint.DEFAULT)
    images, labels = load_mnist("test")
    page.number_input(key="inspect_index").set_value(42).run()
    with torch.no_grad():
        expected = model(images[42].float().div(255)[None, None]).argmax().item()
    (shown,) = [m for m in page.main.metric if m.label == "Prediction"]
    assert shown.value == str(expected)
    page.button(key="inspect_digit_3").click().run()  # the next 3 after image 42
    index = page.session_state["inspect_index"]
    assert index > 42 and labels[index] == 3 and (labels[43:index] != 3).all()
