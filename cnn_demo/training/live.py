"""A training run in the background, for the app: start, pause, resume, stop, watch.

The run belongs to the server, not to a browser tab. A worker process drives `train.fit`
and reports what it sees; a listener thread writes that into a lock-protected state; any
number of pages read `view()` and draw it. No UI call is ever made from the worker.

The worker is started once per server, before anyone presses Start: a fresh interpreter
spends seconds importing torch, loading MNIST and building its first kernels, and the class
would watch "starting" for all of them. It then waits for runs, one at a time. If it dies
(killed, out of memory), the run it had is reported failed and the next run gets a new one.

    manager = RunManager()
    run = manager.start(TrainConfig.from_recipe("seed", epochs=1, train_images=3000))
    run.view().losses  # ... later
    run.stop()

A race (config.race set) trains two networks in the one worker, on the same batches in turn;
the view has a Lane per network (`view.lanes`), and each is saved as its own checkpoint.
"""

import math
import os
import queue
import sys
import threading
import time
import tomllib
import types
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from cnn_demo import ROOT
from cnn_demo.network.model import Net, NetSpec, build, first_layer_weights, net_name
from cnn_demo.storage import checkpoint
from cnn_demo.storage.checkpoint import RUNS_DIR
from cnn_demo.storage.data import load_mnist
from cnn_demo.training.calibrate import kept, settings, worker_env
from cnn_demo.training.curves import smooth, thin
from cnn_demo.training.device import autocast_dtype, pick_device, use_threads
from cnn_demo.training.evaluate import accuracy
from cnn_demo.training.train import History, Probe, Step, TrainConfig, default_outs, fit, lane_meta, networks, specs

ACTIVE = ("starting", "running", "paused", "saving")
# How a run ended, in English, for the command line and notebooks: the [run] table of the
# app's own strings, so there is one copy of each message. The app shows the same code in
# the browser's language, with the same {values}.
with open(ROOT / "locales" / "en.toml", "rb") as _f:
    MESSAGES: dict[str, str] = tomllib.load(_f)["run"]
DIVERGED_LOSS = 50.0  # cross-entropy of 10 classes starts near ln 10 = 2.3; 50 is a blow-up
WATCH_EVERY_S = 0.5  # how often the live filters and feature maps are refreshed
REPORT_EVERY_S = 0.1  # how often the worker sends the losses of its latest steps


# The training process's nice value: on a teacher's laptop the run shares the cores with the
# server, and a student waiting for an answer comes first; the run takes what the pages leave
# (on this 2-core machine, 60 students drawing under a run: p50 97 ms at nice 0, 39 ms at nice 10).
TRAINING_NICENESS = 10


class RunBusy(RuntimeError):
    """A run is already going on this server."""


@dataclass
class Lane:
    """One network of a run (a race has two), as seen so far."""

    name: str  # its preset's name, or "custom" (model.net_name)
    spec: NetSpec
    losses: list[float]  # every step's loss so far
    test_accuracy: list[float]  # after each finished epoch, the whole test set
    epoch_steps: list[int]  # the step each of those epochs ended on
    probes: list[tuple[int, float]]  # (step, accuracy on train.PROBE_IMAGES test images) while it trains
    filters: np.ndarray | None  # the first layer's, latest: conv1's (16, 5, 5), a fully connected net's (32, 28, 28)
    maps: np.ndarray | None  # (16, 24, 24): conv1 + its activation of the watched digit (None without convs)
    saved_path: Path | None
    final_accuracy: float | None

    def accuracy_points(self) -> tuple[list[int], list[float], list[bool]]:
        """Every test accuracy so far in step order, to plot on the loss's step axis:
        (steps, accuracies, whole test set or not)."""
        points = [(s, a, False) for s, a in self.probes] + [
            (s, a, True) for s, a in zip(self.epoch_steps, self.test_accuracy)
        ]
        points.sort()
        return [p[0] for p in points], [p[1] for p in points], [p[2] for p in points]

    @property
    def latest_accuracy(self) -> tuple[float, bool] | None:
        """The newest test accuracy and whether it is of the whole test set."""
        steps, accuracies, whole = self.accuracy_points()
        return (accuracies[-1], whole[-1]) if steps else None

    def loss_curve(self, max_points: int = 1500, weight: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, raw loss, smoothed loss), thinned to at most max_points for the chart."""
        raw = np.asarray(self.losses, dtype=np.float64)
        keep = thin(len(raw), max_points)
        return keep + 1, raw[keep], smooth(raw, weight)[keep]


@dataclass
class RunView:
    """A copy of a run's state, safe to read while the run goes on. The first network's lane is
    also read through the attributes of a run of one (losses, test_accuracy, saved_path ...)."""

    state: str  # starting, running, paused, saving, finished, stopped, failed
    config: TrainConfig
    device: str
    step: int
    total_steps: int
    epoch: int  # the epoch being trained, 1-based
    samples_per_s: float
    elapsed_s: float
    watch_image: np.ndarray | None  # (28, 28): the digit being watched
    reason: str  # how it ended: a key of MESSAGES, or "" while it runs
    reason_values: dict  # the {values} of that message
    lanes: list[Lane]  # config.net's, then config.race's in a race

    @property
    def race(self) -> bool:
        return len(self.lanes) > 1

    @property
    def first(self) -> Lane:
        return self.lanes[0]

    losses = property(lambda self: self.first.losses)
    test_accuracy = property(lambda self: self.first.test_accuracy)
    epoch_steps = property(lambda self: self.first.epoch_steps)
    probes = property(lambda self: self.first.probes)
    conv1_filters = property(lambda self: self.first.filters)
    watch_maps = property(lambda self: self.first.maps)
    saved_path = property(lambda self: self.first.saved_path)
    final_accuracy = property(lambda self: self.first.final_accuracy)
    latest_accuracy = property(lambda self: self.first.latest_accuracy)

    def accuracy_points(self) -> tuple[list[int], list[float], list[bool]]:
        return self.first.accuracy_points()

    def loss_curve(self, max_points: int = 1500, weight: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.first.loss_curve(max_points, weight)

    @property
    def message(self) -> str:
        return MESSAGES[self.reason].format(**self.reason_values) if self.reason else ""

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def seconds_left(self) -> float | None:
        if self.step == 0 or self.samples_per_s <= 0:
            return None
        return (self.total_steps - self.step) * self.elapsed_s / self.step


class Worker:
    """The training process a server starts once: torch imported, MNIST loaded, the first
    kernels built, waiting on `jobs` for runs. Its reports, go and stop are shared by the runs
    it trains, one after another."""

    def __init__(self, own_data: bool = True):
        ctx = torch.multiprocessing.get_context("spawn")  # not fork: a forked threaded server can deadlock
        self.jobs, self.reports = ctx.Queue(), ctx.Queue()
        self.go, self.stop, self.ready = ctx.Event(), ctx.Event(), ctx.Event()
        args = (self.jobs, self.reports, self.go, self.stop, self.ready, own_data, os.getpid())
        self.process = ctx.Process(target=worker_main, name="cnn-demo-training", daemon=True, args=args)
        # OpenMP reads its wait policy when torch loads in the new process: give it the measured one.
        # (Only those keys are touched, and put back at once: other threads read the environment too.)
        with _ENVIRON_LOCK:
            env = worker_env(settings("cpu"))
            before = {key: os.environ.get(key) for key in env}
            os.environ.update(env)
            try:
                with _no_main_to_rerun():
                    self.process.start()
            finally:
                for key, value in before.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value

    def alive(self) -> bool:
        return self.process.is_alive()

    def close(self) -> None:
        if self.alive():
            self.jobs.put(None)
            self.process.join(5)
            if self.alive():
                self.process.kill()


_ENVIRON_LOCK = threading.Lock()


@contextmanager
def _no_main_to_rerun():
    """While a spawned process starts: no __main__ for it to import again.

    A spawned child imports its parent's __main__ script first (multiprocessing.spawn, for
    functions defined there). Under `streamlit run` that is the page script, app.py: the worker
    imported streamlit and every view, seconds of a fresh server's start, for nothing
    (worker_main lives here). A module with no file makes spawn leave __main__ alone. Streamlit
    puts a new __main__ in sys.modules for each script run, so one set meanwhile is kept."""
    previous = sys.modules.get("__main__")
    stand_in = sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if sys.modules.get("__main__") is stand_in and previous is not None:
            sys.modules["__main__"] = previous


def worker_main(jobs, reports, go, stop, ready, own_data: bool, parent_pid: int) -> None:
    """The worker process: get ready once, then train each job that comes, until told to end
    (None) or until the server is gone."""

    def own_mnist():
        try:
            return load_mnist("train"), load_mnist("test")
        except Exception:  # the server reads it too, and Start says why when it cannot
            return None

    # Below the server: on a teacher's laptop the run shares the cores with it, and a student
    # waiting for an answer comes first (set once: nice adds up).
    os.nice(TRAINING_NICENESS)
    data = own_mnist() if own_data else None
    warm_up()
    ready.set()
    while True:
        try:
            job = jobs.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent_pid:
                return  # the server died: nobody is left to send runs
            continue
        if job is None:
            return
        config, device, sets, watch_image, out = job
        if sets is None:
            data = data or own_mnist()
            if data is None:
                detail = {"detail": "the training process could not read MNIST (data/mnist.npz)"}
                reports.put(("end", "failed", "error", detail, None, None))
                continue
        train_set, test_set = sets if sets is not None else data
        train_worker(config, device, *train_set, *test_set, watch_image, out, reports, go, stop, parent_pid)


def warm_up() -> None:
    """A few steps on noise, so that the first real run finds the optimiser's imports done
    (torch._dynamo: seconds in torch 2.14) and oneDNN's kernels built."""
    tiny = TrainConfig(epochs=1, batch_size=64, train_images=128, device="auto")
    fake = (torch.randint(0, 256, (128, 28, 28), dtype=torch.uint8), torch.randint(0, 10, (128,)))
    for _ in fit(build(), tiny, fake, fake):
        pass


class TrainingRun:
    """One run: a worker trains it, a listener thread turns its reports into the state `view()` reads.

    The worker is the server's training process (`Worker`) by default, so that training
    neither holds the server's GIL (pages answering students stay quick) nor loses its own
    speed to them; `separate_process=False` runs it in a thread instead (a notebook, tests
    that patch it).
    """

    def __init__(
        self,
        config: TrainConfig,
        train_set,
        test_set,
        watch_image: np.ndarray,
        out: Path | list[Path],
        worker=None,
        send_data: bool = True,
    ):
        """out: the checkpoint to write, one per network in a race (train.default_outs).
        worker: a callable that returns the server's `Worker` (called on the listener thread,
        as it may wait for the worker's start), or None to train on a thread of this process."""
        self.specs = specs(config)
        self.outs = [Path(out)] if isinstance(out, (str, Path)) else [Path(o) for o in out]
        if len(self.outs) != len(self.specs):
            raise ValueError(
                f"{len(self.specs)} networks need {len(self.specs)} checkpoint paths, not {len(self.outs)}"
            )
        self.config, self.watch_image, self.out = config, watch_image, self.outs[0]
        self.device = pick_device(config.device)
        self.device_failed = False  # set when the GPU ran out of memory or disappeared
        lanes = range(len(self.specs))
        self.losses: list[list[float]] = [[] for _ in lanes]  # per network
        self.test_accuracy: list[list[float]] = [[] for _ in lanes]
        self.epoch_steps: list[int] = []
        self.probes: list[list[tuple[int, float]]] = [[] for _ in lanes]
        self._lock = threading.Lock()
        self._state, self._reason, self._reason_values = "starting", "", {}
        self._step, self._epoch, self._total_steps, self._samples_per_s = 0, 1, 0, 0.0
        self._watch: list[tuple[np.ndarray | None, np.ndarray | None]] = [(None, None) for _ in lanes]
        self._saved: list[Path | None] = [None for _ in lanes]
        self._final: list[float | None] = [None for _ in lanes]
        self._start = time.perf_counter()
        self._get_worker = worker
        self._stop_asked = False
        if worker is not None:  # the worker's own queue and events, once the listener has it
            self._reports = self._go = self._stop = self.worker = None
            # numpy arrays travel through the pipe (tensors would need /dev/shm, small in
            # containers); none at all when the worker has MNIST loaded itself.
            sets = ((train_set[0].numpy(), train_set[1].numpy()), (test_set[0].numpy(), test_set[1].numpy()))
            self._job = (config, str(self.device), sets if send_data else None, watch_image, self.outs)
        else:
            self._reports, self._go, self._stop = queue.Queue(), threading.Event(), threading.Event()
            args = (config, str(self.device), *train_set, *test_set, watch_image, self.outs)
            args += (self._reports, self._go, self._stop, None)
            self.worker = threading.Thread(target=train_worker, name="cnn-demo-training", daemon=True, args=args)
            self._go.set()
        self.thread = threading.Thread(target=self._listen, name="cnn-demo-training-reports", daemon=True)

    def start(self) -> None:
        if self._get_worker is None:
            self.worker.start()
        self.thread.start()

    def wait_started(self, timeout: float = 1.0) -> bool:
        """Wait until the first loss is in (a warm worker takes ~0.1 s), at most `timeout`:
        a page redrawn after that shows a running run with a point on its chart at once,
        not "starting" and then, a redraw later, the chart."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            with self._lock:
                if self.losses[0] or self._state not in ("starting", "running"):
                    return True
            time.sleep(0.01)
        return False

    # --- control, from any thread -------------------------------------------------------
    def pause(self) -> None:
        with self._lock:
            if self._state == "running":
                self._state = "paused"
                self._go.clear()

    def resume(self) -> None:
        with self._lock:
            if self._state == "paused":
                self._state = "running"
                self._go.set()

    def stop(self) -> None:
        self._stop_asked = True  # seen by the listener if the worker is not handed the run yet
        if self._stop is not None:
            self._stop.set()
            self._go.set()  # wake a paused worker so that it can stop

    def view(self) -> RunView:
        with self._lock:
            lanes = [
                Lane(
                    name=net_name(spec),
                    spec=spec,
                    losses=list(self.losses[i]),
                    test_accuracy=list(self.test_accuracy[i]),
                    epoch_steps=list(self.epoch_steps),
                    probes=list(self.probes[i]),
                    filters=self._watch[i][0],
                    maps=self._watch[i][1],
                    saved_path=self._saved[i],
                    final_accuracy=self._final[i],
                )
                for i, spec in enumerate(self.specs)
            ]
            return RunView(
                state=self._state,
                config=self.config,
                device=str(self.device),
                step=self._step,
                total_steps=self._total_steps,
                epoch=self._epoch,
                samples_per_s=self._samples_per_s,
                elapsed_s=time.perf_counter() - self._start,
                watch_image=self.watch_image,
                reason=self._reason,
                reason_values=dict(self._reason_values),
                lanes=lanes,
            )

    # --- the listener: the worker's reports into the state ----------------------------------
    def _fail(self, detail: str) -> None:
        with self._lock:
            self._state, self._reason, self._reason_values = "failed", "error", {"detail": detail}

    def _listen(self) -> None:
        if self._get_worker is not None:  # the server's worker: wait until it is ready, hand it the run
            try:
                pool = self._get_worker()
            except Exception as e:  # it could not be started (calibration or spawn failed)
                return self._fail(f"the training process could not start: {type(e).__name__}: {e}")
            self.worker = pool.process
            while not pool.ready.wait(0.2):
                if not pool.alive():
                    return self._fail(f"the training process ended unexpectedly (exit code {self.worker.exitcode})")
            self._reports, self._go = pool.reports, pool.go
            pool.go.set()
            pool.stop.clear()  # a stop asked of an earlier run
            self._stop = pool.stop
            if self._stop_asked:  # Stop pressed while the worker was starting
                pool.stop.set()
            pool.jobs.put(self._job)
        while True:
            try:
                kind, *values = self._reports.get(timeout=0.5)
            except queue.Empty:
                if self.worker.is_alive():
                    continue
                try:  # its last words may have arrived just as it ended
                    kind, *values = self._reports.get(timeout=0.5)
                except queue.Empty:
                    code = getattr(self.worker, "exitcode", None)
                    return self._fail(f"the training process ended unexpectedly (exit code {code})")
            with self._lock:
                if kind == "steps":
                    losses, self._epoch, self._total_steps, self._samples_per_s = values
                    for mine, new in zip(self.losses, losses):
                        mine.extend(new)
                    self._step = len(self.losses[0])
                elif kind == "watch":
                    self._watch = values[0]
                elif kind == "probe":
                    step, accuracies = values
                    for mine, acc in zip(self.probes, accuracies):
                        mine.append((step, acc))
                elif kind == "epoch":
                    accuracies, step = values
                    for mine, acc in zip(self.test_accuracy, accuracies):
                        mine.append(acc)
                    self.epoch_steps.append(step)
                elif kind == "state":
                    if not (values[0] == "running" and self._state == "paused"):
                        self._state = values[0]
                elif kind == "end":
                    self._state, self._reason, self._reason_values, saved, final = values
                    lanes = len(self.specs)
                    self._saved = list(saved) if saved is not None else [None] * lanes
                    self._final = list(final) if final is not None else [None] * lanes
                    self.device_failed = self._reason == "device_failed"
                    return


def train_worker(
    config: TrainConfig,
    device: str,
    train_images,
    train_labels,
    test_images,
    test_labels,
    watch_image: np.ndarray,
    outs: list[Path],
    reports,
    go,
    stop,
    parent_pid: int | None,
) -> None:
    """Train (one network, or a race of two on the same batches), save each after every epoch,
    and report to the listener, a value per network in each list: ("steps", [losses], epoch,
    total_steps, samples/s), ("watch", [(filters, maps)]), ("probe", step, [accuracy]),
    ("epoch", [accuracy], step), ("state", s), and last ("end", state, reason, values,
    [saved path], [final accuracy])."""
    device = torch.device(device)
    try:
        tuned = settings(device)  # this machine's measured layout, dtype and threads
    except Exception as e:  # a GPU that cannot even be named
        reports.put(("end", *_failure(e, device)))
        return
    use_threads(tuned.threads)  # page threads use one; training takes what was measured fastest
    train_set = (torch.as_tensor(train_images), torch.as_tensor(train_labels))
    test_set = (torch.as_tensor(test_images), torch.as_tensor(test_labels))
    models = networks(config)  # built here so that the seed gives the same weights as the CLI
    histories = [History() for _ in models]
    events = fit(models, config, train_set, test_set, histories, tuned)
    reason, diverged, last_watch, last_report, sent, last = None, {}, 0.0, time.perf_counter(), 0, None

    def send_losses() -> None:  # the losses not sent yet, with where the run stands
        nonlocal sent, last_report
        if last is not None and len(histories[0].losses) > sent:
            losses = [h.losses[sent:] for h in histories]
            reports.put(("steps", losses, last.epoch, last.total_steps, last.samples_per_s))
            sent, last_report = len(histories[0].losses), time.perf_counter()

    def watch() -> None:
        reports.put(("watch", [_watch(model, watch_image, device) for model in models]))

    try:
        for event in events:
            if isinstance(event, Step):
                if last is None:  # "starting" until the first step is done: Pause acts between steps
                    reports.put(("state", "running"))
                last = event
                worst = max(event.losses, key=lambda x: math.inf if math.isnan(x) else x)
                if not math.isfinite(worst) or worst > DIVERGED_LOSS:
                    lr = config.lr
                    reason = "diverged_nan" if math.isnan(worst) else "diverged"
                    diverged = {"loss": f"{worst:.3g}", "step": event.step, "lr": f"{lr:g}", "try_lr": f"{lr / 10:g}"}
                    break
                now = time.perf_counter()
                if now - last_report >= REPORT_EVERY_S:
                    # losses go in batches: a message per step would wake the server hundreds of times a second
                    send_losses()
                    if parent_pid is not None and os.getppid() != parent_pid:
                        return  # the server died: nobody is left to watch, and each epoch is saved
                if now - last_watch >= WATCH_EVERY_S:
                    watch()
                    last_watch = now
            elif isinstance(event, Probe):
                send_losses()
                reports.put(("probe", event.step, list(event.accuracies)))
            else:  # Epoch
                send_losses()
                reports.put(("epoch", list(event.accuracies), histories[0].epoch_steps[-1]))
                watch()
                # Saved after every epoch, atomically: if the server dies, the run is
                # kept up to its last finished epoch and no half-written file is left.
                for lane, (model, history, out) in enumerate(zip(models, histories, outs)):
                    meta = lane_meta(history, config, lane, outs, device, stopped="interrupted")
                    checkpoint.save(model, out, meta, history.filters)
            if stop.is_set():
                reason = "stopped"
                break
            if not go.is_set():
                send_losses()
                while not go.wait(0.1):  # paused: wait, but keep noticing a stop
                    pass
                if stop.is_set():
                    reason = "stopped"
                    break
        send_losses()
        events.close()
        reports.put(("state", "saving"))
        reports.put(("end", *_finish(models, config, histories, test_set, device, outs, reason, diverged)))
    except Exception as e:  # out of GPU memory, a device that vanished, a full disk ...
        events.close()
        reports.put(("end", *_failure(e, device)))


WATCH_UNITS = 32  # of a fully connected net's hidden units, whose 784 weights are shown as pictures


def _watch(model: Net, watch_image: np.ndarray, device: torch.device) -> tuple[np.ndarray, np.ndarray | None]:
    """The live picture: the first layer's kernels, e.g. conv1's (16, 5, 5), and the watched
    digit's maps after conv1 and its activation, e.g. (16, 24, 24). A fully connected net has
    no maps: its first WATCH_UNITS hidden units' weights as (32, 28, 28) pictures, and None."""
    layer = model.layer
    with torch.no_grad():
        if not len(layer):
            return first_layer_weights(model)[:WATCH_UNITS].float().cpu().numpy(), None
        x = torch.as_tensor(watch_image, dtype=torch.float32, device=device)[None, None]
        maps = layer[1](layer[0](x))[0].float().cpu().numpy()
        filters = first_layer_weights(model).float().cpu().numpy()
    return filters, maps


def _finish(models, config, histories, test_set, device, outs, reason, values) -> tuple:
    """Measure and save each network: (state, reason, values, [saved path], [final accuracy])."""
    saved, finals = [], []
    for lane, (model, history, out) in enumerate(zip(models, histories, outs)):
        model.eval()
        if reason is None:
            final, stopped = history.test_accuracy[-1], None
        else:
            test_images, test_labels = test_set
            final = accuracy(model, test_images.to(device), test_labels.to(device), autocast=autocast_dtype(device))
            if not math.isfinite(sum(p.sum().item() for p in model.parameters())):
                final = None
            stopped = "stopped by the user" if reason == "stopped" else "diverged"
        meta = lane_meta(history, config, lane, outs, device, stopped)
        meta["test_accuracy"] = final
        path = None
        if final is not None:  # a diverged model (NaN weights) is not worth keeping
            cpu_model = model.to("cpu", memory_format=torch.contiguous_format)
            path = checkpoint.save(cpu_model, out, meta, history.filters)
        saved.append(path)
        finals.append(final)
    state = "finished" if reason is None else ("stopped" if reason == "stopped" else "failed")
    return state, reason or "finished", values, saved, finals


def _failure(error: Exception, device: torch.device) -> tuple:
    detail = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
    if device.type != "cpu":  # out of memory, or a GPU that vanished: later "auto" runs use the CPU
        return "failed", "device_failed", {"device": device.type.upper(), "detail": detail}, None, None
    return "failed", "error", {"detail": f"{type(error).__name__}: {detail}"}, None, None


class RunManager:
    """At most one training run per server. Shared by every session: thread-safe.

    With separate_process (the app's way) the training worker is started at once, in the
    background, so that it is ready before anyone presses Start; measure=True first measures
    this machine's training settings if none are kept (cnn_demo.training.calibrate, once per machine).
    """

    def __init__(self, runs_dir: Path = RUNS_DIR, load=load_mnist, separate_process: bool = True, measure: bool = True):
        self.runs_dir = Path(runs_dir)
        self._load = load
        self.separate_process = separate_process
        self.measure = measure
        self._lock = threading.Lock()
        self._data: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.run: TrainingRun | None = None
        self.worker: Worker | None = None
        self._worker_lock = threading.Lock()
        self.measuring = False  # this machine's training settings are being measured (the first time)
        if separate_process:
            threading.Thread(target=self._prepare, name="cnn-demo-training-start", daemon=True).start()

    def _prepare(self) -> None:
        """Before anyone presses Start: the worker started, and MNIST read here too (a second)."""
        self._worker()
        try:
            with self._lock:
                self._dataset("train"), self._dataset("test")
        except Exception:  # missing or damaged: Start says so, with the reason
            pass

    def _worker(self) -> Worker:
        """The server's training worker, started again if it died."""
        with self._worker_lock:
            if self.worker is None or not self.worker.alive():
                try:
                    if self.measure and kept(torch.device("cpu")) is None:
                        self.measuring = True
                        settings("cpu", measure=True)
                finally:
                    self.measuring = False
                self.worker = Worker(own_data=self._load is load_mnist)
            return self.worker

    def worker_state(self) -> str:
        """For the page: "measuring" this machine (once), "starting" the worker, "ready", or "none"."""
        if self.measuring:
            return "measuring"
        if self.worker is None or not self.worker.alive():
            return "starting" if self.separate_process else "none"
        return "ready" if self.worker.ready.is_set() else "starting"

    def start(self, config: TrainConfig, watch_image: np.ndarray | None = None) -> TrainingRun:
        """Start a run, or raise RunBusy if one is going (ValueError for a bad config,
        DataError when MNIST cannot be read)."""
        config = config.validated()
        pick_device(config.device)  # refuse a device this machine lacks before anything starts
        with self._lock:  # two sessions pressing Start at the same moment start exactly one run
            if self.run is not None and self.run.view().active:
                raise RunBusy("A training run is already going on this server. Watch it, or stop it first.")
            if self.run is not None and self.run.device_failed and config.device == "auto":
                config = replace(config, device="cpu")  # the GPU failed last time: fall back
            train_set, test_set = self._dataset("train"), self._dataset("test")
            if watch_image is None:
                watch_image = test_set[0][0].float().div(255).numpy()  # the first test digit, a 7
            outs = [self.runs_dir / out.name for out in default_outs(config)]
            worker = self._worker if self.separate_process else None
            self.run = TrainingRun(
                config,
                train_set,
                test_set,
                np.asarray(watch_image, np.float32),
                outs,
                worker,
                send_data=self._load is not load_mnist,
            )
            self.run.start()
            return self.run

    def close(self) -> None:
        """Stop the run and the worker (the server is going; tests)."""
        if self.run is not None:
            self.run.stop()
        if self.worker is not None:
            self.worker.close()

    def _dataset(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if split not in self._data:
            self._data[split] = self._load(split)
        return self._data[split]
