"""cnn_demo.experiments.claims: the permutation, the shift, the fully connected net's invariance, the
experiments' results on small synthetic data, keeping them, the command line and the background job."""

import json
import time

import numpy as np
import pytest
import torch

from cnn_demo import ROOT
from cnn_demo.experiments import claims as experiments
from cnn_demo.experiments.claims import (
    NAMES,
    SHIFTS,
    Background,
    Options,
    ResultError,
    keep,
    kept,
    permutation,
    rename_inputs,
    shift_x,
    shuffle_pixels,
)
from cnn_demo.network.model import PRESETS, build
from cnn_demo.training.calibrate import Settings
from cnn_demo.training.jobs import Busy
from cnn_demo.training.train import History
from tests.conftest import synthetic_digits

SMALL = Options(train_images=1024)  # 16 steps of the quick recipe: a second per network


@pytest.fixture(scope="module")
def records():
    """Each experiment run once on the synthetic digits (a few seconds in all), shared by the tests that read them."""
    sets = synthetic_digits(1024, seed=0), synthetic_digits(256, seed=1)  # as small_sets
    return {name: experiments.run(name, SMALL, sets=sets, tuned=Settings()) for name in NAMES}


def test_the_permutation_is_fixed_and_a_bijection():
    perm = permutation()
    assert perm.shape == (784,) and perm.dtype == torch.int64
    assert torch.equal(perm, permutation())  # the same every time, in every process
    assert torch.equal(perm.sort().values, torch.arange(784))  # every pixel once
    assert (perm != torch.arange(784)).float().mean() > 0.99  # and nearly every pixel moved
    assert not torch.equal(perm, permutation(seed=1))


def test_shuffling_torch_and_numpy_alike_and_it_can_be_undone():
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    perm = permutation()
    shuffled = shuffle_pixels(images, perm)
    assert shuffled.shape == images.shape and shuffled.dtype == torch.uint8
    np.testing.assert_array_equal(shuffle_pixels(images.numpy(), perm), shuffled.numpy())
    np.testing.assert_array_equal(shuffle_pixels(images[2].numpy(), perm), shuffled[2].numpy())  # one image
    assert shuffled.reshape(5, -1)[:, 0].tolist() == images.reshape(5, -1)[:, perm[0]].tolist()
    assert torch.equal(shuffle_pixels(shuffled, torch.argsort(perm)), images)  # the inverse undoes it


def test_a_fully_connected_net_is_exactly_invariant_once_its_first_layer_is_renamed():
    """The claim, as a test: shuffling the pixels only renames a fully connected net's inputs."""
    torch.manual_seed(0)
    model = build(PRESETS["fully_connected"].spec).eval()
    x = torch.rand(16, 1, 28, 28)
    perm = permutation()
    with torch.no_grad():
        before = model(x)
        assert not torch.allclose(model(shuffle_pixels(x, perm)), before, atol=1e-3)  # shuffled, not renamed
        rename_inputs(model, perm)
        after = model(shuffle_pixels(x, perm))
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="neighbours"):
        rename_inputs(build(), perm)  # a CNN has no such renaming


def test_shift_moves_right_with_zeros_coming_in():
    image = np.arange(28 * 28, dtype=np.float32).reshape(28, 28) + 1
    for images in (image, torch.from_numpy(image), torch.from_numpy(image).to(torch.uint8)):
        moved = shift_x(images, 3)
        assert type(moved) is type(images) and moved.shape == images.shape and moved.dtype == images.dtype
        moved = np.asarray(moved)
        np.testing.assert_array_equal(moved[:, 3:], np.asarray(images)[:, :-3])
        assert (moved[:, :3] == 0).all()
    np.testing.assert_array_equal(shift_x(image, 0), image)
    np.testing.assert_array_equal(shift_x(image, -2)[:, :-2], image[:, 2:])  # negative: to the left
    assert (shift_x(image[None], 28) == 0).all()  # a batch, moved off the edge


def test_shuffled_experiment_shuffles_train_and_test_alike(small_sets, monkeypatch):
    seen = []

    def fake_train(spec, sets, options, tuned, renamed=None, progress=None):
        seen.append((spec, sets, renamed))
        history = History(test_accuracy=[0.5], seconds=1.0, train_seconds=1.0, samples=10)
        return build(spec), history, 10.0

    monkeypatch.setattr(experiments, "train_one", fake_train)
    result, runs, extra = experiments.run_shuffled(small_sets, SMALL, Settings())
    perm = permutation()
    (train_x, _), (test_x, _) = small_sets
    assert [(r["network"], r["condition"]) for r in runs] == [
        ("seed", "plain"),
        ("seed", "shuffled"),
        ("fully_connected", "plain"),
        ("fully_connected", "shuffled"),
    ]
    for (spec, sets, renamed), run in zip(seen, runs):
        want = shuffle_pixels if run["condition"] == "shuffled" else (lambda x, _: x)
        assert torch.equal(sets[0][0], want(train_x, perm)) and torch.equal(sets[1][0], want(test_x, perm))
        assert torch.equal(sets[0][1], small_sets[0][1]) and torch.equal(sets[1][1], small_sets[1][1])  # labels kept
        # only the fully connected net on shuffled pixels starts from renamed weights
        assert (renamed is not None) == (run["condition"] == "shuffled" and not spec.convs)
    assert result == {"cnn": {"plain": 0.5, "shuffled": 0.5}, "fully_connected": {"plain": 0.5, "shuffled": 0.5}}
    # each network's hidden-layer map of the probe images, with their digits
    probe = len(test_x)  # under 2,000 test images: every one is a probe image
    assert extra["map_labels"] == small_sets[1][1].tolist()
    assert {k: set(v) for k, v in extra["maps"].items()} == {k: {"plain", "shuffled"} for k in result}
    assert all(np.shape(points) == (probe, 2) for v in extra["maps"].values() for points in v.values())


def test_results_have_the_documented_shape(records):
    shuffled, shift, presets = (records[n]["result"] for n in NAMES)
    assert set(shuffled) == {"cnn", "fully_connected"}
    assert all(set(v) == {"plain", "shuffled"} for v in shuffled.values())
    assert set(shift) == {"cnn", "fully_connected"}
    assert all(list(v) == [str(dx) for dx in SHIFTS] for v in shift.values())
    assert list(presets) == list(PRESETS)
    for name, row in presets.items():
        assert (
            row["params"]
            == PRESETS[name].spec.params()
            == sum(p.numel() for p in build(PRESETS[name].spec).parameters())
        )
        assert row["multiply_adds"] == PRESETS[name].spec.multiply_adds()
        assert row["images_per_s"] > 0
    fractions = [a for v in shuffled.values() for a in v.values()] + [a for v in shift.values() for a in v.values()]
    assert all(0 <= a <= 1 for a in fractions + [r["test_accuracy"] for r in presets.values()])
    # the fully connected net learns the bars as well shuffled: it starts from the same weights, renamed
    fc = shuffled["fully_connected"]
    assert fc["plain"] > 0.5 and abs(fc["plain"] - fc["shuffled"]) < 0.03
    # the shift experiment's networks are the shuffled experiment's plain ones: same recipe, same seed
    assert shift["cnn"]["0"] == shuffled["cnn"]["plain"] and shift["fully_connected"]["0"] == fc["plain"]
    record = records["shuffled"]
    assert record["options"]["train_images"] == 1024 and record["options"]["permutation_seed"] == 0
    assert record["command"] == "python -m cnn_demo experiments shuffled --train-images 1024"
    assert {"device", "torch", "settings"} <= set(record["machine"]) and record["seconds"] > 0
    assert len(records["presets"]["runs"]) == len(PRESETS)


def test_the_shipped_results_are_what_the_default_options_train():
    """Quick's one epoch for the experiments stays at the images the shipped results were measured
    with, whatever the Train page's Quick is tuned to; other recipes keep their own."""
    shipped = ROOT / "checkpoints" / "experiments"
    config = Options().config(PRESETS["seed"].spec)
    assert (config.recipe, config.train_images) == ("quick", experiments.QUICK_TRAIN_IMAGES)
    for name in NAMES:
        record = kept(name, shipped)
        assert record["options"]["recipe"] == config.recipe, name
        assert record["options"]["train_images"] == config.train_images, name
        assert record["command"] == experiments.command(name), name  # "Run again" reruns the same
    assert Options(recipe="quick99").config(PRESETS["seed"].spec).train_images == 60_000
    assert Options(train_images=1024).config(PRESETS["seed"].spec).train_images == 1024


def test_results_are_kept_and_read_back(records, tmp_path):
    assert kept("shuffled", tmp_path) is None  # never run
    for record in records.values():
        path = keep(record, tmp_path)
        assert path == tmp_path / f"{record['name']}.json"
        assert kept(record["name"], tmp_path) == json.loads(json.dumps(record))
    assert not list(tmp_path.glob(".*"))  # no temp file left


def test_damaged_or_wrong_results_are_refused_with_a_reason(records, tmp_path):
    path = tmp_path / "shift.json"
    path.write_text("{not json")
    with pytest.raises(ResultError, match="shift.json: not valid JSON"):
        kept("shift", tmp_path)
    path.write_text(json.dumps(records["shuffled"]))  # another experiment's result under this name
    with pytest.raises(ResultError, match="holds the 'shuffled' experiment"):
        kept("shift", tmp_path)
    bad = json.loads(json.dumps(records["shuffled"]))
    bad["result"]["cnn"]["plain"] = 98.5  # a percentage, not a fraction
    with pytest.raises(ResultError, match="fraction"):
        keep(bad, tmp_path)
    del bad["result"]["fully_connected"]
    with pytest.raises(ResultError, match="lacks fully_connected"):
        keep(bad, tmp_path)
    with pytest.raises(ResultError, match="not a cnn_demo.experiments/1 result"):
        keep({"name": "shift"}, tmp_path)


def test_command_line_json_last_line_and_kept(small_sets, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiments, "load_mnist", lambda split: small_sets[0] if split == "train" else small_sets[1])
    monkeypatch.setattr(experiments, "RESULTS_DIR", tmp_path)
    assert experiments.main(["shuffled", "--train-images", "1024", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(result) == {"cnn", "fully_connected"} and set(result["cnn"]) == {"plain", "shuffled"}
    assert kept("shuffled", tmp_path)["result"] == result
    assert any(line.startswith("training fully_connected on shuffled pixels") for line in lines)

    assert experiments.main(["shift", "--train-images", "1024", "--epochs", "2", "--progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    progress = [experiments.parse_progress(line) for line in out if line.startswith("progress ")]
    assert progress[0] == (0.0, "seed", "plain") and progress[-1] == (1.0, "fully_connected", "plain")
    assert [p[0] for p in progress] == sorted(p[0] for p in progress)
    assert kept("shift", tmp_path)["options"]["epochs"] == 2


def test_command_line_stops_on_a_diverging_loss_and_keeps_nothing(small_sets, tmp_path, monkeypatch, capsys):
    """train.fit's own check reaches the experiments too: an error line (what the app's Job shows), exit 1."""
    from cnn_demo.training import train

    monkeypatch.setattr(experiments, "load_mnist", lambda split: small_sets[0] if split == "train" else small_sets[1])
    monkeypatch.setattr(experiments, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(train, "DIVERGED_LOSS", 0.0)  # any loss counts as exploded
    assert experiments.main(["shift", "--train-images", "1024"]) == 1
    err = capsys.readouterr().err
    assert "error: training diverged: the loss exploded to" in err and "at step 1;" in err and "try lr" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "args, message",
    [
        (["noise"], "invalid choice"),
        (["shift", "--train-images", "0"], "train_images must be between 1 and 60000"),
        (["shift", "--train-images", "100"], "needs at least 8"),
    ],
)
def test_command_line_refuses_bad_options(args, message, capsys):
    with pytest.raises(SystemExit) as exit:
        experiments.main(args)
    assert exit.value.code == 2 and message in capsys.readouterr().err


def test_background_runs_one_at_a_time_and_reports_a_failure(tmp_path):
    background = Background(tmp_path)
    assert background.view() is None
    job = background.start("shift", Options(train_images=100))  # the command refuses it: too few steps
    with pytest.raises(Busy):
        background.start("presets")
    deadline = time.monotonic() + 60
    while job.view().running and time.monotonic() < deadline:
        time.sleep(0.1)
    view = background.view()
    assert view.state == "failed" and "needs at least 8" in view.detail and view.name == "shift"
    assert not list(tmp_path.iterdir())  # nothing kept
    with pytest.raises(ValueError, match="experiment must be one of"):
        background.start("noise")
