"""The Experiments page in a real browser: kept results (made here, on synthetic digits) show at
once, with the plain and shuffled digit, the shift chart and the presets table, in English and
Korean; a damaged result file is a clear message; "Run again" recomputes one in the background
while the page stays usable.

The server's results folder is beside its runs folder (cnn_demo.experiments.claims.RESULTS_DIR follows
CNN_DEMO_RUNS_DIR), so the shipped results in checkpoints/experiments/ are never touched.
Screenshots go to $E2E_SHOTS (default /tmp/shots).
"""

import json
import re

import pytest

from app_pages.i18n import strings
from cnn_demo.experiments import claims as experiments
from cnn_demo.network.model import PRESETS
from cnn_demo.training.calibrate import Settings
from tests.conftest import synthetic_digits

WAIT_MS = 60_000


@pytest.fixture(scope="module")
def records():
    sets = synthetic_digits(1024, seed=0), synthetic_digits(256, seed=1)
    return {
        n: experiments.run(n, experiments.Options(train_images=1024), sets=sets, tuned=Settings())
        for n in experiments.NAMES
    }


@pytest.fixture
def results_dir(server, records):
    """The server's results folder, holding the records made here (and nothing else)."""
    folder = server.runs_dir.parent / "experiments"
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.glob("*.json"):
        path.unlink()
    for record in records.values():
        experiments.keep(record, folder)
    return folder


def percent(fraction: float) -> str:
    return f"{100 * fraction:.2f}%"


def section(app, name: str):
    return app.page.locator(f".st-key-experiment_{name}")


def picture_loaded(app, key: str) -> bool:
    return app.page.evaluate(
        "k => { const i = document.querySelector(`.st-key-${k} img`); return !!i && i.complete && i.naturalWidth > 0; }",
        key,
    )


def test_kept_results_show_at_once_in_both_languages(app, results_dir, records):
    app.goto("experiments")
    assert app.page.get_by_role("heading", name="Experiments: the tutorial's claims, measured").is_visible()

    shuffled = section(app, "shuffled")
    r = records["shuffled"]["result"]
    for network in ("cnn", "fully_connected"):
        for condition in ("plain", "shuffled"):
            assert shuffled.get_by_text(percent(r[network][condition]), exact=True).count() >= 1
    assert picture_loaded(app, "shuffled_pair")
    width = app.page.evaluate("() => document.querySelector('.st-key-shuffled_pair img').naturalWidth")
    assert width == 2 * 28 * 7 + 14  # the plain digit and the shuffled one, side by side
    meaning = shuffled.locator("[data-testid='stAlertContentInfo']").inner_text()
    assert percent(r["cnn"]["shuffled"]) in meaning and percent(r["fully_connected"]["shuffled"]) in meaning
    assert shuffled.get_by_text("python -m cnn_demo experiments shuffled --train-images 1024").is_visible()
    assert "1,024 training images" in shuffled.inner_text()

    shift = section(app, "shift")
    legend = shift.locator(".legendtext").all_text_contents()
    assert legend == ["The tutorial's CNN", "Fully connected"]
    assert picture_loaded(app, "shift_strip")

    table = section(app, "presets").locator("[data-testid='stTable']").inner_text()
    for name in PRESETS:
        accuracy = percent(records["presets"]["result"][name]["test_accuracy"])
        assert strings("en")[f"presets.{name}.title"] in table and accuracy in table
    assert f"{PRESETS['no_pooling'].spec.params():,}" in table
    assert app.button("Run again").count() == 3 and all(b.is_enabled() for b in app.button("Run again").all())
    app.page.set_viewport_size({"width": 1280, "height": 800})
    app.screenshot("experiments_en_laptop")

    app.goto("experiments?lang=ko")
    assert re.search(r"[\uac00-\ud7a3]", app.page.locator("[data-testid='stMain'] h1").inner_text())
    table = section(app, "presets").locator("[data-testid='stTable']").inner_text()
    assert all(strings("ko")[f"presets.{name}.title"] in table for name in PRESETS)
    assert section(app, "shuffled").get_by_text("섞은 픽셀").count() >= 2
    assert picture_loaded(app, "shuffled_pair")
    app.page.set_viewport_size({"width": 820, "height": 1180})
    app.screenshot("experiments_ko_tablet")


def test_missing_and_damaged_results_are_said_plainly(app, results_dir):
    (results_dir / "presets.json").write_text("{half a file")
    (results_dir / "shift.json").unlink()
    app.goto("experiments")
    presets = section(app, "presets")
    assert "The kept result could not be read: presets.json: not valid JSON" in presets.inner_text()
    shift = section(app, "shift")
    assert "Not computed on this computer yet" in shift.inner_text()
    assert shift.get_by_text("python -m cnn_demo experiments shift", exact=True).is_visible()
    assert app.button("Run it now").count() == 2  # the damaged one and the missing one
    assert picture_loaded(app, "shuffled_pair")  # the kept one is shown as ever


def test_run_again_recomputes_in_the_background(app, new_app, results_dir):
    """The shift experiment on the full MNIST (two networks, the Quick recipe: ~30 s here)."""
    before = json.loads((results_dir / "shift.json").read_text())
    app.goto("experiments")
    student = new_app()
    student.goto("experiments")
    section(app, "shift").get_by_role("button", name="Run again").click()
    progress = section(app, "shift").locator("[data-testid='stProgress']")
    progress.wait_for(timeout=WAIT_MS)
    # every button waits while it runs, in this browser and in another one
    assert all(not b.is_enabled() for b in app.button("Run again").all())
    section(student, "shift").locator("[data-testid='stProgress']").wait_for(timeout=WAIT_MS)
    student.goto("draw")  # the rest of the app answers meanwhile
    assert student.page.get_by_role("heading").first.is_visible()

    section(app, "shift").get_by_text(re.compile(r"^Done in \d+ s")).wait_for(timeout=240_000)
    app.wait_idle()
    after = json.loads((results_dir / "shift.json").read_text())
    assert after["date"] > before["date"] and after["options"]["train_images"] == 30_000
    assert after["options"]["test_images"] == 10_000  # the full MNIST this time
    legend = section(app, "shift").locator(".legendtext").all_text_contents()
    assert legend == ["The tutorial's CNN", "Fully connected"]
    assert percent(after["result"]["cnn"]["2"]) in section(app, "shift").inner_text()
    assert all(b.is_enabled() for b in app.button("Run again").all())
