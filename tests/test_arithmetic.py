"""cnn_demo.network.arithmetic: output sizes, the worked formulas, receptive fields and parameter
counts, checked against the model's real maps, its gradients and its parameters."""

import numpy as np
import pytest
import torch

from cnn_demo.inside.features import feature_maps
from cnn_demo.network import arithmetic


def test_output_size_and_formula():
    assert arithmetic.output_size(28, 5) == 24
    assert arithmetic.output_size(28, 5, 1, 2) == 28  # "same" padding
    assert arithmetic.output_size(7, 3, 2, 0) == 3  # floor((7 - 3) / 2) + 1
    assert arithmetic.output_size(8, 3, 2, 0) == 3  # the last partial window is dropped
    assert arithmetic.formula(28, 5, 1, 0) == "(28 − 5 + 2·0) / 1 + 1 = 24"
    assert arithmetic.formula(8, 3, 2, 0) == "⌊(8 − 3 + 2·0) / 2⌋ + 1 = 3"
    with pytest.raises(ValueError):
        arithmetic.output_size(4, 5)
    with pytest.raises(ValueError):
        arithmetic.output_size(28, 5, 0)


def test_layer_arithmetic_matches_the_maps(model, digits):
    layers = arithmetic.layer_arithmetic(model)
    maps = feature_maps(model, digits[0])
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
    row = {r.name: r for r in arithmetic.layer_arithmetic(model)}["conv3"]
    x = torch.rand(1, 1, 28, 28, requires_grad=True)
    out = model.layer[:6](x)  # up to conv3: (1, 64, 6, 6)
    (grad,) = torch.autograd.grad(out[0, :, 0, 0].sum(), x)
    rows, cols = np.nonzero(grad[0, 0].abs().numpy() > 0)
    assert rows.max() + 1 == cols.max() + 1 == row.receptive_field
    assert (rows.max() + 1) / 2 == row.first_centre  # unit 0's patch is [0, 18): centre 9


def test_param_counts(model):
    rows = {r.name: r for r in arithmetic.param_counts(model)}
    for name, index in (("conv1", 0), ("conv2", 2), ("conv3", 5)):
        assert rows[name].params == sum(p.numel() for p in model.layer[index].parameters())
    fc = sum(p.numel() for p in model.fc_layer.parameters())
    assert sum(r.params for r in rows.values()) + fc == sum(p.numel() for p in model.parameters())
    assert rows["conv1"].params_formula == "16·(1·5·5) + 16 = 416"
    assert rows["conv1"].fc_params == 784 * 9216 + 9216
    assert rows["conv1"].inputs_per_unit == 25 and rows["conv1"].uses_per_weight == 24 * 24
    assert rows["conv3"].fc_params == 3200 * 2304 + 2304


def test_dense_layers(model):
    fc1, fc2 = arithmetic.dense_layers(model)
    assert (fc1.in_features, fc1.out_features, fc1.params) == (576, 100, 576 * 100 + 100)
    assert (fc2.in_features, fc2.out_features, fc2.params) == (100, 10, 1010)
