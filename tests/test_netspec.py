"""The network as data: specs, presets, limits, and every preset trained and round-tripped."""

import json
import tomllib
from pathlib import Path

import pytest
import torch

from cnn_demo.inside.features import feature_maps
from cnn_demo.network.arithmetic import multiply_adds
from cnn_demo.network.model import (
    MAX_MULTIPLY_ADDS_RATIO,
    PRESETS,
    SEED,
    ConvStage,
    NetSpec,
    SpecError,
    build,
    first_layer_weights,
    preset_name,
    spatial_stages,
)
from cnn_demo.storage import checkpoint
from cnn_demo.storage.checkpoint import CheckpointError
from cnn_demo.training import train
from cnn_demo.training.train import Epoch, History, TrainConfig, fit
from tests.test_model import TUTORIAL_KEYS


def test_presets_are_known_by_their_names():
    """(Their titles and lines, in both languages, are the locales': tests/test_i18n.py.)"""
    assert {
        "seed",
        "fully_connected",
        "no_pooling",
        "stride2",
        "avg_pooling",
        "few_filters",
        "kernel3",
        "padding",
    } <= set(PRESETS)
    for name, preset in PRESETS.items():
        assert preset_name(preset.spec) == name


def test_the_seed_spec_is_the_tutorials_network():
    assert build().spec == SEED and SEED.params() == 123_222
    assert list(build().state_dict()) == TUTORIAL_KEYS


def test_what_each_preset_shows_is_in_its_shape():
    fc, seed = PRESETS["fully_connected"].spec, SEED
    assert fc.convs == () and abs(fc.params() - seed.params()) < 0.01 * seed.params()  # about as many parameters
    assert build(fc).layer.__len__() == 0 and build(fc).fc_layer[0].in_features == 784
    assert PRESETS["stride2"].spec.flat_features() == 576  # strides shrink where the tutorial pools
    assert [c.pool for c in PRESETS["avg_pooling"].spec.convs] == [None, "avg", "avg"]
    assert [c.out_channels for c in PRESETS["few_filters"].spec.convs] == [4, 8, 16]
    assert [row.conv_shape[1] for row in PRESETS["padding"].spec.plan()] == [28, 28, 14]  # padding keeps the size
    assert PRESETS["no_pooling"].spec.flat_features() == 64 * 16 * 16
    assert {c.kernel_size for c in PRESETS["kernel3"].spec.convs} == {3}


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_counts_right_and_round_trips(name):
    spec = PRESETS[name].spec
    assert NetSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    model = build(spec).eval()
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert sum(p.numel() for p in model.parameters()) == spec.params()
    assert sum(multiply_adds(model).values()) == spec.multiply_adds()  # the spec's arithmetic is the module's
    maps = feature_maps(model, torch.rand(28, 28).numpy())
    for row, name_ in zip(spec.plan(), [s for s in spatial_stages(model) if s.startswith("conv")]):
        assert maps[name_].shape == row.conv_shape
    assert maps["flatten"].shape == (spec.flat_features(),) and maps["logits"].shape == (10,)
    weights = first_layer_weights(model)
    assert weights.shape[-2:] == ((28, 28) if not spec.convs else (spec.convs[0].kernel_size,) * 2)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_trains_on_a_small_slice_and_its_checkpoint_rebuilds_it(name, small_sets, tmp_path):
    train_set, test_set = small_sets
    torch.manual_seed(0)
    spec = PRESETS[name].spec
    config = TrainConfig.from_recipe("quick", train_images=512, batch_size=64, net=spec, device="cpu")
    model, history = build(spec), History()
    events = list(fit(model, config, train_set, test_set, history))
    assert isinstance(events[-1], Epoch) and history.losses[-1] < history.losses[0]
    path = checkpoint.save(model, tmp_path / f"{name}.safetensors", history.meta(config, torch.device("cpu")))
    loaded, meta = checkpoint.load(path)
    assert loaded.spec == spec and meta["model"] == name and meta["net"] == spec.to_dict()
    x = torch.rand(2, 1, 28, 28)
    assert torch.allclose(loaded(x), model.eval().to(memory_format=torch.contiguous_format)(x), atol=1e-5)


def test_weights_that_do_not_fit_their_spec_are_refused(tmp_path):
    path = checkpoint.save(build(PRESETS["kernel3"].spec), tmp_path / "k3.safetensors", {})
    tensors, meta = checkpoint.read(path)
    meta["net"] = SEED.to_dict()  # the file now says 5x5 kernels, its weights are 3x3
    from safetensors.torch import save as st_save

    lying = tmp_path / "lying.safetensors"
    lying.write_bytes(st_save(tensors, metadata={"format": checkpoint.FORMAT, "meta": json.dumps(meta)}))
    with pytest.raises(
        CheckpointError, match=r"layer.0.weight has shape \(16, 1, 3, 3\), the tutorial's network needs"
    ):
        checkpoint.load(lying)
    meta["net"] = {"convs": [{"out_channels": 16, "kernel_size": 40}], "hidden": 100}
    lying.write_bytes(st_save(tensors, metadata={"format": checkpoint.FORMAT, "meta": json.dumps(meta)}))
    with pytest.raises(
        CheckpointError,
        match="the network it describes cannot be built.*conv1: kernel_size must be between 1 and 9, not 40",
    ):
        checkpoint.load(lying)


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            NetSpec((ConvStage(16, 9, stride=3), ConvStage(32, 9)), 100),
            r"conv2: a 9×9 kernel does not fit in its 7×7 input with padding 0: \(7 − 9 \+ 2·0\) / 1 \+ 1 = -1",
        ),
        (
            NetSpec((ConvStage(8, 9, stride=3), ConvStage(8, 5, pool="max", pool_size=4)), 100),
            r"conv2: its 4×4 pooling does not fit in the 3×3 maps",
        ),
        (
            NetSpec(
                (
                    ConvStage(8, 7, stride=3, pool="max", pool_size=4, pool_stride=4),
                    ConvStage(8, 1, pool="max", pool_size=3),
                ),
                100,
            ),
            r"conv2: its 3×3 pooling does not fit in the 2×2 maps",
        ),
        (NetSpec((ConvStage(200, 5),), 100), r"conv1: out_channels must be between 1 and 128, not 200"),
        (NetSpec((ConvStage(8, 11),), 100), r"conv1: kernel_size must be between 1 and 9, not 11"),
        (NetSpec((ConvStage(8, 5, stride=4),), 100), r"conv1: stride must be between 1 and 3"),
        (NetSpec((ConvStage(8, 5, padding=5),), 100), r"conv1: padding must be between 0 and 4"),
        (NetSpec((), 5), r"hidden must be between 10 and 1024, not 5"),
        (NetSpec((ConvStage(8, 3),) * 5, 100), r"at most 4 conv stages, not 5"),
        (
            NetSpec((ConvStage(128, 9, padding=4), ConvStage(128, 9, padding=4)), 100),
            rf"more than {MAX_MULTIPLY_ADDS_RATIO}× the tutorial",
        ),
        (NetSpec((ConvStage(8, 5, activation="gelu"),), 100), r"conv1: activation must be one of relu, tanh, sigmoid"),
        (NetSpec((ConvStage(8, 5, pool="median"),), 100), r"conv1: pool must be 'max', 'avg' or none"),
    ],
)
def test_specs_that_cannot_work_are_refused_naming_the_stage(spec, message):
    with pytest.raises(SpecError, match=message) as refused:
        spec.check()
    # The app says the same in Korean, with the same values: the stage and the numbers.
    korean = KOREAN["spec"][refused.value.code].format(**refused.value.values)
    assert all(str(v) in korean for v in refused.value.values.values() if k_shown(v))
    with pytest.raises(SpecError, match=message):
        build(spec)
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_recipe("quick", net=spec)


KOREAN = tomllib.loads((Path(__file__).resolve().parent.parent / "locales" / "ko.toml").read_text())


def k_shown(value) -> bool:
    """Values a Korean message repeats as they are (field names are translated by the page)."""
    return not (isinstance(value, str) and value.isidentifier() and not value.startswith("conv"))


def test_from_dict_refuses_what_is_not_a_spec():
    for bad in (
        None,
        [],
        {"convs": "x"},
        {"convs": [{"kernel_size": 3}]},
        {"convs": [], "hidden": "100"},
        {"layers": []},
    ):
        with pytest.raises(SpecError):
            NetSpec.from_dict(bad)


def test_the_command_line_takes_a_preset_and_refuses_a_bad_one(capsys):
    args = train.parse_args(["--net", "stride2", "--recipe", "quick"])
    assert args.config.net == PRESETS["stride2"].spec
    custom = '{"convs": [{"out_channels": 8, "kernel_size": 3, "pool": "avg"}], "hidden": 32}'
    assert train.parse_args(["--net", custom]).config.net.convs[0].pool == "avg"
    for bad, message in [
        ("nonsense", "is not a preset (seed, fully_connected"),
        ('{"convs": [{"out_channels": 8, "kernel_size": 3}] ', "not valid JSON"),
        (
            '{"convs": [{"out_channels": 8, "kernel_size": 30}], "hidden": 32}',
            "conv1: kernel_size must be between 1 and 9",
        ),
        (
            '{"convs": [{"out_channels": 8, "kernel_size": 9, "stride": 3}, {"out_channels": 8, "kernel_size": 9}]}',
            "conv2: a 9×9 kernel does not fit in its 7×7 input",
        ),
    ]:
        with pytest.raises(SystemExit):
            train.parse_args(["--net", bad])
        assert message in capsys.readouterr().err
