"""Break it (cnn_demo.inside.ablation): a damaged copy computes what a network with those weights
zeroed by hand computes, the intact damage gives back the exact outputs, the accuracy lost per
channel equals switching each channel off for real, and the model passed in never changes."""

import copy

import pytest
import torch

from cnn_demo.inside.ablation import (
    Damage,
    channel_importance,
    damaged_copy,
    probe_set,
    score_of,
)
from cnn_demo.network.model import ConvStage, NetSpec, build, conv_layers

SMALL = NetSpec((ConvStage(4, 5), ConvStage(6, 3, pool="max")), hidden=12)


def small_model():
    """A small random net whose answers depend on the image: its weights are scaled up (x3), or a
    random net answers 7 to everything and no channel would matter."""
    torch.manual_seed(0)
    net = build(SMALL).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3)
    return net


@pytest.fixture
def model():
    return small_model()


@pytest.fixture
def data():
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (60, 28, 28), dtype=torch.uint8, generator=generator)
    x = images.float().div(255).unsqueeze(1)
    with torch.no_grad():
        labels = small_model()(x).argmax(1)  # the fixture model's own answers: 100% intact
    return images, labels


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def same_state(model, before) -> bool:
    return all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def inputs(images):
    return images.float().div(255).unsqueeze(1)


def test_a_channel_off_equals_its_weights_and_bias_zeroed(model, data):
    images, _ = data
    before = snapshot(model)
    broken = damaged_copy(model, Damage.make(channels={"conv2": [1, 4]}))
    by_hand = copy.deepcopy(model)
    with torch.no_grad():
        conv = by_hand.layer[conv_layers(by_hand)["conv2"]]
        conv.weight[[1, 4]] = 0
        conv.bias[[1, 4]] = 0
        x = inputs(images)
        assert torch.equal(broken(x), by_hand(x))
        assert not torch.equal(broken(x), model(x))  # the damage did something
        conv_out = broken.layer[: conv_layers(broken)["conv2"] + 1](x)
        assert conv_out[:, [1, 4]].abs().max() == 0  # those channels' outputs are zero
    assert same_state(model, before)


def test_hidden_units_and_a_whole_layer_off(model, data):
    x = inputs(data[0])
    before = snapshot(model)
    hidden = damaged_copy(model, Damage.make(hidden=[0, 5]))
    whole = damaged_copy(model, Damage.make(layer="conv1"))
    with torch.no_grad():
        units = hidden.fc_layer[:2](hidden.layer(x).flatten(1))  # (N, 12) after the ReLU
        assert units[:, [0, 5]].abs().max() == 0 and units[:, 1].abs().max() > 0
        first = whole.layer[0](x)
        assert first.abs().max() == 0
        out = whole(x)
        assert torch.allclose(out, out[:1].expand_as(out))  # nothing of the image gets through
    assert same_state(model, before)


def test_restore_gives_back_exactly_the_intact_outputs(model, data):
    x = inputs(data[0])
    before = snapshot(model)
    heavy = Damage.make(channels={"conv1": [0]}, hidden=[3], noise=0.5, biases_off=True)
    broken = damaged_copy(model, heavy)
    restored = damaged_copy(model, Damage())
    with torch.no_grad():
        assert not torch.equal(broken(x), model(x))
        assert torch.equal(restored(x), model(x))
    assert Damage().intact and not heavy.intact
    assert same_state(model, before)


def test_noise_is_seeded_and_biases_go_to_zero(model):
    before = snapshot(model)
    a = damaged_copy(model, Damage.make(noise=0.3, seed=7))
    b = damaged_copy(model, Damage.make(noise=0.3, seed=7))
    c = damaged_copy(model, Damage.make(noise=0.3, seed=8))
    assert same_state(a, snapshot(b))
    assert not same_state(a, snapshot(c))
    off = damaged_copy(model, Damage.make(biases_off=True))
    assert all(p.abs().max() == 0 for name, p in off.named_parameters() if name.endswith("bias"))
    assert all(torch.equal(p, before[name]) for name, p in off.named_parameters() if name.endswith("weight"))
    assert same_state(model, before)


def test_damage_is_hashable_and_normalised():
    a = Damage.make(channels={"conv2": [3, 1, 3], "conv1": []}, hidden=[2, 1])
    b = Damage.make(channels={"conv2": (1, 3)}, hidden=(1, 2))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a.channels_of("conv2") == (1, 3) and a.channels_of("conv1") == ()


def test_damage_that_does_not_fit_the_network_is_refused(model):
    for damage in (
        Damage.make(channels={"conv9": [0]}),
        Damage.make(channels={"conv1": [4]}),  # conv1 has channels 0..3
        Damage.make(hidden=[12]),
        Damage.make(layer="pool1"),
    ):
        with pytest.raises(ValueError):
            damaged_copy(model, damage)


def test_score_overall_and_per_class(model, data):
    images, labels = data
    score = score_of(model, images, labels)
    assert score.overall == 1.0
    wrong = (labels + 1) % 10
    assert score_of(model, images, wrong).overall == 0.0
    for c in range(10):
        present = bool((labels == c).any())
        assert (score.per_class[c] == 1.0) if present else score.per_class[c] != score.per_class[c]  # NaN


def test_channel_importance_equals_each_channel_switched_off(model, data):
    images, labels = data
    labels = labels.clone()
    labels[::3] = (labels[::3] + 1) % 10  # some wrong already, so a channel off can also help
    before = snapshot(model)
    seen = []
    lost = channel_importance(model, "conv1", images, labels, progress=lambda done, total: seen.append((done, total)))
    intact = score_of(model, images, labels).overall
    expected = [
        intact - score_of(damaged_copy(model, Damage.make(channels={"conv1": [c]})), images, labels).overall
        for c in range(4)
    ]
    assert lost == pytest.approx(expected, abs=1e-9)
    assert any(v != 0 for v in lost)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert same_state(model, before)
    with pytest.raises(ValueError):
        channel_importance(model, "hidden", images, labels)


def test_probe_set_is_every_fifth_test_image():
    images = torch.arange(10_000).reshape(-1, 1, 1).expand(-1, 28, 28)
    labels = torch.arange(10_000) % 10
    probe_images, probe_labels = probe_set(images, labels)
    assert len(probe_images) == 2_000
    assert torch.equal(probe_images[:, 0, 0], torch.arange(0, 10_000, 5))
    assert torch.equal(probe_labels, labels[::5])
