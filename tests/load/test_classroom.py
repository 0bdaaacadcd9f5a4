"""The classroom load test: 30 browsers drawing while a run trains. Not in the fast suite:

    python -m pytest -m load -s

It takes several minutes on a 2-core machine; the figures go into the README.
"""

import asyncio
from pathlib import Path

import pytest

from benchmarks.classroom_load import run
from harness.browser import CHROMIUM

pytestmark = pytest.mark.load


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")
def test_thirty_students_draw_while_a_run_trains():
    r = asyncio.run(run(sessions=30, digits=7, visits=10, pause_s=2.0))
    print(r)
    assert r["page_errors"] == [] and r["server_tracebacks"] == 0
    assert r["strokes_quiet"] > 0 and r["strokes_training"] > 0  # every stroke got its answer (else a timeout)
    assert r["predictions"] >= 1000
    assert r["training_ms_p95"] <= 1000, r
    assert r["train_speed_kept"] >= 0.5, r
    assert r["rss_mb_growth"] < 50, r
