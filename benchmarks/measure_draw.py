"""Draw digits with the mouse on the Draw page's real canvas, and measure what the class gets.

    python -m benchmarks.measure_draw [--n 50] [--seed 0] [--every 2] [--json]

starts the app (as the end-to-end tests do), replays `cnn_demo.drawings.drawn` strokes with the mouse
in Chromium, and reports the accuracy of the "Prediction" metric and the stroke-to-answer
latency: from the mouse button's release to the page showing the new answer (p50, p95).
The drawing helpers are harness/canvas.py, which tests/e2e/test_draw.py draws with too.
"""

import argparse
import json
import sys

import numpy as np

from harness.browser import app_in_browser
from harness.canvas import clear_canvas, draw_strokes, prediction


def measure(app, n: int, seed: int = 0, every: int = 2) -> dict:
    """Draw n digits (0..9 in turn) on the page, read each answer, clear; accuracy and latency."""
    from cnn_demo.drawings.drawn import drawings

    app.goto("draw")
    correct, per_class, latencies, wrong = 0, np.zeros((10, 2), int), [], []
    for d in drawings(n, seed):
        latencies += draw_strokes(app.page, d.strokes, every)
        app.wait_idle()
        digit, confidence, _ = prediction(app)
        correct += digit == d.label
        per_class[d.label] += (digit == d.label, 1)
        if digit != d.label:
            wrong.append(f"a {d.label} ({d.style}, brush {d.brush}) read as {digit} ({confidence:.0%})")
        clear_canvas(app.page)
    return {
        "n": n,
        "seed": seed,
        "accuracy": correct / n,
        "per_class": [round(c / t, 3) if t else None for c, t in per_class],
        "strokes": len(latencies),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1),
        "latency_ms_p95": round(float(np.percentile(latencies, 95)), 1),
        "wrong": wrong,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.measure_draw", description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=50, help="digits to draw (0..9 in turn)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--every", type=int, default=2, help="replay every k-th stroke point (1: all)")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    args = p.parse_args(argv)
    with app_in_browser() as app:
        result = measure(app, args.n, args.seed, args.every)
    print(f"{100 * result['accuracy']:.1f}% of {result['n']} digits drawn with the mouse read right")
    print(
        f"stroke to answer: p50 {result['latency_ms_p50']:.0f} ms, p95 {result['latency_ms_p95']:.0f} ms over {result['strokes']} strokes"
    )
    for line in result["wrong"]:
        print(f"  wrong: {line}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
