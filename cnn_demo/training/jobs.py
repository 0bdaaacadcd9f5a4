"""Background work of a server, in processes of its own, below the pages; and restarting a command.

Two kinds of job run beside the app's pages: a training run (live.RunManager: a spawned worker
process that waits for runs on a queue) and an experiment (claims.Background: a command that
prints its progress). They keep their own way of talking to their process, and share the rest:

    OneJob                 at most one job of a kind per server, thread-safe; Busy if one is going
    Worker                 a spawned process that gets ready once, then takes jobs from a queue
    start_early            a server's training Worker started before it imports torch
    spawn, start_command   a process started with the measured OpenMP environment (calibrate.worker_env)
    below_server           the niceness of all background work (NICENESS)
    end                    ask a process to end, then kill it if it does not
    Measurement            this machine's training settings measured (`python -m cnn_demo calibrate`)
                           in the background, stopped at once when a job needs the cores

and one for the command lines (train, experiments, bench):

    restart_with(tuned, device)   exec again with the measured OpenMP wait policy

Importing this module imports no torch (calibrate is imported where it is needed): app.py
starts the server's training worker with it first, so that the worker imports torch while the
server does, not after (start_early).
"""

import importlib
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import types
import weakref
from collections.abc import Callable
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Generic, TypeVar

from cnn_demo import ROOT

if TYPE_CHECKING:
    import torch

    from cnn_demo.training.calibrate import Settings

# The nice value of all background work: on a teacher's laptop it shares the cores with the
# server, and a student waiting for an answer comes first; the job takes what the pages leave
# (60 students drawing under a run on a 2-core machine: p50 97 ms at nice 0, 39 ms at nice 10).
NICENESS = 10

Job = TypeVar("Job")


class Busy(RuntimeError):
    """A job of this kind is already going on this server (its message says which, for people)."""


class OneJob(Generic[Job]):
    """At most one job of a kind per server: shared by every session, thread-safe.

    running(job) says whether a job still goes; start(make, busy) makes the next one under the
    lock, so that two sessions pressing at the same moment start exactly one."""

    def __init__(self, running: Callable[[Job], bool]):
        self._running = running
        self.lock = threading.RLock()  # also held by an owner that must not race a start (RunManager)
        self.job: Job | None = None
        _HOLDERS.add(self)

    def running(self) -> bool:
        job = self.job
        return job is not None and self._running(job)

    def start(self, make: Callable[[], Job], busy: Callable[[Job], str]) -> Job:
        """make() the next job, or raise Busy(busy(the running job))."""
        with self.lock:
            if self.running():
                raise Busy(busy(self.job))
            self.job = make()
            return self.job


_HOLDERS: "weakref.WeakSet[OneJob]" = weakref.WeakSet()


def idle() -> bool:
    """No job of any kind is going on this server (a measurement then times a quiet machine)."""
    return not any(holder.running() for holder in list(_HOLDERS))


def below_server(pid: int = 0) -> None:
    """Put a process (0: this one) at NICENESS. Absolute, so it may be called twice."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, NICENESS)
    except (AttributeError, OSError):  # not on this system: it runs at the server's priority
        pass


def measured_env(chosen: "Settings | None" = None) -> dict[str, str]:
    """The variables a training process is started with: the measured OpenMP wait policy
    (read once, when torch loads), or the safe default's before the machine is measured."""
    from cnn_demo.training.calibrate import settings, worker_env

    return worker_env(chosen if chosen is not None else settings("cpu"))


def start_command(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    """`python -m cnn_demo ARGV...` below the server, with the measured environment (and env),
    its output read as text lines. It stays in the server's process group: stopping the server
    stops it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cnn_demo", *argv],
        cwd=ROOT,
        env={**os.environ, **measured_env(), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    below_server(process.pid)
    return process


_ENVIRON_LOCK = threading.Lock()


def spawn(process: BaseProcess, env: dict[str, str]) -> None:
    """Start a multiprocessing process (spawn context) with these environment variables.

    A spawned child reads its environment from this process's: only those keys are set, and
    put back at once (other threads read the environment too). The child lowers its own
    priority (below_server) when it is ready: started below the server, a fresh worker
    imported torch at a tenth of a core while the first page was drawn."""
    with _ENVIRON_LOCK:
        before = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            with _no_main_to_rerun():
                process.start()
        finally:
            for key, value in before.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@contextmanager
def _no_main_to_rerun():
    """While a spawned process starts: no __main__ for it to import again.

    A spawned child imports its parent's __main__ script first (multiprocessing.spawn, for
    functions defined there). Under `streamlit run` that is the page script, app.py: the worker
    imported streamlit and every page, seconds of a fresh server's start, for nothing. A module
    with no file makes spawn leave __main__ alone. Streamlit puts a new __main__ in sys.modules
    for each script run, so one set meanwhile is kept."""
    previous = sys.modules.get("__main__")
    stand_in = sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if sys.modules.get("__main__") is stand_in and previous is not None:
            sys.modules["__main__"] = previous


class Worker:
    """A process of its own that gets ready once, then takes jobs from `jobs` one at a time and
    reports on `reports`; `go` and `stop` steer the job it has (the app's training worker:
    live.worker_main). Its OpenMP wait policy is fixed when it starts: `env`.

    target: "module:function", called in the new process as
    function(jobs, reports, go, stop, ready, parent_pid, hurry, *args); named, not passed, so
    that starting one imports nothing here. hurry: a job may be waiting for it (a server's first
    worker): it starts at the server's priority and goes below it once ready (the target calls
    below_server); else below it from the start."""

    def __init__(self, target: str, args: tuple = (), hurry: bool = True, env: dict[str, str] | None = None):
        ctx = multiprocessing.get_context("spawn")  # not fork: a forked threaded server can deadlock
        self.target, self.args = target, args
        self.jobs, self.reports = ctx.Queue(), ctx.Queue()
        self.go, self.stop, self.ready = ctx.Event(), ctx.Event(), ctx.Event()
        self.env = env if env is not None else measured_env()
        run_args = (target, self.jobs, self.reports, self.go, self.stop, self.ready, os.getpid(), hurry, *args)
        self.process = ctx.Process(target=_run_target, name="cnn-demo-training", daemon=True, args=run_args)
        spawn(self.process, self.env)

    def alive(self) -> bool:
        return self.process.is_alive()

    def close(self, grace_s: float = 5.0) -> None:
        end(self.process, ask=lambda: self.jobs.put(None), grace_s=grace_s)


def _run_target(target: str, *args) -> None:
    module, function = target.split(":")
    getattr(importlib.import_module(module), function)(*args)


TRAINING_WORKER = "cnn_demo.training.live:worker_main"  # the app's training Worker's target
_EARLY: dict[tuple, Worker | None] = {}  # None: taken
_EARLY_LOCK = threading.Lock()


def start_early(target: str, args: tuple = ()) -> None:
    """Start this server's Worker for target(args) now, once per process, for take_early to hand
    to its owner later. Called before the server imports torch (app.py): the worker then imports
    it at the same time, not after, and is ready seconds sooner for a fresh server's first Start.
    It starts with this process's OpenMP wait policy (the safe default's unless set): reading the
    measured one needs torch; where that differs, the owner readies a new worker while quiet."""
    with _EARLY_LOCK:
        if (target, args) not in _EARLY:
            _EARLY[(target, args)] = Worker(target, args, env={"OMP_WAIT_POLICY": os.environ["OMP_WAIT_POLICY"]})


def take_early(target: str, args: tuple = ()) -> Worker | None:
    """The Worker start_early started for target(args), still alive, once; else None."""
    with _EARLY_LOCK:
        worker = _EARLY.get((target, args))
        _EARLY[(target, args)] = None  # taken: a later owner starts its own
    return worker if worker is not None and worker.alive() else None


def alive(process: BaseProcess | subprocess.Popen) -> bool:
    return process.is_alive() if isinstance(process, BaseProcess) else process.poll() is None


def end(process: BaseProcess | subprocess.Popen, ask: Callable[[], None] | None = None, grace_s: float = 5.0) -> None:
    """Ask a process to end (ask(), else SIGTERM), wait up to grace_s, then kill it."""
    if not alive(process):
        return
    try:
        (ask or process.terminate)()
    except (OSError, ValueError):  # its pipe or queue already closed
        pass
    if isinstance(process, BaseProcess):
        process.join(grace_s)
    else:
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            pass
    if alive(process):
        process.kill()


class Measurement:
    """This machine's training settings measured in the background: `python -m cnn_demo calibrate`
    below the server, kept in calibrate.cache_file() like the command's own.

    stop() ends it at once (a run pressed meanwhile must not wait for it nor share the cores
    with it); start() again later measures from the beginning. The command turns SIGTERM into
    an exit, which ends its probe process too (calibrate.main)."""

    def __init__(self, device: str = "cpu"):
        self.device = device
        self.process: subprocess.Popen | None = None
        self.failures = 0  # measurements that ended badly, not stopped by us
        self._stopped = False

    @property
    def running(self) -> bool:
        return self.process is not None and alive(self.process)

    def start(self) -> None:
        if not self.running:
            self._stopped = False
            self.process = start_command(["calibrate", "--device", self.device])

    def done(self) -> bool:
        """Whether settings are kept for the device now; counts a measurement that failed."""
        process = self.process
        if process is not None and not alive(process):
            if process.returncode != 0 and not self._stopped:
                self.failures += 1
            self.process = None
        import torch

        from cnn_demo.training.calibrate import kept

        return kept(torch.device(self.device)) is not None

    def stop(self) -> None:
        process = self.process
        if process is not None and alive(process):
            self._stopped = True
            try:
                process.send_signal(signal.SIGTERM)
            except OSError:
                pass


# --- the command lines ----------------------------------------------------------------------


def from_command_line() -> bool:
    """Whether this process is `python -m cnn_demo COMMAND ...` (not a test, a notebook, the app)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec is not None and spec.name == "cnn_demo.__main__"


def restart_with(tuned: "Settings", device: "torch.device") -> None:
    """If this process is the command line and its OpenMP wait policy is not the measured one,
    start the same command again in its place with the measured environment.

    OpenMP reads its wait policy once, when torch loads, so it cannot be changed in place; a
    caller's own process (a test, a notebook) is left alone."""
    if device.type != "cpu" or not from_command_line():
        return
    env = measured_env(tuned)
    if all(os.environ.get(key) == value for key, value in env.items()):
        return
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, "-m", "cnn_demo", *sys.argv[1:]], {**os.environ, **env})
