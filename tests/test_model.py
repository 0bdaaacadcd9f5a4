import torch

from cnn_demo.network.model import build, conv_weights

# The keys of the tutorial notebook's state_dict: `layer` and `fc_layer`, with its indices.
TUTORIAL_KEYS = [
    "layer.0.weight",
    "layer.0.bias",
    "layer.2.weight",
    "layer.2.bias",
    "layer.5.weight",
    "layer.5.bias",
    "fc_layer.0.weight",
    "fc_layer.0.bias",
    "fc_layer.2.weight",
    "fc_layer.2.bias",
]


def test_state_dict_keys_and_shapes_are_the_tutorials():
    state = build().state_dict()
    assert list(state) == TUTORIAL_KEYS
    assert state["layer.0.weight"].shape == (16, 1, 5, 5)
    assert state["layer.2.weight"].shape == (32, 16, 5, 5)
    assert state["layer.5.weight"].shape == (64, 32, 5, 5)
    assert state["fc_layer.0.weight"].shape == (100, 576)
    assert state["fc_layer.2.weight"].shape == (10, 100)


def test_forward_any_batch_size():
    model = build().eval()
    for batch in (1, 3, 256, 257):  # the tutorial's view(batch_size, -1) broke on 1 and 257
        assert model(torch.rand(batch, 1, 28, 28)).shape == (batch, 10)


def test_intermediate_shapes():
    model, x = build(), torch.rand(2, 1, 28, 28)
    shapes = []
    for layer in model.layer:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [
        (16, 24, 24),
        (16, 24, 24),
        (32, 20, 20),
        (32, 20, 20),
        (32, 10, 10),
        (64, 6, 6),
        (64, 6, 6),
        (64, 3, 3),
    ]
    assert list(model.stages)[:8] == ["conv1", "relu1", "conv2", "relu2", "pool1", "conv3", "relu3", "pool2"]


def test_conv_weights_are_the_layers_own():
    model = build()
    weights = conv_weights(model)
    assert weights["conv1"].data_ptr() == model.layer[0].weight.data_ptr()
    assert [tuple(w.shape) for w in weights.values()] == [(16, 1, 5, 5), (32, 16, 5, 5), (64, 32, 5, 5)]
