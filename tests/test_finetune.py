"""A fine-tune on the class's digits: the one training loop, started from a model's weights, on
MNIST mixed with the class's digits, and scored on the part of them it never trains on."""

import time

import numpy as np
import pytest
import torch

from cnn_demo.classroom.digits import ClassDigits
from cnn_demo.network.model import NetSpec, build
from cnn_demo.storage import checkpoint
from cnn_demo.training import train
from cnn_demo.training.evaluate import accuracy
from cnn_demo.training.live import RunManager
from cnn_demo.training.train import (
    CLASS_SHARE,
    MIN_CLASS_DIGITS,
    Epoch,
    FineTune,
    History,
    Probe,
    Step,
    TooFewDigits,
    TrainConfig,
    fit,
    mixed,
    networks,
)
from tests.conftest import synthetic_digits

TINY = NetSpec.from_dict({"convs": [{"out_channels": 4, "kernel_size": 5}], "hidden": 16})
LEARN_MARK, HELD_MARK = (27, 27), (27, 0)  # a lit corner pixel says which part of the class's digits an image is


def class_digits(n_students: int = 10, each: int = 8, seed: int = 2) -> ClassDigits:
    """n_students × each digits (synthetic_digits' bars), each marked in a corner by the side of
    the split it is on: the learned ones at LEARN_MARK, the held-out ones at HELD_MARK (the
    stand-in MNIST's corners are below 40)."""
    images, labels = synthetic_digits(n_students * each, seed)
    students = np.repeat([f"student{i:02d}" for i in range(n_students)], each)
    digits = ClassDigits(images=images.numpy().copy(), labels=labels.numpy(), students=students)
    held = digits.held_out()
    digits.images[~held, LEARN_MARK[0], LEARN_MARK[1]] = 255
    digits.images[held, HELD_MARK[0], HELD_MARK[1]] = 255
    return digits


def trained_model(sets, steps_of_images: int = 512) -> torch.nn.Module:
    """TINY trained a little from its own seed: weights that differ from any fresh network's."""
    torch.manual_seed(7)
    model = build(TINY)
    config = TrainConfig(epochs=1, batch_size=64, lr=3e-3, train_images=steps_of_images, device="cpu", net=TINY, seed=7)
    for _ in fit(model, config, *sets):
        pass
    return model.eval()


def finetune_config(**kw) -> TrainConfig:
    values = dict(device="cpu", net=TINY, train_images=768, augment=False, batch_size=64)
    return TrainConfig.from_recipe("finetune", **{**values, **kw})


@pytest.fixture(scope="module")
def sets():
    return synthetic_digits(1024, seed=0), synthetic_digits(256, seed=1)


@pytest.fixture(scope="module")
def start_model(sets):
    return trained_model(sets)


def test_the_recipe_is_short_gentle_and_constant():
    recipe = TrainConfig.from_recipe("finetune")
    assert recipe.epochs == 1 and recipe.lr <= 1e-3 and recipe.schedule == "constant"
    assert recipe.train_images <= 10_000


def test_the_mix_repeats_the_class_digits_to_about_their_share():
    images, labels = synthetic_digits(4000, 0)
    extra_images, extra_labels = synthetic_digits(80, 1)
    all_images, all_labels = mixed(images, labels, extra_images, extra_labels)
    added = len(all_images) - len(images)
    assert added % 80 == 0 and added > 80  # repeated whole, several times
    assert 0.2 <= added / len(all_images) <= 0.3
    assert torch.equal(all_images[:4000], images) and torch.equal(all_images[4000:4080], extra_images)
    assert torch.equal(all_labels[4000:4080], extra_labels) and all_labels.dtype == labels.dtype


def test_batches_hold_the_learned_class_digits_and_never_a_held_out_one(sets, start_model):
    """Every image the network is trained on is recorded (a hook on its forward pass in train
    mode); the held-out digits are seen, but only while it is scored."""
    digits = class_digits()
    fine = FineTune.of(start_model, "start", digits)
    config = finetune_config()
    (model,) = networks(config, fine)
    trained_on, scored = [], []

    def record(module, args):
        (trained_on if module.training else scored).append(args[0].detach()[:, 0].clone())  # (B, 28, 28) in [0, 1]

    model.register_forward_pre_hook(record)
    for _ in fit(model, config, *sets, fine_tune=fine):
        pass
    seen = torch.cat(trained_on)
    learned = seen[:, LEARN_MARK[0], LEARN_MARK[1]] == 1.0
    held = seen[:, HELD_MARK[0], HELD_MARK[1]] == 1.0
    share = learned.float().mean().item()
    assert abs(share - CLASS_SHARE) < 0.06, share
    per_batch = [(b[:, LEARN_MARK[0], LEARN_MARK[1]] == 1.0).float().mean().item() for b in trained_on[:-1]]
    assert min(per_batch) > 0.05  # in every batch, not a block at the end
    assert not held.any()
    # The hook does see them when they are scored: the check above could have failed.
    scored_all = torch.cat(scored)
    assert (scored_all[:, HELD_MARK[0], HELD_MARK[1]] == 1.0).sum() >= len(fine.held_out[1])
    # Every learned digit went in, the held-out ones did not
    assert len(fine.learn[1]) + len(fine.held_out[1]) == len(digits)
    assert np.all(fine.held_out[0][:, HELD_MARK[0], HELD_MARK[1]] == 255)
    assert np.all(fine.learn[0][:, LEARN_MARK[0], LEARN_MARK[1]] == 255)


def test_a_fine_tune_starts_from_the_given_weights_and_reports_before_and_after(sets, start_model):
    digits = class_digits()
    fine = FineTune.of(start_model, "start", digits)
    config = finetune_config()
    (model,) = networks(config, fine)
    for name, value in start_model.state_dict().items():
        assert torch.equal(model.state_dict()[name], value)
    history = History()
    events = list(fit(model, config, *sets, history=history, fine_tune=fine))
    first, last = events[0], events[-1]
    # "before": the start model's own accuracies, measured independently
    test_images, test_labels = sets[1]
    held_images, held_labels = (torch.as_tensor(a) for a in fine.held_out)
    assert isinstance(first, Probe) and first.step == 0 and first.whole
    assert first.accuracies == (accuracy(start_model, test_images, test_labels),)
    assert first.held_out == (accuracy(start_model, held_images, held_labels),)
    assert first.accuracies[0] > 0.3  # trained: not a fresh network's chance
    assert isinstance(events[1], Step)
    # "after": the last epoch's, on both sets
    assert isinstance(last, Epoch) and len(last.held_out) == 1
    assert last.held_out == (accuracy(model, held_images, held_labels),)
    meta = history.meta(config, torch.device("cpu"))["fine_tune"]
    assert meta["from"] == "start" and meta["class_digits"] == len(fine.learn[1])
    assert meta["held_out_digits"] == len(fine.held_out[1]) > 0 and meta["students"] == 10
    assert meta["test_accuracy_before"] == first.accuracies[0] and meta["test_accuracy_after"] == last.accuracies[0]
    assert meta["held_out_accuracy_before"] == first.held_out[0]
    assert meta["held_out_accuracy_after"] == last.held_out[0]


def test_a_run_without_a_fine_tune_reports_no_held_out_accuracy(sets):
    config = TrainConfig(epochs=1, batch_size=64, train_images=256, device="cpu", net=TINY)
    events = list(fit(build(TINY), config, *sets))
    assert not isinstance(events[0], Probe)
    assert all(e.held_out == () for e in events if isinstance(e, (Probe, Epoch)))


@pytest.mark.parametrize(
    "n_students, each, message",
    [
        (7, 7, f"needs at least {MIN_CLASS_DIGITS}"),  # 49 digits
        (1, 60, "at least 2 students"),  # nothing can be held out by student
    ],
)
def test_too_few_class_digits_are_refused_saying_how_many_are_needed(start_model, n_students, each, message):
    digits = class_digits(n_students, each)
    with pytest.raises(TooFewDigits, match=message) as refused:
        FineTune.of(start_model, "start", digits)
    assert refused.value.have == n_students * each
    assert refused.value.values["need"] == MIN_CLASS_DIGITS
    if n_students * each < MIN_CLASS_DIGITS:
        assert "1 more are needed" in str(refused.value) and refused.value.values["more"] == 1


def test_exactly_enough_digits_are_accepted(start_model):
    fine = FineTune.of(start_model, "start", class_digits(5, 10))
    assert len(fine.learn[1]) + len(fine.held_out[1]) == MIN_CLASS_DIGITS
    assert fine.held_out_students == 1 and fine.students == 5


# --- the command line: python -m cnn_demo train --recipe finetune ----------------------------------


@pytest.fixture
def cli_files(tmp_path, sets, start_model, monkeypatch):
    """The start model saved, the class's digits exported as the Class page exports them, and
    MNIST replaced by the small sets; (start, digits file, out)."""
    monkeypatch.setattr(train, "load_mnist", lambda split: sets[split == "test"])
    start = checkpoint.save(start_model, tmp_path / "start.safetensors", {})
    digits_file = tmp_path / "class_digits.npz"
    digits_file.write_bytes(class_digits().to_npz())
    return start, digits_file, tmp_path / "tuned.safetensors"


def test_the_command_line_fine_tunes_a_saved_model_on_an_exported_class(cli_files, sets, capsys):
    start, digits_file, out = cli_files
    args = ["--recipe", "finetune", "--start", str(start), "--class-digits", str(digits_file)]
    assert train.main([*args, "--device", "cpu", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    tuned, meta = checkpoint.load(out)
    fine = meta["fine_tune"]
    digits = class_digits()
    held = digits.held_out()  # by student, as the Train page holds them out
    assert fine["from"] == "start" and fine["students"] == 10
    assert fine["held_out_students"] == len(set(digits.students[held])) > 0
    assert (fine["class_digits"], fine["held_out_digits"]) == ((~held).sum(), held.sum())
    # Its own numbers, as the run measured them, and again here from the saved weights
    held_images, held_labels = torch.as_tensor(digits.images[held]), torch.as_tensor(digits.labels[held])
    assert fine["held_out_accuracy_after"] == accuracy(tuned, held_images, held_labels)
    assert fine["test_accuracy_after"] == accuracy(tuned, *sets[1])
    before, after = fine["test_accuracy_before"], fine["test_accuracy_after"]
    held_before, held_after = fine["held_out_accuracy_before"], fine["held_out_accuracy_after"]
    assert f"fine-tuning {start} on {fine['class_digits']} of the class's digits" in printed
    assert f"test set {100 * before:.2f}% -> {100 * after:.2f}%" in printed
    assert f"held-out class digits {100 * held_before:.1f}% -> {100 * held_after:.1f}%" in printed
    assert f"step 0: {100 * before:.2f}% of the whole test set, {100 * held_before:.1f}% of the held-out" in printed


@pytest.mark.parametrize(
    "args, message",
    [
        (["--recipe", "finetune"], "--recipe finetune needs --class-digits"),
        (["--recipe", "finetune", "--class-digits", "{digits}", "--net", "fully_connected"], "no --net or --race"),
        (["--recipe", "finetune", "--class-digits", "{digits}", "--race", "seed"], "no --net or --race"),
        (["--recipe", "quick", "--class-digits", "{digits}"], "--class-digits is for --recipe finetune"),
        (["--recipe", "finetune", "--class-digits", "{tmp}/none.npz"], "none.npz: No such file"),
        (["--recipe", "finetune", "--class-digits", "{start}"], "start.safetensors: not an .npz file of digits"),
        (
            ["--recipe", "finetune", "--class-digits", "{digits}", "--start", "{tmp}/none.safetensors"],
            "none.safetensors: cannot read it",
        ),
        (
            ["--recipe", "finetune", "--class-digits", "{few}"],
            f"needs at least {MIN_CLASS_DIGITS} of the class's digits",
        ),
    ],
)
def test_the_command_line_refuses_a_fine_tune_it_cannot_do_saying_why(args, message, cli_files, capsys):
    start, digits_file, out = cli_files
    few = digits_file.with_name("few.npz")
    few.write_bytes(class_digits(7, 7).to_npz())
    names = dict(digits=digits_file, start=start, tmp=digits_file.parent, few=few)
    argv = [a.format(**names) for a in args]
    if "--start" not in argv:
        argv += ["--start", str(start)]
    with pytest.raises(SystemExit) as exit_:
        train.main([*argv, "--device", "cpu", "--out", str(out)])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not out.exists()


@pytest.fixture
def thread_manager(tmp_path, sets):
    data = {"train": sets[0], "test": sets[1]}
    m = RunManager(runs_dir=tmp_path, load=data.__getitem__, separate_process=False, measure=False)
    yield m
    if m.run is not None:
        m.run.stop()
        m.run.listener.join(30)
    m.close()


def wait_for(run, states, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        view = run.view()
        if view.state in states:
            return view
        time.sleep(0.02)
    raise AssertionError(f"no state in {states} within {timeout}s")


def test_the_manager_refuses_the_recipe_without_a_fine_tune_and_a_fine_tune_in_a_race(thread_manager, start_model):
    with pytest.raises(ValueError, match="needs a model"):
        thread_manager.start(finetune_config())
    fine = FineTune.of(start_model, "start", class_digits())
    with pytest.raises(ValueError, match="alone"):
        thread_manager.start(finetune_config(race=TINY), fine_tune=fine)
    assert thread_manager.run is None


def test_a_fine_tune_run_charts_both_accuracies_and_saves_where_it_came_from(thread_manager, start_model, sets):
    fine = FineTune.of(start_model, "start", class_digits())
    run = thread_manager.start(finetune_config(net=build().spec), fine_tune=fine)  # the editor's network is ignored
    view = wait_for(run, {"finished", "failed"})
    assert view.state == "finished", view.reason_values
    (lane,) = view.lanes
    assert lane.spec == TINY and view.fine_tune["from"] == "start"
    steps, accuracies, whole = lane.accuracy_points()
    assert steps[0] == 0 and whole[0] and accuracies[0] == lane.start_accuracy
    assert lane.held_out[0][0] == 0 and len(lane.held_out) >= 2
    (test_before, test_after), (held_before, held_after) = lane.before_after
    assert test_before == accuracy(start_model, *sets[1]) and test_after == lane.final_accuracy
    assert held_before == accuracy(start_model, *(torch.as_tensor(a) for a in fine.held_out))
    assert held_after == lane.held_out[-1][1]
    model, meta = checkpoint.load(lane.saved_path)
    assert meta["recipe"] == "finetune" and meta["fine_tune"]["from"] == "start"
    assert meta["fine_tune"]["class_digits"] == len(fine.learn[1])
    assert meta["fine_tune"]["held_out_accuracy_before"] == held_before
    assert meta["fine_tune"]["held_out_accuracy_after"] == held_after
    assert meta["fine_tune"]["test_accuracy_after"] == meta["test_accuracy"] == test_after


def test_a_stopped_fine_tune_measures_its_after_where_it_stopped(thread_manager, start_model):
    fine = FineTune.of(start_model, "start", class_digits())
    run = thread_manager.start(finetune_config(epochs=50, batch_size=8), fine_tune=fine)
    deadline = time.time() + 60
    while run.view().step < 3 and time.time() < deadline:
        time.sleep(0.01)
    run.stop()
    view = wait_for(run, {"stopped"})
    (lane,) = view.lanes
    (_, test_after), (_, held_after) = lane.before_after
    assert test_after == lane.final_accuracy is not None and held_after is not None
    _, meta = checkpoint.load(lane.saved_path)
    assert meta["fine_tune"]["held_out_accuracy_after"] == held_after
    assert meta["fine_tune"]["test_accuracy_after"] == test_after
