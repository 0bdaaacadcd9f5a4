"""The background training run the Train page drives, without a browser."""

import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from cnn_demo.network.model import PRESETS, SEED
from cnn_demo.storage import checkpoint
from cnn_demo.storage.store import ModelStore
from cnn_demo.training import live
from cnn_demo.training import train as live_train
from cnn_demo.training.jobs import Busy
from cnn_demo.training.live import RunManager
from cnn_demo.training.train import TrainConfig
from tests.conftest import synthetic_digits


def make_manager(tmp_path, separate_process: bool):
    sets = {"train": synthetic_digits(2048, 0), "test": synthetic_digits(256, 1)}
    m = RunManager(runs_dir=tmp_path, load=sets.__getitem__, separate_process=separate_process, measure=False)
    yield m
    if m.run is not None:
        m.run.stop()
        m.run.listener.join(30)
    m.close()


@pytest.fixture
def process_manager(tmp_path):
    """The app's way: the run in a worker process. Each start spawns an interpreter that
    imports torch (seconds), so only what crosses the process boundary is tested with it:
    a run that finishes and saves, a stop that reaches the worker, a worker that dies."""
    yield from make_manager(tmp_path, separate_process=True)


@pytest.fixture(params=["process", "thread"])
def manager(request, tmp_path):
    """The app's way (a worker process) and a notebook's (a thread), for what starts nothing."""
    yield from make_manager(tmp_path, separate_process=request.param == "process")


@pytest.fixture
def thread_manager(tmp_path):
    """A notebook's way: the same worker function in a thread (and it sees this module's
    patches, a process would not)."""
    yield from make_manager(tmp_path, separate_process=False)


def wait_until(condition, timeout=120, what="the condition"):
    """Poll until condition() is true; its last true value is returned."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def wait_for(run, states, timeout=180):
    view = wait_until(lambda: (v := run.view()).state in states and v, timeout, f"a state in {states}")
    return view


def step_seconds(run, steps=20) -> float:
    """How long one step of this run takes now, over the next `steps` steps."""
    first, t0 = run.view().step, time.perf_counter()
    wait_until(lambda: run.view().step >= first + steps, what=f"{steps} more steps")
    return (time.perf_counter() - t0) / (run.view().step - first)


def settled_step(run, step_s: float, timeout=120) -> int:
    """The step count once it has stopped growing: unchanged for 50 steps' time (and at least
    a second, ten of the worker's reports), so that a slow step is not taken for a halt."""
    window = max(1.0, 50 * step_s)
    deadline = time.time() + timeout
    last, since = run.view().step, time.time()
    while time.time() < deadline:
        time.sleep(0.05)
        now = run.view().step
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= window:
            return now
    raise AssertionError(f"the run was still stepping after {timeout}s")


def config(**kw):
    return TrainConfig.from_recipe("seed", **{"device": "cpu", "lr": 2e-3, "batch_size": 64, **kw})


def test_a_run_finishes_saves_and_can_become_active(process_manager, tmp_path):
    run = process_manager.start(config(epochs=2))
    view = wait_for(run, {"finished"})
    (lane,) = view.lanes
    assert view.step == view.total_steps == 2 * 32 and len(lane.losses) == 64 and view.reason == "finished"
    assert len(lane.test_accuracy) == 2 and lane.final_accuracy == lane.test_accuracy[-1] > 0.5
    assert lane.filters.shape == (16, 5, 5) and lane.maps.shape == (16, 24, 24)
    model, meta = checkpoint.load(lane.saved_path)
    assert meta["epochs_done"] == 2 and meta["stopped"] is None and len(meta["loss_history"]) == 64
    assert len(checkpoint.filter_history(lane.saved_path)) == 3
    store = ModelStore(default=tmp_path / "absent.safetensors", runs_dir=tmp_path)
    assert store.activate(lane.saved_path).name == lane.saved_path.stem
    assert store.active().meta["epochs_done"] == 2
    # The server's worker stays for the next run: the same process, torch already loaded
    worker = run.process.pid
    again = process_manager.start(config(epochs=1))
    assert wait_for(again, {"finished"}).lanes[0].final_accuracy > 0.5 and again.process.pid == worker


def test_stop_reaches_the_worker_process_and_keeps_what_was_learned(process_manager):
    """How fast it stops is measured by `python -m benchmarks.stop_latency`; here only that
    it does, long before the run's 12,800 steps, and saves."""
    run = process_manager.start(config(epochs=50, batch_size=8))
    wait_until(lambda: run.view().step >= 5, what="5 steps")
    run.stop()
    view = wait_for(run, {"stopped"}, timeout=60)
    assert view.step < view.total_steps == 50 * 256 and view.reason == "stopped"
    (lane,) = view.lanes
    assert lane.saved_path.exists() and lane.final_accuracy is not None
    meta = checkpoint.load(lane.saved_path)[1]
    assert meta["stopped"] == "stopped by the user" and len(meta["loss_history"]) == view.step


def test_pause_holds_and_resume_goes_on(thread_manager):
    run = thread_manager.start(config(epochs=50, batch_size=8))
    wait_until(lambda: run.view().step >= 20, what="20 steps")  # past the slow first steps
    step_s = step_seconds(run)
    run.pause()
    held = settled_step(run, step_s)  # the step in flight when Pause was pressed still ends
    time.sleep(max(1.0, 50 * step_s))  # a window in which a running run takes 50 steps or more
    assert run.view().state == "paused" and run.view().step == held
    run.resume()
    wait_until(lambda: run.view().step > held, what="a step after Resume")
    assert run.view().state == "running"
    run.pause()
    run.stop()  # a stop also ends a paused run
    wait_for(run, {"stopped"}, timeout=60)


def test_one_run_at_a_time_even_when_two_press_start_together(thread_manager):
    manager = thread_manager
    results = []
    barrier = threading.Barrier(4)

    def press():
        barrier.wait()
        try:
            results.append(manager.start(config(epochs=50)))
        except Busy as e:
            results.append(e)

    threads = [threading.Thread(target=press) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = [r for r in results if not isinstance(r, Busy)]
    assert len(started) == 1 and len(results) == 4
    assert "already going" in str(next(r for r in results if isinstance(r, Busy)))


def test_a_diverging_run_stops_and_says_what_to_try(thread_manager, monkeypatch):
    monkeypatch.setattr(live_train, "DIVERGED_LOSS", 0.0)  # any loss counts as exploded (train.fit's check)
    run = thread_manager.start(config(epochs=5, lr=0.5))
    view = wait_for(run, {"failed", "stopped", "finished"})
    assert view.state == "failed" and view.reason == "diverged" and view.step == 1
    loss = view.lanes[0].losses[0]
    assert view.reason_values == {"loss": f"{loss:.3g}", "step": 1, "lr": "0.5", "try_lr": "0.05"}  # locales' {values}


def test_start_checks_the_config_once_and_resolves_the_device_once(thread_manager, monkeypatch):
    """The Start button's path (page -> RunManager.start -> TrainingRun -> the worker -> fit)."""
    checked, resolved = [], []
    real_validated, real_pick = TrainConfig.validated, live.pick_device
    monkeypatch.setattr(TrainConfig, "validated", lambda self: checked.append(self) or real_validated(self))
    monkeypatch.setattr(live, "pick_device", lambda name: resolved.append(name) or real_pick(name))
    monkeypatch.setattr(live_train, "pick_device", lambda name: resolved.append(name) or real_pick(name))
    unchecked = TrainConfig.from_recipe("seed", validate=False, epochs=1, train_images=256, device="cpu")
    run = thread_manager.start(unchecked)
    assert wait_for(run, {"finished", "failed"}).state == "finished"
    assert checked == [unchecked] and resolved == ["cpu"]


def test_a_finished_run_is_written_once_per_epoch_not_again_at_its_end(thread_manager, monkeypatch):
    written = []
    real_save = checkpoint.save
    monkeypatch.setattr(
        checkpoint,
        "save",
        lambda model, path, meta, *a, **k: written.append(meta) or real_save(model, path, meta, *a, **k),
    )
    run = thread_manager.start(config(epochs=2))
    (lane,) = wait_for(run, {"finished"}).lanes
    assert [meta["stopped"] for meta in written] == ["interrupted", None]  # the last epoch's is the run's
    meta = checkpoint.load(lane.saved_path)[1]
    assert meta["stopped"] is None and meta["epochs_done"] == 2 and meta["test_accuracy"] == lane.final_accuracy


def test_bad_config_never_starts(manager):
    bad = TrainConfig(epochs=0)  # not checked yet: start checks it
    with pytest.raises(ValueError, match="epochs"):
        manager.start(bad)
    assert manager.run is None


def test_watch_image_is_used(thread_manager):
    digit = np.zeros((28, 28), np.float32)
    digit[4:24, 12:16] = 1
    run = thread_manager.start(config(epochs=1), watch_image=digit)
    view = wait_for(run, {"finished"})
    assert np.array_equal(view.watch_image, digit)


def lane(**values) -> live.Lane:
    fields = dict(name="seed", spec=SEED, losses=[], test_accuracy=[], epoch_steps=[], probes=[])
    fields.update(filters=None, maps=None, saved_path=None, final_accuracy=None)
    return live.Lane(**{**fields, **values})


def run_view(lanes, **values) -> live.RunView:
    fields = dict(state="running", config=TrainConfig(), device="cpu", step=0, total_steps=9000, epoch=1)
    fields.update(samples_per_s=1.0, elapsed_s=1.0, watch_image=None, reason="", reason_values={})
    return live.RunView(**{**fields, **values}, lanes=lanes)


def test_loss_curve_is_thinned_and_smoothed():
    steps, raw, smooth = lane(losses=list(np.linspace(2.3, 0.1, 5000))).loss_curve(max_points=500)
    assert len(steps) == 500 and steps[0] == 1 and steps[-1] == 5000
    assert abs(smooth[0] - 2.3) < 1e-6  # bias-corrected: starts at the first loss, not at 0
    assert np.all(np.diff(smooth) <= 1e-9)


def test_accuracy_points_are_in_step_order_and_say_which_are_the_whole_test_set():
    first = lane(
        losses=[1.0] * 700,
        test_accuracy=[0.9, 0.95],
        epoch_steps=[300, 600],
        probes=[(120, 0.5), (450, 0.93), (690, 0.96)],
    )
    assert first.accuracy_points() == (
        [120, 300, 450, 600, 690],
        [0.5, 0.9, 0.93, 0.95, 0.96],
        [False, True, False, True, False],
    )
    assert first.latest_accuracy == (0.96, False)
    empty = replace(first, test_accuracy=[], epoch_steps=[], probes=[])
    assert empty.accuracy_points() == ([], [], []) and empty.latest_accuracy is None
    # In a race each lane has its own
    second = replace(first, name="fully_connected", probes=[(120, 0.4)], test_accuracy=[0.8, 0.85])
    race = run_view([first, second])
    assert race.race and not run_view([first]).race
    assert race.lanes[1].accuracy_points() == ([120, 300, 600], [0.4, 0.8, 0.85], [False, True, True])


def test_a_short_run_reports_test_accuracy_while_it_trains(thread_manager, monkeypatch):
    """A point at least every PROBE_EVERY_S of training, before the epoch's end."""
    monkeypatch.setattr(live_train, "PROBE_EVERY_S", 0.05)
    run = thread_manager.start(config(epochs=1, train_images=2048, batch_size=32))
    view = wait_for(run, {"finished"})
    (lane,) = view.lanes
    assert len(lane.probes) >= 2 and len(lane.test_accuracy) == 1
    steps = [s for s, _ in lane.probes]
    assert steps == sorted(steps) and steps[-1] < lane.epoch_steps[0] == view.total_steps
    assert all(0.0 <= a <= 1.0 for _, a in lane.probes)


def test_each_finished_epoch_is_saved_while_the_run_goes_on(thread_manager):
    """If the server dies mid-run, the run is kept up to its last finished epoch."""
    run = thread_manager.start(config(epochs=50))
    wait_until(run.out.exists, what="the first epoch's save")  # written whole, under its name, at once
    model, meta = checkpoint.load(run.out)
    assert meta["stopped"] == "interrupted" and meta["epochs_done"] >= 1
    assert len(checkpoint.filter_history(run.out)) == meta["epochs_done"] + 1
    run.stop()
    wait_for(run, {"stopped"})
    assert checkpoint.load(run.out)[1]["stopped"] == "stopped by the user"


def test_a_failing_gpu_stops_the_run_with_a_message_and_the_next_auto_run_uses_the_cpu(thread_manager, monkeypatch):
    """A GPU that runs out of memory mid-run, simulated on this CPU-only machine."""
    import torch

    real_fit, real_pick = live.fit, live.pick_device

    def fit_that_runs_out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        yield  # a generator, like fit

    monkeypatch.setattr(live, "fit", fit_that_runs_out_of_memory)
    monkeypatch.setattr(live, "pick_device", lambda name: torch.device("cuda"))  # as if placed on a GPU
    real_settings = live.settings
    monkeypatch.setattr(live, "settings", lambda device: real_settings("cpu"))  # a GPU nobody asks the name of
    run = thread_manager.start(config(epochs=5))
    view = wait_for(run, {"failed"})
    assert view.reason == "device_failed" and view.reason_values["device"] == "CUDA"
    assert view.reason_values["detail"].startswith("CUDA out of memory")
    monkeypatch.setattr(live, "fit", real_fit)
    monkeypatch.setattr(live, "pick_device", real_pick)
    again = thread_manager.start(TrainConfig.from_recipe("seed", epochs=1, train_images=256, device="auto"))
    assert again.config.device == "cpu"
    wait_for(again, {"finished"})


def test_a_worker_process_that_dies_is_a_clear_failure(tmp_path):
    """Killed by the system (say, out of memory): the page says so instead of waiting forever."""
    m = next(make_manager(tmp_path, separate_process=True))
    run = m.start(config(epochs=50))
    wait_until(lambda: run.view().step >= 5, what="5 steps")
    run.process.kill()
    view = wait_for(run, {"failed"}, timeout=30)
    assert view.reason == "error" and "ended unexpectedly" in view.reason_values["detail"]
    assert "exit code -9" in view.reason_values["detail"]
    assert view.lanes[0].losses  # what was seen stays on the chart
    # The next run gets a new worker
    again = m.start(config(epochs=1))
    assert wait_for(again, {"finished"}).lanes[0].final_accuracy > 0.5 and again.process.pid != run.process.pid
    m.close()


def test_a_race_in_the_worker_process_charts_both_and_saves_both(process_manager, tmp_path):
    """Two networks across the process boundary: a lane each, with its losses, accuracies,
    first-layer pictures and file."""
    run = process_manager.start(config(epochs=1, race=PRESETS["fully_connected"].spec))
    view = wait_for(run, {"finished"})
    assert view.race and [lane.name for lane in view.lanes] == ["seed", "fully_connected"]
    cnn, fc = view.lanes
    assert len(cnn.losses) == len(fc.losses) == view.step == 32 and cnn.losses != fc.losses
    assert len(cnn.test_accuracy) == len(fc.test_accuracy) == 1 and fc.final_accuracy > 0.5
    assert cnn.filters.shape == (16, 5, 5) and cnn.maps.shape == (16, 24, 24)
    assert fc.filters.shape == (live.WATCH_UNITS, 28, 28) and fc.maps is None  # hidden units' weights as pictures
    assert cnn.saved_path != fc.saved_path and cnn.saved_path.parent == fc.saved_path.parent == tmp_path
    cnn_meta, (fc_model, fc_meta) = checkpoint.load(cnn.saved_path)[1], checkpoint.load(fc.saved_path)
    assert cnn_meta["model"] == "seed" and fc_meta["model"] == "fully_connected" and len(fc_model.layer) == 0
    assert fc_meta["raced_with"] == cnn.saved_path.name and cnn_meta["raced_with"] == fc.saved_path.name
    assert fc_meta["test_accuracy"] == fc.final_accuracy and fc_meta["loss_history"] == [round(x, 5) for x in fc.losses]
    store = ModelStore(default=tmp_path / "absent.safetensors", runs_dir=tmp_path)
    assert set(store.saved()) == {cnn.saved_path, fc.saved_path}  # both on the Models page


def test_a_stopped_race_keeps_both_networks(thread_manager):
    run = thread_manager.start(config(epochs=50, batch_size=8, race=PRESETS["few_filters"].spec))
    wait_until(lambda: run.view().step >= 5, what="5 steps")
    run.stop()
    view = wait_for(run, {"stopped"}, timeout=60)
    assert view.step < view.total_steps and all(len(lane.losses) == view.step for lane in view.lanes)
    for lane in view.lanes:
        meta = checkpoint.load(lane.saved_path)[1]
        assert meta["stopped"] == "stopped by the user" and len(meta["loss_history"]) == view.step
        assert meta["test_accuracy"] == lane.final_accuracy is not None


def test_pause_holds_a_race(thread_manager):
    run = thread_manager.start(config(epochs=50, batch_size=8, race=PRESETS["fully_connected"].spec))
    wait_until(lambda: run.view().step >= 20, what="20 steps")
    step_s = step_seconds(run)
    run.pause()
    held = settled_step(run, step_s)
    time.sleep(max(1.0, 50 * step_s))
    view = run.view()
    assert view.state == "paused" and view.step == held and [len(lane.losses) for lane in view.lanes] == [held] * 2
    run.resume()
    wait_until(lambda: run.view().step > held, what="a step after Resume")
    run.stop()
    wait_for(run, {"stopped"}, timeout=60)


def test_a_race_where_one_network_diverges_stops_and_keeps_the_other(thread_manager, monkeypatch):
    monkeypatch.setattr(live_train, "DIVERGED_LOSS", 0.0)  # any loss counts as exploded
    run = thread_manager.start(config(epochs=5, race=PRESETS["fully_connected"].spec))
    view = wait_for(run, {"failed", "stopped", "finished"})
    assert view.state == "failed" and view.reason == "diverged" and view.reason_values["lr"] == "0.002"
    assert all(lane.saved_path is not None for lane in view.lanes)  # finite weights: both kept, marked diverged
    assert checkpoint.load(view.lanes[1].saved_path)[1]["stopped"] == "diverged"


def test_the_worker_does_not_run_the_page_script_again(tmp_path, monkeypatch):
    """Under `streamlit run`, __main__ is app.py; a spawned child would import it again first
    (multiprocessing.spawn), and with it streamlit and every view: seconds of a fresh server's
    start. Here a __main__ whose file leaves a mark when it is run stands in for app.py."""
    import sys
    import types

    mark = tmp_path / "ran"
    script = tmp_path / "page_script.py"
    script.write_text(f"open({str(mark)!r}, 'w').close()\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", page)
    worker = live.Worker(own_data=False)
    try:
        assert sys.modules["__main__"] is page  # put back at once
        wait_until(lambda: worker.ready.is_set() or not worker.alive(), what="the worker ready")
        assert worker.alive() and worker.ready.is_set()
    finally:
        worker.close()
    assert not mark.exists(), "the worker ran the parent's __main__ script"
