"""Inspect's "Break it" and "What each channel looks for" tabs in a real browser: two students at
once (one's damage is not the other's), Restore, "which channels matter" and a click on its bar,
the pictures each channel draws; screenshots at laptop, tablet and projector size in both languages.

Screenshots go to $E2E_SHOTS/breakit (default /tmp/shots/breakit).
"""

import re

import pytest

WAIT_MS = 90_000  # a busy 2-core machine: the first accuracy and the pictures take seconds
ACCURACY = "Test accuracy now (2,000 images)"
ANSWER = "Its answer now"


def see(app, text, timeout: float = WAIT_MS) -> None:
    """Wait until `text` is on the page and the script is idle (a rerun can start late)."""
    app.page.get_by_text(text).first.wait_for(timeout=timeout)
    app.wait_idle(timeout)


def shot(app, name: str) -> None:
    app.page.wait_for_timeout(500)  # charts resize to the viewport
    app.screenshot(f"breakit/{name}")


def open_break(app, lang: str = "en") -> None:
    app.goto(f"inspect?lang={lang}")
    app.page.get_by_role("tab", name="Break it" if lang == "en" else "망가뜨려 보기").click()
    see(app, "Nothing is switched off" if lang == "en" else "꺼진 것이 없습니다")


def accuracy(app) -> float:
    return float(app.metric(ACCURACY).rstrip("%"))


def choose(app, label: str, option: str) -> None:
    box = app.page.get_by_role("combobox", name=label, exact=True)
    box.click()
    box.fill(option)  # Streamlit's selectbox filters its options by what is typed
    app.page.get_by_role("option", name=option, exact=True).click()
    app.wait_idle()


def test_one_students_damage_is_not_anothers(new_app):
    alice, bob = new_app(), new_app()
    open_break(alice)
    open_break(bob)
    intact_accuracy, intact_answer = accuracy(alice), alice.metric(ANSWER)
    assert intact_accuracy > 95 and accuracy(bob) == intact_accuracy

    # Alice switches conv1 off altogether: the network answers the same for every image
    choose(alice, "A whole layer off", "conv1")
    alice.page.get_by_text("Nothing is switched off").wait_for(state="detached", timeout=WAIT_MS)
    alice.wait_idle(WAIT_MS)
    assert accuracy(alice) < 30
    shot(alice, "layer_off_1400_en")

    # Bob's page, run again, still has the intact network
    bob.page.get_by_role("tab", name="Feature maps").click()
    bob.wait_idle()
    bob.page.get_by_role("tab", name="Break it").click()
    see(bob, "Nothing is switched off")
    assert accuracy(bob) == intact_accuracy and bob.metric(ANSWER) == intact_answer

    # Restore gives Alice the intact network back
    alice.button("Restore").click()
    see(alice, "Nothing is switched off")
    assert accuracy(alice) == intact_accuracy and alice.metric(ANSWER) == intact_answer

    # Which channels matter for conv3 (64 channels); a click on the tallest bar switches it off
    assert alice.page.get_by_role("combobox", name="Stage", exact=True).input_value() == "conv3"  # the last, by default
    alice.button("Measure every channel of conv3").click()
    see(alice, "The channel of conv3 that matters most alone is")
    summary = alice.page.get_by_text(re.compile("The channel of conv3 that matters most alone is")).inner_text()
    channel = re.search(r"is (\d+)", summary).group(1)
    shot(alice, "matter_1400_en")
    click_first_bar(alice)
    multiselect = alice.page.locator("[data-testid='stMultiSelect']").filter(has_text="conv3: channels off")
    multiselect.get_by_text(channel, exact=True).wait_for(timeout=WAIT_MS)
    alice.wait_idle(WAIT_MS)
    assert accuracy(alice) < intact_accuracy
    # Bob measures nothing again: the result is kept for the model, and his network is intact
    bob.page.get_by_role("tab", name="Feature maps").click()
    bob.wait_idle()
    bob.page.get_by_role("tab", name="Break it").click()
    see(bob, "The channel of conv3 that matters most alone is")
    assert accuracy(bob) == intact_accuracy


def click_first_bar(app) -> None:
    """Click the middle of the first (tallest) bar, as a student does."""
    chart = app.page.locator("[class*='st-key-break_matter_'] .js-plotly-plot")
    chart.wait_for()
    chart.scroll_into_view_if_needed()
    bar = chart.locator(".bars .point path").first
    box = bar.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    app.page.mouse.move(x, y)
    app.page.wait_for_timeout(200)
    app.page.mouse.click(x, y)


def test_the_pictures_are_shown(app):
    app.goto("inspect")
    app.page.get_by_role("tab", name="What each channel looks for").click()
    see(app, "In each strip")  # conv1, the first choice, drawn
    tab = app.page.locator("[data-testid='stTabPanel']:visible")
    assert tab.locator("[data-testid='stImage']").count() == 16
    assert app.page.get_by_text("conv1 channel 15").count() == 1
    app.page.get_by_text("outputs (10)").click()
    see(app, "a perfect 3, as the network sees it")
    assert tab.locator("[data-testid='stImage']").count() == 10
    shot(app, "looks_outputs_1400_en")


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_screenshots(app, lang):
    """Both tabs at 1400 x 1000, 820 x 1180 and on a projector (1920 x 1080, projector mode)."""
    open_break(app, lang)
    app.page.get_by_text("Biases off" if lang == "en" else "편향 끄기", exact=True).click()
    see(app, "망가진 네트워크" if lang == "ko" else "damaged")
    shot(app, f"break_1400_{lang}")
    app.page.set_viewport_size({"width": 820, "height": 1180})
    shot(app, f"break_820_{lang}")
    app.page.set_viewport_size({"width": 1920, "height": 1080})
    sidebar = app.page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text("Projector mode" if lang == "en" else "프로젝터 모드").click()
    app.wait_idle()
    shot(app, f"break_projector_{lang}")
    app.page.get_by_role("tab", name="What each channel looks for" if lang == "en" else "채널이 찾는 것").click()
    see(app, "In each strip" if lang == "en" else "각 줄의 맨 앞은")
    shot(app, f"looks_projector_{lang}")
    app.page.set_viewport_size({"width": 820, "height": 1180})
    shot(app, f"looks_820_{lang}")
    sidebar.get_by_text("Projector mode" if lang == "en" else "프로젝터 모드").click()
    app.page.set_viewport_size({"width": 1400, "height": 1000})
    app.wait_idle()
    shot(app, f"looks_1400_{lang}")
