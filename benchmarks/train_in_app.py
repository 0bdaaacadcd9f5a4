"""Training throughput inside the app, against the command line, on the same machine.

    python -m benchmarks.train_in_app [--images 60000] [--epochs 2] [--repeats 3] [--json]

1. `python -m cnn_demo.train` with the tutorial's recipe on the first N images.
2. The same run started from the Train page of `streamlit run app.py` in Chromium,
   with the page open, so its live chart redraws every second while it trains.
Both read images/s from the saved checkpoint's metadata (optimiser steps only, the
end-of-epoch evaluation excluded). The two take turns, `--repeats` times each, and the
medians are compared, so that a slow minute of a shared machine does not fall on one side
only. Target: the app keeps >= 90% of the command line.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from cnn_demo import checkpoint
from tests.e2e.harness import CHROMIUM, CHROMIUM_ARGS, ROOT, App, Server


def cli_samples_per_s(images: int, epochs: int, out: Path) -> float:
    subprocess.run(
        [sys.executable, "-m", "cnn_demo.train", "--train-images", str(images), "--epochs", str(epochs), "--out", str(out)],
        cwd=ROOT, check=True, capture_output=True,
    )
    return checkpoint.load(out)[1]["samples_per_s"]


def app_samples_per_s(images: int, epochs: int, tmp: Path) -> float:
    from playwright.sync_api import sync_playwright

    server = Server(tmp / "runs", tmp / "streamlit.log")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            app = App(server, browser)
            app.goto("train")
            for label, value in (("Training images", images), ("Epochs", epochs)):
                box = app.page.get_by_label(label, exact=True)
                box.fill(str(value))
                box.press("Enter")
                app.wait_idle()
            app.button("Start training").click()
            app.page.get_by_text("Training finished.").wait_for(timeout=30 * 60_000)
            browser.close()
    finally:
        server.stop()
    (saved,) = (tmp / "runs").glob("*.safetensors")
    return checkpoint.load(saved)[1]["samples_per_s"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.train_in_app", description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=60000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    clis, apps = [], []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            clis.append(cli_samples_per_s(args.images, args.epochs, Path(tmp) / "cli.safetensors"))
            apps.append(app_samples_per_s(args.images, args.epochs, Path(tmp)))
        print(f"round {i + 1}: command line {clis[-1]:6.0f} images/s, app {apps[-1]:6.0f} images/s", flush=True)
    cli, app = statistics.median(clis), statistics.median(apps)
    print(f"python -m cnn_demo.train : {cli:8.0f} images/s (median of {args.repeats})")
    print(f"Train page of the app    : {app:8.0f} images/s  ({100 * app / cli:.0f}% of the command line)")
    if args.json:
        print(json.dumps({
            "cli_samples_per_s": cli, "app_samples_per_s": app, "app_fraction": round(app / cli, 3),
            "cli_runs": [round(x) for x in clis], "app_runs": [round(x) for x in apps],
        }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
