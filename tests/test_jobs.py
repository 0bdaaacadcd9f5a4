"""cnn_demo.training.jobs: one job per server, the restart of a command with the measured
OpenMP settings, the background measurement, and how the training run's manager uses them."""

import os
import subprocess
import sys
import threading
import time
import types
import weakref
from pathlib import Path

import pytest
import torch

from cnn_demo.training import calibrate, jobs, live
from cnn_demo.training.calibrate import Settings
from cnn_demo.training.jobs import Busy, OneJob

CPU = torch.device("cpu")


class FakeJob:
    """A job that goes until told; seen as a training run too (view().active)."""

    def __init__(self):
        self.going = True

    def view(self):
        return types.SimpleNamespace(active=self.going)


def test_one_job_at_a_time_even_when_several_press_together():
    one = OneJob(lambda job: job.going)
    results, barrier = [], threading.Barrier(4)

    def press():
        barrier.wait()
        try:
            results.append(one.start(FakeJob, lambda job: "already going"))
        except Busy as e:
            results.append(e)

    threads = [threading.Thread(target=press) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = [r for r in results if isinstance(r, FakeJob)]
    assert len(started) == 1 and one.job is started[0]
    assert [str(r) for r in results if isinstance(r, Busy)] == ["already going"] * 3
    assert one.running() and not jobs.idle()
    started[0].going = False  # it ended: the next one may start
    assert jobs.idle()
    assert one.start(FakeJob, lambda job: "already going") is not started[0]


# --- the restart of a command line ----------------------------------------------------------


class Restarted(Exception):
    pass


@pytest.fixture
def execve(monkeypatch):
    """os.execve recorded instead of done: (path, argv, env) of each call, then Restarted."""
    calls = []

    def fake(path, argv, env):
        calls.append((path, argv, env))
        raise Restarted

    monkeypatch.setattr(os, "execve", fake)
    return calls


def as_command_line(monkeypatch, *argv):
    """This process as `python -m cnn_demo ARGV...`: runpy gives __main__ the package's spec."""
    main = types.ModuleType("__main__")
    main.__spec__ = types.SimpleNamespace(name="cnn_demo.__main__")
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(sys, "argv", ["/somewhere/cnn_demo/__main__.py", *argv])


ACTIVE = Settings(wait_policy="ACTIVE", measured={"ACTIVE": {}})


def test_a_command_line_restarts_with_the_measured_wait_policy(monkeypatch, execve):
    as_command_line(monkeypatch, "train", "--recipe", "quick")
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    with pytest.raises(Restarted):
        jobs.restart_with(ACTIVE, CPU)
    ((path, argv, env),) = execve
    assert path == sys.executable and argv == [sys.executable, "-m", "cnn_demo", "train", "--recipe", "quick"]
    assert env["OMP_WAIT_POLICY"] == "ACTIVE" and env["PATH"] == os.environ["PATH"]  # the rest kept


def test_no_restart_when_the_policy_is_already_the_measured_one_or_on_a_gpu(monkeypatch, execve):
    as_command_line(monkeypatch, "bench")
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    jobs.restart_with(ACTIVE, CPU)
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    jobs.restart_with(ACTIVE, torch.device("cuda"))  # no OpenMP in a GPU's step
    assert execve == []


def test_no_restart_when_called_from_code(monkeypatch, execve):
    """A test, a notebook, the app: __main__ is theirs, and their process is left alone, even
    with sys.argv looking like the command's (`main(rest)` is called with a list either way)."""
    monkeypatch.setattr(sys, "argv", ["/somewhere/cnn_demo/__main__.py", "train"])
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    assert not jobs.from_command_line()  # pytest's __main__
    jobs.restart_with(ACTIVE, CPU)
    assert execve == []


@pytest.mark.parametrize(
    "module, argv",
    [
        ("cnn_demo.training.train", ["--recipe", "quick", "--device", "cpu"]),
        ("cnn_demo.experiments.claims", ["shift"]),
        ("cnn_demo.training.bench", ["--device", "cpu"]),
    ],
)
def test_train_experiments_and_bench_restart_through_the_helper(module, argv, monkeypatch, execve):
    """Each command's main(), as __main__ calls it (with a list), restarts before any work."""
    import importlib

    calibrate.keep(CPU, ACTIVE)  # this test's own cache folder (conftest)
    command = module.rsplit(".", 1)[1].replace("claims", "experiments")
    as_command_line(monkeypatch, command, *argv)
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    with pytest.raises(Restarted):
        importlib.import_module(module).main(argv)
    assert execve[0][1][3:] == [command, *argv] and execve[0][2]["OMP_WAIT_POLICY"] == "ACTIVE"


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_DEMO_CACHE", str(tmp_path))
    return tmp_path


# --- the background measurement -------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """The live processes below pid (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads /proc")
def test_a_stopped_measurement_ends_with_its_probe_and_keeps_nothing(own_cache):
    measurement = jobs.Measurement("cpu")
    measurement.start()
    try:
        assert measurement.running and os.getpriority(os.PRIO_PROCESS, measurement.process.pid) == jobs.NICENESS
        deadline, below = time.monotonic() + 60, []
        while not below and time.monotonic() < deadline:  # its probe
            below = descendants(measurement.process.pid)
            time.sleep(0.05)
        assert below, "the measurement never started its probe"
        # and what that probe starts in turn; the probe seen first may have ended meanwhile, and
        # the next not begun yet (the quick suite once read none at this moment)
        time.sleep(0.5)
        below = sorted(set(below) | set(descendants(measurement.process.pid)))
        measurement.stop()
        measurement.process.wait(10)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in below) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(pid) for pid in below)  # no probe left measuring beside a run
    finally:
        process = measurement.process
        measurement.stop()  # its probe too, whatever failed above
        if process is not None:
            process.wait(10)
    assert not measurement.done() and measurement.failures == 0  # stopped by us is no failure
    assert calibrate.kept(CPU) is None


def test_the_busy_neighbour_of_a_probe_ends_when_its_probe_is_killed():
    probe = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', {calibrate.BUSY_CORE!r}, str(os.getpid())])\n"
            "time.sleep(60)",
        ]
    )
    try:
        deadline = time.monotonic() + 30
        while not descendants(probe.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        (neighbour,) = descendants(probe.pid)
        probe.kill()  # no finally of the probe's runs
        probe.wait()
        deadline = time.monotonic() + 10
        while alive(neighbour) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(neighbour)
    finally:
        probe.kill()


# --- the training run's manager: background work only while no job goes --------------------


class FakeWorker:
    made: list["FakeWorker"] = []

    def __init__(self, own_data=True, hurry=True, env=None):
        self.hurry, self.env = hurry, env if env is not None else jobs.measured_env()
        self.ready, self.closed = threading.Event(), False
        FakeWorker.made.append(self)

    def alive(self):
        return not self.closed

    def close(self, grace_s=5.0):
        self.closed = True


class FakeMeasurement:
    def __init__(self):
        self.running, self.measured, self.failures, self.starts, self.stops = False, False, 0, 0, 0

    def start(self):
        self.running, self.starts = True, self.starts + 1

    def stop(self):
        self.running, self.stops = False, self.stops + 1

    def done(self):
        return self.measured


@pytest.fixture
def manager(own_cache, monkeypatch):
    """A RunManager whose worker and measurement are stand-ins, looked after by hand (_tend)."""
    FakeWorker.made = []
    # Only this manager's job counts for idle(): runs of other tests may still be winding down.
    monkeypatch.setattr(jobs, "_HOLDERS", weakref.WeakSet())
    monkeypatch.setattr(live, "Worker", FakeWorker)
    m = live.RunManager(separate_process=False, measure=False)
    m.separate_process = True
    m.measurement = FakeMeasurement()
    m.worker = FakeWorker()
    m.worker.ready.set()
    return m


def test_the_machine_is_measured_only_once_quiet_and_never_while_a_run_trains(manager, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(live.time, "monotonic", lambda: clock[0])
    quiet = manager._tend(None)
    assert quiet == 1000.0 and manager.measurement.starts == 0  # not at once: Start may come now
    clock[0] += live.QUIET_BEFORE_BACKGROUND_S
    assert manager._tend(quiet) == quiet and manager.measurement.starts == 1
    assert manager.worker_state() == "measuring"
    run = FakeJob()  # a run starts: the measurement stops at the next look
    manager.one.job = run
    assert manager._tend(quiet) is None and manager.measurement.stops == 1 and not manager.measurement.running
    assert manager.worker_state() == "ready"
    run.going = False
    quiet = manager._tend(None)
    clock[0] += live.QUIET_BEFORE_BACKGROUND_S
    manager._tend(quiet)
    assert manager.measurement.starts == 2  # measured again once quiet


def test_a_worker_not_ready_yet_is_not_measured_beside(manager, monkeypatch):
    manager.worker.ready.clear()
    assert manager.worker_state() == "starting"
    assert manager._tend(0.0) is None and manager.measurement.starts == 0


def test_a_changed_wait_policy_gets_a_new_worker_swapped_in_only_while_quiet(manager):
    manager.measurement.measured = True
    calibrate.keep(CPU, ACTIVE)  # what the measurement found
    old = manager.worker
    manager._tend(0.0)
    (spare,) = [w for w in FakeWorker.made if w is not old]
    assert manager.spare is spare and not spare.hurry and spare.env["OMP_WAIT_POLICY"] == "ACTIVE"
    manager._tend(0.0)
    assert manager.worker is old  # not ready yet: runs keep the old one
    spare.ready.set()
    run = FakeJob()
    manager.one.job = run  # a run started meanwhile: the spare is closed, the old worker trains
    manager._tend(0.0)
    assert manager.worker is old and spare.closed and manager.spare is None
    run.going = False
    manager._tend(0.0)
    respare = manager.spare
    respare.ready.set()
    manager._tend(0.0)
    assert manager.worker is respare and old.closed and manager.spare is None
    manager._tend(0.0)
    assert len(FakeWorker.made) == 3  # the policy matches now: no more workers


def test_a_run_started_while_measuring_stops_the_measurement_at_once(manager, small_sets):
    sets = {"train": small_sets[0], "test": small_sets[1]}
    manager._load = sets.__getitem__
    manager.separate_process = False  # trains on a thread: what matters is the stop
    manager.measurement.start()
    run = manager.start(live.TrainConfig.from_recipe("seed", epochs=1, train_images=256))
    try:
        assert manager.measurement.stops == 1 and not manager.measurement.running
    finally:
        run.stop()
        run.listener.join(30)


# --- a server's first worker, started before the server imports torch ------------------------


def test_starting_a_servers_worker_early_imports_no_torch():
    """app.py starts the worker with jobs before the pages import torch: jobs must not import it."""
    code = "import sys\nfrom cnn_demo.training import jobs\nassert 'torch' not in sys.modules, 'jobs imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


def waiting_worker(runs, reports, go, stop, ready, parent_pid, hurry, mark):
    """A jobs.Worker target that gets ready at once and ends on None."""
    reports.put((mark, hurry))
    ready.set()
    runs.get()


def test_an_early_worker_is_started_once_and_taken_once(monkeypatch):
    monkeypatch.setattr(jobs, "_EARLY", {})
    target = "tests.test_jobs:waiting_worker"
    jobs.start_early(target, ("early",))
    jobs.start_early(target, ("early",))  # app.py runs again for every page: still one
    (worker,) = jobs._EARLY.values()
    try:
        assert worker.reports.get(timeout=60) == ("early", True) and worker.ready.wait(10)
        assert worker.env == {"OMP_WAIT_POLICY": os.environ["OMP_WAIT_POLICY"]}
        assert jobs.take_early(target, ("other",)) is None  # not the worker asked for
        assert jobs.take_early(target, ("early",)) is worker
        assert jobs.take_early(target, ("early",)) is None  # taken: a later owner starts its own
    finally:
        worker.close()
    assert not worker.alive()
