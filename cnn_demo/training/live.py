"""A training run in the background, for the app: start, pause, resume, stop, watch.

The run belongs to the server, not to a browser tab. A worker process drives `train.fit`
and reports what it sees; a listener thread writes that into a lock-protected state; any
number of pages read `view()` and draw it. No UI call is ever made from the worker.

The worker is started once per server, before anyone presses Start: a fresh interpreter
spends seconds importing torch, loading MNIST and building its first kernels, and the class
would watch "starting" for all of them. It then waits for runs, one at a time. If it dies
(killed, out of memory), the run it had is reported failed and the next run gets a new one.
It never waits for this machine's calibration: until that is measured (in the background,
while no run trains) it trains with the safe defaults.

    manager = RunManager()
    run = manager.start(TrainConfig.from_recipe("seed", epochs=1, train_images=3000))
    run.view().lanes[0].losses  # ... later
    run.stop()

A race (config.race set) trains two networks in the one worker, on the same batches in turn;
the view has a Lane per network (`view.lanes`), and each is saved as its own checkpoint.

A fine-tune (`manager.start(config, fine_tune=train.FineTune.of(model, name, class_digits))`)
starts from a model's weights and trains on MNIST mixed with a class's digits; its lane has the
accuracy before the first step (`start_accuracy`) and on the class's held-out digits (`held_out`).

The worker and the listener talk in typed messages (below: RunJob one way; Started, Steps,
Watch, fit's own Probe and Epoch, Saving and End the other), read with `match` on their type.
How a run ended is a reason code with its {values} (End, RunView.reason): the pages word it
in the browser's language (locales' [run] table); the engine has no words for it.
"""

import math
import os
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from cnn_demo.inside.hidden_map import probe_indices
from cnn_demo.network.model import Net, NetSpec, build, first_layer_weights, net_name
from cnn_demo.storage.checkpoint import RUNS_DIR
from cnn_demo.storage.data import load_mnist
from cnn_demo.training import jobs
from cnn_demo.training.calibrate import autocast_dtype, settings
from cnn_demo.training.curves import smooth, thin
from cnn_demo.training.device import pick_device, use_threads
from cnn_demo.training.evaluate import accuracy
from cnn_demo.training.jobs import Measurement, OneJob, below_server, idle, measured_env
from cnn_demo.training.train import (
    Diverged,
    Epoch,
    FineTune,
    History,
    Probe,
    Step,
    TrainConfig,
    default_outs,
    fit,
    networks,
    save_networks,
    specs,
)

ACTIVE = ("starting", "running", "paused", "saving")
# Every way a run ends (End.reason), each worded in locales' [run] table with End.values:
# finished, stopped by the user, train.Diverged's two, a GPU that failed, any other error.
REASONS = ("finished", "stopped", "diverged_nan", "diverged", "device_failed", "error")
WATCH_EVERY_S = 0.5  # how often the live filters and feature maps are refreshed
REPORT_EVERY_S = 0.1  # how often the worker sends the losses of its latest steps
# How long no job must have gone before the server's caretaker measures this machine or
# readies a new worker: a teacher who opens Train on a fresh server and presses Start, or
# presses it again after a run, should find the cores free (a measurement is stopped at once
# when a run starts, but it has the cores until then).
QUIET_BEFORE_BACKGROUND_S = 10.0
BUSY_MESSAGE = "A training run is already going on this server. Watch it, or stop it first."


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
    # after each finished epoch, the probe images' PCA map (Epoch.maps): (2000, 2) float16 each
    hidden_maps: list[np.ndarray] = field(default_factory=list)
    map_labels: np.ndarray | None = None  # (2000,) the digit of each point of those maps
    # A fine-tune's: the whole test set before the first step, and (step, fraction right of the
    # class's held-out digits) from step 0 on; the last is the run's "after" once it has ended
    start_accuracy: float | None = None
    held_out: list[tuple[int, float]] = field(default_factory=list)

    def accuracy_points(self) -> tuple[list[int], list[float], list[bool]]:
        """Every test accuracy so far in step order, to plot on the loss's step axis:
        (steps, accuracies, whole test set or not); a fine-tune's starts at step 0."""
        points = [(s, a, False) for s, a in self.probes] + [
            (s, a, True) for s, a in zip(self.epoch_steps, self.test_accuracy)
        ]
        if self.start_accuracy is not None:
            points.append((0, self.start_accuracy, True))
        points.sort()
        return [p[0] for p in points], [p[1] for p in points], [p[2] for p in points]

    @property
    def before_after(self) -> tuple[tuple[float | None, float | None], tuple[float | None, float | None]]:
        """A fine-tune's ((test set before, after), (held-out digits before, after)); None where
        not measured yet."""
        held = (
            (self.held_out[0][1], self.held_out[-1][1] if len(self.held_out) > 1 else None)
            if self.held_out
            else (None, None)
        )
        return (self.start_accuracy, self.final_accuracy), held

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
    """A copy of a run's state, safe to read while the run goes on; each network's in its lane."""

    state: str  # starting, running, paused, saving, finished, stopped, failed
    config: TrainConfig
    device: str
    step: int
    total_steps: int
    epoch: int  # the epoch being trained, 1-based
    samples_per_s: float
    elapsed_s: float
    watch_image: np.ndarray | None  # (28, 28): the digit being watched
    reason: str  # how it ended: one of REASONS, or "" while it runs
    reason_values: dict  # the {values} of that message
    lanes: list[Lane]  # config.net's, then config.race's in a race
    fine_tune: dict | None = None  # a fine-tune's FineTune.summary(): from which model, on how many digits

    @property
    def race(self) -> bool:
        return len(self.lanes) > 1

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def seconds_left(self) -> float | None:
        if self.step == 0 or self.samples_per_s <= 0:
            return None
        return (self.total_steps - self.step) * self.elapsed_s / self.step


# --- the messages between the listener and the worker (they pickle whole through its queues) ---


@dataclass(frozen=True)
class RunJob:
    """What the listener hands the worker: one run."""

    config: TrainConfig  # checked (RunManager.start)
    device: str  # resolved once, by RunManager.start: "cpu", "cuda", "cuda:1", "mps"
    # ((train images, labels), (test images, labels)) as numpy arrays; None: the worker's own MNIST
    sets: tuple | None
    watch_image: np.ndarray  # (28, 28) in [0, 1]: the digit whose feature maps are shown
    outs: list[Path]  # the checkpoint of each network (train.default_outs)
    fine_tune: FineTune | None = None  # its start weights and class digits (numpy, through the pipe too)


@dataclass(frozen=True)
class Started:
    """The first step is done: "starting" becomes "running" (a Pause acts between steps)."""


@dataclass(frozen=True)
class Steps:
    """The losses of the steps since the last Steps, sent every REPORT_EVERY_S (a message per
    step would wake the server hundreds of times a second)."""

    losses: list[list[float]]  # per network, the new steps' cross-entropies in order
    epoch: int  # the epoch being trained, 1-based
    total_steps: int  # steps in the whole run
    samples_per_s: float  # images per second over the run so far


@dataclass(frozen=True)
class Watch:
    """The live pictures, every WATCH_EVERY_S and at each epoch's end (_watch)."""

    # per network: (first layer's weights: conv1's (16, 5, 5) or a fully connected net's (32, 28, 28),
    # the watched digit's maps after conv1 and its activation (16, 24, 24), or None without convs)
    pictures: list[tuple[np.ndarray, np.ndarray | None]]


@dataclass(frozen=True)
class Saving:
    """Out of the training loop: measuring and saving what was trained."""


@dataclass(frozen=True)
class End:
    """The last message of a run."""

    state: str  # finished, stopped or failed
    reason: str  # one of REASONS
    values: dict = field(default_factory=dict)  # the {values} of the reason's message
    saved: list[Path | None] | None = None  # per network, the file written (None: not saved); None: nothing trained
    finals: list[float | None] | None = None  # per network, the test accuracy recorded
    held_out_finals: list[float] | None = None  # a fine-tune stopped part-way: per network, on its held-out digits


WORKER_MAIN = jobs.TRAINING_WORKER  # worker_main, named (jobs.Worker)


class Worker(jobs.Worker):
    """The training process of a server: torch imported, MNIST loaded (own_data), the first
    kernels built, waiting for runs. Its reports, go and stop are shared by the runs it trains,
    one after another. A server's first is started by app.py before it imports torch
    (jobs.start_early) and taken over by the RunManager."""

    def __init__(self, own_data: bool = True, hurry: bool = True):
        super().__init__(WORKER_MAIN, (own_data,), hurry=hurry)


def worker_main(runs, reports, go, stop, ready, parent_pid: int, hurry: bool, own_data: bool) -> None:
    """The worker process: get ready once, then train each job that comes, until told to end
    (None) or until the server is gone."""

    def own_mnist():
        try:
            return load_mnist("train"), load_mnist("test")
        except Exception:  # the server reads it too, and Start says why when it cannot
            return None

    if not hurry:
        below_server()
    data = own_mnist() if own_data else None
    warm_up()
    # Below the server from now on (jobs.NICENESS); not while getting ready: at nice 10 beside
    # a first page being drawn, a fresh server's worker took seconds longer, and the first
    # Start waited for it.
    below_server()
    ready.set()
    while True:
        try:
            job = runs.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent_pid:
                return  # the server died: nobody is left to send runs
            continue
        if job is None:
            return
        if job.sets is None:
            data = data or own_mnist()
            if data is None:
                detail = {"detail": "the training process could not read MNIST (data/mnist.npz)"}
                reports.put(End("failed", "error", detail))
                continue
        train_set, test_set = job.sets if job.sets is not None else data
        train_worker(job, train_set, test_set, reports, go, stop, parent_pid)


def warm_up() -> None:
    """A few steps on noise, so that the first real run finds the optimiser's imports done
    (torch._dynamo: seconds in torch 2.14) and oneDNN's kernels built."""
    tiny = TrainConfig(epochs=1, batch_size=64, train_images=128, device="auto")
    fake = (torch.randint(0, 256, (128, 28, 28), dtype=torch.uint8), torch.randint(0, 10, (128,)))
    for _ in fit(build(), tiny, fake, fake):
        pass


class TrainingRun:
    """One run: a worker trains it, a listener thread turns its messages into the state `view()` reads.

    The worker is the server's training process (`Worker`) by default, so that training
    neither holds the server's GIL (pages answering students stay quick) nor loses its own
    speed to them; without one, it trains on a thread of this process (a notebook, tests that
    patch it).
    """

    def __init__(
        self,
        config: TrainConfig,
        device: torch.device,
        train_set,
        test_set,
        watch_image: np.ndarray,
        out: Path | list[Path],
        worker=None,
        send_data: bool = True,
        fine_tune: FineTune | None = None,
    ):
        """config checked and device resolved, once, by the caller (RunManager.start).
        out: the checkpoint to write, one per network in a race (train.default_outs).
        worker: a callable that returns the server's `Worker` (called on the listener thread,
        as it may wait for the worker's start), or None to train on a thread of this process."""
        self.specs = specs(config)
        self.outs = [Path(out)] if isinstance(out, (str, Path)) else [Path(o) for o in out]
        if len(self.outs) != len(self.specs):
            raise ValueError(
                f"{len(self.specs)} networks need {len(self.specs)} checkpoint paths, not {len(self.outs)}"
            )
        self.config, self.watch_image, self.out = config, watch_image, self.outs[0]
        self.fine_tune = fine_tune.summary() if fine_tune is not None else None
        self.device = torch.device(device)
        self.device_failed = False  # set when the GPU ran out of memory or disappeared
        lanes = range(len(self.specs))
        self.losses: list[list[float]] = [[] for _ in lanes]  # per network
        self.test_accuracy: list[list[float]] = [[] for _ in lanes]
        self.epoch_steps: list[int] = []
        self.probes: list[list[tuple[int, float]]] = [[] for _ in lanes]
        self.start_accuracy: list[float | None] = [None for _ in lanes]  # a fine-tune's, before its first step
        self.held_out: list[list[tuple[int, float]]] = [[] for _ in lanes]  # a fine-tune's (step, accuracy)
        self.hidden_maps: list[list[np.ndarray]] = [[] for _ in lanes]  # per network, one per epoch (Epoch.maps)
        test_labels = np.asarray(test_set[1])
        self.map_labels = test_labels[probe_indices(len(test_labels))]
        self._lock = threading.Lock()
        self._state, self._reason, self._reason_values = "starting", "", {}
        self._step, self._epoch, self._total_steps, self._samples_per_s = 0, 1, 0, 0.0
        self._watch: list[tuple[np.ndarray | None, np.ndarray | None]] = [(None, None) for _ in lanes]
        self._saved: list[Path | None] = [None for _ in lanes]
        self._final: list[float | None] = [None for _ in lanes]
        self._start = time.perf_counter()
        self._get_worker = worker
        self._stop_asked = False
        # What trains: the server's worker process (once the listener has it), or a thread of this one.
        self.process = None
        self.training_thread: threading.Thread | None = None
        if worker is not None:  # the worker's own queue and events, once the listener has it
            self._reports = self._go = self._stop = None
            # numpy arrays travel through the pipe (tensors would need /dev/shm, small in
            # containers); none at all when the worker has MNIST loaded itself.
            sets = None
            if send_data:  # train_set is None otherwise (RunManager.start)
                sets = ((train_set[0].numpy(), train_set[1].numpy()), (test_set[0].numpy(), test_set[1].numpy()))
            self._job = RunJob(config, str(self.device), sets, watch_image, self.outs, fine_tune)
        else:
            self._reports, self._go, self._stop = queue.Queue(), threading.Event(), threading.Event()
            job = RunJob(config, str(self.device), None, watch_image, self.outs, fine_tune)
            args = (job, train_set, test_set, self._reports, self._go, self._stop, None)
            self.training_thread = threading.Thread(
                target=train_worker, name="cnn-demo-training", daemon=True, args=args
            )
            self._go.set()
        self.listener = threading.Thread(target=self._listen, name="cnn-demo-training-reports", daemon=True)

    def start(self) -> None:
        if self.training_thread is not None:
            self.training_thread.start()
        self.listener.start()

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
                    hidden_maps=list(self.hidden_maps[i]),
                    map_labels=self.map_labels,
                    saved_path=self._saved[i],
                    final_accuracy=self._final[i],
                    start_accuracy=self.start_accuracy[i],
                    held_out=list(self.held_out[i]),
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
                fine_tune=self.fine_tune,
            )

    # --- the listener: the worker's messages into the state ----------------------------------
    def _fail(self, detail: str) -> None:
        with self._lock:
            self._state, self._reason, self._reason_values = "failed", "error", {"detail": detail}

    def _listen(self) -> None:
        if self._get_worker is not None:  # the server's worker: wait until it is ready, hand it the run
            try:
                worker = self._get_worker()
            except Exception as e:  # it could not be started (calibration or spawn failed)
                return self._fail(f"the training process could not start: {type(e).__name__}: {e}")
            self.process = worker.process
            while not worker.ready.wait(0.2):
                if not worker.alive():
                    return self._fail(f"the training process ended unexpectedly (exit code {self.process.exitcode})")
            self._reports, self._go = worker.reports, worker.go
            worker.go.set()
            worker.stop.clear()  # a stop asked of an earlier run
            self._stop = worker.stop
            if self._stop_asked:  # Stop pressed while the worker was starting
                worker.stop.set()
            worker.jobs.put(self._job)
        trainer = self.process if self.process is not None else self.training_thread
        while True:
            try:
                message = self._reports.get(timeout=0.5)
            except queue.Empty:
                if trainer.is_alive():
                    continue
                try:  # its last words may have arrived just as it ended
                    message = self._reports.get(timeout=0.5)
                except queue.Empty:
                    code = getattr(trainer, "exitcode", None)
                    return self._fail(f"the training process ended unexpectedly (exit code {code})")
            with self._lock:
                match message:
                    case Steps():
                        for mine, new in zip(self.losses, message.losses):
                            mine.extend(new)
                        self._step = len(self.losses[0])
                        self._epoch, self._total_steps = message.epoch, message.total_steps
                        self._samples_per_s = message.samples_per_s
                    case Watch():
                        self._watch = message.pictures
                    case Probe():
                        if message.whole:  # a fine-tune's "before"
                            self.start_accuracy = list(message.accuracies)
                        else:
                            for mine, accuracy_now in zip(self.probes, message.accuracies):
                                mine.append((message.step, accuracy_now))
                        for mine, held_now in zip(self.held_out, message.held_out):
                            mine.append((message.step, held_now))
                    case Epoch():
                        for mine, accuracy_now in zip(self.test_accuracy, message.accuracies):
                            mine.append(accuracy_now)
                        for mine, held_now in zip(self.held_out, message.held_out):
                            mine.append((message.step, held_now))
                        for mine, points in zip(self.hidden_maps, message.maps):
                            mine.append(points)
                        self.epoch_steps.append(message.step)
                    case Started():
                        if self._state != "paused":  # a Pause pressed while it started holds
                            self._state = "running"
                    case Saving():
                        self._state = "saving"
                    case End():
                        lanes = len(self.specs)
                        self._state, self._reason, self._reason_values = message.state, message.reason, message.values
                        self._saved = list(message.saved) if message.saved is not None else [None] * lanes
                        self._final = list(message.finals) if message.finals is not None else [None] * lanes
                        self.device_failed = message.reason == "device_failed"
                        for mine, held_now in zip(self.held_out, message.held_out_finals or ()):
                            mine.append((self._step, held_now))
                        return


def train_worker(job: RunJob, train_set, test_set, reports, go, stop, parent_pid: int | None) -> None:
    """Train the job's networks (one, or a race of two on the same batches), save them after
    every epoch, and report to the listener: Started, Steps, Watch, fit's Probe and Epoch, and
    last Saving and End. train_set, test_set: (images (N, 28, 28) uint8, labels (N,)), numpy
    arrays or tensors. parent_pid: the server's, to notice that it died (None on a thread)."""
    config, outs, device = job.config, job.outs, torch.device(job.device)
    try:
        tuned = settings(device)  # this machine's measured layout, dtype and threads
    except Exception as e:  # a GPU that cannot even be named
        reports.put(_failure(e, device))
        return
    use_threads(tuned.threads)  # page threads use one; training takes what was measured fastest
    train_set = (torch.as_tensor(train_set[0]), torch.as_tensor(train_set[1]))
    test_set = (torch.as_tensor(test_set[0]), torch.as_tensor(test_set[1]))
    try:  # built here so that the seed gives the same weights as the CLI; a fine-tune's, from its weights
        models = networks(config, job.fine_tune)
    except Exception as e:  # weights that do not fit the network
        reports.put(_failure(e, device))
        return
    histories = [History() for _ in models]
    events = fit(models, config, train_set, test_set, histories, tuned, device, job.fine_tune)
    reason, values, saved = None, {}, None
    # 0.0: the first step's loss goes at once (the chart's first point), later ones in batches
    last_watch, last_report, sent, last = 0.0, 0.0, 0, None

    def send_losses() -> None:  # the losses not sent yet, with where the run stands
        nonlocal sent, last_report
        if last is not None and len(histories[0].losses) > sent:
            losses = [h.losses[sent:] for h in histories]
            reports.put(Steps(losses, last.epoch, last.total_steps, last.samples_per_s))
            sent, last_report = len(histories[0].losses), time.perf_counter()

    def watch() -> None:
        reports.put(Watch([_watch(model, job.watch_image, device) for model in models]))

    try:
        try:
            for event in events:
                match event:
                    case Step():
                        if last is None:  # "starting" until the first step is done: Pause acts between steps
                            reports.put(Started())
                        last = event
                        now = time.perf_counter()
                        if now - last_report >= REPORT_EVERY_S:
                            send_losses()
                            if parent_pid is not None and os.getppid() != parent_pid:
                                return  # the server died: nobody is left to watch, and each epoch is saved
                        if now - last_watch >= WATCH_EVERY_S:
                            watch()
                            last_watch = now
                    case Probe():
                        send_losses()
                        reports.put(event)
                    case Epoch():
                        send_losses()
                        reports.put(event)
                        watch()
                        # Saved after every epoch, atomically: if the server dies, the run is kept
                        # up to its last finished epoch and no half-written file is left. The last
                        # epoch's save is the finished run's: it is not written again at the end.
                        done = event.epoch == config.epochs
                        saved = save_networks(models, histories, config, outs, device, None if done else "interrupted")
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
        except Diverged as e:  # fit's own check, after the step it stopped at (whose loss goes out below)
            reason, values = e.reason, e.values
        send_losses()
        events.close()
        reports.put(Saving())
        end = _finish(models, config, histories, test_set, device, outs, reason, values, saved, job.fine_tune)
        reports.put(end)
    except Exception as e:  # out of GPU memory, a device that vanished, a full disk ...
        events.close()
        reports.put(_failure(e, device))


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


def _finish(models, config, histories, test_set, device, outs, reason, values, saved, fine_tune=None) -> End:
    """The run's End. A finished run's networks were saved with its last epoch (`saved`); a run
    stopped or diverged part-way is measured on the whole test set (and a fine-tune's on its
    held-out digits) and saved as it is, except a network whose weights are no longer finite
    (not worth keeping)."""
    if reason is None:
        return End("finished", "finished", values, saved, [history.test_accuracy[-1] for history in histories])
    test_images, test_labels = test_set[0].to(device), test_set[1].to(device)
    finals, held_finals = [], []
    for model, history in zip(models, histories):
        model.eval()
        final = accuracy(model, test_images, test_labels, autocast=autocast_dtype(device))
        finite = math.isfinite(sum(p.sum().item() for p in model.parameters()))
        finals.append(final if finite else None)
        if fine_tune is not None:  # its "after", measured where it stopped (History.meta reads the last)
            held_images, held_labels = (torch.as_tensor(a).to(device) for a in fine_tune.held_out)
            held_finals.append(accuracy(model, held_images, held_labels, autocast=autocast_dtype(device)))
            history.held_out.append((len(history.losses), held_finals[-1]))
    stopped = "stopped by the user" if reason == "stopped" else "diverged"
    saved = save_networks(models, histories, config, outs, device, stopped, finals)
    state = "stopped" if reason == "stopped" else "failed"
    return End(state, reason, values, saved, finals, held_finals if fine_tune is not None else None)


def _failure(error: Exception, device: torch.device) -> End:
    detail = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
    if device.type != "cpu":  # out of memory, or a GPU that vanished: later "auto" runs use the CPU
        return End("failed", "device_failed", {"device": device.type.upper(), "detail": detail})
    return End("failed", "error", {"detail": f"{type(error).__name__}: {detail}"})


class RunManager:
    """At most one training run per server (jobs.OneJob: Busy while one goes). Shared by every
    session: thread-safe.

    With separate_process (the app's way) the training worker is started at once, so that it is
    ready before anyone presses Start, with the kept settings or, on a machine not measured yet,
    the safe defaults: the first run never waits for a measurement. measure=True then measures
    this machine in the background whenever no job goes (jobs.Measurement, stopped as a run
    starts and begun again when quiet); each run reads the kept settings as it starts, and a
    changed OpenMP wait policy (fixed when torch loads) gets a new worker, readied while quiet.
    """

    def __init__(self, runs_dir: Path = RUNS_DIR, load=load_mnist, separate_process: bool = True, measure: bool = True):
        self.runs_dir = Path(runs_dir)
        self._load = load
        self.separate_process = separate_process
        self.one: OneJob[TrainingRun] = OneJob(lambda run: run.view().active)
        self._data: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        own_data = load is load_mnist
        # The worker app.py started before the server imported torch, if it fits: else one now.
        self.worker: jobs.Worker | None = jobs.take_early(WORKER_MAIN, (own_data,)) if separate_process else None
        self._worker_lock = threading.Lock()
        self.spare: jobs.Worker | None = None  # a worker with a newly measured wait policy, getting ready
        self.measurement = Measurement("cpu") if separate_process and measure else None
        self._closed = threading.Event()
        if separate_process:
            threading.Thread(target=self._look_after, name="cnn-demo-training-start", daemon=True).start()

    @property
    def run(self) -> TrainingRun | None:
        """The latest run, going or ended."""
        return self.one.job

    def _look_after(self) -> None:
        """Before anyone presses Start: the worker started, and MNIST's test set read here too.
        Then, every 0.2 s until closed: background work only while no job goes (_tend)."""
        try:
            self._worker()
        except RuntimeError:  # closed before it began (a test that starts nothing)
            return
        try:
            with self.one.lock:
                self._dataset("test")  # the training images only where they travel with a run
                if self._load is not load_mnist:
                    self._dataset("train")
        except Exception:  # missing or damaged: Start says so, with the reason
            pass
        quiet_since = None
        while not self._closed.wait(0.2):
            try:
                quiet_since = self._tend(quiet_since)
            except Exception:  # a spawn or a command that failed: tried again while quiet
                quiet_since = None

    def _tend(self, quiet_since: float | None) -> float | None:
        """One look: stop the background work if a job goes, else, once quiet for a while,
        measure this machine if it is not yet, then ready a worker with what it measured."""
        worker = self.worker
        if not (idle() and worker is not None and worker.alive() and worker.ready.is_set()):
            self._stop_background()
            return None
        now = time.monotonic()
        if quiet_since is None or now - quiet_since < QUIET_BEFORE_BACKGROUND_S:
            return quiet_since or now
        if self.measurement is not None and not self.measurement.done():
            if self.measurement.failures < 3:  # a command that fails every time is not run forever
                self.measurement.start()
            return quiet_since
        if worker.env == measured_env():
            return quiet_since
        if self.spare is None or not self.spare.alive():
            self.spare = Worker(own_data=self._load is load_mnist, hurry=False)
        elif self.spare.ready.is_set():
            with self.one.lock:  # no run can start meanwhile and be handed the worker that goes
                if self.one.running():
                    return None
                with self._worker_lock:
                    self.worker, self.spare = self.spare, None
            worker.close()
        return quiet_since

    def _stop_background(self) -> None:
        if self.measurement is not None:
            self.measurement.stop()
        spare, self.spare = self.spare, None
        if spare is not None:
            spare.close(grace_s=0)

    def _worker(self) -> jobs.Worker:
        """The server's training worker, started again if it died; RuntimeError once closed."""
        with self._worker_lock:
            if self._closed.is_set():  # close() has run or waits for this lock: start nothing more
                raise RuntimeError("the training run manager is closed")
            if self.worker is None or not self.worker.alive():
                self.worker = Worker(own_data=self._load is load_mnist)
            return self.worker

    def worker_state(self) -> str:
        """For the page: "starting" the worker, "ready", "measuring" (ready, with this machine
        measured in the background meanwhile: a run does not wait for it), or "none"."""
        worker = self.worker
        if worker is None or not worker.alive() or not worker.ready.is_set():
            return "starting" if self.separate_process else "none"
        return "measuring" if self.measurement is not None and self.measurement.running else "ready"

    def start(
        self, config: TrainConfig, watch_image: np.ndarray | None = None, fine_tune: FineTune | None = None
    ) -> TrainingRun:
        """Start a run, or raise jobs.Busy if one is going (ValueError for a bad config,
        DataError when MNIST cannot be read). fine_tune: start from its model's weights and mix
        in its class digits (train.FineTune.of checked that there are enough); the "finetune"
        recipe needs one, and a fine-tune trains its model's network alone."""
        config = config.validated()  # the one check of what Start was given
        if fine_tune is not None:
            if config.race is not None:
                raise ValueError("a fine-tune trains the active model alone: switch the race off")
            config = replace(config, net=fine_tune.spec)  # the model's network, whatever the editor shows
        elif config.recipe == "finetune":
            raise ValueError("the finetune recipe needs a model to start from and the class's digits")
        device = pick_device(config.device)  # resolved once (a device this machine lacks: ValueError); trained on

        def make() -> TrainingRun:
            chosen, on = config, device
            if self.run is not None and self.run.device_failed and config.device == "auto":
                chosen, on = replace(config, device="cpu"), torch.device("cpu")  # the GPU failed last time: fall back
            if self.measurement is not None:
                self.measurement.stop()  # the run has the cores: measured again when quiet
            send_data = self._load is not load_mnist  # else the worker reads MNIST itself
            # The training images only where they travel with the run: read here, they cost a
            # fresh server's first Start half a second of decompressing, for nothing.
            train_set = self._dataset("train") if send_data or not self.separate_process else None
            test_set = self._dataset("test")  # its labels score the run's probes here
            image = test_set[0][0].float().div(255).numpy() if watch_image is None else watch_image  # a 7
            outs = [self.runs_dir / out.name for out in default_outs(chosen)]
            worker = self._worker if self.separate_process else None
            image = np.asarray(image, np.float32)
            run = TrainingRun(chosen, on, train_set, test_set, image, outs, worker, send_data, fine_tune)
            run.start()
            return run

        return self.one.start(make, lambda run: BUSY_MESSAGE)

    def close(self) -> None:
        """Stop the run, the background work and the worker (the server is going; tests)."""
        self._closed.set()
        if self.run is not None:
            self.run.stop()
        self._stop_background()
        # Under the lock: a worker being spawned now is closed too, not left to start after
        # its parent's queues are gone (it died unpickling them, a traceback in the log).
        with self._worker_lock:
            if self.worker is not None:
                self.worker.close()

    def _dataset(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if split not in self._data:
            self._data[split] = self._load(split)
        return self._data[split]
