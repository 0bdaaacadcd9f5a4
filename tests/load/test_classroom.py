"""The classroom load test: a class drawing at the protocol level while a run trains. Not in
the quick suite, nor in `python -m pytest`:

    python -m pytest -m load -s

One run of benchmarks.class_load (about 8 minutes on a 2-core machine): one real Chromium
student alone, then 30 and 60 simulated students at 0.5 strokes per second each, 90 s each,
with a training run started on /train, one Chromium student drawing among them; then every
session closed. Its figures go into docs/performance.md (the latest into the README); the tests
check them against issue 13's targets.
"""

import pytest

from benchmarks.class_load import measure
from harness.websocket import run_sync

pytestmark = pytest.mark.load


@pytest.fixture(scope="module")
def figures() -> dict:
    r = run_sync(measure([30, 60], rate=0.5, duration=90, training="on", browsers=1, solo=12))
    print(r)
    return r


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


def test_memory_after_the_class_has_gone(figures):
    assert figures["predictions"] >= 2000, figures["predictions"]
    assert figures["rss_mb_growth"] < 50, figures
    assert figures["server_tracebacks"] == 0


def test_a_single_real_browser_student(figures):
    solo = figures["solo"]
    assert solo["digits"] == 12 and solo["right"] == 12 and not solo["errors"], solo
    assert solo["ms_p50"] <= 400, solo  # mouse-up to the new answer on the page
