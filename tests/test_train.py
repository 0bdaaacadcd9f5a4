import json
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from cnn_demo.network.model import PRESETS, build
from cnn_demo.storage import checkpoint
from cnn_demo.training import evaluate, train
from cnn_demo.training.train import CONFIG_LIMITS, Diverged, Epoch, History, Step, TrainConfig, augment, fit


def test_a_short_run_really_learns(small_sets):
    train_set, test_set = small_sets
    torch.manual_seed(0)
    model, history = build(), History()
    config = TrainConfig.from_recipe("seed", epochs=3, batch_size=64, lr=2e-3, device="cpu")
    events = list(fit(model, config, train_set, test_set, history))
    steps = [e for e in events if isinstance(e, Step)]
    epochs = [e for e in events if isinstance(e, Epoch)]
    assert len(steps) == 3 * 16 and [e.epoch for e in epochs] == [1, 2, 3]
    assert sum(history.losses[-8:]) / 8 < 0.5 * sum(history.losses[:8]) / 8  # the loss falls
    assert epochs[-1].accuracies[0] > 0.6  # chance is 0.1
    assert [e.step for e in epochs] == [16, 32, 48] and all(len(e.losses) == 1 for e in steps)  # one network
    assert len(history.filters) == 4 and history.filters[0]["conv1"].shape == (16, 1, 5, 5)  # epoch 0..3
    assert not torch.equal(history.filters[0]["conv1"], history.filters[-1]["conv1"])


def test_short_last_batch_is_kept(small_sets):
    train_set, test_set = small_sets
    config = TrainConfig.from_recipe("seed", epochs=1, batch_size=300, train_images=1000, device="cpu")
    history = History()
    list(fit(build(), config, train_set, test_set, history))
    assert history.samples == 1000 and len(history.losses) == 4  # 300 + 300 + 300 + 100


def test_closing_the_generator_stops_between_steps(small_sets):
    train_set, test_set = small_sets
    history = History()
    run = fit(build(), TrainConfig.from_recipe("seed", epochs=5, device="cpu"), train_set, test_set, history)
    for event in run:
        if isinstance(event, Step) and event.step == 3:
            break
    run.close()
    assert len(history.losses) == 3 and history.test_accuracy == []


def test_best_recipe_schedule_and_augmentation_run(small_sets):
    train_set, test_set = small_sets
    config = TrainConfig.from_recipe("best", epochs=1, train_images=256, device="cpu")
    assert config.schedule == "onecycle" and config.augment
    events = list(fit(build(), config, train_set, test_set))
    assert isinstance(events[-1], Epoch)


def test_augment_keeps_shape_and_moves_pixels():
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 8:20, 12:16] = 1
    y = augment(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1
    assert not torch.allclose(x, y)
    assert (y.sum((1, 2, 3)) / x.sum((1, 2, 3))).sub(1).abs().max() < 0.4  # ink roughly kept


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(epochs=0), "epochs must be between"),
        (dict(epochs=2.5), "whole number"),
        (dict(lr=float("nan")), "lr must be a number"),
        (dict(lr=3.0), "lr must be between"),
        (dict(batch_size=-1), "batch_size"),
        (dict(train_images=70_000), "train_images"),
        (dict(epochs="ten"), "epochs must be a number"),
    ],
)
def test_config_out_of_range_is_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_recipe("seed", **overrides)


def test_unknown_recipe():
    with pytest.raises(ValueError, match="recipe must be one of"):
        TrainConfig.from_recipe("fastest")


@pytest.mark.parametrize("name", list(CONFIG_LIMITS))
def test_each_limit_is_where_the_trainer_starts_refusing(name):
    low, high = CONFIG_LIMITS[name]
    for edge in (low, high):
        assert getattr(TrainConfig.from_recipe("seed", **{name: edge}), name) == edge
    below, above = (low / 2, high * 1.5) if name == "lr" else (low - 1, high + 1)
    for value in (below, above):
        with pytest.raises(ValueError, match=rf"^{name} must be between {low:g} and {high:g}, not {value:g}$"):
            TrainConfig(**{name: value}).validated()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "epochs must be between"),
        (["--lr", "abc"], "invalid float value"),
        (["--batch-size", "-5"], "batch_size must be between"),
        (["--device", "tpu"], "not available"),
        (["--recipe", "fastest"], "invalid choice"),
    ],
)
def test_train_cli_refuses_bad_arguments(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        train.main(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_train_cli_end_to_end_then_evaluate_reads_its_checkpoint(tmp_path, capsys):
    """The real entry point, as a user runs it, on real MNIST: 64 steps of 64 images (about
    93% here, 89-93% over seeds and sizes near it), then the evaluate command on its file."""
    out = tmp_path / "quick.safetensors"
    command = ["--train-images", "4096", "--epochs", "1", "--batch-size", "64", "--lr", "0.002", "--out", str(out)]
    result = subprocess.run(
        [sys.executable, "-m", "cnn_demo", "train", *command, "--min-accuracy", "70"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr  # 1 if below --min-accuracy
    assert f"saved {out}" in result.stdout
    meta = checkpoint.load(out)[1]
    assert meta["epochs_done"] == 1 and len(meta["loss_history"]) == 64 and meta["config"]["train_images"] == 4096
    assert evaluate.main([str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "/10000 test images)" in lines[0] and len(lines) == 11  # overall + one line per digit
    accuracy = float(lines[0].split(": ")[1].split("%")[0])
    assert accuracy > 70  # chance is 10%
    assert accuracy == pytest.approx(100 * meta["test_accuracy"], abs=0.5)  # what training measured


def test_train_cli_min_accuracy_fails_a_run_below_it(tmp_path, capsys, monkeypatch, small_sets):
    monkeypatch.setattr(train, "load_mnist", lambda split: small_sets[split == "test"])
    out = tmp_path / "tiny.safetensors"
    args = ["--train-images", "64", "--epochs", "1", "--device", "cpu", "--out", str(out), "--min-accuracy", "100.01"]
    assert train.main(args) == 1
    assert "is below --min-accuracy 100.01" in capsys.readouterr().err and out.exists()


def nan_weights(model: torch.nn.Module) -> torch.nn.Module:
    """A network whose first step's loss is NaN, whatever the learning rate."""
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    return model


def test_fit_ends_with_diverged_on_a_nan_loss_after_keeping_it(small_sets):
    config = TrainConfig.from_recipe("seed", epochs=2, batch_size=64, lr=0.5, device="cpu")
    history = History()
    with pytest.raises(Diverged) as diverged:
        list(fit(nan_weights(build()), config, *small_sets, history))
    e = diverged.value
    assert (
        (e.step, e.reason) == (1, "diverged_nan")
        and len(history.losses) == 1
        and history.losses[0] != history.losses[0]
    )
    assert e.values == {"loss": "nan", "step": 1, "lr": "0.5", "try_lr": "0.05"}  # locales' [run] diverged_nan {values}
    assert str(e) == "training diverged: the loss became NaN at step 1; learning rate 0.5 is too large, try lr 0.05"


def test_fit_ends_with_diverged_on_a_loss_above_the_limit_in_either_network_of_a_race(small_sets, monkeypatch):
    monkeypatch.setattr(train, "DIVERGED_LOSS", 2.0)  # an untrained network's loss is near ln 10 = 2.3
    config = TrainConfig.from_recipe("seed", epochs=1, batch_size=64, lr=2e-3, device="cpu")
    config.race = PRESETS["fully_connected"].spec
    models = train.networks(config)
    with pytest.raises(Diverged) as diverged:
        list(fit(models, config, *small_sets, [History(), History()]))
    e = diverged.value
    assert e.reason == "diverged" and e.step == 1 and e.loss > 2.0 and e.values["loss"] == f"{e.loss:.3g}"
    assert f"exploded to {e.loss:.3g} at step 1" in str(e)


def test_train_cli_stops_on_a_nan_loss_and_says_what_to_try(tmp_path, capsys, monkeypatch, small_sets):
    """`python -m cnn_demo train`'s main: an error naming the step and a smaller rate, exit 1, nothing saved."""
    monkeypatch.setattr(train, "load_mnist", lambda split: small_sets[split == "test"])
    real_networks = train.networks
    monkeypatch.setattr(train, "networks", lambda config, fine_tune: [nan_weights(m) for m in real_networks(config)])
    out = tmp_path / "nan.safetensors"
    assert train.main(["--train-images", "256", "--lr", "0.01", "--device", "cpu", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error: training diverged: the loss became NaN at step 1" in err and "try lr 0.001" in err
    assert not out.exists()


def test_save_networks_writes_each_lane_and_skips_one_without_a_final_accuracy(tmp_path, small_sets):
    config = TrainConfig.from_recipe("seed", epochs=1, train_images=64, device="cpu")
    config.race = PRESETS["fully_connected"].spec
    models, histories = train.networks(config), [History(), History()]
    list(fit(models, config, *small_sets, histories))
    outs = [tmp_path / "cnn.safetensors", tmp_path / "fc.safetensors"]
    device = torch.device("cpu")
    assert train.save_networks(models, histories, config, outs, device, "diverged", [0.5, None]) == [outs[0], None]
    meta = checkpoint.load(outs[0])[1]
    assert meta["stopped"] == "diverged" and meta["test_accuracy"] == 0.5 and meta["raced_with"] == "fc.safetensors"
    assert not outs[1].exists()
    assert train.save_networks(models, histories, config, outs, device) == outs  # as trained: the last epoch's figures
    assert checkpoint.load(outs[1])[1]["test_accuracy"] == histories[1].test_accuracy[-1]


def test_evaluate_cli_refuses_a_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    assert evaluate.main([str(bad)]) == 1
    assert "error: bad.safetensors" in capsys.readouterr().err


@pytest.mark.slow
def test_the_quick_recipe_passes_97_percent_on_mnist(tmp_path):
    """The Train page's first choice works: one epoch of 20,000 images, the whole test set after.
    (Full MNIST: run with -m slow. benchmarks/time_to_accuracy.py times it from the click.)"""
    from cnn_demo.storage.data import load_mnist

    config = train.TrainConfig.from_recipe("quick", device="cpu")
    model, history = train.build(), train.History()
    torch.manual_seed(config.seed)
    events = list(train.fit(model, config, load_mnist("train"), load_mnist("test"), history))
    assert isinstance(events[-1], train.Epoch) and events[-1].accuracies[0] >= 0.97, events[-1]
    assert history.probes and all(step < history.epoch_steps[0] for step, _ in history.probes)


def test_a_race_gives_each_network_the_same_batches_in_the_same_order(small_sets):
    """Two networks, one optimiser each, every (augmented) batch given to both in turn; the
    first trains exactly as it would alone."""
    train_set, test_set = small_sets
    race = TrainConfig.from_recipe("best", epochs=2, batch_size=128, train_images=512, device="cpu")
    race.race = PRESETS["fully_connected"].spec
    models, histories = train.networks(race), [History(), History()]
    seen = [[], []]
    for model, batches in zip(models, seen):
        model.register_forward_pre_hook(lambda m, args, batches=batches: batches.append(args[0].clone()))
    events = list(fit(models, race, train_set, test_set, histories))
    assert len(seen[0]) == len(seen[1]) >= 2 * 4  # 8 steps, then each one's evaluations of the same test images
    assert all(torch.equal(a, b) for a, b in zip(seen[0], seen[1]))  # the same batches, augmented once
    steps = [e for e in events if isinstance(e, Step)]
    epochs = [e for e in events if isinstance(e, Epoch)]
    assert [len(e.losses) for e in steps] == [2] * 8
    assert [h.losses for h in histories] == [[e.losses[i] for e in steps] for i in (0, 1)]
    assert [len(e.accuracies) for e in epochs] == [2, 2] and [e.step for e in epochs] == [4, 8]
    assert [e.accuracies for e in epochs] == list(zip(*(h.test_accuracy for h in histories)))
    assert [len(h.test_accuracy) for h in histories] == [2, 2] and histories[1].filters == [{}, {}, {}]  # no convs
    alone, history = train.networks(replace(race, race=None)), History()
    list(fit(alone[0], replace(race, race=None), train_set, test_set, history))
    assert history.losses == histories[0].losses  # same weights, batches and steps as alone


def test_fit_needs_a_history_per_network(small_sets):
    config = TrainConfig.from_recipe("seed", epochs=1, train_images=64, device="cpu")
    with pytest.raises(ValueError, match="2 networks need 2 histories, not 1"):
        next(fit([build(), build()], config, *small_sets, [History()]))


def test_a_race_saves_one_file_per_network(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "RUNS_DIR", tmp_path)
    config = TrainConfig.from_recipe("quick", race=PRESETS["fully_connected"].spec)
    first, second = train.default_outs(config)
    assert first.parent == tmp_path and first.name.endswith("-quick.safetensors")
    assert second.name == first.name.replace("-quick", "-quick-fully_connected")
    same = train.default_outs(replace(config, race=config.net))  # the tutorial's against itself
    assert same[1].name == same[0].name.replace(".safetensors", "-2.safetensors")
    assert train.default_outs(replace(config, race=None)) == [first]


def test_train_cli_races_two_networks_and_saves_both(tmp_path, monkeypatch, capsys, small_sets):
    monkeypatch.setattr(train, "load_mnist", lambda split: small_sets[split == "test"])
    monkeypatch.setattr(checkpoint, "RUNS_DIR", tmp_path)
    args = ["--recipe", "quick", "--train-images", "256", "--device", "cpu", "--race", "fully_connected"]
    assert train.main(args) == 0
    out = capsys.readouterr().out
    assert "training seed (conv 16·5" in out and "against fully_connected (fc 155)" in out
    paths = sorted(tmp_path.glob("*.safetensors"), key=lambda p: "fully_connected" in p.name)  # the CNN first
    assert len(paths) == 2 and out.count("saved ") == 2
    (cnn, cnn_meta), (fc, fc_meta) = (checkpoint.load(p) for p in paths)
    assert cnn_meta["model"] == "seed" and fc_meta["model"] == "fully_connected" and len(fc.layer) == 0
    assert cnn_meta["raced_with"] == paths[1].name and fc_meta["raced_with"] == paths[0].name
    assert len(cnn_meta["loss_history"]) == len(fc_meta["loss_history"]) == 4
    assert cnn_meta["loss_history"] != fc_meta["loss_history"]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            [
                "--race",
                '{"convs": [{"out_channels": 8, "kernel_size": 9, "stride": 3}, {"out_channels": 8, "kernel_size": 9}]}',
            ],
            "conv2: a 9×9 kernel does not fit in its 7×7 input with padding 0",
        ),
        (["--race", '{"convs": [{"out_channels": 200}]}'], "conv1: out_channels must be between 1 and 128, not 200"),
        (["--race", "{"], "--race: not valid JSON"),
        (["--race", "resnet"], "--race: 'resnet' is not a preset"),
        (["--race", "fully_connected", "--out", "x.safetensors"], "a race saves two"),
    ],
)
def test_train_cli_refuses_a_network_that_cannot_work(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        train.main(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("steps", [1, 3, 4, 8])
def test_the_one_cycle_schedule_runs_for_a_run_of_a_few_steps(small_sets, steps):
    config = TrainConfig.from_recipe("quick", train_images=64 * steps, device="cpu")
    history = History()
    list(fit(build(), config, *small_sets, history))
    assert len(history.losses) == steps


def test_quick_sizes_reports_each_seed_and_the_worst(small_sets, monkeypatch, capsys):
    """benchmarks.quick_sizes, the measurement behind Quick's size: one accuracy per seed, the
    worst of them, on small data here (the full MNIST is the command's)."""
    from benchmarks import quick_sizes

    monkeypatch.setattr(quick_sizes, "load_mnist", lambda split: small_sets[0] if split == "train" else small_sets[1])
    assert quick_sizes.main(["--images", "512", "--lr", "5e-3", "--seeds", "0", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (row,) = report["runs"]
    assert (row["images"], row["batch"], report["seeds"]) == (512, 64, [0, 1])
    assert len(row["accuracies"]) == 2 and row["worst"] == min(row["accuracies"])
    assert all(10 < a <= 100 for a in row["accuracies"])  # percentages, and above chance on these
