"""Every page with each preset's network in use, in a real browser.

For each preset, an untrained network of that spec is saved in the server's runs folder and
made the one in use as a teacher does it, on the Models page ("Use for everyone"); then every
page opens without an exception (the `app` fixture also fails the test on any traceback in the
server's log). Draw answers a stroke; Inspect shows one section per conv stage, or for a fully
connected net why it has none; Home's table has a row per stage. The shipped default is put
back in use at the end, so the tests after these see the server as it was.
Screenshots go to $E2E_SHOTS (default /tmp/shots).
"""

import re

import numpy as np
import pytest
import torch

from app_pages.i18n import strings
from cnn_demo.drawings.drawn import draw_digit
from cnn_demo.network.model import PRESETS, build
from cnn_demo.storage import checkpoint
from harness.canvas import draw_strokes, prediction

WAIT_MS = 60_000


def use_for_everyone(app, name: str) -> None:
    """The Models page's picker and its "Use for everyone" button."""
    app.goto("models")
    app.page.get_by_label("Model", exact=True).click()
    app.page.keyboard.type(name)  # filters the list: a long one shows only some of its options
    app.page.get_by_role("option", name=name, exact=True).click()
    app.wait_idle()
    button = app.button("Use for everyone")
    if button.is_enabled():  # disabled when it is in use already
        button.click()
        app.page.get_by_text(f"{name} is now in use").wait_for(timeout=WAIT_MS)
        app.wait_idle()


def no_exception(app, page: str) -> None:
    assert not app.exceptions(), f"{page}: {app.exceptions()}"


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_page_with_the_network_in_use(app, server, preset):
    spec = PRESETS[preset].spec
    name = f"net-{preset}"
    torch.manual_seed(0)
    checkpoint.save(build(spec).eval(), server.runs_dir / f"{name}.safetensors", {"recipe": "test"})
    try:
        use_for_everyone(app, name)
        sidebar = app.page.locator("[data-testid='stSidebar']")
        assert f"network: {strings('en')[f'presets.{preset}.title']}" in sidebar.inner_text()
        row = app.page.locator("[data-testid='stTable'] tbody tr", has_text=name)
        assert spec.describe() in row.inner_text() and "✓" in row.inner_text()
        no_exception(app, "models")

        app.goto("")
        table = app.page.locator("[data-testid='stTable'] tbody tr")
        pools = sum(c.pool is not None for c in spec.convs)
        assert table.count() == 4 + len(spec.convs) + pools  # input, convs, pools, flatten, hidden, logits
        assert table.nth(table.count() - 3).inner_text().split()[-1] == str(spec.flat_features())
        assert table.nth(table.count() - 2).inner_text().split()[-1] == str(spec.hidden)
        no_exception(app, "home")

        app.goto("train")
        no_exception(app, "train")

        app.goto("draw")
        draw_strokes(app.page, draw_digit(3, np.random.default_rng(1)).strokes)
        app.wait_idle()
        digit, confidence, _ = prediction(app)  # an untrained network's answer: any digit
        assert 0 <= digit <= 9 and 0 < confidence <= 1
        no_exception(app, "draw")

        app.goto("inspect")
        app.page.get_by_text("input · 1 × 28 × 28").wait_for(timeout=WAIT_MS)
        sections = app.page.locator("[class*='st-key-inspect_stage_']")
        assert sections.count() == len(spec.convs)
        if spec.convs:
            for i, plan in enumerate(spec.plan(), 1):
                assert app.page.get_by_text(f"Conv stage {i}").count() == 1
                assert app.page.get_by_text(plan.conv_formula).count() >= 1
        else:
            app.page.get_by_text("This network has no feature maps").wait_for()
        for tab in ("One channel", "Learned filters", "End of the network", "Where it looks", "How it works"):
            app.page.get_by_role("tab", name=tab).click()
            app.wait_idle()
            no_exception(app, f"inspect: {tab}")
            if tab == "Where it looks":
                shown = "Grad-CAM on" if spec.convs else "There is no Grad-CAM here"
                app.page.get_by_text(re.compile(shown)).first.wait_for(timeout=WAIT_MS)

        app.goto("evaluate")
        app.page.get_by_text("Measured accuracy").wait_for(timeout=WAIT_MS)
        no_exception(app, "evaluate")
    finally:
        use_for_everyone(app, "default")
