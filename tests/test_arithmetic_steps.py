"""The step-through arithmetic against PyTorch's own conv2d, pooling and softmax: random small
networks (kernel 1-9, stride 1-3, padding 0-4, several input channels, max and avg pooling, every
activation), random inputs, random positions; each step's result equals the map's value."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_demo.inside import arithmetic_steps as steps
from cnn_demo.inside.features import chains, feature_maps
from cnn_demo.network.model import PRESETS, ConvStage, NetSpec, build

RNG_SEEDS = range(12)


def random_spec(rng: np.random.Generator) -> NetSpec:
    """Two conv stages that fit in 28 pixels, with random numbers in the editor's limits."""
    convs, w = [], 28
    for _ in range(2):
        while True:
            k, s, p = int(rng.integers(1, 10)), int(rng.integers(1, 4)), int(rng.integers(0, 5))
            if k <= w + 2 * p:
                break
        w = (w - k + 2 * p) // s + 1
        pool = [None, "max", "avg"][int(rng.integers(0, 3))] if w >= 2 else None
        activation = ["relu", "tanh", "sigmoid"][int(rng.integers(0, 3))]
        size = int(rng.integers(1, min(w, 4) + 1)) if pool else 2
        stride = int(rng.integers(1, 5)) if pool else 2
        convs.append(ConvStage(int(rng.integers(2, 5)), k, s, p, activation, pool, size, stride))
        if pool:
            w = (w - size) // stride + 1
    return NetSpec(tuple(convs), hidden=12)


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model = build(random_spec(rng)).eval()
    image = rng.random((28, 28)).astype(np.float32)
    return model, image, feature_maps(model, image), rng


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_conv_step_equals_conv2d_and_the_map(seed):
    model, image, maps, rng = random_case(seed)
    for chain in chains(model):
        inputs = steps.layer_input(model, chain.conv, image, maps)
        conv = model.layer[model.stages[chain.conv][1]]
        truth = F.conv2d(torch.as_tensor(inputs)[None], conv.weight, conv.bias, conv.stride, conv.padding)[0]
        np.testing.assert_allclose(truth.detach().numpy(), maps[chain.conv], rtol=1e-5, atol=1e-5)
        c_out, h, w = maps[chain.conv].shape
        for _ in range(5):
            c, r, col = int(rng.integers(c_out)), int(rng.integers(h)), int(rng.integers(w))
            step = steps.conv_step(model, chain.conv, inputs, c, r, col)
            assert step.result == pytest.approx(float(maps[chain.conv][c, r, col]), abs=1e-5)
            assert step.activated == pytest.approx(float(maps[chain.activation][c, r, col]), abs=1e-5)
            assert (
                step.window.shape == step.weights.shape == (inputs.shape[0], conv.kernel_size[0], conv.kernel_size[0])
            )
            assert step.total == pytest.approx(step.products.sum(), abs=1e-5)
            assert step.channel_sums.shape == (inputs.shape[0],)
            assert (step.top, step.left) == (r * conv.stride[0], col * conv.stride[0])
            p = conv.padding[0]
            assert step.padded.shape == (inputs.shape[0], inputs.shape[1] + 2 * p, inputs.shape[2] + 2 * p)
            if p:  # the padding is zeros, the inside is the input
                assert not step.padded[:, :p].any() and not step.padded[:, :, -p:].any()
                np.testing.assert_array_equal(step.padded[:, p:-p, p:-p], inputs)


def test_conv_step_padded_and_strided_window():
    """A hand-made case: the window at the corner reads the padding's zeros."""
    torch.manual_seed(0)
    model = build(NetSpec((ConvStage(2, 3, stride=2, padding=1),), hidden=10)).eval()
    image = np.arange(784, dtype=np.float32).reshape(28, 28) / 784
    maps = feature_maps(model, image)
    step = steps.conv_step(model, "conv1", image[None], 1, 0, 0)
    assert not step.window[0, 0].any() and not step.window[0, :, 0].any()  # top row and left column: zeros
    np.testing.assert_array_equal(step.window[0, 1:, 1:], image[:2, :2])
    assert step.result == pytest.approx(float(maps["conv1"][1, 0, 0]), abs=1e-5)
    step = steps.conv_step(model, "conv1", image[None], 0, 3, 5)
    np.testing.assert_array_equal(step.window[0], step.padded[0, 6:9, 10:13])
    with pytest.raises(IndexError):
        steps.conv_step(model, "conv1", image[None], 0, 14, 0)


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_pool_step_equals_torch_pooling(seed):
    model, image, maps, rng = random_case(seed)
    for chain in chains(model):
        if not chain.pool:
            continue
        inputs = steps.layer_input(model, chain.pool, image, maps)
        np.testing.assert_array_equal(inputs, maps[chain.activation])
        pool = model.layer[model.stages[chain.pool][1]]
        pooling = F.max_pool2d if chain.pooling == "max" else F.avg_pool2d
        truth = pooling(torch.as_tensor(inputs)[None], pool.kernel_size, pool.stride)[0].numpy()
        np.testing.assert_allclose(truth, maps[chain.pool], rtol=1e-6, atol=1e-6)
        c_n, h, w = truth.shape
        for _ in range(5):
            c, r, col = int(rng.integers(c_n)), int(rng.integers(h)), int(rng.integers(w))
            step = steps.pool_step(model, chain.pool, inputs, c, r, col)
            assert step.kind == chain.pooling
            assert step.result == pytest.approx(float(truth[c, r, col]), abs=1e-6)
            if step.kind == "max":
                assert step.window[step.winner] == step.result and step.mean is None
            else:
                assert step.mean == pytest.approx(step.window.mean(), abs=1e-6) and step.winner is None


@pytest.mark.parametrize("name", ["seed", "fully_connected", "avg_pooling"])
def test_end_step_equals_the_logits_and_softmax(name):
    torch.manual_seed(1)
    model = build(PRESETS[name].spec).eval()
    image = np.random.default_rng(1).random((28, 28)).astype(np.float32)
    maps = feature_maps(model, image)
    end = steps.end_step(model, maps["hidden"])
    np.testing.assert_allclose(end.logits, maps["logits"], atol=1e-5)
    truth = F.softmax(torch.as_tensor(maps["logits"], dtype=torch.float64), 0).numpy()
    np.testing.assert_allclose(end.probabilities, truth, atol=1e-6)
    assert end.exps.max() == 1.0 and end.exp_sum == pytest.approx(end.exps.sum())
    top = end.top_contributions(3, 4)
    assert abs(end.products[3, top[0]]) == np.abs(end.products[3]).max() and len(top) == 4


def test_unit_step_for_a_fully_connected_net():
    torch.manual_seed(2)
    model = build(PRESETS["fully_connected"].spec).eval()
    image = np.random.default_rng(2).random((28, 28)).astype(np.float32)
    maps = feature_maps(model, image)
    fc = model.fc_layer[0]
    pre = (fc.weight @ torch.as_tensor(image).reshape(784) + fc.bias).detach().numpy()
    for unit in (0, 7, 154):
        step = steps.unit_step(model, image, unit)
        assert step.products.shape == (28, 28)
        assert step.result == pytest.approx(float(pre[unit]), abs=1e-5)
        assert step.activated == pytest.approx(float(maps["hidden"][unit]), abs=1e-5)
    with pytest.raises(ValueError):
        steps.unit_step(build(PRESETS["seed"].spec), image, 0)


def test_play_walks_row_by_row_and_fills_the_map():
    full = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert steps.window_positions(3, 4)[:6] == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)]
    half = steps.partial_map(full, 6)
    np.testing.assert_array_equal(half[0], full[0])
    assert half[1, 1] == 5 and np.isnan(half[1, 2]) and np.isnan(half[2]).all()
    assert np.isnan(steps.partial_map(full, 0)).all()
    np.testing.assert_array_equal(steps.partial_map(full, 99), full)


@pytest.mark.parametrize("seed", range(8))
def test_slide_kernel_equals_conv2d(seed):
    rng = np.random.default_rng(seed)
    w, k, s, p = int(rng.integers(6, 29)), int(rng.integers(1, 10)), int(rng.integers(1, 4)), int(rng.integers(0, 5))
    if k > w + 2 * p:
        k = w
    image, kernel = rng.random((w, w)), rng.normal(size=(k, k))
    truth = F.conv2d(torch.as_tensor(image)[None, None], torch.as_tensor(kernel)[None, None], stride=s, padding=p)
    np.testing.assert_allclose(steps.slide_kernel(image, kernel, s, p), truth[0, 0].numpy(), atol=1e-9)


def test_fits_only_whole_output_sizes():
    assert steps.fits(28, 5, 1, 0) and not steps.fits(28, 5, 2, 0) and steps.fits(28, 4, 2, 1)
    assert not steps.fits(4, 9, 1, 2) and steps.fits(4, 9, 1, 3)
    assert steps.fitting_strides(28, 4, 0, 3) == [1, 2, 3]
    assert steps.fitting_strides(28, 5, 0, 4) == [1]


def test_classic_kernels_and_shrink():
    assert steps.classic_kernel("blur", 3).sum() == pytest.approx(1)
    assert steps.classic_kernel("sharpen", 5).sum() == pytest.approx(1)
    edge = steps.classic_kernel("edge", 4)
    assert edge.sum() == 0 and (edge[:, :2] == -1).all() and (edge[:, 2:] == 1).all()
    image = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    small = steps.shrink(image, 14)
    assert small.shape == (14, 14) and small[0, 0] == pytest.approx(image[:2, :2].mean())
    np.testing.assert_allclose(steps.shrink(image, 28), image)
