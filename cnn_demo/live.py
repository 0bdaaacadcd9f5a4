"""A training run in a background thread, for the app: start, pause, resume, stop, watch.

The run belongs to the server, not to a browser tab: the worker thread drives
`train.fit` and writes what it sees into a lock-protected state; any number of pages
read `view()` and draw it. No UI call is ever made from the worker.

    manager = RunManager()
    run = manager.start(TrainConfig.from_recipe("seed", epochs=1, train_images=3000))
    run.view().losses  # ... later
    run.stop()
"""

import math
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from cnn_demo import checkpoint
from cnn_demo.checkpoint import RUNS_DIR
from cnn_demo.data import load_mnist
from cnn_demo.device import CPU_CORES, autocast_dtype, pick_device, use_threads
from cnn_demo.evaluate import accuracy
from cnn_demo.model import SeedCNN
from cnn_demo.train import Epoch, History, Step, TrainConfig, default_out, fit

ACTIVE = ("starting", "running", "paused", "saving")
# How a run ended, in English; the app shows its own translation of each code ([run] in
# locales/*.toml) with the same {values}.
MESSAGES = {
    "finished": "Training finished.",
    "stopped": "Training stopped.",
    "diverged_nan": "The loss became NaN at step {step}, so training stopped. The learning rate {lr} is too large for this run: try {try_lr}.",
    "diverged": "The loss exploded to {loss} at step {step}, so training stopped. The learning rate {lr} is too large for this run: try {try_lr}.",
    "device_failed": 'Training stopped: the {device} device failed ({detail}). The next run with device "auto" trains on the CPU; try a smaller batch size to use the GPU again.',
    "error": "Training failed: {detail}",
}
DIVERGED_LOSS = 50.0  # cross-entropy of 10 classes starts near ln 10 = 2.3; 50 is a blow-up
WATCH_EVERY_S = 0.5  # how often the live filters and feature maps are refreshed


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

    def loss_curve(self, max_points: int = 1500, weight: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(steps, raw loss, smoothed loss), thinned to at most max_points for the chart.

        The smoothed line is an exponential moving average, bias-corrected so it starts at
        the first losses rather than at zero (as TensorBoard's smoothing does)."""
        raw = np.asarray(self.losses, dtype=np.float64)
        smooth, avg = np.empty_like(raw), 0.0
        for i, x in enumerate(raw):
            avg = weight * avg + (1 - weight) * x
            smooth[i] = avg / (1 - weight ** (i + 1))
        keep = np.unique(np.linspace(0, len(raw) - 1, min(len(raw), max_points)).astype(int)) if len(raw) else np.arange(0)
        return keep + 1, raw[keep], smooth[keep]


@dataclass
class TrainingRun:
    config: TrainConfig
    train_set: tuple[torch.Tensor, torch.Tensor]
    test_set: tuple[torch.Tensor, torch.Tensor]
    watch_image: np.ndarray  # (28, 28) float32 in [0, 1]
    out: Path
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _go: threading.Event = field(default_factory=threading.Event)  # cleared = paused
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self.device = pick_device(self.config.device)
        self.model = SeedCNN()
        self.history = History()
        self._state, self._reason, self._reason_values = "starting", "", {}
        self._step, self._epoch, self._total_steps, self._samples_per_s = 0, 1, 0, 0.0
        self._conv1: np.ndarray | None = None
        self._maps: np.ndarray | None = None
        self._saved: Path | None = None
        self._final: float | None = None
        self._start = time.perf_counter()
        self.device_failed = False  # set when the GPU ran out of memory or disappeared
        self._go.set()
        self.thread = threading.Thread(target=self._work, name="cnn-demo-training", daemon=True)

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
                state=self._state, config=self.config, device=str(self.device), step=self._step,
                total_steps=self._total_steps, epoch=self._epoch, losses=list(self.history.losses),
                test_accuracy=list(self.history.test_accuracy), samples_per_s=self._samples_per_s,
                elapsed_s=time.perf_counter() - self._start, conv1_filters=self._conv1, watch_maps=self._maps,
                watch_image=self.watch_image, reason=self._reason, reason_values=dict(self._reason_values), saved_path=self._saved, final_accuracy=self._final,
            )

    # --- the worker ----------------------------------------------------------------------
    def _work(self) -> None:
        use_threads(CPU_CORES)  # page threads use one; training takes every core
        torch.manual_seed(self.config.seed)
        self.model = SeedCNN()  # built here so that the seed gives the same weights as the CLI
        self._set(state="running")
        events = fit(self.model, self.config, self.train_set, self.test_set, self.history)
        reason, diverged, last_watch = None, {}, 0.0
        try:
            for event in events:
                if isinstance(event, Step):
                    with self._lock:
                        self._step, self._epoch = event.step, event.epoch
                        self._total_steps, self._samples_per_s = event.total_steps, event.samples_per_s
                    if not math.isfinite(event.loss) or event.loss > DIVERGED_LOSS:
                        lr = self.config.lr
                        reason = "diverged_nan" if math.isnan(event.loss) else "diverged"
                        diverged = {"loss": f"{event.loss:.3g}", "step": event.step, "lr": f"{lr:g}", "try_lr": f"{lr / 10:g}"}
                        break
                    if time.perf_counter() - last_watch >= WATCH_EVERY_S:
                        self._watch()
                        last_watch = time.perf_counter()
                else:  # Epoch
                    self._watch()
                    # Saved after every epoch, atomically: if the server dies, the run is
                    # kept up to its last finished epoch and no half-written file is left.
                    meta = self.history.meta(self.config, self.device, stopped="interrupted")
                    checkpoint.save(self.model, self.out, meta, self.history.filters)
                if self._stop.is_set():
                    reason = "stopped"
                    break
                if not self._go.is_set():
                    while not self._go.wait(0.1):  # paused: wait, but keep noticing a stop
                        pass
                    if self._stop.is_set():
                        reason = "stopped"
                        break
        except Exception as e:  # out of GPU memory, a device that vanished ...
            events.close()
            self._fail(e)
            return
        events.close()
        self._finish(reason, diverged)

    def _watch(self) -> None:
        """Refresh the live picture: conv1's kernels and the watched digit's conv1 maps."""
        layer = self.model.layer
        with torch.no_grad():
            x = torch.as_tensor(self.watch_image, dtype=torch.float32, device=self.device)[None, None]
            maps = layer[1](layer[0](x))[0].float().cpu().numpy()  # (16, 24, 24): conv1 + ReLU
            filters = layer[0].weight[:, 0].float().cpu().numpy()  # (16, 5, 5)
        with self._lock:
            self._conv1, self._maps = filters, maps

    def _finish(self, reason: str | None, values: dict) -> None:
        self._set(state="saving")
        model = self.model.eval()
        if reason is None:
            final, stopped = self.history.test_accuracy[-1], None
        else:
            test_images, test_labels = self.test_set
            final = accuracy(model, test_images.to(self.device), test_labels.to(self.device), autocast=autocast_dtype(self.device))
            if not math.isfinite(sum(p.sum().item() for p in model.parameters())):
                final = None
            stopped = "stopped by the user" if reason == "stopped" else "diverged"
        meta = self.history.meta(self.config, self.device, stopped)
        meta["test_accuracy"] = final
        saved = None
        if final is not None:  # a diverged model (NaN weights) is not worth keeping
            cpu_model = model.to("cpu", memory_format=torch.contiguous_format)
            saved = checkpoint.save(cpu_model, self.out, meta, self.history.filters)
        state = "finished" if reason is None else ("stopped" if reason == "stopped" else "failed")
        self._set(state=state, reason=reason or "finished", values=values, saved=saved, final=final)

    def _fail(self, error: Exception) -> None:
        detail = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
        if self.device.type != "cpu":
            # Out of memory, or a GPU that vanished: later "auto" runs use the CPU.
            self.device_failed = True
            self._set(state="failed", reason="device_failed", values={"device": self.device.type.upper(), "detail": detail})
        else:
            self._set(state="failed", reason="error", values={"detail": f"{type(error).__name__}: {detail}"})

    def _set(self, state: str, reason: str | None = None, values: dict | None = None, saved: Path | None = None, final: float | None = None) -> None:
        with self._lock:
            self._state = state
            if reason is not None:
                self._reason, self._reason_values = reason, values or {}
            if saved is not None:
                self._saved = saved
            if final is not None:
                self._final = final


class RunManager:
    """At most one training run per server. Shared by every session: thread-safe."""

    def __init__(self, runs_dir: Path = RUNS_DIR, load=load_mnist):
        self.runs_dir = Path(runs_dir)
        self._load = load
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
            self.run = TrainingRun(config, train_set, test_set, np.asarray(watch_image, np.float32), out)
            self.run.thread.start()
            return self.run

    def _dataset(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if split not in self._data:
            self._data[split] = self._load(split)
        return self._data[split]
