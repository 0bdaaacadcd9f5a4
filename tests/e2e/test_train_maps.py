"""The Train page's map of the hidden layer at each epoch's end, in a real browser: a short run
(and a short race) shows one small still map per finished epoch, with its epoch and accuracy
under it, below the digits' colour legend; screenshots at laptop, tablet, phone and projector
size in English and Korean.

Screenshots go to $E2E_SHOTS/train_maps (default /tmp/shots/train_maps).
"""

import re

from playwright.sync_api import expect

from tests.e2e.test_train import pick_race, set_number

WAIT_MS = 120_000  # a busy 2-core machine: each epoch's end scores 10,000 test images and maps 2,000
EPOCH_CAPTION = re.compile(r"^after epoch (\d+) · [\d.]+%$")  # locales/en.toml, hidden_map.train_epoch
MAPS_TITLE = "How the hidden layer sorts the digits"
EPOCH_MAP_PX = 160  # each map's width on a laptop (app_pages/train.py, EPOCH_MAP_PX; a page script, not imported)


def short_run(app, epochs: int = 2) -> None:
    """The Quick recipe (the page's first) on 2,000 images, `epochs` epochs: seconds a network."""
    app.goto("train")
    set_number(app, "Training images", 2000)
    set_number(app, "Epochs", epochs)
    expect(app.button("Start training")).to_be_enabled(timeout=60_000)  # an earlier test's run has been saved


def start_and_finish(app, finished: str) -> None:
    app.button("Start training").click()
    app.page.get_by_text(re.compile(r"epoch \d+/\d+ · step .* · (starting|running)")).wait_for(timeout=30_000)
    app.page.get_by_text(finished).wait_for(timeout=WAIT_MS)
    app.wait_idle()


def epoch_maps(app, key: str) -> list[tuple[str, dict]]:
    """For each epoch's map of one network (its picture's container key, live_hidden_<lane>_<epoch>):
    its caption and the picture's box on the screen, in epoch order."""
    maps = app.page.locator(f"[class*='st-key-live_hidden_{key}_']")
    found = []
    for i in range(maps.count()):
        one = maps.nth(i)
        image = one.locator("[data-testid='stImage'] img")
        found.append((one.locator("[data-testid='stImageCaption']").inner_text().strip(), image.bounding_box()))
    return found


def maps_section(app) -> str:
    """The text of the maps' part of the page: the innermost block holding their title."""
    return app.page.locator("[data-testid='stVerticalBlock']").filter(has_text=MAPS_TITLE).last.inner_text()


def legend_digits(app) -> list[str]:
    """The digits of the colour legend under the maps' title, in order ("■ 0" ... "■ 9")."""
    return re.findall(r"■ (\d)", maps_section(app))


def check_maps(app, lane: int, epochs: int) -> None:
    maps = epoch_maps(app, str(lane))
    assert len(maps) == epochs, maps  # one picture per finished epoch, no more
    for epoch, (caption, box) in enumerate(maps, start=1):
        match = EPOCH_CAPTION.match(caption)
        assert match and int(match.group(1)) == epoch, caption
        assert box["width"] == EPOCH_MAP_PX, box  # a small multiple at its own pixels, not a page-wide picture
    assert len({box["y"] for _, box in maps}) == 1, maps  # side by side on a laptop's page


def test_a_short_run_maps_the_hidden_layer_after_each_epoch(app):
    short_run(app, epochs=2)
    start_and_finish(app, "Training finished.")
    expect(app.page.get_by_text(MAPS_TITLE, exact=True)).to_be_visible()
    assert legend_digits(app) == [str(d) for d in range(10)]
    check_maps(app, 0, epochs=2)
    assert not app.page.locator("[class*='st-key-live_hidden_1_']").count()  # one network, one row
    screenshots(app)


def test_a_race_maps_each_networks_hidden_layer(app):
    short_run(app, epochs=2)
    pick_race(app)
    start_and_finish(app, "Race finished.")
    section = maps_section(app)
    names = ("The tutorial's CNN", "Fully connected")
    assert all(name in section for name in names) and section.index(names[0]) < section.index(names[1]), section
    for lane in range(2):  # each network's row of maps, under its name
        check_maps(app, lane, epochs=2)
    app.page.wait_for_timeout(500)
    app.screenshot("train_maps/race_1400_en")


def shot(app, name: str, width: int, height: int) -> None:
    app.page.set_viewport_size({"width": width, "height": height})
    app.page.wait_for_timeout(600)  # the columns and pictures resize to the viewport
    app.screenshot(f"train_maps/{name}")


def screenshots(app) -> None:
    """The finished run's maps at laptop, tablet, phone and projector size, English and Korean
    (looked at by hand). A new page load is a new session: the language comes from the URL."""
    for lang, title, projector in (
        ("en", MAPS_TITLE, "Projector mode"),
        ("ko", "은닉층이 숫자를 나누는 모습", "프로젝터 모드"),
    ):
        app.page.set_viewport_size({"width": 1400, "height": 1000})
        app.goto(f"train?lang={lang}")
        expect(app.page.get_by_text(title, exact=True)).to_be_visible()
        shot(app, f"train_maps_1400_{lang}", 1400, 1000)
        shot(app, f"train_maps_820_{lang}", 820, 1180)
        shot(app, f"train_maps_390_{lang}", 390, 844)
        app.page.set_viewport_size({"width": 1920, "height": 1080})
        app.page.locator("[data-testid='stSidebar']").get_by_text(projector).click()
        app.wait_idle()
        shot(app, f"train_maps_projector_{lang}", 1920, 1080)
    app.page.set_viewport_size({"width": 1400, "height": 1000})
