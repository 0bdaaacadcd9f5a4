"""A class at once, measured at the server: students drawing on /draw over Streamlit's protocol,
sending their digits to the class's wall, while the teacher's Class page shows it.

    python -m benchmarks.class_load [--students 30 60] [--rate 0.5] [--duration 60]
        [--training both|on|off] [--browsers 1] [--solo 12] [--send-every 30]
        [--ceiling [--sizes 30 60 120] [--ceiling-duration 45]]
        [--round [--round-every 10 20]] [--results-digits 3000 [--results-rounds 5]] [--json]

One `streamlit run app.py` on this machine, with every address a student until it enters the
teacher code (CNN_DEMO_ALL_STUDENTS=1, a fixed CNN_DEMO_TEACHER_CODE) and the class store in a
folder of its own. Each simulated student is one websocket session (harness/websocket.py), as a
browser opens it: it opens /draw, and after each stroke of a digit (cnn_demo.drawings.drawn,
stroke by stroke) sends the canvas's value as streamlit-drawable-canvas 0.13 sends it (the
fabric JSON of the paths and a PNG data URL of the 280 x 280 canvas) in a rerun of the canvas's
fragment, reads the answer (the "Prediction" metric) from the ForwardMsgs and loads the run's
pictures, as the page's <img>s do. After a digit it clears the canvas. A student waits for each
answer, then looks for 1/rate seconds on average (strokes per second while not waiting) before
the next stroke. In a classroom each student's own device draws the page; here the students
cost this machine only the protocol.

The wall (on unless `--send-every 0`): each student first types a name of its own in the Draw
page's name box; after a digit, once `--send-every` seconds have passed since its last send (the
first sends spread at random over the first interval), it presses "Send to the class" (the
button's trigger in a rerun of the canvas's fragment, as a browser sends it; the page's st.rerun()
is followed into the whole page, which says "sent" and lists the student's sends, the newest
being this one). One more session, the teacher's, entered the code on /class and keeps the page
open throughout, playing its timers as the browser does (the wall every second, the count every
2 s; the tiles' pictures come inline with each look, the spotlight's loaded once). A send is on
the wall when a run of the teacher's wall first holds its tile (in the wall element's data,
app_pages/wall_tiles.py: its id and the student's name): send to wall is from the trigger sent
to that tile's arrival. Lost: a send acknowledged but never on the
wall (5 s of grace after the phase), and the class store's rows (read from the SQLite file,
read-only, as another process would) against the sends acknowledged. Each phase starts with
the wall cleared by the teacher (a new class).

Every answer is checked: the digit must be the one this project's engine gives for the same
canvas (canvas_to_mnist + predict_proba, worked out here before the run), and a digit's last
stroke must read as the digit drawn (the drawings are those the engine reads right).

Each phase, the class first joins (every student opens /draw, and with the wall types its name),
then all of them start drawing, and the phase's clock starts then: its figures are the class at
work, not its arrival (how long the arrival took is `join_s`).

`--students` takes several class sizes; each one draws for `--duration` seconds without a
training run and with one (`--training`), started through the app as a teacher does: one
more session enters the teacher code on /class, opens /train, sets the epochs and presses
"Start training", then plays the browser's timers (the live progress every 2 s, the filters
every 3 s) and reads the run's progress from them. The run's images per second (evaluation
excluded, from the page's step count and images/s) are measured alone for `--alone` seconds
before the students start, then while they draw; "Stop" ends it. `--browsers` real Chromium
students (headless, on this machine's cores) draw with the mouse in every phase, for the
latency a student sees: mouse-up to the new answer on the page (they send nothing to the
wall). `--solo N`: first, one Chromium student alone draws N digits.

`--ceiling`: then the largest class the server holds: class sizes 30, 60, 120, ... (or
`--sizes`), each for `--ceiling-duration` seconds with a run training and the wall on, no
Chromium student, until stroke to answer p95 passes 1 s (or a stroke times out); where 30
already fails, 15, 7, 4 until one holds. It reports
the largest that held and what limited the next (from where the cores went: the server's
one Python process at a full core is the GIL; all cores busy besides the run is the machine;
this benchmark's own process at a full core makes the figure a lower bound).

`--round` (issue 21): each phase is a round instead. The teacher's Class page, switched to "Our
digits", presses "Start: each digit 0-9" and stays open (its timers played: the round's status
every 2 s); each student draws the digit its Draw page asks ("Now draw a **7**") stroke by stroke
and presses "Send my 7" every 10-20 s (`--round-every`), playing the page's round-request timer
(4 s) between its actions. A send is acknowledged when the page says "Sent as a 7"; afterwards
"End the round" is pressed and the store, read-only, must hold every acknowledged (token, round,
label), none twice (round_phase). `--results-digits N`: N labelled digits put in the store before
the server starts (seed_digits), and after the warm-up the Class page's results timed as a
teacher switches to "Our digits": scored anew and cached, medians of `--results-rounds`
(results_looks).

Per phase: strokes answered per second, p50 / p95 / max from sending a stroke to its answer,
wrong answers, errors, timeouts, the server's CPU (and the training process's, the browsers',
this generator's, the whole machine's) and memory, the browsers' end-to-end p50 / p95,
training images/s against alone; with the wall, sends acknowledged (and trigger to "sent"),
sends on the wall, send to wall p50 / p95 / max, lost sends, the store's rows, names wrong,
and the teacher's looks at the wall (how long one took, tiles). At the end, with every session
closed, the server's memory against its value after warm-up, and the store's rows against
every send acknowledged. `--json`: the last line is one JSON object of it all.
Checked against the targets (issues 13 and 20) by `python -m pytest -m load -s` (tests/load/).
"""

import argparse
import asyncio
import json
import os
import re
import sqlite3
import tempfile
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
from streamlit.proto.WidgetStates_pb2 import WidgetState

from benchmarks.proc_usage import cpu_by_role, rss_mb, share_of_cores
from cnn_demo.drawings.preprocess import CANVAS as CANVAS_PX
from harness.browser import CHROMIUM, CHROMIUM_ARGS, Server
from harness.canvas import CANVAS, SEEN_SRC, UNTIL_NEW_ANSWER, canvas_value
from harness.websocket import Run, Session, json_widget, trigger_widget

PREDICTION = "Prediction"  # the answer's metric label (locales/en.toml)
STEP = re.compile(r"step (\d+)/(\d+)")  # the Train page's progress text
TIMEOUT_S = 20.0  # an answer later than this is a timeout
SESSION_KEPT_S = 120  # Streamlit keeps a closed session this long (MemorySessionStorage's ttl)
# The class's roles (app_pages/classroom.py): every session of the benchmark's server is a student
# until it enters this code on /class, as a teacher on another device does.
TEACHER_CODE = "LOAD42"
SEND = "Send to the class"  # the Draw page's button (locales/en.toml, class.send)
SENT = "Sent to the class"  # the start of its acknowledgement
NAME_BOX = "Your name on the wall"
NAME_KEPT = "Name kept"
CODE_BOX, LEAD = "Teacher code", "Lead the class"
WALL_TILES = "cnn_demo.wall_tiles"  # the wall's element: its data lists each tile's sent id and name
TAKE_BACK = re.compile(r"-take_back_(\d+)$")  # a student's own sent drawing's button
WALL_GRACE_S = 5.0  # after a phase, how long sends still unseen on the wall may take to arrive
STROKE_P95_MS = 1000  # the ceiling's bar: stroke to answer p95 with a run training (issue 20)


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
    session, fragment, canvas, _ = await open_draw_run(url)
    return session, fragment, canvas


async def open_draw_run(url: str) -> tuple[Session, str, str, Run]:
    """open_draw, with the page's run."""
    session = await Session(url).__aenter__()
    run = await session.open("draw")
    if run.errors():
        raise RuntimeError(f"/draw opened with errors: {run.errors()}")
    fragment, canvas = last_component(run, "drawable_canvas")
    return session, fragment, canvas.id, run


def last_component(run: Run, name: str) -> tuple[str, object]:
    """(fragment id, proto) of the run's last component of this name: after a button's st.rerun()
    a run holds the interrupted fragment run's elements, then the new page's."""
    found = [
        (d.fragment_id, d.new_element.bidi_component)
        for d in run.of("delta")
        if d.WhichOneof("type") == "new_element"
        and d.new_element.WhichOneof("type") == "bidi_component"
        and name in d.new_element.bidi_component.component_name
    ]
    if not found:
        raise LookupError(f"no component {name!r} in this run")
    return found[-1]


def labelled(run: Run, kind: str, label: str):
    """The run's last widget of this kind ("button", "text_input") whose label starts so; None if none."""
    found = [getattr(e, kind) for e in run.elements(kind) if getattr(e, kind).label.startswith(label)]
    return found[-1] if found else None


def alerts(run: Run) -> list[str]:
    return [e.alert.body for e in run.elements("alert")]


@dataclass
class WallTally:
    """What a phase's students sent to the class's wall, and what came of it."""

    prefix: str  # the phase's students' names start so ("c2 s"): their rows in the class store
    acked: dict[int, tuple[float, str]] = field(default_factory=dict)  # sent id -> (trigger sent at, name)
    ack_s: list[float] = field(default_factory=list)  # trigger -> the page saying "sent"
    errors: list[str] = field(default_factory=list)
    renamed: int = 0


class Gate:
    """A phase's start: the class first joins (each student opens /draw and types its name, as a
    class does when it arrives), then every student starts drawing at once, and the phase's clock
    (its latencies, its CPU) starts then: the steady state, without the arrival's page loads."""

    def __init__(self, students: int):
        self.waiting = students
        self.all_joined = asyncio.Event()
        self.go = asyncio.Event()
        self.until = float("inf")
        if students == 0:
            self.all_joined.set()

    async def joined(self) -> float:
        """A student has joined: wait for the start; returns when the phase ends (perf_counter)."""
        self.waiting -= 1
        if self.waiting == 0:
            self.all_joined.set()
        await self.go.wait()
        return self.until

    def start(self, duration: float) -> float:
        self.until = time.perf_counter() + duration
        self.go.set()
        return self.until


async def rename(session: Session, run: Run, name: str, wall: WallTally) -> Run:
    """Type a name in the Draw page's name box, as a student does, so that their tile is theirs
    on the wall: a rerun of the page with the box's new value (its on_change keeps it)."""
    box = labelled(run, "text_input", NAME_BOX)
    if box is None:
        wall.errors.append("no name box on /draw")
        return run
    run = await session.rerun([WidgetState(id=box.id, string_value=name)], TIMEOUT_S)
    if not any(a.startswith(NAME_KEPT) for a in alerts(run)):
        wall.errors.append(f"rename to {name!r}: {alerts(run) or run.errors()}")
    else:
        wall.renamed += 1
    return run


async def send_to_class(session: Session, run: Run, fragment: str, name: str, wall: WallTally) -> Run | None:
    """Press "Send to the class" as the browser sends it: a rerun of the canvas's fragment with the
    button's trigger; the page's st.rerun() follows into a whole-page run, which says "sent" and
    lists this student's drawings (their newest is this send). None when there was no button;
    TimeoutError when nothing came back in time."""
    button = labelled(run, "button", SEND)
    if button is None:
        wall.errors.append("no Send to the class button after a digit")
        return None
    sent = await session.send(session.rerun_message([trigger_widget(button.id)], fragment), TIMEOUT_S)
    ids = [int(m.group(1)) for e in sent.elements("button") if (m := TAKE_BACK.search(e.button.id))]
    if sent.errors() or not any(a.startswith(SENT) for a in alerts(sent)) or not ids:
        wall.errors.append(f"a send not acknowledged: {sent.errors() or alerts(sent)}")
        return sent
    wall.acked[max(ids)] = (sent.sent, name)
    wall.ack_s.append(sent.arrived[-1] - sent.sent)
    return sent


async def join(url: str, name: str, wall: WallTally | None) -> tuple[Session, str, str, Run]:
    """A student arrives: /draw opened, and with the wall, their name typed."""
    session, fragment, canvas, run = await open_draw_run(url)
    if wall is not None:
        try:
            run = await rename(session, run, name, wall)
        except BaseException:
            await session.close()
            raise
    return session, fragment, canvas, run


@dataclass
class Drawn:
    answered: int  # strokes the page answered
    run: Run | None  # the last stroke's run
    finished: bool  # every stroke sent before the phase's end


async def draw(session: Session, canvas: str, fragment: str, digit: Digit, tally: Tally, until: float, pause) -> Drawn:
    """One digit drawn stroke by stroke, each stroke's canvas value as a rerun of the canvas's
    fragment; each answer checked against the engine's for the same canvas (and the last against the
    digit drawn) and its pictures loaded; `await pause()` after each, as a student looks at the answer.
    A stroke unanswered in TIMEOUT_S is counted and raises TimeoutError."""
    answered, run = 0, None
    for k, stroke in enumerate(digit.strokes):
        if time.perf_counter() >= until:
            return Drawn(answered, run, False)
        msg = session.rerun_message([json_widget(canvas, stroke.value)], fragment).SerializeToString()
        try:
            run = await session.send(msg, TIMEOUT_S)
        except TimeoutError:
            tally.timeouts += 1
            raise
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
        await pause()
    return Drawn(answered, run, True)


async def student(
    url: str,
    book: list[Digit],
    rate: float,
    until: "float | Gate",
    tally: Tally,
    seed: int,
    wall: WallTally | None = None,
    send_every: float = 30.0,
) -> int:
    """One student drawing digits until `until` (perf_counter, or a phase's Gate). Returns the
    strokes answered. With a wall: they take a name of their own, and after a digit, once
    `send_every` seconds have passed since their last send (the first one at a random moment of
    the first interval), they send it to the class. A request unanswered in TIMEOUT_S is counted
    (a stroke or a clear as a timeout, a send as a send error) and the student starts afresh in a
    new session, as a browser that reloads, so one late answer cannot mix into the next."""
    rng = np.random.default_rng(seed)
    name = f"{wall.prefix}{seed:03d}" if wall is not None else ""
    try:
        session, fragment, canvas, run = await join(url, name, wall)
    except Exception as e:  # a server too busy to open the page in time: this student never draws
        tally.errors.append(f"joining: {e!r}")
        if isinstance(until, Gate):
            await until.joined()
        return 0
    if isinstance(until, Gate):
        until = await until.joined()

    def clear_message(fragment: str) -> bytes:
        return session.rerun_message([json_widget(canvas, cleared_value())], fragment).SerializeToString()

    cleared = clear_message(fragment)
    answered = 0
    await asyncio.sleep(rng.uniform(0, 1 / rate))  # a class does not lift its pens in one instant
    next_send = time.perf_counter() + rng.uniform(0, send_every)
    try:
        for n in range(len(book) * 100):
            if time.perf_counter() >= until:
                return answered
            digit = book[(seed * 7 + n) % len(book)]
            try:
                strokes = await draw(
                    session, canvas, fragment, digit, tally, until, lambda: asyncio.sleep(rng.uniform(0.5, 1.5) / rate)
                )
                answered += strokes.answered
                if strokes.run is None or not strokes.finished:
                    return answered
                run = strokes.run
                # The digit is finished: to the class's wall, when it is time.
                if wall is not None and send_every > 0 and next_send <= time.perf_counter() < until:
                    next_send = time.perf_counter() + send_every
                    try:
                        sent = await send_to_class(session, run, fragment, name, wall)
                    except TimeoutError:
                        wall.errors.append("a send unanswered in time")
                        raise
                    if sent is not None:
                        tally.picture_bytes += await session.fetch_images(sent)
                        try:  # the whole page ran again: its fragment's id, as the browser now knows it
                            fragment, _ = last_component(sent, "drawable_canvas")
                        except LookupError:
                            wall.errors.append("no canvas after a send")
                        cleared = clear_message(fragment)
                    await asyncio.sleep(rng.uniform(0.5, 1.5) / rate)  # reads "sent"
                try:
                    run = await session.send(cleared, TIMEOUT_S)
                except TimeoutError:
                    tally.timeouts += 1
                    raise
                tally.clears += 1
                tally.errors += run.errors()
                if PREDICTION in run.metrics():
                    tally.errors.append("an answer after the canvas was cleared")
                await asyncio.sleep(rng.uniform(0.5, 1.5) / rate)
            except TimeoutError:  # its answer may still come: start afresh
                await session.close()
                try:
                    session, fragment, canvas, run = await join(url, name, wall)
                except Exception as e:
                    tally.errors.append(f"joining again: {e!r}")
                    return answered
                cleared = clear_message(fragment)
        return answered
    finally:
        await session.close()


# ---------------------------------------------------------------- the teacher


async def lead(session: Session) -> Run:
    """Enter the teacher code on /class, as a teacher on another device does (the benchmark's
    server makes every address a student): this session leads from now on."""
    run = await session.open("class")
    box, button = labelled(run, "text_input", CODE_BOX), labelled(run, "button", LEAD)
    if box is None or button is None:
        raise RuntimeError("no teacher code box on /class")
    run = await session.rerun([WidgetState(id=box.id, string_value=TEACHER_CODE), trigger_widget(button.id)])
    if TEACHER_CODE not in run.headings():  # the teacher's view shows the code
        raise RuntimeError(f"the teacher code was refused: {alerts(run) or run.errors()}")
    return run


class WallTeacher:
    """The teacher's Class page, open throughout: one session that entered the code and plays the
    page's timers as the browser does (the wall each second, the count of students every 2 s),
    loading the tiles' new pictures, and noting when each sent drawing's tile first arrives."""

    def __init__(self, url: str):
        self.url = url
        self.first_seen: dict[int, tuple[float, str | None]] = {}  # sent id -> (arrival, the name on its tile)
        self.wall_runs: list[tuple[float, float, int]] = []  # (sent at, seconds to the end, tiles)
        self.errors: list[str] = []
        self.picture_bytes = 0
        self._images: set[str] = set()  # a browser's <img> keeps a picture whose address is unchanged
        self._clear_id: str | None = None
        self._wall_fragment: str | None = None
        self._lock = asyncio.Lock()  # one run at a time on the socket: the timers and a clear
        self._watching: asyncio.Task | None = None

    async def __aenter__(self) -> "WallTeacher":
        self.session = await Session(self.url).__aenter__()
        self._look(await lead(self.session), None)
        self._watching = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *exc) -> None:
        if self._watching:
            self._watching.cancel()
        await self.session.close()

    async def _watch(self) -> None:
        due: dict[str, float] = {}
        while True:
            now = time.perf_counter()
            for fragment, interval in list(self.session.auto_reruns.items()):
                if due.setdefault(fragment, now + interval) <= now:
                    due[fragment] = now + interval
                    async with self._lock:
                        try:
                            run = await self.session.rerun_fragment(fragment, [], TIMEOUT_S)
                        except TimeoutError:
                            self.errors.append("a wall run timed out")
                            continue
                        self._look(run, fragment)
                        await self._load(run)
            await asyncio.sleep(0.02)

    async def _load(self, run: Run) -> None:
        for url in run.image_urls():
            if url not in self._images:
                self._images.add(url)
                self.picture_bytes += len(await self.session.fetch(url))

    def _look(self, run: Run, fragment: str | None) -> None:
        """Note the tiles of a run of the wall: the wall's element (app_pages/wall_tiles.py) lists
        each tile's sent id and the student's name; its pictures are inline."""
        self.errors += run.errors()
        clear = [e.button.id for e in run.elements("button") if e.button.id.endswith("-clear_yes")]
        if not clear:
            return  # the count of students, not the wall
        self._clear_id = clear[-1]
        if fragment is not None:
            self._wall_fragment = fragment
        tiles = 0
        for m, at in zip(run.messages, run.arrived):
            if m.WhichOneof("type") != "delta" or m.delta.WhichOneof("type") != "new_element":
                continue
            element = m.delta.new_element
            if element.WhichOneof("type") == "bidi_component" and WALL_TILES in element.bidi_component.component_name:
                shown = json.loads(element.bidi_component.json)["tiles"]
                tiles = len(shown)
                self.picture_bytes += sum(len(tile["src"]) for tile in shown)  # sent again with each look
                for tile in shown:
                    self.first_seen.setdefault(tile["id"], (at, tile["name"]))
        if fragment is not None:
            self.wall_runs.append((run.sent, run.arrived[-1] - run.sent, tiles))

    async def clear(self) -> None:
        """The teacher's "Clear the wall", answered yes: each class size starts with an empty wall."""
        async with self._lock:
            if self._clear_id is None or self._wall_fragment is None:
                raise RuntimeError("the teacher's wall has not run yet")
            run = await self.session.rerun_fragment(self._wall_fragment, [trigger_widget(self._clear_id)])
            self._look(run, self._wall_fragment)
            if run.errors():
                raise RuntimeError(f"clearing the wall: {run.errors()}")


class Teacher:
    """One session on /train that starts a run, watches it as a browser does (the live
    fragments' timers) and stops it: the teacher's browser, at the protocol level."""

    def __init__(self, url: str):
        self.url = url
        self.samples: list[tuple[float, int, float]] = []  # (time, step, images/s so far)
        self._watching: asyncio.Task | None = None
        self._lock = asyncio.Lock()  # one run at a time on the socket: the timers, then Stop

    async def __aenter__(self) -> "Teacher":
        self.session = await Session(self.url).__aenter__()
        await lead(self.session)  # on /class: the run's controls are the teacher's
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
                    async with self._lock:  # the run and its pictures: Stop waits for both
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
        # Cancelled between two of its runs (the lock held), never inside one: a run or a picture
        # cut off in the middle would leave its bytes on the socket for the next one to read.
        async with self._lock:
            self._watching.cancel()
        with suppress(asyncio.CancelledError):
            await self._watching
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


def machine_busy_s() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine so far, every process included (/proc/stat)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


def store_rows(path: Path, prefix: str = "") -> int:
    """Drawings in the class store whose name starts with `prefix`, read from the file itself,
    read-only, as a second process would."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("SELECT COUNT(*) FROM drawings WHERE name LIKE ?", (prefix + "%",)).fetchone()[0]


def what_limits(r: dict) -> str:
    """From a phase's CPU shares: what held its strokes back. The run's worker runs at the lowest
    priority, so it takes only what the rest leaves: the machine is busy whenever a run trains."""
    cores = os.cpu_count() or 1
    # A browser of other work that ends during the phase reads as a negative share: none.
    share = {role: max(v, 0.0) * cores for role, v in r["cpu_share"].items()}
    busy = r["machine_busy"] * cores
    others = max(0.0, busy - sum(share.values()))  # processes that are not this benchmark's
    said = (
        f"server {share['server']:.2f}, training {share['training']:.2f}, generator {share['generator']:.2f}, "
        f"browsers {share['browsers']:.2f}, other processes {others:.2f} of {cores} cores"
    )
    if share["server"] >= 0.75:  # a process held by the GIL rarely shows all of its core: waits, other processes
        return f"the GIL: the server's one Python process at {share['server']:.2f} of a core ({said})"
    if share["generator"] >= 0.85:
        return f"this benchmark's own process at a full core: the figure is a lower bound ({said})"
    if busy - share["training"] >= 0.85 * cores:
        return f"the machine: its cores busy besides the run ({said})"
    return f"no core full ({said})"


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
    wall_teacher: WallTeacher | None = None,
    send_every: float = 30.0,
    number: int = 0,
) -> dict:
    """One class size for `duration` seconds, with the teacher's run going when there is a teacher,
    and the wall when there is a teacher's Class page open (each phase starts with it cleared)."""
    result: dict = {"students": students, "training": teacher is not None, "rate": rate, "duration_s": duration}
    result["send_every_s"] = send_every if wall_teacher is not None else 0
    if teacher is not None:
        await teacher.start(epochs=100)
        await asyncio.sleep(4)  # past the run's first steps (data onto the device, warm-up)
        t0 = time.perf_counter()
        await asyncio.sleep(alone_s)
        alone = teacher.images_per_s(t0, time.perf_counter(), batch)
    wall = None
    if wall_teacher is not None:
        await wall_teacher.clear()
        wall = WallTally(prefix=f"c{number} s")
    tally = Tally()
    browsers = [{"latencies_s": [], "errors": [], "digits": 0, "right": 0} for _ in pages]
    gate = Gate(students)
    class_drawing = asyncio.gather(
        *(student(server.url, book, rate, gate, tally, i, wall, send_every) for i in range(students))
    )
    joining = time.perf_counter()
    await asyncio.wait([asyncio.ensure_future(gate.all_joined.wait()), class_drawing], return_when="FIRST_COMPLETED")
    result["join_s"] = round(time.perf_counter() - joining, 1)  # the class's pages opened and names typed
    cpu0, busy0, start = cpu_by_role(server.proc.pid), machine_busy_s(), time.perf_counter()
    until = gate.start(duration)
    answered, _ = await asyncio.gather(
        class_drawing,
        asyncio.gather(
            *(browser_student(p, book, until, rate, 100 + i, b) for i, (p, b) in enumerate(zip(pages, browsers)))
        ),
    )
    wall_s = time.perf_counter() - start
    cpu1, busy1 = cpu_by_role(server.proc.pid), machine_busy_s()
    strokes = sum(answered)
    result.update(
        **stroke_figures(tally, strokes, wall_s, (cpu0, cpu1), (busy0, busy1), server.proc.pid),
    )
    if wall is not None:
        # The last sends may still be on their way to the teacher's next look at the wall.
        deadline = time.perf_counter() + WALL_GRACE_S
        while time.perf_counter() < deadline and any(i not in wall_teacher.first_seen for i in wall.acked):
            await asyncio.sleep(0.2)
        seen = {i: wall_teacher.first_seen[i] for i in wall.acked if i in wall_teacher.first_seen}
        to_wall = [seen[i][0] - sent_at for i, (sent_at, _) in wall.acked.items() if i in seen]
        looks = [(s, d, n) for s, d, n in wall_teacher.wall_runs if start <= s <= until]
        rows = store_rows(server.runs_dir.parent / "class.sqlite3", wall.prefix)
        result.update(
            sends_acknowledged=len(wall.acked),
            sends_on_wall=len(seen),
            sends_lost=len(wall.acked) - len(seen),
            store_rows=rows,
            store_rows_missing=len(wall.acked) - rows,
            names_wrong=sum(seen[i][1] != name for i, (_, name) in wall.acked.items() if i in seen),
            send_errors=len(wall.errors),
            send_error_examples=wall.errors[:5],
            renamed=wall.renamed,
            wall_ms_p50=percentile_ms(to_wall, 50),
            wall_ms_p95=percentile_ms(to_wall, 95),
            wall_ms_max=percentile_ms(to_wall, 100),
            ack_ms_p50=percentile_ms(wall.ack_s, 50),
            ack_ms_p95=percentile_ms(wall.ack_s, 95),
            teacher_wall_looks=len(looks),
            teacher_wall_run_ms_p50=percentile_ms([d for _, d, _ in looks], 50),
            teacher_wall_run_ms_p95=percentile_ms([d for _, d, _ in looks], 95),
            teacher_wall_tiles_end=looks[-1][2] if looks else 0,
            teacher_errors=len(wall_teacher.errors),
            teacher_error_examples=wall_teacher.errors[:5],
        )
        wall_teacher.errors.clear()
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
    result["limit"] = what_limits(result)
    return result


# ---------------------------------------------------------------- rounds (issue 21)

# The round's words (locales/en.toml, [rounds])
TAB_DIGITS, TAB_WALL = "Our digits", "The wall"  # the Class page's tabs (st.tabs, key class_tab)
START_EACH, END_ROUND, REFRESH = "Start: each digit 0–9", "End the round", "Refresh"
SEND_MY = "Send my "  # the Draw page's Send button in a round: "Send my 7"
ASKED = re.compile(r"\*\*Round (\d+)\*\* · draw each digit once\. Now draw a \*\*(\d)\*\*")  # rounds.each_ask
SENT_AS = re.compile(r"^Sent as a (\d); the model read (\d)")  # rounds.sent_as: the send acknowledged
ROUND_TITLE = re.compile(r"^Round (\d+): ")  # the round-status metric's label
ROUND_PROGRESS = re.compile(r"^(\d+) drawings from (\d+) students")  # and its value
SEED_PREFIX = "seed s"  # the names of the digits --results-digits puts in the store before the server starts


def page_token(run: Run) -> str | None:
    """The student token the page put in the address (?me=...), as the browser's address bar shows it."""
    found = [parse_qs(p.query_string).get("me", [None])[0] for p in run.of("page_info_changed")]
    return next((f for f in reversed(found) if f), None)


def asked_digit(run: Run) -> tuple[int, int] | None:
    """(round id, digit) the page's round request asks for ("Now draw a **7**"); None: nothing asked."""
    found = [
        (int(m.group(1)), int(m.group(2))) for e in run.elements("markdown") if (m := ASKED.search(e.markdown.body))
    ]
    return found[-1] if found else None


def tab_widget(run: Run) -> str | None:
    """The widget id of the run's st.tabs (the Class page's tabs are a widget: key class_tab)."""
    found = [
        d.add_block.tab_container.id
        for d in run.of("delta")
        if d.WhichOneof("type") == "add_block" and d.add_block.WhichOneof("type") == "tab_container"
    ]
    return found[-1] if found and found[-1] else None


async def fetch_last_images(session: Session, run: Run, tally: Tally) -> int:
    """Load the pictures of the run's last script run, as the browser's page does: a run followed
    past a button's st.rerun() also holds the interrupted run's elements, whose files the server
    has already let go (404). A picture that is gone is an error, not the end of the student."""
    starts = [i for i, m in enumerate(run.messages) if m.WhichOneof("type") == "new_session"]
    urls = [
        img.url
        for m in run.messages[starts[-1] if starts else 0 :]
        if m.WhichOneof("type") == "delta" and m.delta.WhichOneof("type") == "new_element"
        if m.delta.new_element.WhichOneof("type") == "imgs"
        for img in m.delta.new_element.imgs.imgs
    ]
    loaded = 0
    for url in urls:
        try:
            loaded += len(await session.fetch(url))
        except OSError as e:
            tally.errors.append(f"a picture after a send: {e}")
    return loaded


class Timers:
    """A browser's timers for a page's `run_every` fragments: between its own actions a session
    waits here, and each fragment whose time has come is rerun, as the browser reruns it."""

    def __init__(self, session: Session, on_run=None):
        self.session = session
        self.on_run = on_run  # called with each timer's run
        self.due: dict[str, float] = {}
        self.runs: list[tuple[float, float]] = []  # (sent at, seconds to its end)
        self.lock = asyncio.Lock()  # held during each run: a watcher cancelled between runs, never inside one

    async def wait(self, seconds: float) -> None:
        end = time.perf_counter() + max(seconds, 0.0)
        while (now := time.perf_counter()) < end:
            for fragment, interval in list(self.session.auto_reruns.items()):
                if self.due.setdefault(fragment, now + interval) <= now:
                    self.due[fragment] = now + interval
                    async with self.lock:
                        run = await self.session.rerun_fragment(fragment, [], TIMEOUT_S)
                    self.runs.append((run.sent, run.arrived[-1] - run.sent))
                    if self.on_run is not None:
                        self.on_run(run)
            await asyncio.sleep(min(0.05, max(end - time.perf_counter(), 0)))


@dataclass
class RoundTally:
    """What a round's students sent, as their pages acknowledged it."""

    acked: list[tuple[str, int, int, float]] = field(default_factory=list)  # (token, round, label, sent at)
    ack_s: list[float] = field(default_factory=list)  # Send pressed -> the page saying "Sent as a 7"
    answers_right: int = 0  # sends the model read as the digit asked
    errors: list[str] = field(default_factory=list)
    looks: int = 0  # the students' round-request timer runs
    all_done: int = 0  # students who had sent every digit the round asks


async def open_draw_as(url: str, token: str | None) -> tuple[Session, str, str, Run]:
    """/draw opened, with this student's token in the address when it has one (a reload keeps it)."""
    session = await Session(url).__aenter__()
    try:
        run = await session.open("draw", query=f"me={token}" if token else "")
        if run.errors():
            raise RuntimeError(f"/draw opened with errors: {run.errors()}")
        fragment, canvas = last_component(run, "drawable_canvas")
    except BaseException:
        await session.close()
        raise
    return session, fragment, canvas.id, run


async def round_student(
    url: str,
    by_label: dict[int, list[Digit]],
    rate: float,
    until: Gate,
    tally: Tally,
    seed: int,
    rounds: RoundTally,
    every: tuple[float, float] = (10.0, 20.0),
) -> int:
    """One student in a round: their Draw page asks for a digit ("Now draw a **7**"); they draw one
    of that label stroke by stroke (each stroke's answer checked, as `student` does), and press
    "Send my 7" once 10-20 s (uniform) have passed since their last send (the first within one such
    interval of the start); the page's answer "Sent as a 7" is the acknowledgement, and the page asks
    the next digit on a fresh canvas. Between actions the page's round-request timer (every 4 s)
    reruns, as the browser's does. Returns the strokes answered."""
    rng = np.random.default_rng(seed)
    try:
        session, fragment, canvas, run = await open_draw_as(url, None)
        token = page_token(run)
        if token is None:
            raise RuntimeError("no ?me= token in the page's address")
    except Exception as e:
        tally.errors.append(f"joining: {e!r}")
        await until.joined()
        return 0
    end = await until.joined()
    timers = Timers(session)
    asked = asked_digit(run)
    answered, drawn = 0, 0
    next_send = time.perf_counter() + rng.uniform(*every)
    first = True
    try:
        while time.perf_counter() < end:
            try:
                if first:  # a class does not lift its pens in one instant
                    first = False
                    await timers.wait(rng.uniform(0, 1 / rate))
                if asked is None:  # every digit sent (or no round): the page only looks, until the end
                    rounds.all_done += 1
                    await timers.wait(end - time.perf_counter())
                    break
                round_id, label = asked
                pool = by_label[label]
                digit = pool[(seed * 7 + drawn) % len(pool)]
                drawn += 1
                strokes = await draw(
                    session, canvas, fragment, digit, tally, end, lambda t=timers: t.wait(rng.uniform(0.5, 1.5) / rate)
                )
                answered += strokes.answered
                if strokes.run is None or not strokes.finished:
                    return answered
                run = strokes.run
                await timers.wait(min(next_send, end) - time.perf_counter())  # drawn: sent when it is time
                if time.perf_counter() >= end:
                    break
                button = labelled(run, "button", SEND_MY)
                if button is None or button.label != f"{SEND_MY}{label}":
                    rounds.errors.append(f"asked a {label}, the button: {button.label if button else None!r}")
                    return answered
                msg = session.rerun_message([trigger_widget(button.id)], fragment)
                try:
                    sent = await session.send(msg, TIMEOUT_S)
                except TimeoutError:
                    rounds.errors.append("a send unanswered in time")
                    raise
                next_send = time.perf_counter() + rng.uniform(*every)
                said = [m for a in alerts(sent) if (m := SENT_AS.match(a))]
                if sent.errors() or not said:
                    rounds.errors.append(f"a send not acknowledged: {sent.errors() or alerts(sent)}")
                else:
                    # The page's label: the server decides it (the round's digit for this student)
                    rounds.acked.append((token, round_id, int(said[-1].group(1)), sent.sent))
                    rounds.ack_s.append(sent.arrived[-1] - sent.sent)
                    rounds.answers_right += said[-1].group(1) == said[-1].group(2)
                    if int(said[-1].group(1)) != label:
                        rounds.errors.append(f"asked a {label}, sent as a {said[-1].group(1)}")
                tally.picture_bytes += await fetch_last_images(session, sent, tally)
                run = sent
                fragment, found = last_component(sent, "drawable_canvas")  # a fresh canvas: a new key
                canvas = found.id
                asked = asked_digit(sent)
                await timers.wait(rng.uniform(0.5, 1.5) / rate)  # reads "Sent as a 7"
            except TimeoutError:  # its answer may still come: a reload, the same token in the address
                await session.close()
                try:
                    session, fragment, canvas, run = await open_draw_as(url, token)
                except Exception as e:
                    tally.errors.append(f"joining again: {e!r}")
                    return answered
                rounds.looks += len(timers.runs)
                timers = Timers(session)
                asked = asked_digit(run)
        return answered
    finally:
        rounds.looks += len(timers.runs)
        await session.close()


class ClassPage:
    """The teacher's Class page on "Our digits", open throughout a round: one session that entered
    the code, switched the tab (a widget: a rerun of the page with its new value), pressed "Start:
    each digit 0–9", and plays the page's timers as the browser does (the round's status every
    2 s, the count of students every 2 s), noting each look at the round's status."""

    def __init__(self, url: str):
        self.url = url
        self.status: list[tuple[float, float, int]] = []  # (sent at, seconds to the end, drawings the round has)
        self.errors: list[str] = []
        self._watching: asyncio.Task | None = None

    async def __aenter__(self) -> "ClassPage":
        self.session = await Session(self.url).__aenter__()
        self.page = await lead(self.session)
        self.tab = tab_widget(self.page)
        if self.tab is None:
            raise RuntimeError("no tabs widget on /class")
        self.page = await self.session.rerun([WidgetState(id=self.tab, string_value=TAB_DIGITS)])
        if self.page.errors():
            raise RuntimeError(f"Our digits: {self.page.errors()}")
        self.timers = Timers(self.session, self._look)
        return self

    async def __aexit__(self, *exc) -> None:
        await self._stop_watching()
        await self.session.close()

    def _look(self, run: Run) -> None:
        self.errors += run.errors()
        for e in run.elements("metric"):
            if ROUND_TITLE.match(e.metric.label) and (m := ROUND_PROGRESS.match(e.metric.body)):
                self.status.append((run.sent, run.arrived[-1] - run.sent, int(m.group(1))))

    async def _watch(self) -> None:
        while True:
            try:
                await self.timers.wait(3600)
            except TimeoutError:
                self.errors.append("a look at the round timed out")

    async def _stop_watching(self) -> None:
        # Cancelled between two of its runs, never inside one: a run cut off in the middle would
        # leave its bytes on the socket for the next one to read.
        if self._watching is not None:
            async with self.timers.lock:
                self._watching.cancel()
            with suppress(asyncio.CancelledError):
                await self._watching
            self._watching = None

    async def _press(self, label: str) -> Run:
        button = labelled(self.page, "button", label)
        if button is None:
            raise RuntimeError(f"no button {label!r} on the Class page's {TAB_DIGITS}")
        self.page = await self.session.rerun([trigger_widget(button.id)])
        if self.page.errors():
            raise RuntimeError(f"{label}: {self.page.errors()}")
        return self.page

    async def start_round(self) -> int:
        """Press "Start: each digit 0–9"; then watch. The new round's id, as its status shows it."""
        await self._stop_watching()
        run = await self._press(START_EACH)
        found = [int(m.group(1)) for e in run.elements("metric") if (m := ROUND_TITLE.match(e.metric.label))]
        if not found:
            raise RuntimeError(f"no open round after {START_EACH!r}: {alerts(run)}")
        self._watching = asyncio.create_task(self._watch())
        return found[-1]

    async def end_round(self) -> None:
        await self._stop_watching()
        await self._press(END_ROUND)


def round_rows(path: Path, round_id: int) -> tuple[set[tuple[str, int, int]], int, int]:
    """The class store's rows of one round, read from the file itself, read-only, as another
    process would: ({(token, round, label)}, rows, (token, round, label) kept more than once)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT token, round_id, label FROM drawings WHERE round_id = ?", (round_id,)).fetchall()
    kept = {(t, int(r), int(lab)) for t, r, lab in rows}
    return kept, len(rows), len(rows) - len(kept)


async def round_phase(
    server: Server,
    book: list[Digit],
    students: int,
    rate: float,
    duration: float,
    teacher: Teacher | None,
    pages: list,
    alone_s: float,
    batch: int,
    every: tuple[float, float] = (10.0, 20.0),
) -> dict:
    """A round of kind "each" for `duration` seconds: the teacher's Class page starts it and stays
    open on "Our digits"; `students` students draw what their page asks and send it every 10-20 s,
    with the teacher's run training when there is a teacher. Afterwards the round is ended and the
    store read: every acknowledged send must be there, none twice."""
    result: dict = {"students": students, "training": teacher is not None, "rate": rate, "duration_s": duration}
    result.update(round=True, send_every_s=list(every))
    by_label = {d: [x for x in book if x.label == d] for d in range(10)}
    if teacher is not None:
        await teacher.start(epochs=100)
        await asyncio.sleep(4)  # past the run's first steps (data onto the device, warm-up)
        t0 = time.perf_counter()
        await asyncio.sleep(alone_s)
        alone = teacher.images_per_s(t0, time.perf_counter(), batch)
    async with ClassPage(server.url) as class_page:
        round_id = await class_page.start_round()
        result["round_id"] = round_id
        tally, sends = Tally(), RoundTally()
        browsers = [{"latencies_s": [], "errors": [], "digits": 0, "right": 0} for _ in pages]
        gate = Gate(students)
        class_drawing = asyncio.gather(
            *(round_student(server.url, by_label, rate, gate, tally, i, sends, every) for i in range(students))
        )
        joining = time.perf_counter()
        await asyncio.wait(
            [asyncio.ensure_future(gate.all_joined.wait()), class_drawing], return_when="FIRST_COMPLETED"
        )
        result["join_s"] = round(time.perf_counter() - joining, 1)
        cpu0, busy0, start = cpu_by_role(server.proc.pid), machine_busy_s(), time.perf_counter()
        until = gate.start(duration)
        answered, _ = await asyncio.gather(
            class_drawing,
            asyncio.gather(
                *(browser_student(p, book, until, rate, 100 + i, b) for i, (p, b) in enumerate(zip(pages, browsers)))
            ),
        )
        wall_s = time.perf_counter() - start
        cpu1, busy1 = cpu_by_role(server.proc.pid), machine_busy_s()
        looks = [(s, d, n) for s, d, n in class_page.status if start <= s <= until]
        await class_page.end_round()
        teacher_errors = class_page.errors[:]
    kept, rows, twice = round_rows(server.runs_dir.parent / "class.sqlite3", round_id)
    acked = [(tok, r, lab) for tok, r, lab, _ in sends.acked]
    strokes = sum(answered)
    result.update(
        **stroke_figures(tally, strokes, wall_s, (cpu0, cpu1), (busy0, busy1), server.proc.pid),
        round_sends_acknowledged=len(acked),
        round_sends_lost=len(set(acked) - kept),
        round_sends_duplicated=twice,
        round_acked_twice=len(acked) - len(set(acked)),  # the pages said "sent" twice for one (token, round, label)
        round_store_rows=rows,
        round_rows_unacknowledged=len(kept - set(acked)),  # kept, though no page said so (a send that timed out)
        round_students_sent=len({tok for tok, _, _ in acked}),
        round_students_all_done=sends.all_done,
        round_answers_right=sends.answers_right,
        round_ack_ms_p50=percentile_ms(sends.ack_s, 50),
        round_ack_ms_p95=percentile_ms(sends.ack_s, 95),
        round_send_errors=len(sends.errors),
        round_send_error_examples=sends.errors[:5],
        round_request_looks=sends.looks,
        round_status_looks=len(looks),
        round_status_ms_p50=percentile_ms([d for _, d, _ in looks], 50),
        round_status_ms_p95=percentile_ms([d for _, d, _ in looks], 95),
        round_status_drawings_end=looks[-1][2] if looks else 0,
        teacher_errors=len(teacher_errors),
        teacher_error_examples=teacher_errors[:5],
    )
    if pages:
        lat = [x for b in browsers for x in b["latencies_s"]]
        result.update(
            browser_strokes=len(lat),
            browser_ms_p50=percentile_ms(lat, 50),
            browser_ms_p95=percentile_ms(lat, 95),
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
    result["limit"] = what_limits(result)
    return result


def round_summary(r: dict) -> str:
    line = (
        f"round of {r['students']} students{' + training' if r['training'] else ''}, a send every "
        f"{r['send_every_s'][0]:g}-{r['send_every_s'][1]:g} s: {r['strokes_per_s']} strokes/s answered, "
        f"p50 {r['ms_p50']} / p95 {r['ms_p95']} / max {r['ms_max']} ms, wrong {r['wrong']}, errors {r['errors']}, "
        f"timeouts {r['timeouts']}; sends acknowledged {r['round_sends_acknowledged']} (p50 {r['round_ack_ms_p50']} / "
        f"p95 {r['round_ack_ms_p95']} ms) from {r['round_students_sent']} students, lost {r['round_sends_lost']}, "
        f"duplicated {r['round_sends_duplicated']}, store rows {r['round_store_rows']}, send errors "
        f"{r['round_send_errors']}; the teacher's round status: {r['round_status_looks']} looks, p50 "
        f"{r['round_status_ms_p50']} / p95 {r['round_status_ms_p95']} ms; server {r['cpu_share']['server']:.0%} of "
        f"the cores, machine {r['machine_busy']:.0%} busy"
    )
    if r["training"]:
        line += (
            f"; training {r['train_images_per_s_during']} images/s vs {r['train_images_per_s_alone']} alone "
            f"({100 * (r['train_speed_kept'] or 0):.0f}% kept)"
        )
    return line + f"; limit: {r['limit']}"


# ---------------------------------------------------------------- the results with many digits


def seed_digits(path: Path, n: int, students: int = 60, seed: int = 7) -> int:
    """Put n labelled digits in the class store at `path` before the server starts: `students`
    students each answering "each digit 0-9" rounds (as many rounds as it takes), their digits
    made by cnn_demo.drawings.drawn and read by the shipped model, kept through ClassStore.send
    as the Draw page keeps them. Returns the rows added."""
    from cnn_demo.classroom.wall import ClassStore
    from cnn_demo.drawings.drawn import drawings
    from cnn_demo.drawings.preprocess import preprocess_steps
    from cnn_demo.inside.predict import predict_proba
    from cnn_demo.storage.checkpoint import DEFAULT, load

    model, _ = load(DEFAULT)
    pool = drawings(n, seed=seed)  # 0..9 in turn: n // 10 of each digit
    by_label = {d: [x for x in pool if x.label == d] for d in range(10)}
    store = ClassStore(path)
    added = 0
    tokens = [f"seedstudent{s:05d}xx" for s in range(students)]
    for s, token in enumerate(tokens):
        store.rename(token, f"{SEED_PREFIX}{s:03d}")
    while added < n:
        r = store.start_round("each")
        for token in tokens:
            for label in r.order(token):
                if added == n:
                    break
                d = by_label[label][added % len(by_label[label])]
                steps = preprocess_steps(d.canvas)
                probs = predict_proba(model, steps.image28)
                store.send(token, "", steps.ink, steps.image28, probs, "default", round_id=r.id, label=label)
                added += 1
    store.end_round()
    store.close()
    return added


async def results_looks(server: Server, digits: int, rounds: int) -> dict:
    """The teacher's Class page switched to "Our digits" with `digits` class digits in the store,
    timed from the tab's change to the end of the page's run (the results: the digits read from
    the store, the active model scored on them, the confusion matrix, the drawings of its cell and
    the hardest ones, the teacher's deletes): first with the digits changed since the last look
    (the page's cache is keyed by the digits' version; the benchmark takes the newest digit out
    and imports it back under a new id, as a send adds one: the model scores that one, having
    kept its answers for the others), then pressing Refresh (cached). The first round is the
    fresh server's first look, every digit scored: reported apart, the medians are of the rest."""
    from cnn_demo.classroom.wall import ClassStore

    store = ClassStore(server.runs_dir.parent / "class.sqlite3")
    first, second, pictures, messages = [], [], [], 0
    errors: list[str] = []
    async with Session(server.url) as session:
        page = await lead(session)
        tab = tab_widget(page)
        for _ in range(rounds):
            # The digits change as a round's send changes them (the scores are cached by the digits'
            # version): the newest one taken out and put back under a new id; still `digits` of them.
            newest = store.digits(strokes=True).take([-1])
            store.delete(int(newest.ids[0]))
            store.import_digits(newest)
            run = await session.rerun([WidgetState(id=tab, string_value=TAB_DIGITS)])
            first.append(run.arrived[-1] - run.sent)
            messages = len(run.messages)
            shown = run.metrics().get(TAB_DIGITS, ("", ""))[0]
            if run.errors() or shown != f"{digits:,}":
                errors.append(f"Our digits showed {shown!r}: {run.errors()}")
            t0 = time.perf_counter()
            await session.fetch_images(run)
            pictures.append(time.perf_counter() - t0)
            button = labelled(run, "button", REFRESH)
            run = await session.rerun([trigger_widget(button.id)])
            second.append(run.arrived[-1] - run.sent)
            errors += run.errors()
            await session.rerun([WidgetState(id=tab, string_value=TAB_WALL)])
    store.close()
    return {
        "digits": digits,
        "rounds": rounds,
        "first_ms": [round(1000 * x) for x in first],
        "cached_ms": [round(1000 * x) for x in second],
        "server_first_ms": round(1000 * first[0]) if first else None,  # every digit scored
        "first_ms_median": percentile_ms(first[1:] or first, 50),
        "cached_ms_median": percentile_ms(second, 50),
        "pictures_ms_median": percentile_ms(pictures, 50),
        "messages": messages,
        "errors": errors[:5],
    }


def stroke_figures(tally: Tally, strokes: int, wall_s: float, cpu: tuple, busy: tuple, server_pid: int) -> dict:
    """A phase's strokes as the JSON reports them: answered, latencies, wrong answers, errors, and
    the cores' shares between its start and end (cpu, busy: cpu_by_role and machine_busy_s then)."""
    (cpu0, cpu1), (busy0, busy1) = cpu, busy
    return dict(
        strokes_answered=strokes,
        strokes_per_s=round(strokes / wall_s, 2),
        ms_p50=percentile_ms(tally.latencies_s, 50),
        ms_p95=percentile_ms(tally.latencies_s, 95),
        ms_max=percentile_ms(tally.latencies_s, 100),
        wrong=len(tally.wrong),
        wrong_examples=tally.wrong[:5],
        errors=len(tally.errors),
        error_examples=tally.errors[:5],
        timeouts=tally.timeouts,
        clears=tally.clears,
        cpu_share=share_of_cores(cpu0, cpu1, wall_s),
        machine_busy=round((busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1e-9), 3),
        server_cpu_ms_per_stroke=round(1000 * (cpu1["server"] - cpu0["server"]) / max(strokes + tally.clears, 1), 1),
        server_rss_mb=round(rss_mb(server_pid), 1),
    )


def holds(r: dict) -> bool:
    """A class size the server holds: stroke to answer p95 within the bar, no stroke unanswered."""
    return r["ms_p95"] is not None and r["ms_p95"] <= STROKE_P95_MS and r["timeouts"] == 0


async def ceiling_search(sizes: list[int] | None, run_phase, number: int, largest: int = 960, smallest: int = 4):
    """The ceiling's phases, in order: `sizes` until one fails; else 30, 60, 120, ... doubled until
    one fails (when 30 already fails, 15, 7, 4 halved until one holds), then once the size halfway
    between the largest that held and the smallest that failed. Yields each phase's result;
    run_phase(students, phase number) runs one."""
    queue = list(sizes) if sizes else None
    students = queue.pop(0) if queue else 30
    held, failed, refined = 0, 0, False  # the largest size that held, the smallest that failed
    while students:
        number += 1
        r = await run_phase(students, number)
        yield r
        if holds(r):
            held = max(held, students)
        else:
            failed = min(failed or students, students)
        if queue is not None:
            students = (queue.pop(0) if queue else 0) if holds(r) else 0
        elif not failed:
            students = students * 2 if students * 2 <= largest else 0
        elif not held:
            students = max(smallest, students // 2) if students > smallest else 0
        elif not refined and failed - held >= 8:
            students, refined = (held + failed) // 2, True
        else:
            students = 0


@contextmanager
def environment(**values: str):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


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
    send_every: float = 30.0,
    ceiling: bool = False,
    sizes: list[int] | None = None,
    ceiling_duration: float = 45,
    round_phases: bool = False,
    round_every: tuple[float, float] = (10.0, 20.0),
    results_digits: int = 0,
    results_rounds: int = 5,
    log=print,
) -> dict:
    """The phases (each size of `class_sizes`, with and/or without a run), then with `ceiling` the
    search for the largest class the server holds (a run training, the wall on when `send_every`).
    `round_phases`: each phase is a round instead (round_phase), the wall's teacher left out.
    `results_digits`: that many class digits put in the store before the server starts, and the
    Class page's results timed with them (results_looks) after the warm-up."""
    from playwright.async_api import async_playwright

    from cnn_demo.training.train import RECIPES

    batch = RECIPES[next(iter(RECIPES))]["batch_size"]  # the teacher's run: the recipe /train offers first (Quick)
    book = drawing_book(60)
    tmp = Path(tempfile.mkdtemp())
    seeded = seed_digits(tmp / "class.sqlite3", results_digits) if results_digits else 0
    with environment(
        CNN_DEMO_ALL_STUDENTS="1", CNN_DEMO_TEACHER_CODE=TEACHER_CODE, CNN_DEMO_CLASS_DB=str(tmp / "class.sqlite3")
    ):
        server = Server(tmp / "runs", tmp / "streamlit.log")
    out: dict = {"rate": rate, "duration_s": duration, "browsers": browsers, "send_every_s": send_every, "phases": []}
    if round_phases:
        out["round_every_s"] = list(round_every)
    acknowledged = 0
    try:
        async with async_playwright() as pw, Teacher(server.url) as teacher:
            wall_teacher = await WallTeacher(server.url).__aenter__() if send_every > 0 and not round_phases else None
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            contexts = [
                await chromium.new_context(viewport={"width": 1280, "height": 800}) for _ in range(max(browsers, 1))
            ]
            pages = [await c.new_page() for c in contexts]
            for p in pages:
                await p.goto(f"{server.url}/draw")
                await p.locator(".st-key-draw_canvas canvas, canvas.upper-canvas").first.wait_for(timeout=120_000)
            # Warm-up, so that what a server loads once (MNIST, the model, the first figures, the
            # class store) is in the memory baseline: a short run, and a few students drawing and sending.
            await teacher.start(epochs=1, train_images=3000)
            await teacher.stop()
            warm, warm_wall = Tally(), WallTally(prefix="warm s")
            await asyncio.gather(
                *(student(server.url, book, 2.0, time.perf_counter() + 8, warm, i, warm_wall, 2.0) for i in range(5))
            )
            acknowledged += len(warm_wall.acked)
            await asyncio.sleep(settle_s)
            out["rss_mb_warm"] = round(rss_mb(server.proc.pid), 1)
            predictions = sum(1 for _ in warm.latencies_s)
            if results_digits:
                out["results"] = await results_looks(server, seeded, results_rounds)
                log(results_summary(out["results"]))
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
            number = 0
            for students in class_sizes:
                for with_run in {"both": (False, True), "on": (True,), "off": (False,)}[training]:
                    number += 1
                    if round_phases:
                        r = await round_phase(
                            server,
                            book,
                            students,
                            rate,
                            duration,
                            teacher if with_run else None,
                            pages[:browsers],
                            alone_s,
                            batch,
                            round_every,
                        )
                        predictions += r["strokes_answered"]
                        acknowledged += r["round_sends_acknowledged"]
                        out["phases"].append(r)
                        log(round_summary(r))
                        continue
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
                        wall_teacher,
                        send_every,
                        number,
                    )
                    predictions += r["strokes_answered"]
                    acknowledged += r.get("sends_acknowledged", 0)
                    out["phases"].append(r)
                    log(summary(r))
            if ceiling:
                # No Chromium student here: the class is the protocol's, as the probe was.
                steps = []
                async for r in ceiling_search(
                    sizes,
                    lambda n, k: phase(
                        server,
                        book,
                        n,
                        rate,
                        ceiling_duration,
                        teacher,
                        [],
                        alone_s,
                        batch,
                        wall_teacher,
                        send_every,
                        k,
                    ),
                    number,
                ):
                    r["ceiling_step"] = True
                    predictions += r["strokes_answered"]
                    acknowledged += r.get("sends_acknowledged", 0)
                    out["phases"].append(r)
                    steps.append(r)
                    log(summary(r))
                held = max((r for r in steps if holds(r)), key=lambda r: r["students"], default=None)
                above = [r for r in steps if not holds(r) and r["students"] > (held["students"] if held else 0)]
                failed = min(above, key=lambda r: r["students"], default=None)
                out["ceiling"] = {
                    "students": held["students"] if held else 0,
                    "bar_ms_p95": STROKE_P95_MS,
                    "tried": [(r["students"], r["ms_p95"], r["timeouts"]) for r in steps],
                    "failed_at": failed["students"] if failed else None,
                    "limit_at_ceiling": held["limit"] if held else None,
                    "limit_where_it_failed": failed["limit"] if failed else None,
                    "duration_s": ceiling_duration,
                }
                log(ceiling_summary(out["ceiling"]))
            if wall_teacher is not None:
                await wall_teacher.__aexit__(None, None, None)
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
        if send_every > 0 or round_phases:
            out["sends_acknowledged"] = acknowledged
            out["store_rows"] = store_rows(tmp / "class.sqlite3") - seeded  # the digits put there first left out
        return out
    finally:
        server.stop()


def summary(r: dict) -> str:
    line = (
        f"{r['students']} students{' + training' if r['training'] else ''}: {r['strokes_per_s']} strokes/s answered, "
        f"p50 {r['ms_p50']} / p95 {r['ms_p95']} / max {r['ms_max']} ms, wrong {r['wrong']}, errors {r['errors']}, "
        f"timeouts {r['timeouts']}, server {r['cpu_share']['server']:.0%} of the cores "
        f"({r['server_cpu_ms_per_stroke']} ms a stroke), machine {r['machine_busy']:.0%} busy, {r['server_rss_mb']} MB"
    )
    if "sends_acknowledged" in r:
        line += (
            f"; wall: {r['sends_acknowledged']} sends acknowledged (p50 {r['ack_ms_p50']} / p95 {r['ack_ms_p95']} ms), "
            f"{r['sends_on_wall']} on the wall, send to wall p50 {r['wall_ms_p50']} / p95 {r['wall_ms_p95']} / "
            f"max {r['wall_ms_max']} ms, lost {r['sends_lost']}, store rows {r['store_rows']}, "
            f"names wrong {r['names_wrong']}, send errors {r['send_errors']}, teacher errors {r['teacher_errors']}; "
            f"the teacher's wall: {r['teacher_wall_looks']} looks, p50 {r['teacher_wall_run_ms_p50']} / "
            f"p95 {r['teacher_wall_run_ms_p95']} ms a look, {r['teacher_wall_tiles_end']} tiles"
        )
    if "browser_ms_p50" in r:
        line += f"; browsers p50 {r['browser_ms_p50']} / p95 {r['browser_ms_p95']} ms"
    if r["training"]:
        line += (
            f"; training {r['train_images_per_s_during']} images/s vs {r['train_images_per_s_alone']} alone "
            f"({100 * (r['train_speed_kept'] or 0):.0f}% kept)"
        )
    return line + f"; limit: {r['limit']}"


def results_summary(r: dict) -> str:
    return (
        f"results with {r['digits']:,} class digits: the teacher's Class page switched to {TAB_DIGITS!r} "
        f"to its run's end: the server's first look (all scored) {r['server_first_ms']} ms, after a new digit "
        f"{r['first_ms_median']} ms (rounds {r['first_ms']}), cached "
        f"{r['cached_ms_median']} ms ({r['cached_ms']}); its pictures {r['pictures_ms_median']} ms; "
        f"{r['messages']} messages; errors {r['errors']}"
    )


def ceiling_summary(c: dict) -> str:
    tried = ", ".join(f"{n}: p95 {p95} ms{f' ({t} timeouts)' if t else ''}" for n, p95, t in c["tried"])
    return (
        f"ceiling: {c['students']} students hold stroke to answer p95 <= {c['bar_ms_p95']} ms with a run training "
        f"(tried {tried}); at {c['students']}: {c['limit_at_ceiling']}; "
        f"where it failed ({c['failed_at']}): {c['limit_where_it_failed']}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.class_load", description=__doc__.split("\n")[0])
    p.add_argument(
        "--students", type=int, nargs="*", help="class sizes, one phase each (default 30 60; none with --ceiling)"
    )
    p.add_argument("--rate", type=float, default=0.5, help="strokes per second per student, while not waiting")
    p.add_argument("--duration", type=float, default=60, help="seconds each phase draws")
    p.add_argument("--training", choices=["both", "on", "off"], default="both", help="phases with a training run")
    p.add_argument("--browsers", type=int, default=1, help="real Chromium students drawing in every phase (0-2)")
    p.add_argument("--solo", type=int, default=0, help="first, one Chromium student alone draws this many digits")
    p.add_argument("--alone", type=float, default=10, help="seconds the run's speed is measured before students")
    p.add_argument(
        "--send-every",
        type=float,
        default=30.0,
        help="seconds between a student's sends to the class's wall (the teacher's Class page open); 0: no wall",
    )
    p.add_argument("--ceiling", action="store_true", help="then find the largest class that keeps p95 <= 1 s")
    p.add_argument("--sizes", type=int, nargs="+", help="the ceiling's class sizes (default 30, 60, 120, ...)")
    p.add_argument("--ceiling-duration", type=float, default=45, help="seconds each step of the ceiling draws")
    p.add_argument(
        "--memory-wait",
        type=float,
        default=SESSION_KEPT_S + 10,
        help="seconds after the last session closed before the memory is read (Streamlit keeps closed sessions 120 s)",
    )
    p.add_argument(
        "--round",
        action="store_true",
        help="each phase a round: the teacher's Class page starts one (each digit 0-9), the students send what it asks",
    )
    p.add_argument(
        "--round-every",
        type=float,
        nargs=2,
        default=(10.0, 20.0),
        metavar=("MIN", "MAX"),
        help="in a round, seconds between a student's sends, uniform between these (default 10 20)",
    )
    p.add_argument(
        "--results-digits",
        type=int,
        default=0,
        help="class digits put in the store before the server starts; then the Class page's results are timed",
    )
    p.add_argument("--results-rounds", type=int, default=5, help="looks at the results timed (medians reported)")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    args = p.parse_args(argv)
    if args.students is None:
        if args.round:
            args.students = [60]
        elif args.ceiling or args.results_digits:
            args.students = []
        else:
            args.students = [30, 60]
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
            send_every=args.send_every,
            ceiling=args.ceiling,
            sizes=args.sizes,
            ceiling_duration=args.ceiling_duration,
            round_phases=args.round,
            round_every=tuple(args.round_every),
            results_digits=args.results_digits,
            results_rounds=args.results_rounds,
        )
    )
    print(
        f"server memory: {r['rss_mb_warm']} MB after warm-up, {r['rss_mb_end']} MB at the end with every session "
        f"closed ({r['rss_mb_growth']:+} MB after {r['predictions']} predictions); tracebacks: {r['server_tracebacks']}"
    )
    if "store_rows" in r:
        print(f"the class store: {r['store_rows']} rows, {r['sends_acknowledged']} sends acknowledged")
    if args.json:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
