"""A server killed in the middle of a round keeps every send it acknowledged, none twice.

Students at Streamlit's protocol level (harness/websocket.py: no browser, as benchmarks/class_load.py
does) draw the digits their Draw page asks for and press "Send my N", in a loop, all at once. A send
counts as acknowledged when the page's answer to the press says "Sent as a N". Mid-way the server is
killed with SIGKILL (no clean shutdown); a new server on the same store file must hold every
acknowledged send, and no student's digit twice in a round. Then a second round on the new server,
sends, a second kill, a third server: both rounds' acknowledged sends are still there, and a
student's page asks for the next digit they have not sent.
"""

import asyncio
import os
import re
import signal

import numpy as np
import pytest

from cnn_demo.classroom.wall import ClassStore
from cnn_demo.drawings.drawn import draw_digit
from harness.browser import Server
from harness.canvas import canvas_value
from harness.websocket import Run, Session, json_widget, run_sync, trigger_widget

STUDENTS = 4
KILL_AFTER = 12  # acknowledged sends of the round (of STUDENTS x 10) before the kill
TIMEOUT_S = 60
ASKED = re.compile(r"draw a \*\*(\d)\*\*")  # the round's request: "… Now draw a **7**, then press …"


def start_server(folder, log_name: str) -> Server:
    mp = pytest.MonkeyPatch()
    mp.setenv("CNN_DEMO_CLASS_DB", str(folder / "class.sqlite3"))
    try:
        return Server(folder / "runs", folder / log_name)
    finally:
        mp.undo()


def kill(server: Server) -> None:
    os.killpg(server.proc.pid, signal.SIGKILL)  # the pid we started, and its children
    server.proc.wait()
    server.stop()  # its log closed


def last_canvas(run: Run) -> tuple[str, str]:
    """(fragment id, widget id) of the run's last canvas: after a round's send the page draws a
    fresh one (a new key), after the interrupted fragment run's elements."""
    found = [
        (d.fragment_id, d.new_element.bidi_component.id)
        for d in run.of("delta")
        if d.WhichOneof("type") == "new_element"
        and d.new_element.WhichOneof("type") == "bidi_component"
        and "drawable_canvas" in d.new_element.bidi_component.component_name
    ]
    return found[-1]


def asked_digit(run: Run) -> int | None:
    found = [m for e in run.elements("markdown") if (m := ASKED.search(e.markdown.body))]
    return int(found[-1].group(1)) if found else None


def send_button(run: Run, digit: int):
    found = [e.button for e in run.elements("button") if e.button.label == f"Send my {digit}"]
    return found[-1] if found else None


async def student(url: str, token: str, seed: int, acked: list, until: int | None, errors: list) -> None:
    """Draw and send what the page asks until it asks nothing more, `until` sends are acknowledged
    (all students together), or the server goes away."""
    rng = np.random.default_rng(seed)
    try:
        async with Session(url) as s:
            run = await s.open("draw", query=f"me={token}", timeout=TIMEOUT_S)
            while (digit := asked_digit(run)) is not None and (until is None or len(acked) < until):
                fragment, canvas = last_canvas(run)
                d = draw_digit(digit, rng)
                drawn = await s.rerun_fragment(fragment, [json_widget(canvas, canvas_value(d.strokes, d.brush))])
                button = send_button(drawn, digit)
                if button is None:
                    errors.append(f"{token}: no 'Send my {digit}' after drawing: {drawn.errors()}")
                    return
                run = await s.send(s.rerun_message([trigger_widget(button.id)], fragment), TIMEOUT_S)
                said = [e.alert.body for e in run.elements("alert")]
                if not any(a.startswith(f"Sent as a {digit};") for a in said):
                    errors.append(f"{token}: the send of {digit} not acknowledged: {said or run.errors()}")
                    return
                acked.append((token, digit))
    except Exception as e:  # the server killed under it (ConnectionClosed, a timeout)
        if until is None:  # no kill in this phase: a failure
            errors.append(f"{token}: {e!r}")


def tokens(prefix: str) -> list[str]:
    return [f"{prefix}-student-{i:02d}-kill" for i in range(STUDENTS)]


async def class_sends(url: str, names: list[str], seed: int, until: int | None, on_enough=None):
    """Every student at once; on_enough() is called once `until` sends are acknowledged."""
    acked, errors = [], []
    tasks = [asyncio.create_task(student(url, t, seed + i, acked, until, errors)) for i, t in enumerate(names)]
    if on_enough is not None:
        while len(acked) < until and not all(t.done() for t in tasks):
            await asyncio.sleep(0.05)
        on_enough()
    await asyncio.gather(*tasks)
    return acked, errors


def check_kept(store: ClassStore, round_id: int, acked: list[tuple[str, int]], names: list[str]) -> None:
    for token in names:
        labels = store.sent_in_round(round_id, token)
        assert len(labels) == len(set(labels)), f"{token} has a digit twice in round {round_id}: {labels}"
        mine = [digit for t, digit in acked if t == token]
        assert set(mine) <= set(labels), f"{token}: acknowledged {mine}, kept {labels}"
    sent, _ = store.round_progress(round_id)
    assert sent >= len(acked)


def test_a_server_killed_during_sends_keeps_every_acknowledged_one(tmp_path):
    path = tmp_path / "class.sqlite3"
    store = ClassStore(path)
    first_round = store.start_round("each")
    first_names = tokens("a")

    server = start_server(tmp_path, "first.log")
    try:
        acked, errors = run_sync(class_sends(server.url, first_names, 10, KILL_AFTER, on_enough=lambda: kill(server)))
    finally:
        if server.proc.poll() is None:
            server.stop()
    assert not errors, errors
    assert KILL_AFTER <= len(acked) < STUDENTS * 10, len(acked)  # killed mid-way, after enough
    check_kept(store, first_round.id, acked, first_names)

    # A new server on the same file: the round goes on where it stood; then a second round
    again = start_server(tmp_path, "second.log")
    try:
        more, errors = run_sync(class_sends(again.url, first_names, 20, None))
        assert not errors, errors
        check_kept(store, first_round.id, acked + more, first_names)
        assert store.round_progress(first_round.id) == (STUDENTS * 10, STUDENTS)  # every digit once
        assert "Traceback" not in again.log_text()

        store.end_round()
        second_round = store.start_round("each")
        second_names = first_names[:2] + tokens("b")[:2]  # two who drew before, two new
        second, errors = run_sync(
            class_sends(again.url, second_names, 30, KILL_AFTER // 2, on_enough=lambda: kill(again))
        )
    finally:
        if again.proc.poll() is None:
            again.stop()
    assert not errors, errors
    assert KILL_AFTER // 2 <= len(second) < STUDENTS * 10

    third = start_server(tmp_path, "third.log")
    try:
        check_kept(store, first_round.id, acked + more, first_names)
        assert store.round_progress(first_round.id) == (STUDENTS * 10, STUDENTS)
        check_kept(store, second_round.id, second, second_names)
        # Each student's page on the new server asks for the next digit they have not sent
        for token in second_names:

            async def look(token=token):
                async with Session(third.url) as s:
                    return await s.open("draw", query=f"me={token}", timeout=TIMEOUT_S)

            run = run_sync(look())
            assert not run.errors(), run.errors()
            expected = second_round.next_digit(token, store.sent_in_round(second_round.id, token))
            assert asked_digit(run) == expected
        assert "Traceback" not in third.log_text()
    finally:
        third.stop()
        store.close()
