"""How fast a training run stops when Stop is pressed, without a browser.

    python -m benchmarks.stop_latency [--rounds 5] [--images 60000] [--batch-size 64] [--thread] [--json]

Each round starts a run the way the Train page does (cnn_demo.training.live.RunManager, the worker
in its own process; `--thread` runs it in a thread, as a notebook does) on the first N
MNIST training images, lets it train for `--warm` seconds, presses Stop and measures:
  - stop -> out of the loop: until the run reads "saving" (the worker has left the training
    loop between two steps and said so), what the page shows at its next redraw;
  - stop -> saved: until it reads "stopped" (the test set measured, the checkpoint written).
The figures are the medians of the rounds (min and max beside them); how many steps ended
after Stop is the step in flight plus any the worker had not reported yet. Target: out of the
loop within a second. The tests check only that a run stops (tests/test_live.py).
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cnn_demo.storage.data import DataError, load_mnist
from cnn_demo.training.live import RunManager
from cnn_demo.training.train import TrainConfig


def wait_state(run, states, timeout: float) -> float:
    """perf_counter() when the run first reads one of `states` (polled every millisecond)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if run.view().state in states:
            return time.perf_counter()
        time.sleep(0.001)
    raise TimeoutError(f"the run still reads {run.view().state!r} after {timeout:.0f}s")


def one_round(manager: RunManager, config: TrainConfig, warm_s: float) -> dict:
    run = manager.start(config)
    wait_state(run, {"running"}, timeout=300)
    time.sleep(warm_s)  # past the first steps, which are slow
    at_stop = run.view().step
    t0 = time.perf_counter()
    run.stop()
    out_of_loop = wait_state(run, {"saving", "stopped", "failed"}, timeout=120) - t0
    saved = wait_state(run, {"stopped", "failed"}, timeout=300) - t0
    view = run.view()
    if view.state != "stopped":
        raise RuntimeError(f"the run ended {view.state}: {view.reason} {view.reason_values}")
    run.listener.join(30)
    return {"out_of_loop_s": out_of_loop, "saved_s": saved, "steps_after_stop": view.step - at_stop}


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.stop_latency", description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--images", type=int, default=60000, help="training images (the first N of MNIST's 60,000)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--warm", type=float, default=2.0, help="seconds of training before Stop is pressed")
    p.add_argument("--thread", action="store_true", help="the worker in a thread instead of a process")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    try:
        config = TrainConfig.from_recipe(
            "seed", epochs=50, batch_size=args.batch_size, train_images=args.images, device=args.device
        )
        train_set, test_set = load_mnist("train"), load_mnist("test")
    except (ValueError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    sets = {"train": train_set, "test": test_set}
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        manager = RunManager(runs_dir=Path(tmp), load=sets.__getitem__, separate_process=not args.thread)
        for i in range(args.rounds):
            r = one_round(manager, config, args.warm)
            rounds.append(r)
            print(
                f"round {i + 1}: out of the loop {1000 * r['out_of_loop_s']:7.1f} ms, saved {r['saved_s']:5.2f} s,"
                f" {r['steps_after_stop']} steps after Stop",
                flush=True,
            )
            time.sleep(1.0)  # a round's checkpoint name has the second in it: the next gets its own
    out, saved = summary([r["out_of_loop_s"] for r in rounds]), summary([r["saved_s"] for r in rounds])
    worker = "thread" if args.thread else "process"
    print(
        f"stop -> out of the loop: median {1000 * out['median']:.1f} ms ({1000 * out['min']:.1f}-{1000 * out['max']:.1f}),"
        f" stop -> saved: median {saved['median']:.2f} s, {args.rounds} rounds, worker {worker},"
        f" batch {args.batch_size}, {args.images} images"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "out_of_loop_ms": {k: round(1000 * v, 1) for k, v in out.items()},
                    "saved_s": {k: round(v, 2) for k, v in saved.items()},
                    "steps_after_stop": [r["steps_after_stop"] for r in rounds],
                    "rounds": args.rounds,
                    "worker": worker,
                    "batch_size": args.batch_size,
                    "images": args.images,
                    "device": args.device,
                }
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
