"""Both languages have every string, with the same placeholders, and the code asks only for keys that exist."""

import re
import string
from pathlib import Path

import pytest

from app_pages.i18n import LANGUAGES, strings
from cnn_demo.training.live import REASONS

ROOT = Path(__file__).resolve().parents[1]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_languages_have_the_same_keys():
    en, ko = strings("en"), strings("ko")
    assert sorted(set(en) - set(ko)) == [], "missing in ko.toml"
    assert sorted(set(ko) - set(en)) == [], "missing in en.toml"


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_same_placeholders_and_nothing_empty(lang):
    en, other = strings("en"), strings(lang)
    for key, text in other.items():
        assert text.strip(), f"{lang}:{key} is empty"
        assert placeholders(text) == placeholders(en[key]), f"{lang}:{key} has other placeholders than English"


def test_korean_is_korean():
    """A Korean string that is the English one copied over would be an untranslated string."""
    en, ko = strings("en"), strings("ko")
    same = [k for k in en if en[k] == ko[k] and re.search(r"[A-Za-z]{4,}", re.sub(r"\{\w+\}", "", en[k]))]
    allowed = {k for k in same if re.fullmatch(r"[\w\s.·:/×()%+-]*", en[k]) and len(en[k]) < 12}  # "conv1", "ReLU"...
    assert sorted(set(same) - allowed) == []


def test_every_key_the_code_asks_for_exists():
    en = strings("en")
    used = set()
    for path in [ROOT / "app.py", *sorted((ROOT / "app_pages").rglob("*.py"))]:
        used |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", path.read_text()))
    assert used, "no t(...) calls found"
    assert sorted(used - set(en)) == []


def test_run_messages_are_translated():
    # every way a run can end (cnn_demo/training/live.py's reason codes) has its message, in both languages
    assert {"finished", "stopped", "diverged_nan", "diverged", "device_failed", "error"} <= set(REASONS)
    for lang in LANGUAGES:
        assert {f"run.{code}" for code in REASONS} <= set(strings(lang)), lang


def test_every_preset_has_a_title_and_a_line_in_each_language():
    """The engine keeps a preset's spec and its name; the words for it are the locales'."""
    from cnn_demo.network.model import PRESETS

    for lang in LANGUAGES:
        table = {key: text for key, text in strings(lang).items() if key.startswith("presets.")}
        assert set(table) == {f"presets.{name}.{part}" for name in PRESETS for part in ("title", "shows")}, lang
    titles = [strings("en")[f"presets.{name}.title"] for name in PRESETS]
    assert len(set(titles)) == len(titles)  # a picker tells them apart
