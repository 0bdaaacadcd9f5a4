"""Training throughput inside the app, against the command line, on the same machine.

    python -m benchmarks.train_in_app [--images 60000] [--epochs 2] [--repeats 3] [--page-closed] [--json]

1. `python -m cnn_demo train` with the tutorial's recipe on the first N images.
2. The same run started from the Train page of `streamlit run app.py` in Chromium,
   with the page open, so its live chart redraws every 2 s while it trains.
   `--page-closed` closes the browser once the run has started: the app's own cost
   (server and worker), without the page's drawing.
Both read images/s from the saved checkpoint's metadata (optimiser steps only, the
end-of-epoch evaluation excluded). The two take turns, `--repeats` times each, and the
figure is the median of each round's ratio: a shared machine's speed drifts from minute to
minute, and a round's two runs are a minute apart. Target: the app keeps >= 90% of the
command line.
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.proc_usage import cpu_by_role, share_of_cores
from cnn_demo.storage import checkpoint
from harness.browser import CHROMIUM, CHROMIUM_ARGS, ROOT, App, Server


def cli_samples_per_s(images: int, epochs: int, out: Path) -> float:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cnn_demo",
            "train",
            "--train-images",
            str(images),
            "--epochs",
            str(epochs),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return checkpoint.load(out)[1]["samples_per_s"]


def app_run(images: int, epochs: int, tmp: Path, page_closed: bool = False) -> dict:
    from playwright.sync_api import sync_playwright

    server = Server(tmp / "runs", tmp / "streamlit.log")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            app = App(server, browser)
            app.goto("train")
            # The command line's recipe (the page's first choice is Quick)
            app.page.get_by_text("The tutorial's (Adam 0.0002, 10 epochs)", exact=True).click()
            app.wait_idle()
            app.wait_worker_ready()
            for label, value in (("Training images", images), ("Epochs", epochs)):
                box = app.page.get_by_label(label, exact=True)
                box.fill(str(value))
                box.press("Enter")
                app.wait_idle()
            app.button("Start training").click()
            app.page.get_by_text(re.compile(r"· running")).wait_for(timeout=60_000)
            cpu_before, t0 = cpu_by_role(server.proc.pid), time.perf_counter()
            if page_closed:
                browser.close()
            else:
                app.page.get_by_text(re.compile(r"· (saving|finished)")).wait_for(timeout=30 * 60_000)
                cpu = share_of_cores(cpu_before, cpu_by_role(server.proc.pid), time.perf_counter() - t0)
                browser.close()
        meta = finished_run(tmp / "runs", epochs)
        if not page_closed:  # where the cores went while it trained: the run, the page, the server
            meta["cpu_share"] = {role: cpu[role] for role in ("training", "browsers", "server")}
        return meta
    finally:
        server.stop()


def finished_run(runs: Path, epochs: int, timeout_s: float = 30 * 60) -> dict:
    """The metadata of the run once it is saved for the last time (every epoch is saved on the way)."""
    deadline, seen = time.monotonic() + timeout_s, {}
    while time.monotonic() < deadline:
        for path in runs.glob("*.safetensors"):
            stamp = path.stat().st_mtime_ns
            if seen.get(path) == stamp:
                continue  # read only what changed: this poll must not take the run's cores
            seen[path] = stamp
            meta = checkpoint.read(path)[1]  # written atomically: always whole
            if meta.get("epochs_done") == epochs and not meta.get("stopped"):
                return meta
        time.sleep(1)
    raise TimeoutError(f"no finished run in {runs} after {timeout_s:.0f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.train_in_app", description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=60000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--page-closed", action="store_true", help="close the browser once the run has started")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    clis, apps, shares = [], [], []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            clis.append(cli_samples_per_s(args.images, args.epochs, Path(tmp) / "cli.safetensors"))
            run = app_run(args.images, args.epochs, Path(tmp), args.page_closed)
        apps.append(run["samples_per_s"])
        shares.append(run.get("cpu_share"))
        cores = (
            ""
            if shares[-1] is None
            else "; cores: " + ", ".join(f"{role} {100 * x:.0f}%" for role, x in shares[-1].items())
        )
        print(
            f"round {i + 1}: command line {clis[-1]:6.0f} images/s, app {apps[-1]:6.0f} images/s"
            f" ({100 * apps[-1] / clis[-1]:.0f}%){cores}",
            flush=True,
        )
    cli, app = statistics.median(clis), statistics.median(apps)
    fraction = statistics.median(a / c for a, c in zip(apps, clis))
    where = "the app, its page closed" if args.page_closed else "Train page of the app   "
    print(f"python -m cnn_demo train : {cli:8.0f} images/s (median of {args.repeats})")
    print(f"{where} : {app:8.0f} images/s")
    print(f"the app's share of the command line's speed: {100 * fraction:.0f}% (median of the rounds)")
    if args.json:
        result = {
            "cli_samples_per_s": cli,
            "app_samples_per_s": app,
            "app_fraction": round(fraction, 3),
            "page_closed": args.page_closed,
            "cli_runs": [round(x) for x in clis],
            "app_runs": [round(x) for x in apps],
        }
        if not args.page_closed:  # median share of the cores per role while the app trained
            result["cpu_share"] = {role: statistics.median(s[role] for s in shares) for role in shares[0]}
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
