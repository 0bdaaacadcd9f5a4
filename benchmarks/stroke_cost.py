"""What one stroke on the Draw page costs the server: one student, strokes one after another.

    python -m benchmarks.stroke_cost [--strokes 200] [--profile] [--json]

One `streamlit run app.py`, one session at the protocol level (harness/websocket.py) sending
strokes of `cnn_demo.drawings.drawn` digits as the canvas does, each after the last one's answer. Per
stroke: the server's CPU time (from /proc), the time from sending to the answer (the
"Prediction" metric) and to the fragment run's end, the ForwardMsgs and bytes it sent, and
the pictures' bytes. `--profile` samples the server with py-spy (`pip install py-spy`) while
the strokes go, and prints where its time went: the share of samples in which each of the
page's steps was on the stack.
"""

import argparse
import asyncio
import json
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.class_load import PREDICTION, drawing_book, open_draw
from benchmarks.proc_usage import process_cpu_s
from harness.browser import Server
from harness.websocket import json_widget

# Steps of a stroke in the server, each by a function and its file as py-spy names them
# ("function (file:line)"; the views' files as "draw.py"). "" matches any function of the file.
STEPS = {
    "the whole fragment run (workbench)": ("workbench", "draw.py"),
    "the canvas component (st_canvas)": ("st_canvas", "streamlit_drawable_canvas/__init__.py"),
    "the canvas's PNG decoded (image_data)": ("image_data", "streamlit_drawable_canvas/__init__.py"),
    "preprocess_steps": ("preprocess_steps", "cnn_demo/preprocess.py"),
    "probe": ("probe", "cnn_demo/probe.py"),
    "predict_proba": ("predict_proba", "cnn_demo/predict.py"),
    "the probabilities, as a Plotly chart": ("chart", "figures.py"),
    "the probabilities, as HTML bars": ("probability_bars", "figures.py"),
    "the pictures (app_pages.figures.picture)": ("picture", "figures.py"),
    "  of which PNG encoding (pixels.png)": ("png", "cnn_demo/pixels.py"),
    "the step-by-step pictures (show_steps)": ("show_steps", "draw.py"),
    "the probe's sliders (st.slider)": ("slider", "streamlit/elements/widgets/slider.py"),
    "st.metric": ("metric", "streamlit/elements/metric.py"),
    "the pictures served (HTTP GET /media)": ("run_asgi", "uvicorn/protocols/http/h11_impl.py"),
    "the websocket's messages sent": ("_sender", "streamlit/web/server/starlette/starlette_websocket.py"),
    "the training run's listener thread (cnn_demo.training.live)": ("_listen", "cnn_demo/live.py"),
}
FRAME = re.compile(r"(?P<function>.*) \((?P<file>.*?)(:\d+)?\)$")


def step_shares(raw: str) -> dict[str, float]:
    """py-spy's raw output (one "frame;frame;... count" line per stack) -> the share of all
    samples in which each step's function was on the stack."""
    total, hits = 0, Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        frames = [m.groups()[:2] for f in stack.split(";") if (m := FRAME.match(f))]
        for step, (function, file) in STEPS.items():
            if any(
                where.endswith(file) and (not function or name.split(".")[-1] == function) for name, where in frames
            ):
                hits[step] += int(count)
    return {step: round(hits[step] / total, 3) for step in STEPS} if total else {}


async def strokes(url: str, n: int) -> dict:
    book = drawing_book(40, seed=2000)
    session, fragment, canvas = await open_draw(url)
    answer_s, finished_s, messages, sent_bytes, pictures = [], [], [], [], []
    done = 0
    try:
        while done < n:
            for digit in book:
                for stroke in digit.strokes:
                    run = await session.send(session.rerun_message([json_widget(canvas, stroke.value)], fragment))
                    if PREDICTION not in run.metrics() or run.errors():
                        raise RuntimeError(f"no answer: {run.errors()}")
                    answer_s.append(run.seconds_to("metric"))
                    finished_s.append(run.arrived[-1] - run.sent)
                    messages.append(len(run.messages))
                    sent_bytes.append(sum(m.ByteSize() for m in run.messages))
                    pictures.append(await session.fetch_images(run))
                    done += 1
                    if done == n:
                        return dict(
                            answer_s=answer_s,
                            finished_s=finished_s,
                            messages=messages,
                            bytes=sent_bytes,
                            pictures=pictures,
                        )
    finally:
        await session.close()
    return {}


def measure(n: int = 200, profile: bool = False) -> dict:
    tmp = Path(tempfile.mkdtemp())
    server = Server(tmp / "runs", tmp / "streamlit.log")
    try:
        asyncio.run(strokes(server.url, 20))  # warm-up: imports, the model, the first figures
        spy = None
        if profile:
            if not shutil.which("py-spy"):
                raise SystemExit("error: --profile needs py-spy (pip install py-spy)")
            spy = subprocess.Popen(
                ["py-spy", "record", "--pid", str(server.proc.pid), "--format", "raw", "--rate", "250",
                 "--output", str(tmp / "spy.txt"), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=open(tmp / "spy.log", "w"),
            )  # fmt: skip
            time.sleep(1)
        cpu0, t0 = process_cpu_s(server.proc.pid), time.perf_counter()
        got = asyncio.run(strokes(server.url, n))
        wall, cpu = time.perf_counter() - t0, process_cpu_s(server.proc.pid) - cpu0
        result = {
            "strokes": n,
            "server_cpu_ms_per_stroke": round(1000 * cpu / n, 1),
            "answer_ms_p50": round(1000 * float(np.median(got["answer_s"])), 1),
            "answer_ms_p95": round(1000 * float(np.percentile(got["answer_s"], 95)), 1),
            "finished_ms_p50": round(1000 * float(np.median(got["finished_s"])), 1),
            "forward_msgs_per_stroke": round(float(np.mean(got["messages"])), 1),
            "forward_kb_per_stroke": round(float(np.mean(got["bytes"])) / 1024, 1),
            "picture_kb_per_stroke": round(float(np.mean(got["pictures"])) / 1024, 1),
            "strokes_per_s_one_session": round(n / wall, 1),
        }
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its samples when interrupted
            spy.wait(30)
            if not (tmp / "spy.txt").exists():
                raise RuntimeError(f"py-spy wrote nothing: {(tmp / 'spy.log').read_text()[-1000:]}")
            result["profile"] = step_shares((tmp / "spy.txt").read_text())
        return result
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.stroke_cost", description=__doc__.split("\n")[0])
    p.add_argument("--strokes", type=int, default=200)
    p.add_argument("--profile", action="store_true", help="sample the server with py-spy")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    args = p.parse_args(argv)
    r = measure(args.strokes, args.profile)
    print(
        f"{r['strokes']} strokes, one after another: server CPU {r['server_cpu_ms_per_stroke']} ms a stroke, "
        f"answer p50 {r['answer_ms_p50']} ms (p95 {r['answer_ms_p95']}), run done p50 {r['finished_ms_p50']} ms, "
        f"{r['forward_msgs_per_stroke']} ForwardMsgs / {r['forward_kb_per_stroke']} kB and "
        f"{r['picture_kb_per_stroke']} kB of pictures a stroke"
    )
    for step, share in r.get("profile", {}).items():
        print(f"  {share:6.1%}  {step}")
    if args.json:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
