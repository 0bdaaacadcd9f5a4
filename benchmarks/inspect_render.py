"""How long the Inspect page takes to redraw after an input change, in a real Chromium.

    python -m benchmarks.inspect_render [--rounds 13] [--json]

Starts the app, opens /inspect (its Feature maps tab, the heaviest, is open), and times from
each change (a test image's index typed, a digit's button pressed) until the script has
finished and the new input's title is drawn. Reports p50 and max, and the load average: when
more processes want the CPU than there are cores, the page gets cores / load of it.
"""

import argparse
import json
import os
import statistics
import sys
import time

from harness.browser import App, app_in_browser


def measure(app: App, rounds: int) -> list[float]:
    app.goto("inspect")

    def timed(change, expect: str) -> float:
        t0 = time.perf_counter()
        change()
        app.wait_for_chart_title(expect)
        return time.perf_counter() - t0

    times = []
    for n in range(rounds):
        if n % 4 == 3:  # a digit's "next of this class" button, now and then
            digit = n % 10
            times.append(timed(lambda d=digit: app.button(str(d)).click(), f"label {digit}"))
        else:
            index = 10 + n
            times.append(timed(lambda i=index: app.type_number("Test image index", i), f"test image #{index} ·"))
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.inspect_render", description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=13, help="input changes to time")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    args = p.parse_args(argv)
    with app_in_browser() as app:
        times = measure(app, args.rounds)
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    result = {
        "p50_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "changes": len(times),
        "load_average": round(load, 2),
        "cores": cores,
    }
    print(f"Inspect redraw after an input change: p50 {result['p50_s']:.2f} s, max {result['max_s']:.2f} s")
    print(f"  over {len(times)} changes; load average {load:.1f} on {cores} cores")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
