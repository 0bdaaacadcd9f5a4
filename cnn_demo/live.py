"""A training run in the background, for the app: start, pause, resume, stop, watch.

The run belongs to the server, not to a browser tab. A worker process drives `train.fit`
and reports what it sees; a listener thread writes that into a lock-protected state; any
number of pages read `view()` and draw it. No UI call is ever made from the worker.

    manager = RunManager()
    run = manager.start(TrainConfig.from_recipe("seed", epochs=1, train_images=3000))
    run.view().losses  # ... later
    run.stop()
"""

import math
import os
import queue
import threading
import time
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from cnn_demo import checkpoint
from cnn_demo.checkpoint import RUNS_DIR
from cnn_demo.curves import smooth, thin
from cnn_demo.data import load_mnist
from cnn_demo.device import CPU_CORES, autocast_dtype, pick_device, use_threads
from cnn_demo.evaluate import accuracy
from cnn_demo.model import SeedCNN
from cnn_demo.train import History, Step, TrainConfig, default_out, fit

ACTIVE = ("starting", "running", "paused", "saving")
# How a run ended, in English, for the command line and notebooks: the [run] table of the
# app's own strings, so there is one copy of each message. The app shows the same code in
# the browser's language, with the same {values}.
with open(Path(__file__).resolve().parent.parent / "locales" / "en.toml", "rb") as _f:
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
class RunView:
    """A copy of a run's state, safe to read while the run goes on."""

    state: str  # starting, running, paused, saving, finished, stopped, failed
    config: TrainConfig
    device: str
    step: int
    total_steps: int
    epoch: int  # the epoch being trained, 1-based
    losses: list[float]  # every step's loss so far
    test_accuracy: list[float]  # after each finished epoch
    samples_per_s: float
    elapsed_s: float
    conv1_filters: np.ndarray | None  # (16, 5, 5), latest
    watch_maps: np.ndarray | None  # (16, 24, 24): conv1 + ReLU of the watched digit, latest
    watch_image: np.ndarray | None  # (28, 28): the digit being watched
    reason: str  # how it ended: a key of MESSAGES, or "" while it runs
    reason_values: dict  # the {values} of that message
    saved_path: Path | None
    final_accuracy: float | None

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

    def accuracy_steps(self) -> list[int]:
        """The step each test accuracy belongs to, to plot it on the loss's step axis: the
        end of its epoch (total steps shared evenly over the epochs)."""
        steps_per_epoch = max(1, self.total_steps // max(1, self.config.epochs))
        return [steps_per_epoch * (i + 1) for i in range(len(self.test_accuracy))]

    def loss_curve(self, max_points: int = 1500, weight: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, raw loss, smoothed loss), thinned to at most max_points for the chart."""
        raw = np.asarray(self.losses, dtype=np.float64)
        keep = thin(len(raw), max_points)
        return keep + 1, raw[keep], smooth(raw, weight)[keep]


class TrainingRun:
    """One run: a worker trains, a listener thread turns its reports into the state `view()` reads.

    The worker is a separate process by default, so that training neither holds the
    server's GIL (pages answering students stay quick) nor loses its own speed to them;
    `separate_process=False` runs it in a thread instead (a notebook, tests that patch it).
    """

    def __init__(
        self,
        config: TrainConfig,
        train_set,
        test_set,
        watch_image: np.ndarray,
        out: Path,
        separate_process: bool = True,
    ):
        self.config, self.watch_image, self.out = config, watch_image, out
        self.device = pick_device(config.device)
        self.device_failed = False  # set when the GPU ran out of memory or disappeared
        self.losses: list[float] = []
        self.test_accuracy: list[float] = []
        self._lock = threading.Lock()
        self._state, self._reason, self._reason_values = "starting", "", {}
        self._step, self._epoch, self._total_steps, self._samples_per_s = 0, 1, 0, 0.0
        self._conv1: np.ndarray | None = None
        self._maps: np.ndarray | None = None
        self._saved: Path | None = None
        self._final: float | None = None
        self._start = time.perf_counter()
        if separate_process:
            # spawn, not fork: a forked copy of a threaded server (and of its OpenMP pool) can deadlock.
            ctx = torch.multiprocessing.get_context("spawn")
            self._reports, self._go, self._stop = ctx.Queue(), ctx.Event(), ctx.Event()
            # numpy arrays travel through the pipe; tensors would need /dev/shm, small in containers
            data, worker, parent_pid = [t.numpy() for t in (*train_set, *test_set)], ctx.Process, os.getpid()
        else:
            self._reports, self._go, self._stop = queue.Queue(), threading.Event(), threading.Event()
            data, worker, parent_pid = [*train_set, *test_set], threading.Thread, None
        args = (config, str(self.device), *data, watch_image, out, self._reports, self._go, self._stop, parent_pid)
        self.worker = worker(target=train_worker, name="cnn-demo-training", daemon=True, args=args)
        self._go.set()
        self.thread = threading.Thread(target=self._listen, name="cnn-demo-training-reports", daemon=True)

    def start(self) -> None:
        self.worker.start()
        self.thread.start()

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
        self._stop.set()
        self._go.set()  # wake a paused worker so that it can stop

    def view(self) -> RunView:
        with self._lock:
            return RunView(
                state=self._state,
                config=self.config,
                device=str(self.device),
                step=self._step,
                total_steps=self._total_steps,
                epoch=self._epoch,
                losses=list(self.losses),
                test_accuracy=list(self.test_accuracy),
                samples_per_s=self._samples_per_s,
                elapsed_s=time.perf_counter() - self._start,
                conv1_filters=self._conv1,
                watch_maps=self._maps,
                watch_image=self.watch_image,
                reason=self._reason,
                reason_values=dict(self._reason_values),
                saved_path=self._saved,
                final_accuracy=self._final,
            )

    # --- the listener: the worker's reports into the state ----------------------------------
    def _listen(self) -> None:
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
                    detail = f"the training process ended unexpectedly (exit code {code})"
                    with self._lock:
                        self._state, self._reason, self._reason_values = "failed", "error", {"detail": detail}
                    return
            with self._lock:
                if kind == "steps":
                    losses, self._epoch, self._total_steps, self._samples_per_s = values
                    self.losses.extend(losses)
                    self._step = len(self.losses)
                elif kind == "watch":
                    self._conv1, self._maps = values
                elif kind == "epoch":
                    self.test_accuracy.append(values[0])
                elif kind == "state":
                    if not (values[0] == "running" and self._state == "paused"):
                        self._state = values[0]
                elif kind == "end":
                    self._state, self._reason, self._reason_values, self._saved, self._final = values
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
    out: Path,
    reports,
    go,
    stop,
    parent_pid: int | None,
) -> None:
    """Train, save after every epoch, and report to the listener: ("steps", losses, epoch,
    total_steps, samples/s), ("watch", filters, maps), ("epoch", accuracy), ("state", s),
    and last ("end", state, reason, values, saved path, final accuracy)."""
    if parent_pid is not None:  # a process of its own: below the server, so students' answers come first
        os.nice(TRAINING_NICENESS)
    use_threads(CPU_CORES)  # page threads use one; training takes every core
    device = torch.device(device)
    train_set = (torch.as_tensor(train_images), torch.as_tensor(train_labels))
    test_set = (torch.as_tensor(test_images), torch.as_tensor(test_labels))
    torch.manual_seed(config.seed)
    model = SeedCNN()  # built here so that the seed gives the same weights as the CLI
    history = History()
    events = fit(model, config, train_set, test_set, history)
    reason, diverged, last_watch, last_report, sent, last = None, {}, 0.0, time.perf_counter(), 0, None

    def send_losses() -> None:  # the losses not sent yet, with where the run stands
        nonlocal sent, last_report
        if last is not None and len(history.losses) > sent:
            reports.put(("steps", history.losses[sent:], last.epoch, last.total_steps, last.samples_per_s))
            sent, last_report = len(history.losses), time.perf_counter()

    try:
        for event in events:
            if isinstance(event, Step):
                if last is None:  # "starting" until the first step is done: Pause acts between steps
                    reports.put(("state", "running"))
                last = event
                if not math.isfinite(event.loss) or event.loss > DIVERGED_LOSS:
                    lr = config.lr
                    reason = "diverged_nan" if math.isnan(event.loss) else "diverged"
                    diverged = {
                        "loss": f"{event.loss:.3g}",
                        "step": event.step,
                        "lr": f"{lr:g}",
                        "try_lr": f"{lr / 10:g}",
                    }
                    break
                now = time.perf_counter()
                if now - last_report >= REPORT_EVERY_S:
                    # losses go in batches: a message per step would wake the server hundreds of times a second
                    send_losses()
                    if parent_pid is not None and os.getppid() != parent_pid:
                        return  # the server died: nobody is left to watch, and each epoch is saved
                if now - last_watch >= WATCH_EVERY_S:
                    reports.put(("watch", *_watch(model, watch_image, device)))
                    last_watch = now
            else:  # Epoch
                send_losses()
                reports.put(("epoch", event.test_accuracy))
                reports.put(("watch", *_watch(model, watch_image, device)))
                # Saved after every epoch, atomically: if the server dies, the run is
                # kept up to its last finished epoch and no half-written file is left.
                meta = history.meta(config, device, stopped="interrupted")
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
        reports.put(("end", *_finish(model, config, history, test_set, device, out, reason, diverged)))
    except Exception as e:  # out of GPU memory, a device that vanished, a full disk ...
        events.close()
        reports.put(("end", *_failure(e, device)))


def _watch(model: SeedCNN, watch_image: np.ndarray, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """The live picture: conv1's kernels (16, 5, 5) and the watched digit's conv1 + ReLU maps (16, 24, 24)."""
    layer = model.layer
    with torch.no_grad():
        x = torch.as_tensor(watch_image, dtype=torch.float32, device=device)[None, None]
        maps = layer[1](layer[0](x))[0].float().cpu().numpy()
        filters = layer[0].weight[:, 0].float().cpu().numpy()
    return filters, maps


def _finish(model, config, history, test_set, device, out, reason, values) -> tuple:
    model.eval()
    if reason is None:
        final, stopped = history.test_accuracy[-1], None
    else:
        test_images, test_labels = test_set
        final = accuracy(model, test_images.to(device), test_labels.to(device), autocast=autocast_dtype(device))
        if not math.isfinite(sum(p.sum().item() for p in model.parameters())):
            final = None
        stopped = "stopped by the user" if reason == "stopped" else "diverged"
    meta = history.meta(config, device, stopped)
    meta["test_accuracy"] = final
    saved = None
    if final is not None:  # a diverged model (NaN weights) is not worth keeping
        cpu_model = model.to("cpu", memory_format=torch.contiguous_format)
        saved = checkpoint.save(cpu_model, out, meta, history.filters)
    state = "finished" if reason is None else ("stopped" if reason == "stopped" else "failed")
    return state, reason or "finished", values, saved, final


def _failure(error: Exception, device: torch.device) -> tuple:
    detail = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
    if device.type != "cpu":  # out of memory, or a GPU that vanished: later "auto" runs use the CPU
        return "failed", "device_failed", {"device": device.type.upper(), "detail": detail}, None, None
    return "failed", "error", {"detail": f"{type(error).__name__}: {detail}"}, None, None


class RunManager:
    """At most one training run per server. Shared by every session: thread-safe."""

    def __init__(self, runs_dir: Path = RUNS_DIR, load=load_mnist, separate_process: bool = True):
        self.runs_dir = Path(runs_dir)
        self._load = load
        self.separate_process = separate_process
        self._lock = threading.Lock()
        self._data: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.run: TrainingRun | None = None

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
            out = self.runs_dir / default_out(config).name
            self.run = TrainingRun(
                config, train_set, test_set, np.asarray(watch_image, np.float32), out, self.separate_process
            )
            self.run.start()
            return self.run

    def _dataset(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if split not in self._data:
            self._data[split] = self._load(split)
        return self._data[split]
