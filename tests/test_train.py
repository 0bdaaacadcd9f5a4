import subprocess
import sys

import pytest
import torch

from cnn_demo.model import SeedCNN
from cnn_demo.train import Epoch, History, Step, TrainConfig, augment, fit


def test_a_short_run_really_learns(small_sets):
    train_set, test_set = small_sets
    torch.manual_seed(0)
    model, history = SeedCNN(), History()
    config = TrainConfig.from_recipe("seed", epochs=3, batch_size=64, lr=2e-3, device="cpu")
    events = list(fit(model, config, train_set, test_set, history))
    steps = [e for e in events if isinstance(e, Step)]
    epochs = [e for e in events if isinstance(e, Epoch)]
    assert len(steps) == 3 * 16 and [e.epoch for e in epochs] == [1, 2, 3]
    assert sum(history.losses[-8:]) / 8 < 0.5 * sum(history.losses[:8]) / 8  # the loss falls
    assert epochs[-1].test_accuracy > 0.6  # chance is 0.1
    assert len(history.filters) == 4 and history.filters[0]["conv1"].shape == (16, 1, 5, 5)  # epoch 0..3
    assert not torch.equal(history.filters[0]["conv1"], history.filters[-1]["conv1"])


def test_short_last_batch_is_kept(small_sets):
    train_set, test_set = small_sets
    config = TrainConfig.from_recipe("seed", epochs=1, batch_size=300, train_images=1000, device="cpu")
    history = History()
    list(fit(SeedCNN(), config, train_set, test_set, history))
    assert history.samples == 1000 and len(history.losses) == 4  # 300 + 300 + 300 + 100


def test_closing_the_generator_stops_between_steps(small_sets):
    train_set, test_set = small_sets
    history = History()
    run = fit(SeedCNN(), TrainConfig.from_recipe("seed", epochs=5, device="cpu"), train_set, test_set, history)
    for event in run:
        if isinstance(event, Step) and event.step == 3:
            break
    run.close()
    assert len(history.losses) == 3 and history.test_accuracy == []


def test_best_recipe_schedule_and_augmentation_run(small_sets):
    train_set, test_set = small_sets
    config = TrainConfig.from_recipe("best", epochs=1, train_images=256, device="cpu")
    assert config.schedule == "onecycle" and config.augment
    events = list(fit(SeedCNN(), config, train_set, test_set))
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


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=120)


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
def test_train_cli_refuses_bad_arguments(args, message):
    result = run_cli("cnn_demo.train", *args)
    assert result.returncode == 2 and message in result.stderr


def test_train_and_evaluate_cli_end_to_end(tmp_path):
    """The real entry points on real MNIST, a few batches: writes a checkpoint that evaluate reads."""
    out = tmp_path / "quick.safetensors"
    result = run_cli("cnn_demo.train", "--train-images", "1024", "--epochs", "1", "--lr", "0.002", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.exists() and "saved" in result.stdout
    result = run_cli("cnn_demo.evaluate", str(out))
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert "/10000 test images)" in first
    accuracy = float(first.split(": ")[1].split("%")[0])
    assert accuracy > 50  # 4 steps of Adam on 1,024 images already beat chance by far
    assert len(result.stdout.splitlines()) == 11  # overall + one line per digit


def test_evaluate_cli_refuses_a_bad_file(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    result = run_cli("cnn_demo.evaluate", str(bad))
    assert result.returncode == 1 and "error:" in result.stderr and "Traceback" not in result.stderr
