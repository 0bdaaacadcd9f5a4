"""Every page in Korean and in English, in a real browser: it loads clean, shows no locale key
where a string should be, and the sidebar's switch changes its language.

A key shown as it is (say `inspect.title`) would mean a string missing from the locales, or
a t(...) call that was never made; the unit tests in tests/test_i18n.py check the files
themselves. The Korean pages' titles must be Korean, not the English fallback.
"""

import re

import pytest

from app_pages.i18n import strings

PAGES = ["", "train", "draw", "inspect", "evaluate", "models", "experiments"]
WAIT_MS = 60_000
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# A dotted locale key: one of the locale files' tables, a dot, a key ("inspect.title"); not a file name.
TABLES = "|".join(sorted({k.split(".")[0] for k in strings("en")}))
KEY = re.compile(rf"\b(?:{TABLES})\.(?!(?:py|pt|pth|npz|toml|json|png|safetensors)\b)[a-z_][a-z0-9_]*\b")
H1 = "[data-testid='stMain'] h1"
# The page's visible text: the HTML's, and the SVG text of the charts (titles, axes, legends).
VISIBLE_TEXT = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    const svg = [...document.querySelectorAll("svg text")].map(e => e.textContent);
    return [app ? app.innerText : "", ...svg].join("\\n");
}"""


def title(app) -> str:
    return app.page.locator(H1).first.inner_text().strip()


def check_page(app, lang: str) -> str:
    """The page as it stands: clean, no key shown, its title in `lang`. Returns the title."""
    app.check()
    keys = sorted(set(KEY.findall(app.page.evaluate(VISIBLE_TEXT))))
    assert not keys, f"locale keys shown instead of text: {keys}"
    h1 = title(app)
    if lang == "ko":
        assert HANGUL.search(h1), f"the Korean page's title is not Korean: {h1!r}"
    else:
        assert not HANGUL.search(h1), f"the English page's title is Korean: {h1!r}"
    return h1


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p or "home")
def test_page_in_both_languages_and_the_switch(app, path):
    app.goto(f"{path}?lang=ko")
    korean = check_page(app, "ko")

    app.goto(f"{path}?lang=en")
    english = check_page(app, "en")
    assert english != korean

    # The sidebar's switch: the same page, now in Korean, and the URL says so for a shared link.
    app.page.locator("[data-testid='stSidebar']").get_by_text("한국어", exact=True).click()
    app.page.wait_for_function(
        "([sel, old]) => { const h = document.querySelector(sel); return h && h.innerText.trim() !== old; }",
        arg=[H1, english],
        timeout=WAIT_MS,
    )
    app.wait_idle()
    app.page.wait_for_url(re.compile(r"[?&]lang=ko\b"), timeout=WAIT_MS)
    assert check_page(app, "ko") == korean


def test_choices_survive_the_language_switch(app):
    """A radio or selectbox sends back its option's label, which a language switch changes: the
    recipe and the network picked in English are still picked in Korean, and can be changed there."""
    from playwright.sync_api import expect

    from app_pages.i18n import strings
    from cnn_demo.training.train import RECIPES

    preset_title = lambda name, lang: strings(lang)[f"presets.{name}.title"]
    preset_line = lambda name, lang: strings(lang)[f"presets.{name}.shows"]

    main = app.page.locator("[data-testid='stMain']")
    recipes = main.get_by_role("radiogroup").first
    preset = main.locator("[data-testid='stSelectbox']").first
    shown = preset.get_by_role("combobox")  # its value is the option shown

    def checked() -> list[bool]:
        return recipes.evaluate("g => [...g.querySelectorAll('input')].map(i => i.checked)")

    def pick(name: str, lang: str) -> None:
        preset.click()
        app.page.get_by_role("option", name=preset_title(name, lang), exact=True).click()
        app.wait_idle()

    def switch(to: str) -> None:
        app.page.locator("[data-testid='stSidebar']").get_by_text(to, exact=True).click()
        app.page.wait_for_url(re.compile(rf"[?&]lang={'ko' if to == '한국어' else 'en'}\b"), timeout=WAIT_MS)
        app.wait_idle()

    third = [i == 2 for i in range(len(RECIPES))]  # the third recipe picked, and no other
    app.goto("train?lang=en")
    recipes.locator("label").nth(2).click()
    app.wait_idle()
    pick("kernel3", "en")
    switch("한국어")
    app.check()
    assert checked() == third
    expect(shown).to_have_value(preset_title("kernel3", "ko"))
    assert main.get_by_text(preset_line("kernel3", "ko")).first.is_visible()

    pick("fully_connected", "ko")  # a choice made in Korean, after the switch
    app.check()
    assert main.get_by_text(preset_line("fully_connected", "ko")).first.is_visible()
    switch("English")
    app.check()
    expect(shown).to_have_value(preset_title("fully_connected", "en"))
    assert checked() == third
