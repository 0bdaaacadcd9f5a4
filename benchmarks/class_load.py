"""A class at once, measured at the server: students drawing on /draw over Streamlit's protocol.

    python -m benchmarks.class_load [--students 30 60] [--rate 0.5] [--duration 60]
        [--training both|on|off] [--browsers 1] [--solo 12] [--json]

One `streamlit run app.py` on this machine. Each simulated student is one websocket session
(harness/websocket.py), as a browser opens it: it opens /draw, and after each stroke of a digit
(cnn_demo.drawings.drawn, stroke by stroke) sends the canvas's value as streamlit-drawable-canvas 0.13
sends it (the fabric JSON of the paths and a PNG data URL of the 280 x 280 canvas) in a rerun
of the canvas's fragment, reads the answer (the "Prediction" metric) from the ForwardMsgs and
loads the run's pictures, as the page's <img>s do. After a digit it clears the canvas. A
student waits for each answer, then looks for 1/rate seconds on average (strokes per second
while not waiting) before the next stroke. In a classroom each student's own device draws the
page; here the students cost this machine only the protocol.

Every answer is checked: the digit must be the one this project's engine gives for the same
canvas (canvas_to_mnist + predict_proba, worked out here before the run), and a digit's last
stroke must read as the digit drawn (the drawings are those the engine reads right).

`--students` takes several class sizes; each one draws for `--duration` seconds without a
training run and with one (`--training`), started through the app as a teacher does: one
more session opens /train, sets the epochs and presses "Start training", then plays the
browser's timers (the live progress every 2 s, the filters every 3 s) and reads the
run's progress from them. The run's images per second (evaluation excluded, from the page's
step count and images/s) are measured alone for `--alone` seconds before the students start,
then while they draw; "Stop" ends it. `--browsers` real Chromium students (headless, on this
machine's cores) draw with the mouse in every phase, for the latency a student sees: mouse-up
to the new answer on the page. `--solo N`: first, one Chromium student alone draws N digits.

Per phase: strokes answered per second, p50 / p95 / max from sending a stroke to its answer,
wrong answers, errors, timeouts, the server's CPU (and the training process's, the browsers',
this generator's) and memory, the browsers' end-to-end p50 / p95, training images/s against
alone. At the end, with every session closed, the server's memory against its value after
warm-up. `--json`: the last line is one JSON object of it all.
Checked against the targets (issue 13) by `python -m pytest -m load -s` (tests/load/).
"""

import argparse
import asyncio
import json
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.proc_usage import cpu_by_role, rss_mb, share_of_cores
from cnn_demo.drawings.preprocess import CANVAS as CANVAS_PX
from harness.browser import CHROMIUM, CHROMIUM_ARGS, Server
from harness.canvas import CANVAS, SEEN_SRC, UNTIL_NEW_ANSWER, canvas_value
from harness.websocket import Session, json_widget, trigger_widget

PREDICTION = "Prediction"  # the answer's metric label (locales/en.toml)
STEP = re.compile(r"step (\d+)/(\d+)")  # the Train page's progress text
TIMEOUT_S = 20.0  # an answer later than this is a timeout
SESSION_KEPT_S = 120  # Streamlit keeps a closed session this long (MemorySessionStorage's ttl)


# ---------------------------------------------------------------- the drawings


@dataclass
class Stroke:
    value: str  # the canvas's JSON value after this stroke
    expected: int | None  # the engine's digit for this canvas (None: too little ink, no answer)


@dataclass
class Digit:
    label: int
    strokes: list[Stroke]
    points: list[np.ndarray]  # the strokes in canvas pixels, for the real browsers' mouse


def drawing_book(n: int, seed: int = 1000) -> list[Digit]:
    """n digits drawn stroke by stroke, each with its canvas value and the engine's answer
    after every stroke; only digits the engine reads right when whole (99.8% of them), so
    that a wrong answer on the page is the server's mistake, not the model's."""
    from cnn_demo.drawings.drawn import drawings, render
    from cnn_demo.drawings.preprocess import canvas_to_mnist
    from cnn_demo.inside.predict import predict_proba
    from cnn_demo.storage.checkpoint import DEFAULT, load

    model, _ = load(DEFAULT)
    book = []
    for d in drawings(n + n // 10 + 5, seed=seed):
        strokes = []
        for k in range(1, len(d.strokes) + 1):
            image = render(d.strokes[:k], d.brush)
            image28 = canvas_to_mnist(image)
            expected = None if image28 is None else int(predict_proba(model, image28).argmax())
            strokes.append(Stroke(canvas_value(d.strokes[:k], d.brush, image), expected))
        if strokes[-1].expected == d.label:
            book.append(Digit(d.label, strokes, d.strokes))
        if len(book) == n:
            break
    return book


def cleared_value() -> str:
    """What the canvas sends after its bin button: no paths, an all-black picture."""
    black = np.zeros((CANVAS_PX, CANVAS_PX, 4), np.uint8)
    black[..., 3] = 255
    return canvas_value([], 20, black)


# ---------------------------------------------------------------- the simulated students


@dataclass
class Tally:
    """What a phase's simulated students got."""

    latencies_s: list[float] = field(default_factory=list)  # stroke sent -> its answer
    sent_at: list[float] = field(default_factory=list)  # perf_counter() when each answered stroke was sent
    wrong: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    timeouts: int = 0
    clears: int = 0
    picture_bytes: int = 0


async def open_draw(url: str) -> tuple[Session, str, str]:
    """A new session on /draw: (session, the canvas's fragment id, the canvas's widget id)."""
    session = await Session(url).__aenter__()
    run = await session.open("draw")
    if run.errors():
        raise RuntimeError(f"/draw opened with errors: {run.errors()}")
    fragment, canvas = run.component("drawable_canvas")
    return session, fragment, canvas.id


async def student(url: str, book: list[Digit], rate: float, until: float, tally: Tally, seed: int) -> int:
    """One student drawing digits until `until` (perf_counter). Returns the strokes answered."""
    rng = np.random.default_rng(seed)
    session, fragment, canvas = await open_draw(url)
    cleared = session.rerun_message([json_widget(canvas, cleared_value())], fragment).SerializeToString()
    answered = 0
    await asyncio.sleep(rng.uniform(0, 1 / rate))  # a class does not lift its pens in one instant
    try:
        for n in range(len(book) * 100):
            digit = book[(seed * 7 + n) % len(book)]
            for k, stroke in enumerate(digit.strokes):
                if time.perf_counter() >= until:
                    return answered
                msg = session.rerun_message([json_widget(canvas, stroke.value)], fragment).SerializeToString()
                try:
                    run = await session.send(msg, TIMEOUT_S)
                except TimeoutError:
                    tally.timeouts += 1
                    await session.close()  # its answer may still come: start afresh
                    session, fragment, canvas = await open_draw(url)
                    break
                tally.errors += run.errors()
                answer = run.metrics().get(PREDICTION)
                shown = None if answer is None else int(answer[0].rstrip("?"))
                if shown is not None:
                    answered += 1
                    tally.latencies_s.append(run.seconds_to("metric"))
                    tally.sent_at.append(run.sent)
                last = k == len(digit.strokes) - 1
                if shown != stroke.expected or (last and shown != digit.label):
                    tally.wrong.append(f"stroke {k + 1} of a {digit.label}: page {shown}, engine {stroke.expected}")
                tally.picture_bytes += await session.fetch_images(run)
                await asyncio.sleep(rng.uniform(0.5, 1.5) / rate)  # looks at the answer
            run = await session.send(cleared, TIMEOUT_S)
            tally.clears += 1
            tally.errors += run.errors()
            if PREDICTION in run.metrics():
                tally.errors.append("an answer after the canvas was cleared")
            await asyncio.sleep(rng.uniform(0.5, 1.5) / rate)
        return answered
    finally:
        await session.close()


# ---------------------------------------------------------------- the teacher


class Teacher:
    """One session on /train that starts a run, watches it as a browser does (the live
    fragments' timers) and stops it: the teacher's browser, at the protocol level."""

    def __init__(self, url: str):
        self.url = url
        self.samples: list[tuple[float, int, float]] = []  # (time, step, images/s so far)
        self._watching: asyncio.Task | None = None

    async def __aenter__(self) -> "Teacher":
        self.session = await Session(self.url).__aenter__()
        self.page = await self.session.open("train")
        return self

    async def __aexit__(self, *exc) -> None:
        if self._watching:
            self._watching.cancel()
        await self.session.close()

    def _widget(self, kind: str, label: str):
        for e in self.page.elements(kind):
            if getattr(e, kind).label == label:
                return getattr(e, kind)
        raise LookupError(f"no {kind} {label!r} on /train")

    async def start(self, epochs: int, train_images: int = 60_000) -> None:
        widgets = [
            self._number("Epochs", epochs),
            self._number("Training images", train_images),
            trigger_widget(self._widget("button", "Start training").id),
        ]
        self.page = await self.session.rerun(widgets)
        if self.page.errors():
            raise RuntimeError(f"Start: {self.page.errors()}")
        self.samples.clear()
        self._watching = asyncio.create_task(self._watch())
        while not self.samples:
            await asyncio.sleep(0.2)

    def _number(self, label: str, value: int):
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        return WidgetState(id=self._widget("number_input", label).id, int_value=value)

    async def _watch(self) -> None:
        """Rerun each fragment with a timer at its interval, as the browser does, and note the
        run's step and images/s from the live progress."""
        due: dict[str, float] = {}
        while True:
            now = time.perf_counter()
            for fragment, interval in list(self.session.auto_reruns.items()):
                if due.setdefault(fragment, now + interval) <= now:
                    due[fragment] = now + interval
                    run = await self.session.rerun_fragment(fragment, [])
                    await self.session.fetch_images(run)
                    self._note(run)
            await asyncio.sleep(0.05)

    def _note(self, run) -> None:
        texts = [e.progress.text for e in run.elements("progress")]
        step = next((int(m.group(1)) for t in texts if (m := STEP.search(t))), None)
        speed = run.metrics().get("Images per second")
        if step is not None and speed is not None:
            self.samples.append((time.perf_counter(), step, float(speed[0].replace(",", ""))))

    def images_per_s(self, t0: float, t1: float, batch: int) -> float | None:
        """Training speed between two moments, evaluation excluded: the images trained over
        the training seconds, which the page's cumulative images/s gives (steps x batch / it)."""
        inside = [s for s in self.samples if t0 <= s[0] <= t1 and s[2] > 0]
        if len(inside) < 2:
            return None
        (_, step0, speed0), (_, step1, speed1) = inside[0], inside[-1]
        seconds = step1 * batch / speed1 - step0 * batch / speed0
        return (step1 - step0) * batch / seconds if seconds > 0 else None

    async def stop(self) -> None:
        self._watching.cancel()
        self._watching = None
        self.page = await self.session.rerun([])
        self.page = await self.session.rerun([trigger_widget(self._widget("button", "Stop").id)])
        for _ in range(120):  # until the run is saved and Start can be pressed again
            if not self._widget("button", "Start training").disabled:
                return
            await asyncio.sleep(1)
            self.page = await self.session.rerun([])
        raise RuntimeError("the run did not stop within 120 s")


# ---------------------------------------------------------------- real browsers


async def browser_student(
    page, book: list[Digit], until: float, rate: float, seed: int, result: dict, digits: int | None = None
) -> None:
    """A real Chromium drawing with the mouse until `until` (or `digits` digits); latencies
    from mouse-up to the new answer on the page."""
    rng = np.random.default_rng(seed)
    for n in range(digits or len(book) * 100):
        if time.perf_counter() >= until:
            return
        digit = book[(seed * 13 + n) % len(book)]
        canvas = page.locator(CANVAS)
        box = await canvas.bounding_box()
        await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        await page.wait_for_timeout(400)  # the canvas toolbar slides away (docs/streamlit-notes.md)
        for stroke in digit.points:
            points = np.concatenate([stroke[::2], stroke[-1:]]) + (box["x"], box["y"])
            await page.mouse.move(*points[0])
            await page.mouse.down()
            for x, y in points[1:]:
                await page.mouse.move(x, y)
            before = await page.evaluate(SEEN_SRC)
            start = time.perf_counter()
            await page.mouse.up()
            try:
                await page.evaluate(UNTIL_NEW_ANSWER, [before, TIMEOUT_S * 1000])
                result["latencies_s"].append(time.perf_counter() - start)
            except Exception as e:  # the page never showed an answer
                result["errors"].append(f"no answer: {e}")
            await asyncio.sleep(rng.uniform(0.5, 1.5) / rate)
        metric = page.locator("[data-testid='stMetric']").filter(has_text=PREDICTION).first
        shown = (await metric.locator("[data-testid='stMetricValue']").inner_text()).strip()
        result["digits"] += 1
        result["right"] += shown.rstrip("?") == str(digit.label)
        await page.get_by_role("button", name="Reset canvas & history").dispatch_event("click")
        await asyncio.sleep(rng.uniform(0.5, 1.5) / rate)


# ---------------------------------------------------------------- measuring


def percentile_ms(values: list[float], q: float) -> float | None:
    return round(1000 * float(np.percentile(values, q)), 1) if values else None


# ---------------------------------------------------------------- the phases


async def phase(
    server: Server,
    book: list[Digit],
    students: int,
    rate: float,
    duration: float,
    teacher: Teacher | None,
    pages: list,
    alone_s: float,
    batch: int,
) -> dict:
    """One class size for `duration` seconds, with the teacher's run going when there is a teacher."""
    result: dict = {"students": students, "training": teacher is not None, "rate": rate, "duration_s": duration}
    if teacher is not None:
        await teacher.start(epochs=100)
        await asyncio.sleep(4)  # past the run's first steps (data onto the device, warm-up)
        t0 = time.perf_counter()
        await asyncio.sleep(alone_s)
        alone = teacher.images_per_s(t0, time.perf_counter(), batch)
    tally = Tally()
    browsers = [{"latencies_s": [], "errors": [], "digits": 0, "right": 0} for _ in pages]
    cpu0, start = cpu_by_role(server.proc.pid), time.perf_counter()
    until = start + duration
    answered = await asyncio.gather(
        *(student(server.url, book, rate, until, tally, seed=i) for i in range(students)),
        *(browser_student(p, book, until, rate, 100 + i, b) for i, (p, b) in enumerate(zip(pages, browsers))),
    )
    wall = time.perf_counter() - start
    cpu1 = cpu_by_role(server.proc.pid)
    strokes = sum(a for a in answered[:students])
    result.update(
        strokes_answered=strokes,
        strokes_per_s=round(strokes / wall, 2),
        ms_p50=percentile_ms(tally.latencies_s, 50),
        ms_p95=percentile_ms(tally.latencies_s, 95),
        ms_max=percentile_ms(tally.latencies_s, 100),
        wrong=len(tally.wrong),
        wrong_examples=tally.wrong[:5],
        errors=len(tally.errors),
        error_examples=tally.errors[:5],
        timeouts=tally.timeouts,
        clears=tally.clears,
        cpu_share=share_of_cores(cpu0, cpu1, wall),
        server_cpu_ms_per_stroke=round(1000 * (cpu1["server"] - cpu0["server"]) / max(strokes + tally.clears, 1), 1),
        server_rss_mb=round(rss_mb(server.proc.pid), 1),
    )
    if pages:
        lat = [x for b in browsers for x in b["latencies_s"]]
        result.update(
            browser_strokes=len(lat),
            browser_ms_p50=percentile_ms(lat, 50),
            browser_ms_p95=percentile_ms(lat, 95),
            browser_digits=sum(b["digits"] for b in browsers),
            browser_right=sum(b["right"] for b in browsers),
            browser_errors=[e for b in browsers for e in b["errors"]][:5],
        )
    if teacher is not None:
        during = teacher.images_per_s(start, time.perf_counter(), batch)
        await teacher.stop()
        result.update(
            train_images_per_s_alone=None if alone is None else round(alone),
            train_images_per_s_during=None if during is None else round(during),
            train_speed_kept=round(during / alone, 3) if alone and during else None,
        )
    return result


async def measure(
    class_sizes: list[int],
    rate: float = 0.5,
    duration: float = 60,
    training: str = "both",
    browsers: int = 1,
    solo: int = 0,
    alone_s: float = 10,
    settle_s: float = 20,
    memory_wait_s: float = SESSION_KEPT_S + 10,
    log=print,
) -> dict:
    from playwright.async_api import async_playwright

    from cnn_demo.training.train import RECIPES

    batch = RECIPES[next(iter(RECIPES))]["batch_size"]  # the teacher's run: the recipe /train offers first (Quick)
    book = drawing_book(60)
    tmp = Path(tempfile.mkdtemp())
    server = Server(tmp / "runs", tmp / "streamlit.log")
    out: dict = {"rate": rate, "duration_s": duration, "browsers": browsers, "phases": []}
    try:
        async with async_playwright() as pw, Teacher(server.url) as teacher:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            contexts = [
                await chromium.new_context(viewport={"width": 1280, "height": 800}) for _ in range(max(browsers, 1))
            ]
            pages = [await c.new_page() for c in contexts]
            for p in pages:
                await p.goto(f"{server.url}/draw")
                await p.locator(".st-key-draw_canvas canvas, canvas.upper-canvas").first.wait_for(timeout=120_000)
            # Warm-up, so that what a server loads once (MNIST, the model, the first figures) is in
            # the memory baseline: a short run, and a few students drawing.
            await teacher.start(epochs=1, train_images=3000)
            await teacher.stop()
            warm = Tally()
            await asyncio.gather(*(student(server.url, book, 2.0, time.perf_counter() + 8, warm, i) for i in range(5)))
            await asyncio.sleep(settle_s)
            out["rss_mb_warm"] = round(rss_mb(server.proc.pid), 1)
            predictions = sum(1 for _ in warm.latencies_s)
            if solo:
                result = {"latencies_s": [], "errors": [], "digits": 0, "right": 0}
                await browser_student(pages[0], book, float("inf"), 1.0, 0, result, digits=solo)
                out["solo"] = {
                    "digits": result["digits"],
                    "right": result["right"],
                    "strokes": len(result["latencies_s"]),
                    "ms_p50": percentile_ms(result["latencies_s"], 50),
                    "ms_p95": percentile_ms(result["latencies_s"], 95),
                    "errors": result["errors"][:5],
                }
                log(f"solo browser: {json.dumps(out['solo'])}")
            for students in class_sizes:
                for with_run in {"both": (False, True), "on": (True,), "off": (False,)}[training]:
                    r = await phase(
                        server,
                        book,
                        students,
                        rate,
                        duration,
                        teacher if with_run else None,
                        pages[:browsers],
                        alone_s,
                        batch,
                    )
                    predictions += r["strokes_answered"]
                    out["phases"].append(r)
                    log(summary(r))
            for c in contexts:
                await c.close()
            await chromium.close()
        # Streamlit keeps a closed session for two minutes, for a browser that reconnects, and
        # drops the expired ones when it next stores one: wait, then one more visit closes.
        await asyncio.sleep(memory_wait_s)
        async with Session(server.url) as late:
            await late.open("draw")
        await asyncio.sleep(5)
        out["predictions"] = predictions
        out["rss_mb_end"] = round(rss_mb(server.proc.pid), 1)
        out["rss_mb_growth"] = round(out["rss_mb_end"] - out["rss_mb_warm"], 1)
        out["server_tracebacks"] = server.log_text().count("Traceback")
        return out
    finally:
        server.stop()


def summary(r: dict) -> str:
    line = (
        f"{r['students']} students{' + training' if r['training'] else ''}: {r['strokes_per_s']} strokes/s answered, "
        f"p50 {r['ms_p50']} / p95 {r['ms_p95']} / max {r['ms_max']} ms, wrong {r['wrong']}, errors {r['errors']}, "
        f"timeouts {r['timeouts']}, server {r['cpu_share']['server']:.0%} of the cores "
        f"({r['server_cpu_ms_per_stroke']} ms a stroke), {r['server_rss_mb']} MB"
    )
    if "browser_ms_p50" in r:
        line += f"; browsers p50 {r['browser_ms_p50']} / p95 {r['browser_ms_p95']} ms"
    if r["training"]:
        line += (
            f"; training {r['train_images_per_s_during']} images/s vs {r['train_images_per_s_alone']} alone "
            f"({100 * (r['train_speed_kept'] or 0):.0f}% kept)"
        )
    return line


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.class_load", description=__doc__.split("\n")[0])
    p.add_argument("--students", type=int, nargs="+", default=[30, 60], help="class sizes, one phase each")
    p.add_argument("--rate", type=float, default=0.5, help="strokes per second per student, while not waiting")
    p.add_argument("--duration", type=float, default=60, help="seconds each phase draws")
    p.add_argument("--training", choices=["both", "on", "off"], default="both", help="phases with a training run")
    p.add_argument("--browsers", type=int, default=1, help="real Chromium students drawing in every phase (0-2)")
    p.add_argument("--solo", type=int, default=0, help="first, one Chromium student alone draws this many digits")
    p.add_argument("--alone", type=float, default=10, help="seconds the run's speed is measured before students")
    p.add_argument(
        "--memory-wait",
        type=float,
        default=SESSION_KEPT_S + 10,
        help="seconds after the last session closed before the memory is read (Streamlit keeps closed sessions 120 s)",
    )
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    args = p.parse_args(argv)
    r = asyncio.run(
        measure(
            args.students,
            args.rate,
            args.duration,
            args.training,
            args.browsers,
            args.solo,
            args.alone,
            memory_wait_s=args.memory_wait,
        )
    )
    print(
        f"server memory: {r['rss_mb_warm']} MB after warm-up, {r['rss_mb_end']} MB at the end with every session "
        f"closed ({r['rss_mb_growth']:+} MB after {r['predictions']} predictions); tracebacks: {r['server_tracebacks']}"
    )
    if args.json:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
