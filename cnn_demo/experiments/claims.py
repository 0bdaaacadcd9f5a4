"""The tutorial's claims, measured: three experiments, each a few networks trained the same short
way (the "quick" recipe unless told otherwise, one seed for all), kept as JSON beside the checkpoints.

    python -m cnn_demo experiments shuffled   # the CNN and the fully connected net, on plain and on shuffled pixels
    python -m cnn_demo experiments shift      # both, on test digits moved 0..6 pixels to the right
    python -m cnn_demo experiments presets    # every preset: parameters, multiply-adds, images/s, test accuracy
        [--train-images N] [--epochs E] [--recipe R] [--seed S] [--json]

shuffled  One fixed permutation of the 784 pixels (PERMUTATION_SEED) is applied to every training
          and test image. A fully connected net only sees its inputs renamed: it starts from the
          plain run's initial weights renamed the same way (`rename_inputs`), so the two runs
          differ by the permutation alone, and it scores the same. The CNN's kernels read
          neighbouring pixels, which the shuffle scatters: it loses accuracy.
shift     Both networks trained on plain images (the same runs as shuffled's plain ones: same
          recipe, same seed), then tested on the test images moved 0..6 pixels to the right,
          zeros coming in from the left (`shift_x`).
presets   Every network of model.PRESETS with the same recipe: its parameters and multiply-adds
          per image (from its spec), its training images/s on this machine (the run's own
          batch size over the median step time; the mean is kept too) and its test accuracy.

With --json the last line is the result alone, e.g. for shuffled
{"cnn": {"plain": 0.98, "shuffled": 0.93}, "fully_connected": {"plain": 0.97, "shuffled": 0.97}}
(fractions); shift: {"cnn": {"0": acc, ..., "6": acc}, "fully_connected": {...}}; presets:
{"seed": {"params": n, "multiply_adds": n, "images_per_s": x, "test_accuracy": acc}, ...}.

Each result is kept in RESULTS_DIR/<name>.json with its options, date, machine and seconds
(checkpoints/experiments/; $CNN_DEMO_EXPERIMENTS_DIR, or beside $CNN_DEMO_RUNS_DIR when only that
is set, so tests use their own folder). `Background` runs this command in a process of its own
for the app: one experiment at a time per server.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from cnn_demo.inside.equivariance import shift
from cnn_demo.inside.hidden_map import pca_points, probe_indices
from cnn_demo.network.model import IMAGE_SIZE, PRESETS, Net, NetSpec, build
from cnn_demo.storage import checkpoint
from cnn_demo.storage.data import DataError, load_mnist
from cnn_demo.training.calibrate import Settings, cpu_model, settings
from cnn_demo.training.device import pick_device, use_threads
from cnn_demo.training.evaluate import accuracy
from cnn_demo.training.jobs import OneJob, end, restart_with, start_command
from cnn_demo.training.train import RECIPES, Diverged, History, Step, TrainConfig, fit

RESULTS_DIR = Path(os.environ.get("CNN_DEMO_EXPERIMENTS_DIR", checkpoint.RUNS_DIR.parent / "experiments"))
FORMAT = "cnn_demo.experiments/1"
NAMES = ("shuffled", "shift", "presets")
NETWORKS = {"cnn": "seed", "fully_connected": "fully_connected"}  # result key -> preset, for shuffled and shift
CONDITIONS = ("plain", "shuffled")
SHIFTS = tuple(range(7))  # pixels to the right
PERMUTATION_SEED = 0
PIXELS = IMAGE_SIZE * IMAGE_SIZE
DEFAULT_RECIPE = "quick"  # one epoch: seconds per network, a lesson's minutes for all eight presets
# Of Quick's one epoch. More than the Train page's Quick, which is sized to reach 98% in a
# lesson's seconds: the shipped results (checkpoints/experiments) were measured with these.
QUICK_TRAIN_IMAGES = 30_000
MIN_STEPS = 8  # of the one-cycle schedule: a quarter of them warm it up

Sets = tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
# progress(fraction of the whole experiment done, network (a preset's name), condition: "plain", "shuffled" or "")
Progress = Callable[[float, str, str], None]


class ResultError(ValueError):
    """A kept result that cannot be read or is not an experiment's; the message says which and why."""


# --- the transformations -------------------------------------------------------------------


def permutation(seed: int = PERMUTATION_SEED) -> torch.Tensor:
    """(784,) int64, a fixed shuffle of the pixels: pixel j of a shuffled image is pixel perm[j] of the plain one."""
    return torch.randperm(PIXELS, generator=torch.Generator().manual_seed(seed))


def shuffle_pixels(images, perm: torch.Tensor):
    """(..., 28, 28) torch or numpy, any dtype -> the same with its pixels in the order `perm`."""
    index = perm if isinstance(images, torch.Tensor) else np.asarray(perm)
    flat = images.reshape(*images.shape[:-2], PIXELS)
    return flat[..., index].reshape(images.shape)


def rename_inputs(model: Net, perm: torch.Tensor) -> Net:
    """A fully connected net, its first layer's weights renamed as `perm` renames the pixels, in
    place: afterwards model(shuffle_pixels(x)) equals what model(x) was. weight (hidden, 784)."""
    if len(model.layer):
        raise ValueError("only a fully connected net's inputs can be renamed: a conv's kernels read neighbours")
    first = model.fc_layer[0]
    with torch.no_grad():
        first.weight.copy_(first.weight[:, perm])
    return model


def shift_x(images, pixels: int):
    """(..., 28, 28) torch or numpy, uint8 or float -> moved `pixels` to the right (left if
    negative), zeros coming in; what leaves the edge is gone."""
    if isinstance(images, torch.Tensor):
        return torch.from_numpy(shift(images.cpu().numpy(), pixels, 0)).to(images.device)
    return shift(np.asarray(images), pixels, 0)


# --- running them ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    recipe: str = DEFAULT_RECIPE
    train_images: int | None = None  # None: QUICK_TRAIN_IMAGES with the Quick recipe, else the recipe's
    epochs: int | None = None
    seed: int = 0

    def config(self, spec: NetSpec) -> TrainConfig:
        """The recipe with these overrides, for `spec` (ValueError naming a value out of range)."""
        images = self.train_images
        if images is None and self.recipe == "quick":
            images = QUICK_TRAIN_IMAGES
        config = TrainConfig.from_recipe(self.recipe, train_images=images, epochs=self.epochs, seed=self.seed, net=spec)
        steps = -(-config.train_images // config.batch_size) * config.epochs
        if config.schedule == "onecycle" and steps < MIN_STEPS:  # its warm-up would be empty (torch divides by zero)
            raise ValueError(
                f"{config.train_images} training images in batches of {config.batch_size} for {config.epochs}"
                f" epoch(s) are {steps} steps; the {self.recipe} recipe needs at least {MIN_STEPS}"
            )
        return config

    def args(self) -> list[str]:
        """The command-line options that give these, defaults left out."""
        out = [] if self.recipe == DEFAULT_RECIPE else ["--recipe", self.recipe]
        out += [] if self.train_images is None else ["--train-images", str(self.train_images)]
        out += [] if self.epochs is None else ["--epochs", str(self.epochs)]
        return out + ([] if self.seed == 0 else ["--seed", str(self.seed)])


def command(name: str, options: Options = Options()) -> str:
    return " ".join(["python -m cnn_demo experiments", name, *options.args()])


def train_one(
    spec: NetSpec,
    sets: Sets,
    options: Options,
    tuned: Settings,
    renamed: torch.Tensor | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[Net, History, float | None]:
    """Train a fresh `spec` as the train command does (the same seed, the same batches); renamed:
    a permutation its first layer's initial weights are renamed by (a fully connected net).
    Returns the model, its history and its images/s: the batch size over the median time
    between two steps, so that a moment when another program took the cores (on a shared
    machine) or a probe of the test images between two steps does not count."""
    config = options.config(spec)
    torch.manual_seed(config.seed)
    model = build(spec)
    if renamed is not None:
        rename_inputs(model, renamed)
    history, gaps, last = History(), [], None
    for event in fit(model, config, *sets, history, tuned):
        if isinstance(event, Step):
            now = time.perf_counter()
            if last is not None:  # the first step also built the kernels
                gaps.append(now - last)
            last = now
            if progress is not None:
                progress(event.step / event.total_steps)
    rate = round(config.batch_size / statistics.median(gaps), 1) if gaps else None
    return model, history, rate


def fraction(value: float) -> float:
    """An accuracy as kept: float32's 0.9878000020980835 as 0.9878 (10,000 test images need 4 digits)."""
    return round(float(value), 6)


def _run_facts(history: History, rate: float | None) -> dict:
    mean = round(history.samples / history.train_seconds, 1) if history.train_seconds else None
    return {
        "test_accuracy": fraction(history.test_accuracy[-1]),
        "seconds": round(history.seconds, 1),
        "images_per_s": rate,  # batch / median step time
        "images_per_s_mean": mean,  # images / training time, every step counted
    }


class _Tasks:
    """Turns each network's own progress into the experiment's: task i of n."""

    def __init__(self, total: int, report: Progress | None):
        self.total, self.report, self.done = total, report, 0

    def next(self, network: str, condition: str = "") -> Callable[[float], None]:
        done, last = self.done, [0.0]
        self.done += 1

        def progress(fraction: float) -> None:
            now = time.monotonic()
            if self.report is not None and (now - last[0] >= 0.5 or fraction >= 1):
                last[0] = now
                self.report((done + fraction) / self.total, network, condition)

        progress(0.0)
        return progress


def run_shuffled(
    sets: Sets, options: Options, tuned: Settings, report: Progress | None = None
) -> tuple[dict, list, dict]:
    perm = permutation()
    (train_x, train_y), (test_x, test_y) = sets
    shuffled_sets = ((shuffle_pixels(train_x, perm), train_y), (shuffle_pixels(test_x, perm), test_y))
    probe = probe_indices(len(test_x))
    tasks, result, runs, maps = _Tasks(4, report), {}, [], {}
    for key, preset in NETWORKS.items():
        spec = PRESETS[preset].spec
        result[key], maps[key] = {}, {}
        for condition in CONDITIONS:
            shuffled = condition == "shuffled"
            renamed = perm if shuffled and not spec.convs else None
            progress = tasks.next(preset, condition)
            run_sets = shuffled_sets if shuffled else sets
            model, history, rate = train_one(spec, run_sets, options, tuned, renamed, progress)
            result[key][condition] = fraction(history.test_accuracy[-1])
            runs.append({"network": preset, "condition": condition, **_run_facts(history, rate)})
            # The hidden layer's map of the probe images, as this network saw them (shuffled or
            # not): the models are not kept, so the map is made now or never.
            points = pca_points(model, run_sets[1][0][probe], autocast=tuned.autocast)
            maps[key][condition] = np.round(points.astype(np.float32), 2).tolist()
    return result, runs, {"maps": maps, "map_labels": torch.as_tensor(test_y)[probe].tolist()}


def run_shift(sets: Sets, options: Options, tuned: Settings, report: Progress | None = None) -> tuple[dict, list, dict]:
    device = pick_device("auto")
    test_x, test_y = sets[1]
    moved = {dx: shift_x(test_x, dx).to(device) for dx in SHIFTS}
    tasks, result, runs = _Tasks(2, report), {}, []
    for key, preset in NETWORKS.items():
        model, history, rate = train_one(
            PRESETS[preset].spec, sets, options, tuned, progress=tasks.next(preset, "plain")
        )
        model.to(device)
        result[key] = {
            str(dx): fraction(accuracy(model, moved[dx], test_y.to(device), tuned.autocast)) for dx in SHIFTS
        }
        runs.append({"network": preset, "condition": "plain", **_run_facts(history, rate)})
    return result, runs, {}


def run_presets(
    sets: Sets, options: Options, tuned: Settings, report: Progress | None = None
) -> tuple[dict, list, dict]:
    tasks, result, runs = _Tasks(len(PRESETS), report), {}, []
    for name, preset in PRESETS.items():
        _, history, rate = train_one(preset.spec, sets, options, tuned, progress=tasks.next(name))
        facts = _run_facts(history, rate)
        result[name] = {
            "params": preset.spec.params(),
            "multiply_adds": preset.spec.multiply_adds(),
            "images_per_s": facts["images_per_s"],
            "test_accuracy": facts["test_accuracy"],
        }
        runs.append({"network": name, "condition": "", **facts})
    return result, runs, {}


EXPERIMENTS = {"shuffled": run_shuffled, "shift": run_shift, "presets": run_presets}


def run(
    name: str,
    options: Options = Options(),
    sets: Sets | None = None,
    tuned: Settings | None = None,
    report: Progress | None = None,
) -> dict:
    """Run one experiment and return its record (what is kept): result, runs, options, machine, date, seconds.
    sets: (train, test) as load_mnist gives them; default the full MNIST."""
    if name not in EXPERIMENTS:
        raise ValueError(f"experiment must be one of {', '.join(NAMES)}, not {name!r}")
    config = options.config(PRESETS["seed"].spec)  # checks the options before anything is loaded
    device = pick_device(config.device)
    tuned = tuned or settings(device)
    sets = sets or (load_mnist("train"), load_mnist("test"))
    start = time.perf_counter()
    result, runs, extra = EXPERIMENTS[name](sets, options, tuned, report)
    return {
        "format": FORMAT,
        "name": name,
        "result": result,
        "runs": runs,
        **extra,  # shuffled's: each network's hidden-layer map ("maps") and its points' digits ("map_labels")
        "options": {
            "recipe": options.recipe,
            "train_images": min(config.train_images, len(sets[0][0])),
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "seed": options.seed,
            **({"permutation_seed": PERMUTATION_SEED} if name == "shuffled" else {}),
            **({"shift": "right"} if name == "shift" else {}),
            "test_images": len(sets[1][0]),
        },
        "command": command(name, options),
        "machine": {
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model(),
            "device_type": device.type,
            "settings": tuned.short(),
            "torch": torch.__version__,
            "python": sys.version.split()[0],
        },
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - start, 1),
    }


# --- keeping them ---------------------------------------------------------------------------


def result_path(name: str, folder: Path | None = None) -> Path:
    return Path(folder or RESULTS_DIR) / f"{name}.json"


def keep(record: dict, folder: Path | None = None) -> Path:
    """Write the record to <folder>/<name>.json atomically: a page never reads half a file."""
    check(record)
    blob = (json.dumps(record, indent=1) + "\n").encode()
    return checkpoint.write_atomic(result_path(record["name"], folder), blob)


def kept(name: str, folder: Path | None = None) -> dict | None:
    """The kept record of an experiment, None if it was never run, ResultError if the file is damaged."""
    path = result_path(name, folder)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ResultError(f"{path.name}: cannot read it ({e.strerror or e})") from None
    try:
        record = json.loads(text)
    except ValueError as e:
        raise ResultError(f"{path.name}: not valid JSON ({e})") from None
    check(record, path.name)
    if record["name"] != name:
        raise ResultError(f"{path.name}: holds the {record['name']!r} experiment, not {name!r}")
    return record


def check(record, source: str = "result") -> dict:
    """Return the record, or raise ResultError saying what in it is not an experiment's result."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ResultError(f"{source}: not a {FORMAT} result")
    name, result = record.get("name"), record.get("result")
    if name not in NAMES:
        raise ResultError(f"{source}: {name!r} is not an experiment ({', '.join(NAMES)})")
    if not isinstance(result, dict) or not isinstance(record.get("options"), dict):
        raise ResultError(f"{source}: it has no result or no options")
    if name == "presets":
        rows = {k: result.get(k) for k in PRESETS}
        fields = ("params", "multiply_adds", "images_per_s", "test_accuracy")
        wanted = {k: v for k, v in rows.items() if not (isinstance(v, dict) and all(f in v for f in fields))}
        fractions = [v["test_accuracy"] for v in rows.values() if isinstance(v, dict) and "test_accuracy" in v]
    else:
        keys = CONDITIONS if name == "shuffled" else tuple(str(dx) for dx in SHIFTS)
        rows = {k: result.get(k) for k in NETWORKS}
        wanted = {k: v for k, v in rows.items() if not (isinstance(v, dict) and all(c in v for c in keys))}
        fractions = [v[c] for v in rows.values() if isinstance(v, dict) for c in keys if c in v]
    if wanted:
        raise ResultError(f"{source}: the {name} result lacks {', '.join(wanted)} (or some of its values)")
    if not all(isinstance(a, (int, float)) and 0 <= a <= 1 for a in fractions):
        raise ResultError(f"{source}: an accuracy that is not a fraction between 0 and 1")
    return record


def shuffled_example(index: int = 0, seed: int = PERMUTATION_SEED) -> tuple[np.ndarray, np.ndarray, int]:
    """Test image `index` and the same image shuffled by the experiment's permutation: two (28, 28)
    floats in [0, 1], and its label."""
    images, labels = load_mnist("test")
    plain = images[index].float().div(255).numpy()
    return plain, shuffle_pixels(plain, permutation(seed)), int(labels[index])


# --- in the background, for the app ---------------------------------------------------------


@dataclass
class JobView:
    name: str
    state: str  # "running", "finished" or "failed"
    fraction: float  # of the whole experiment
    network: str  # a preset's name, being trained now ("" before the first)
    condition: str  # "plain", "shuffled" or ""
    detail: str  # why it failed (the command's last error line)
    seconds: float  # since it started

    @property
    def running(self) -> bool:
        return self.state == "running"


def parse_progress(line: str) -> tuple[float, str, str] | None:
    """ "progress 0.4213 seed shuffled" (what --progress prints) -> (0.4213, "seed", "shuffled"); None for other lines."""
    parts = line.split()
    if len(parts) not in (3, 4) or parts[0] != "progress":
        return None
    try:
        return float(parts[1]), parts[2], parts[3] if len(parts) == 4 else ""
    except ValueError:
        return None


class Job:
    """`python -m cnn_demo experiments NAME --progress` in a process of its own (below the server's
    priority: jobs.start_command), which keeps the result when it is done; two threads read what it prints."""

    def __init__(self, name: str, options: Options = Options(), folder: Path | None = None):
        if name not in EXPERIMENTS:
            raise ValueError(f"experiment must be one of {', '.join(NAMES)}, not {name!r}")
        self.name, self._start = name, time.monotonic()
        self._lock = threading.Lock()
        self._fraction, self._network, self._condition = 0.0, "", ""
        self._state, self._detail, self._seconds = "running", "", None
        self._errors: deque[str] = deque(maxlen=20)
        self.process = start_command(
            ["experiments", name, "--progress", *options.args()],
            {"CNN_DEMO_EXPERIMENTS_DIR": str(folder or RESULTS_DIR)},
        )
        threading.Thread(target=self._read_errors, name="cnn-demo-experiment-stderr", daemon=True).start()
        threading.Thread(target=self._read_progress, name="cnn-demo-experiment", daemon=True).start()

    def _read_errors(self) -> None:
        for line in self.process.stderr:
            if line.strip():
                self._errors.append(line.rstrip())

    def _read_progress(self) -> None:
        for line in self.process.stdout:
            progress = parse_progress(line)
            if progress is not None:
                with self._lock:
                    self._fraction, self._network, self._condition = progress
        code = self.process.wait()
        with self._lock:
            self._seconds = time.monotonic() - self._start
            if code == 0:
                self._state, self._fraction = "finished", 1.0
            else:
                # "error: ..." (the command's own), "prog: error: ..." (argparse's), else a traceback's last line
                errors = [e for e in self._errors if "error:" in e]
                detail = errors[-1].split("error:", 1)[1].strip() if errors else (self._errors or [""])[-1]
                self._state, self._detail = "failed", detail or f"the command ended with exit code {code}"

    def view(self) -> JobView:
        with self._lock:
            seconds = self._seconds if self._seconds is not None else time.monotonic() - self._start
            return JobView(
                self.name, self._state, self._fraction, self._network, self._condition, self._detail, seconds
            )

    def stop(self) -> None:
        end(self.process, grace_s=0)


class Background:
    """At most one experiment recomputed at a time per server (jobs.OneJob: Busy while one goes);
    thread-safe, shared by every session."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder or RESULTS_DIR)
        self.one = OneJob(lambda job: job.view().running)

    @property
    def job(self) -> Job | None:
        return self.one.job

    def start(self, name: str, options: Options = Options()) -> Job:
        return self.one.start(
            lambda: Job(name, options, self.folder),
            lambda job: f"the {job.name} experiment is being run on this server",
        )

    def view(self) -> JobView | None:
        job = self.job
        return job.view() if job is not None else None

    def close(self) -> None:
        if self.job is not None:
            self.job.stop()


# --- the command line -----------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m cnn_demo experiments",
        description="The tutorial's claims, measured on MNIST; the result is kept for the app.",
    )
    p.add_argument("name", choices=NAMES, help="shuffled: pixels shuffled; shift: digits moved; presets: every preset")
    p.add_argument("--recipe", choices=list(RECIPES), default=DEFAULT_RECIPE, help="how each network is trained")
    p.add_argument(
        "--train-images",
        type=int,
        help=f"train on the first N training images (default: {QUICK_TRAIN_IMAGES:,} with Quick, else the recipe's)",
    )
    p.add_argument("--epochs", type=int, help="default: the recipe's")
    p.add_argument("--seed", type=int, default=0, help="the same for every network")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    p.add_argument(
        "--progress", action="store_true", help="print 'progress FRACTION NETWORK CONDITION' lines (the app)"
    )
    args = p.parse_args(argv)
    args.options = Options(args.recipe, args.train_images, args.epochs, args.seed)
    try:
        args.options.config(PRESETS["seed"].spec)
    except ValueError as e:
        p.error(str(e))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = pick_device("auto")
    tuned = settings(device, measure=True)  # measured the first time on this machine (~20 s)
    restart_with(tuned, device)  # from the command line: again, with the measured OpenMP wait policy
    use_threads(tuned.threads)
    shown = [("", "")]

    def report(fraction: float, network: str, condition: str) -> None:
        if args.progress:  # for the app's Job
            print(f"progress {fraction:.4f} {network} {condition}".rstrip(), flush=True)
        elif (network, condition) != shown[0]:
            shown[0] = (network, condition)
            print(f"training {network}" + (f" on {condition} pixels" if condition else ""), flush=True)

    try:
        record = run(args.name, args.options, tuned=tuned, report=report)
    except (DataError, Diverged) as e:  # Diverged: a network's loss blew up (train.fit's check); nothing is kept
        print(f"error: {e}", file=sys.stderr)
        return 1
    path = keep(record)
    print(summary(record))
    print(f"kept in {path} ({record['seconds']:.0f} s on {record['machine']['device']})")
    if args.json:
        print(json.dumps(record["result"]))
    return 0


def summary(record: dict) -> str:
    """The result as a few lines of text."""
    result, name = record["result"], record["name"]
    if name == "shuffled":
        return "\n".join(
            f"{key:16} plain {100 * r['plain']:6.2f}%   shuffled {100 * r['shuffled']:6.2f}%"
            for key, r in result.items()
        )
    if name == "shift":
        head = "shift (px right)  " + " ".join(f"{dx:>6}" for dx in SHIFTS)
        rows = [f"{key:17} " + " ".join(f"{100 * r[str(dx)]:5.1f}%" for dx in SHIFTS) for key, r in result.items()]
        return "\n".join([head, *rows])
    lines = [f"{'preset':16} {'params':>9} {'mult-adds':>11} {'images/s':>9} {'accuracy':>9}"]
    for key, r in result.items():
        lines.append(
            f"{key:16} {r['params']:9,} {r['multiply_adds']:11,} {r['images_per_s'] or 0:9,.0f} {100 * r['test_accuracy']:8.2f}%"
        )
    return "\n".join(lines)
