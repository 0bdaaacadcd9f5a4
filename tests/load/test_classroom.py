"""The classroom load test: a class drawing at the protocol level while a run trains, and sending
its digits to the class's wall while the teacher's Class page shows it. Not in the quick suite,
nor in `python -m pytest`:

    python -m pytest -m load -s

Two runs of benchmarks.class_load (about 15 minutes on a 2-core machine). The first: one real
Chromium student alone, then 30 and 60 simulated students at 0.5 strokes per second each, 90 s
each, with a training run started on /train, one Chromium student drawing among them, every
simulated student sending a digit to the wall every 30 s and the teacher's /class open; then
every session closed. The second: the largest class the server holds (30, 60, 120, ... until
stroke to answer p95 passes 1 s) with a run training and the wall on. Their figures go into
docs/performance.md (the latest into the README); the tests check them against the targets of
issues 13 and 20.
"""

import pytest

from benchmarks.class_load import measure
from harness.websocket import run_sync

pytestmark = pytest.mark.load


@pytest.fixture(scope="module")
def figures() -> dict:
    r = run_sync(measure([30, 60], rate=0.5, duration=90, training="on", browsers=1, solo=12, send_every=30))
    print(r)
    return r


@pytest.fixture(scope="module")
def ceiling() -> dict:
    r = run_sync(measure([], rate=0.5, browsers=0, send_every=30, ceiling=True, ceiling_duration=45, memory_wait_s=0))
    print(r)
    return r["ceiling"]


def phase(figures: dict, students: int) -> dict:
    return next(p for p in figures["phases"] if p["students"] == students and p["training"])


def test_thirty_students_while_a_run_trains(figures):
    p = phase(figures, 30)
    assert p["strokes_answered"] > 0 and p["timeouts"] == 0, p
    assert p["errors"] == 0 and p["wrong"] == 0, p
    assert p["ms_p95"] <= 500, p
    assert p["train_speed_kept"] >= 0.5, p


def test_sixty_students_while_a_run_trains(figures):
    p = phase(figures, 60)
    assert p["timeouts"] == 0 and p["errors"] == 0 and p["wrong"] == 0, p
    assert p["ms_p95"] <= 1000, p
    assert p["train_speed_kept"] >= 0.5, p


def test_sixty_students_sends_on_the_teachers_wall(figures):
    """Issue 20: every student sends every 30 s; each send is on the teacher's wall within 2 s
    (p95), none is lost on the way nor missing from the class store, and each tile bears its
    student's name."""
    p = phase(figures, 60)
    assert p["sends_acknowledged"] >= 60, p  # each student sent at least once in 90 s
    assert p["send_errors"] == 0 and p["teacher_errors"] == 0, p
    assert p["sends_lost"] == 0 and p["sends_on_wall"] == p["sends_acknowledged"], p
    assert p["store_rows"] == p["sends_acknowledged"], p
    assert p["names_wrong"] == 0 and p["renamed"] == 60, p
    assert p["wall_ms_p95"] <= 2000, p


def test_every_send_is_in_the_class_store(figures):
    assert figures["store_rows"] == figures["sends_acknowledged"] > 0, figures


def test_memory_after_the_class_has_gone(figures):
    assert figures["predictions"] >= 2000, figures["predictions"]
    assert figures["rss_mb_growth"] < 50, figures
    assert figures["server_tracebacks"] == 0


def test_a_single_real_browser_student(figures):
    solo = figures["solo"]
    assert solo["digits"] == 12 and solo["right"] == 12 and not solo["errors"], solo
    assert solo["ms_p50"] <= 400, solo  # mouse-up to the new answer on the page


def test_the_wall_does_not_lower_the_class_one_server_holds(ceiling):
    """Issue 20: with the wall on and a run training, stroke to answer p95 stays within 1 s for a
    class of at least 60 (the issue's probe without a wall: 60 held, 120 did not)."""
    assert ceiling["students"] >= 60, ceiling
