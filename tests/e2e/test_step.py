"""Inspect's "Step through" tab and the "How it works" sandbox in a real browser: a click on a conv
map shows the window, the products and the sum, and the sum is the value clicked (computed here,
independently, with the same model on the same test image); play walks the map; the pooling and
softmax steps show their numbers; the sandbox refuses a stride that does not fit and fills in the
formula; nothing is cut off at 820 and 390 px. For the tutorial's network and two other presets.
Screenshots under $E2E_SHOTS/step (default /tmp/shots/step).
"""

import re

import numpy as np
import pytest
import torch

from cnn_demo.inside.features import feature_maps
from cnn_demo.network.model import PRESETS, build
from cnn_demo.storage import checkpoint
from cnn_demo.storage.data import load_mnist
from harness.browser import ROOT
from tests.e2e.test_any_network import use_for_everyone

WAIT_MS = 60_000
INDEX = 0  # the test image shown


def image_shown() -> np.ndarray:
    images, _ = load_mnist("test")
    return images[INDEX].numpy().astype(np.float32) / 255


def see(app, text, exact: bool = False):
    found = app.page.get_by_text(text, exact=exact).first
    found.wait_for(timeout=WAIT_MS)
    app.wait_idle()
    return found


def shot(app, name: str) -> None:
    app.page.wait_for_timeout(500)  # charts resize to the viewport
    app.screenshot(f"step/{name}")


def open_step(app, lang: str = "en") -> None:
    app.goto(f"inspect?lang={lang}")
    app.type_number("Test image index" if lang == "en" else "테스트 이미지 번호", INDEX)
    app.wait_idle()
    app.page.get_by_role("tab", name="Step through" if lang == "en" else "한 단계씩").click()
    see(app, "Click a value on the map" if lang == "en" else "맵에서 값을 클릭하세요")


def number(app, label: str) -> int:
    return int(app.page.get_by_label(label, exact=True).input_value())


def click_cell(app, row: int, col: int) -> None:
    """Hover over, then click, the map's cell (row, col), found through Plotly's own axes (as
    tests/e2e/test_evaluate.py clicks the confusion matrix)."""
    chart = app.page.locator("[class*='st-key-step_map_'] .js-plotly-plot")  # its key changes after a click
    chart.wait_for()
    chart.scroll_into_view_if_needed()  # a click outside the window lands nowhere
    x, y = chart.evaluate(
        "(g, [r, c]) => { const l = g._fullLayout, b = g.getBoundingClientRect();"
        " return [b.left + l.xaxis._offset + l.xaxis.d2p(c), b.top + l.yaxis._offset + l.yaxis.d2p(r)]; }",
        [row, col],
    )
    app.page.mouse.move(x, y)
    app.page.wait_for_timeout(200)
    app.page.mouse.click(x, y)
    app.page.wait_for_function(
        "([r, c]) => [...document.querySelectorAll('input')].some(i => i.getAttribute('aria-label') === 'row'"
        " && +i.value === r)",
        arg=[row, col],
        timeout=WAIT_MS,
    )
    app.wait_idle()


def sum_line(app) -> tuple[float, float]:
    """The page's "... = result, the value of convN on the map: shown" as two numbers."""
    text = see(app, re.compile(r"Sum of all products")).locator("xpath=ancestor-or-self::p[1]").inner_text()
    result, shown = re.search(r"= (-?\d+\.\d{3}), the value of conv\d on the map: (-?\d+\.\d{3})", text).groups()
    return float(result), float(shown)


def pick_layer(app, name: str) -> None:
    app.page.locator("[role='tabpanel'] [data-testid='stRadio']").first.get_by_text(name, exact=True).click()
    app.wait_idle()


def conv_click_checks(app, model, name: str) -> None:
    """Click two values of conv1 and of the last conv: each sum equals the map's value here."""
    maps = feature_maps(model, image_shown())
    convs = [n for n in maps if n.startswith("conv")]
    for layer in (convs[0], convs[-1]):
        pick_layer(app, layer)
        c, h, w = maps[layer].shape
        assert h == w
        for row, col in ((h // 3, w // 2), (h - 1, 0)):
            click_cell(app, row, col)
            assert (number(app, "row"), number(app, "column")) == (row, col), f"{name} {layer}: the click missed"
            channel = number(app, f"output channel (0–{c - 1})")
            result, shown = sum_line(app)
            truth = float(maps[layer][channel, row, col])
            assert f"{result:.3f}" == f"{shown:.3f}" == f"{truth:.3f}", (name, layer, row, col, result, truth)
            see(app, "window × weights")
    assert app.page.get_by_text("starting at row", exact=False).count() >= 1


def play_check(app) -> None:
    """Play walks the map: the title's step number goes up, and the map is filled in as it goes."""
    app.page.get_by_text("Play: the window walks the input").click()
    app.wait_idle()
    walk = app.page.locator("[role='tabpanel'] .js-plotly-plot").last
    title = lambda: walk.locator(".gtitle").text_content()
    walk.locator(".gtitle").wait_for(timeout=WAIT_MS)
    assert title().startswith("step 1 of")
    walk.locator(".updatemenu-button", has_text="faster").click()
    app.page.wait_for_function(
        """() => { const t = [...document.querySelectorAll("[role='tabpanel'] .gtitle")].pop();
                   const m = t && t.textContent.match(/^step (\\d+) of/); return m && +m[1] > 5; }""",
        timeout=WAIT_MS,
    )
    walk.locator(".updatemenu-button", has_text="pause").click()
    step = int(re.match(r"step (\d+)", title()).group(1))
    app.page.wait_for_timeout(800)
    assert int(re.match(r"step (\d+)", title()).group(1)) == step, "pause did not stop the walk"


def pool_and_end_checks(app, model, pooled: bool) -> None:
    maps = feature_maps(model, image_shown())
    if pooled:
        pick_layer(app, "pool1")
        kind = "largest" if "max" in type(model.layer[model.stages["pool1"][1]]).__name__.lower() else "mean"
        see(app, f"keeps the {kind} of each")
        text = see(app, re.compile(r"On the map: ")).locator("xpath=ancestor-or-self::p[1]").inner_text()
        value, shown = re.search(r"\*?\*?(-?\d+\.\d{3})\*?\*?[ (.].*On the map: (-?\d+\.\d{3})", text).groups()
        assert value == shown
    pick_layer(app, "end: logits and softmax")
    text = see(app, re.compile(r"the ten exps add up to")).locator("xpath=ancestor-or-self::p[1]").inner_text()
    digit, prob = re.search(r"For (\d): .* = (\d\.\d{4})", text).groups()
    logits = torch.as_tensor(maps["logits"], dtype=torch.float64)
    assert f"{torch.softmax(logits, 0)[int(digit)]:.4f}" == prob
    assert app.page.locator("[data-testid='stDataFrame']").count() >= 1


def nothing_cut_off(app, width: int) -> None:
    """At this width the page scrolls only up and down, and every chart is inside the window."""
    app.page.set_viewport_size({"width": width, "height": 1000})
    app.page.wait_for_timeout(800)
    wide = app.page.evaluate(
        """() => { const m = document.querySelector('[data-testid=stMain]');
                   return [m.scrollWidth, m.clientWidth]; }"""
    )
    assert wide[0] <= wide[1] + 1, f"{width} px: the page scrolls sideways {wide}"
    for chart in app.page.locator("[role='tabpanel'] .js-plotly-plot").all():
        box = chart.bounding_box()
        assert box["x"] >= -1 and box["x"] + box["width"] <= width + 1, f"{width} px: a chart is cut off {box}"


def test_step_through_the_tutorials_network(app):
    model, _ = checkpoint.load(ROOT / "checkpoints" / "default.safetensors")
    open_step(app)
    conv_click_checks(app, model, "seed")
    shot(app, "conv_1400_en")
    play_check(app)
    shot(app, "play_1400_en")
    pool_and_end_checks(app, model, pooled=True)
    shot(app, "end_1400_en")
    pick_layer(app, "conv2")
    for width in (820, 390):
        nothing_cut_off(app, width)
        app.page.set_viewport_size({"width": width, "height": 1180 if width == 820 else 844})
        shot(app, f"conv_{width}_en")


def test_sandbox_refuses_what_does_not_fit(app):
    app.goto("inspect?lang=en")
    app.page.get_by_role("tab", name="How it works").click()
    see(app, "The five numbers, played with")
    see(app, "(28 − 5 + 2·0) / 1 + 1 = 24")
    stride = app.page.get_by_role("slider", name="stride S")
    stride.focus()
    stride.press("ArrowRight")  # 2: (28 − 5) / 2 is not whole
    see(app, "Does not fit: (W − K + 2P) / S = (28 − 5 + 2·0) / 2 = 23 / 2 is not a whole number")
    app.page.get_by_text("a classic one").click()  # the model's own kernel has its own size: K is fixed
    app.wait_idle()
    kernel = app.page.get_by_role("slider", name="kernel size K")
    kernel.focus()
    kernel.press("ArrowLeft")  # 4: (28 − 4) / 2 + 1 = 13
    see(app, re.compile(r"\(28 − 4 \+ 2·0\) / 2 \+ 1 = 13"))
    see(app, "the output, 13 × 13")
    shot(app, "sandbox_1400_en")
    for width in (820, 390):
        nothing_cut_off(app, width)


@pytest.mark.parametrize("preset", ["stride2", "padding"])
def test_step_through_other_presets(app, server, preset):
    torch.manual_seed(0)
    model = build(PRESETS[preset].spec).eval()
    name = f"step_{preset}"
    checkpoint.save(model, server.runs_dir / f"{name}.safetensors", {"recipe": "test"})
    try:
        use_for_everyone(app, name)
        open_step(app)
        conv_click_checks(app, model, preset)
        pool_and_end_checks(app, model, pooled=PRESETS[preset].spec.convs[-1].pool is not None)
        pick_layer(app, "conv2")
        shot(app, f"{preset}_1400_en")
    finally:
        use_for_everyone(app, "default")


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_screenshots(app, lang):
    """The tab at 1400 x 1000, 820 x 1180 and on a projector (1920 x 1080, projector mode)."""
    open_step(app, lang)
    pick_layer(app, "conv2")
    shot(app, f"conv2_1400_{lang}")
    app.page.set_viewport_size({"width": 820, "height": 1180})
    shot(app, f"conv2_820_{lang}")
    app.page.set_viewport_size({"width": 1920, "height": 1080})
    sidebar = app.page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text("Projector mode" if lang == "en" else "프로젝터 모드").click()
    app.wait_idle()
    shot(app, f"conv2_projector_{lang}")
    app.page.get_by_role("tab", name="How it works" if lang == "en" else "작동 원리").click()
    see(app, "The five numbers, played with" if lang == "en" else "다섯 숫자를 직접 바꿔 보기")
    shot(app, f"sandbox_projector_{lang}")
