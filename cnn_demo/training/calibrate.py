"""How this machine trains fastest: measured on it the first time, then kept.

    python -m cnn_demo calibrate           # the kept settings (measured first if there are none)
    python -m cnn_demo calibrate --again   # measure again (after a BIOS or driver change, say)
    python -m cnn_demo calibrate --json

Four choices, each timed with the real training step (the tutorial's network, Adam, batch 128):
    layout       channels_last or contiguous tensors
    dtype        float32, or bfloat16 autocast where it is measured faster *and* its gradients
                 agree with float32's (cosine similarity >= 0.99)
    threads      intra-op threads, from one to every core
    wait policy  how OpenMP's idle threads wait: PASSIVE sleeps, ACTIVE spins. libgomp reads it
                 once, when torch loads, so each policy is timed in a process of its own, quiet
                 and with one core kept busy (a server answering a class). ACTIVE is chosen only
                 where it is faster quiet and no slower beside that busy core.
Nothing is decided from CPU flags: on one CPU that lists avx512_bf16, bf16 autocast trained
1.5x faster with oneDNN's AVX-512 kernels and 13x slower with them capped at AVX2.

The trainer, the app's training worker and the benchmark read the kept settings (`settings`);
where none are kept yet, the app trains with the safe defaults and measures in the background
while no run trains (cnn_demo.training.jobs.Measurement), and its next run uses what it found.
They are kept in .cache/calibration.json (or $CNN_DEMO_CACHE), one entry per CPU model,
instruction set, core count and torch version, so another machine measures its own.
"""

import argparse
import functools
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch
import torch.nn.functional as F

from cnn_demo import ROOT
from cnn_demo.network.model import build
from cnn_demo.training.device import CPU_CORES, pick_device, threads

BATCH = 128  # the recipes train with 64-128 images a step
COSINE_MIN = 0.99  # bf16 gradients must point where fp32's do
FASTER = 1.10  # a choice that is not the safe default must win by 10%: the machine is noisy
POLICIES = ("PASSIVE", "ACTIVE")
# The busy neighbour of a probe (python -c BUSY_CORE PROBE_PID): it spins until its probe is
# gone, even one killed outright.
BUSY_CORE = "import os, sys\nprobe = int(sys.argv[1])\nwhile os.getppid() == probe: pass"


@dataclass(frozen=True)
class Settings:
    channels_last: bool = True
    dtype: str = "float32"  # or "bfloat16" (autocast)
    threads: int = CPU_CORES
    wait_policy: str = "PASSIVE"
    measured: dict = field(default_factory=dict)  # images/s of each candidate; empty: defaults, nothing measured

    @property
    def autocast(self) -> torch.dtype | None:
        return torch.bfloat16 if self.dtype == "bfloat16" else None

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def short(self) -> str:
        """For a page: "channels_last · bfloat16 · 2 threads"."""
        return f"{'channels_last' if self.channels_last else 'contiguous'} · {self.dtype} · {self._threads()}"

    def describe(self) -> str:
        layout = "channels_last" if self.channels_last else "contiguous"
        return f"{layout}, {self.dtype}, {self._threads()}, OMP_WAIT_POLICY={self.wait_policy}"

    def _threads(self) -> str:
        return f"{self.threads} thread{'' if self.threads == 1 else 's'}"  # "1 thread", "2 threads"


def cache_file() -> Path:
    return Path(os.environ.get("CNN_DEMO_CACHE", ROOT / ".cache")) / "calibration.json"


@functools.cache
def cpu_model() -> str:
    """The CPU's name, with its family and model numbers: 'AMD EPYC' alone names several generations."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
                if not line.strip():
                    break
    except OSError:
        import platform

        return platform.processor() or platform.machine()
    name = info.get("model name", "unknown CPU")
    return f"{name} (family {info.get('cpu family', '?')}, model {info.get('model', '?')})"


def machine(device: torch.device) -> dict:
    """What a kept calibration belongs to."""
    if device.type == "cuda":
        return {"device": torch.cuda.get_device_name(device), "torch": torch.__version__}
    return {
        "device": cpu_model(),
        # What the kernels may use: ATen's level and oneDNN's cap (ONEDNN_MAX_CPU_ISA lowers it).
        "isa": f"{torch.backends.cpu.get_cpu_capability()}/{os.environ.get('ONEDNN_MAX_CPU_ISA', 'native')}",
        "cores": CPU_CORES,
        "torch": torch.__version__,
    }


def _key(device: torch.device) -> str:
    return " | ".join(str(v) for v in machine(device).values())


def kept(device: torch.device) -> Settings | None:
    try:
        path = cache_file()
        entry = _entries(str(path), path.stat().st_mtime_ns)[_key(device)]
        return Settings(**entry["settings"])
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or a file from another version
        return None


@functools.lru_cache(maxsize=4)
def _entries(path: str, mtime_ns: int) -> dict:
    """The kept file, read once per version of it: pages ask on every rerun."""
    return json.loads(Path(path).read_text())


def settings(device: torch.device | str = "cpu", measure: bool = False) -> Settings:
    """The kept settings for this device; else measured now (measure=True), else safe defaults."""
    device = torch.device(device)
    found = kept(device)
    if found is not None:
        return found
    if measure:
        return calibrate(device)
    return Settings(dtype="float32") if device.type == "cpu" else Settings(dtype="float32", threads=1)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 where this machine's calibration measured it faster and as accurate as fp32, else
    None: fp32. Never from CPU flags alone: a CPU that lists avx512_bf16 ran bf16 13x slower
    when oneDNN was capped at AVX2."""
    return settings(device).autocast


def worker_env(chosen: Settings) -> dict[str, str]:
    """What a training process must be started with (read before torch loads)."""
    return {"OMP_WAIT_POLICY": chosen.wait_policy}


# --- measuring ------------------------------------------------------------------------------


def step_rate(
    device: torch.device, channels_last: bool, dtype: str, round_s: float, batch: int = BATCH, warmup: int = 3
) -> float:
    """Images/s of the tutorial network's training step (forward, loss, backward, Adam) for one choice."""
    torch.manual_seed(0)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = build().to(device, memory_format=memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, 28, 28, device=device).contiguous(memory_format=memory_format)
    y = torch.randint(0, 10, (batch,), device=device)
    autocast = torch.bfloat16 if dtype == "bfloat16" else None

    def step() -> None:
        with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss.item()  # as the trainer does: one sync per step

    for _ in range(warmup):  # oneDNN builds its kernels on the first calls
        step()
    start, images = time.perf_counter(), 0
    while time.perf_counter() - start < round_s:
        step()
        images += batch
    return images / (time.perf_counter() - start)


def bf16_gradient_cosine(device: torch.device) -> float:
    """Cosine similarity of one batch's gradient under bf16 autocast and in fp32."""
    torch.manual_seed(0)
    model = build().to(device)
    x, y = torch.rand(BATCH, 1, 28, 28, device=device), torch.randint(0, 10, (BATCH,), device=device)
    grads = []
    for enabled in (False, True):
        model.zero_grad()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled):
            F.cross_entropy(model(x), y).backward()
        grads.append(torch.cat([p.grad.flatten().float() for p in model.parameters()]))
    return F.cosine_similarity(grads[0], grads[1], dim=0).item()


def probe(device: torch.device, round_s: float = 0.25, rounds: int = 3) -> dict:
    """Time every choice this process can make (its wait policy is fixed): layout and dtype on
    every core, then the thread counts for the fastest of those, then that one beside a busy core.
    Rounds take each candidate in turn, so a noisy second hurts all alike; medians are kept."""
    try:
        cosine = bf16_gradient_cosine(device)
    except RuntimeError:  # no bf16 on this device at all
        cosine = 0.0
    dtypes = ["float32"] + (["bfloat16"] if cosine >= COSINE_MIN else [])
    candidates = [(cl, dt, CPU_CORES) for cl in (True, False) for dt in dtypes]
    rates = _medians(device, candidates, round_s, rounds)
    best = max(rates, key=rates.get)
    if device.type == "cpu":
        more = [(best[0], best[1], n) for n in sorted({1, CPU_CORES // 2, CPU_CORES}) if n != CPU_CORES and n > 0]
        rates.update(_medians(device, more, round_s, rounds))
        best = max(rates, key=rates.get)
        neighbour = subprocess.Popen([sys.executable, "-c", BUSY_CORE, str(os.getpid())])  # one core kept busy
        try:
            busy = _medians(device, [best], round_s, rounds)[best]
        finally:
            neighbour.kill()
            neighbour.wait()
    else:
        busy = rates[best]
    return {
        "wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "bf16_cosine": round(cosine, 5),
        "rates": [[cl, dt, n, round(r, 1)] for (cl, dt, n), r in rates.items()],
        "busy": [*best, round(busy, 1)],
    }


def _medians(device, candidates: list[tuple], round_s: float, rounds: int) -> dict[tuple, float]:
    samples: dict[tuple, list[float]] = {c: [] for c in candidates}
    for i in range(rounds):
        for cl, dt, n in candidates:
            with threads(n):
                samples[(cl, dt, n)].append(step_rate(device, cl, dt, round_s))
        if i == 0:  # a choice at half the speed of the best cannot win: not worth more rounds
            fastest = max(s[0] for s in samples.values())
            candidates = [c for c in candidates if samples[c][0] >= fastest / 2]
    return {c: statistics.median(s) for c, s in samples.items()}


def choose(probes: list[dict]) -> Settings:
    """The settings from each policy's probe. Pure, so the rule itself is tested.

    The safe default (channels_last, float32, every core, PASSIVE) stays unless another choice
    is FASTER than it; bf16 was already left out of a probe whose gradients disagreed."""
    by_policy = {p["wait_policy"] or "PASSIVE": p for p in probes}
    base = by_policy.get("PASSIVE", probes[0])

    def pick(p: dict) -> tuple[tuple, float]:
        rates = {(cl, dt, n): r for cl, dt, n, r in p["rates"]}
        default = (True, "float32", CPU_CORES)
        fastest = max(rates.values())
        # Within FASTER of the fastest is a tie on this noisy machine: the default if it is one,
        # else the tie nearest to it (channels_last, then every core, then speed).
        ties = [c for c in rates if FASTER * rates[c] >= fastest]
        best = default if default in ties else max(ties, key=lambda c: (c[0], c[2] == CPU_CORES, rates[c]))
        return best, rates[best]

    (cl, dt, n), quiet = pick(base)
    policy = "PASSIVE"
    active = by_policy.get("ACTIVE")
    if active is not None:
        choice, active_quiet = pick(active)
        # Spinning threads steal the core of whatever else runs: only where it wins quiet and
        # loses nothing when a core is busy.
        if active_quiet >= FASTER * quiet and active["busy"][3] >= base["busy"][3]:
            (cl, dt, n), policy = choice, "ACTIVE"
    measured = {f"{p['wait_policy'] or 'PASSIVE'}": p for p in probes}
    return Settings(channels_last=cl, dtype=dt, threads=n, wait_policy=policy, measured=measured)


def calibrate(device: torch.device | str = "cpu", round_s: float = 0.25, rounds: int = 3) -> Settings:
    """Measure, keep and return this machine's settings (about 20 s on a 2-core CPU)."""
    device = torch.device(device)
    policies = POLICIES if device.type == "cpu" else ("PASSIVE",)
    probes = []
    for policy in policies:
        # A process of its own per policy: the policy is read when torch loads.
        env = {**os.environ, "OMP_WAIT_POLICY": policy}
        command = [sys.executable, "-m", "cnn_demo", "calibrate", "--probe", "--device", str(device)]
        command += ["--round-s", str(round_s), "--rounds", str(rounds)]
        out = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, check=True).stdout
        probes.append(json.loads(out.strip().splitlines()[-1]))
    chosen = choose(probes)
    keep(device, chosen)
    return chosen


def keep(device: torch.device, chosen: Settings) -> None:
    """Keep these settings for this device (a test keeps the defaults, to measure nothing)."""
    path = cache_file()
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        entries = {}
    entries[_key(device)] = {
        "machine": machine(device),
        "settings": asdict(chosen),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, indent=1))
    tmp.replace(path)  # whole or absent: a server and a CLI may calibrate at once


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cnn_demo calibrate", description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--again", action="store_true", help="measure even if settings are kept")
    p.add_argument("--json", action="store_true", help="end with one JSON line")
    p.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)  # one policy's timings, for calibrate()
    p.add_argument("--round-s", type=float, default=0.25, help=argparse.SUPPRESS)
    p.add_argument("--rounds", type=int, default=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    try:
        device = pick_device(args.device)
    except ValueError as e:
        p.error(str(e))
    if args.probe:
        print(json.dumps(probe(device, args.round_s, args.rounds)))
        return 0
    # Stopped (a server's background measurement, when a run needs the cores): exit through
    # the `finally`s, so that subprocess.run kills the probe of the moment, and keep nothing.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    found = None if args.again else kept(device)
    if found is None:
        print(f"measuring how {machine(device)['device']} trains fastest (once; about 20 s) ...", flush=True)
        found = calibrate(device, args.round_s, args.rounds)
    print(f"{_key(device)}: {found.describe()}")
    for policy, measured in found.measured.items():
        for cl, dt, n, rate in measured["rates"]:
            layout = "channels_last" if cl else "contiguous"
            print(f"  {policy:7s} {layout:13s} {dt:8s} {n} threads: {rate:7.0f} images/s")
        print(f"  {policy:7s} beside a busy core: {measured['busy'][3]:7.0f} images/s")
    if args.json:
        print(json.dumps({"machine": machine(device), "settings": asdict(found)}))
    return 0
