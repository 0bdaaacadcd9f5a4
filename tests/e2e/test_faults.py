"""Faults: the server killed in the middle of a training run (and, when it can be caught, of an
epoch's checkpoint write)."""

import os
import signal
import time

from cnn_demo.storage import checkpoint
from harness.browser import App, Server


def test_server_killed_mid_run_comes_back_with_complete_models_only(browser, tmp_path):
    runs = tmp_path / "runs"
    first = Server(runs, tmp_path / "first.log")
    try:
        app = App(first, browser)
        app.goto("train")
        for label, value in (("Training images", 4000), ("Epochs", 50), ("Batch size", 64)):
            box = app.page.get_by_label(label, exact=True)
            box.fill(str(value))
            box.press("Enter")
            app.wait_idle()
        app.button("Start training").click()
        # Wait until at least one epoch has been measured, i.e. saved.
        app.page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=stMain] [data-testid=stMetricValue]')]"
            ".some(e => /%\\s*$/.test(e.innerText))",
            timeout=180_000,
        )
        # The accuracy is on the page a moment before the epoch's checkpoint is written.
        deadline = time.time() + 60
        while not list(runs.glob("*.safetensors")) and time.time() < deadline:
            time.sleep(0.1)
        app.context.close()
        # Kill the server and its worker as a later epoch's save is being written, if that can
        # be caught (its temp file is there for milliseconds; tests/test_checkpoint.py kills
        # saves mid-write for certain), else mid-run.
        deadline = time.time() + 30
        while not list(runs.glob(".*.tmp")) and time.time() < deadline:
            time.sleep(0.001)
        writing = list(runs.glob(".*.tmp"))
        os.killpg(first.proc.pid, signal.SIGKILL)
        first.proc.wait()
        (saved,) = runs.glob("*.safetensors")
        print(f"killed {'while writing ' + writing[0].name if writing else 'mid-run'}; left: {os.listdir(runs)}")
    finally:
        first.stop()

    model, meta = checkpoint.load(saved)  # whole, and loadable
    assert meta["stopped"] == "interrupted" and meta["epochs_done"] >= 1
    assert len(meta["test_accuracy_per_epoch"]) == meta["epochs_done"]

    second = Server(runs, tmp_path / "second.log")
    try:
        app = App(second, browser)
        app.goto("")
        assert app.metric("Test accuracy") == "99.52%"  # the shipped model is still the active one
        app.page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").click()
        options = app.page.get_by_role("option").all_inner_texts()
        assert any(saved.stem in o for o in options), options
        assert len(options) == 2 and not any(".tmp" in o for o in options), options  # a cut write is never listed
        app.page.keyboard.press("Escape")
        app.check()
        app.close()
    finally:
        second.stop()
