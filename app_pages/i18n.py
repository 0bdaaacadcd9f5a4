"""Every word the app shows, in English and Korean, from one file per language.

    locales/en.toml, locales/ko.toml   tables of strings, e.g. [train] title = "..."
    t("train.title")                   the string in this browser's language
    t("train.finished", accuracy=a, name=n)   with {accuracy} and {name} filled in

The language is chosen, first to last, by `?lang=ko` / `?lang=en` in the URL, the sidebar's
switch, and the browser's own language (its Accept-Language header); English otherwise.
"""

import tomllib
from functools import cache
from pathlib import Path

import streamlit as st

LOCALES = Path(__file__).resolve().parent.parent / "locales"
LANGUAGES = {"en": "English", "ko": "한국어"}
LANG = "lang"  # session_state key and URL query parameter


@cache
def strings(lang: str) -> dict[str, str]:
    """All strings of a language, flattened to dotted keys: {"train.title": "..."}."""
    with open(LOCALES / f"{lang}.toml", "rb") as f:
        table = tomllib.load(f)
    flat: dict[str, str] = {}

    def walk(prefix: str, node: dict) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(f"{prefix}{key}.", value)
            else:
                flat[f"{prefix}{key}"] = value

    walk("", table)
    return flat


def browser_language() -> str:
    accepted = (st.context.headers.get("Accept-Language") or "").lower()
    for part in accepted.split(","):
        code = part.split(";")[0].strip()[:2]
        if code in LANGUAGES:
            return code
    return "en"


def language() -> str:
    """This browser's language: the URL's ?lang=, else its choice so far, else its browser's."""
    asked = st.query_params.get(LANG)
    if asked in LANGUAGES:
        st.session_state[LANG] = asked
    if st.session_state.get(LANG) not in LANGUAGES:
        st.session_state[LANG] = browser_language()
    return st.session_state[LANG]


def t(key: str, **values) -> str:
    """The string `key` in this browser's language, with {placeholders} filled in."""
    text = strings(language()).get(key)
    if text is None:  # a key missing in Korean falls back to English; a test keeps this from happening
        text = strings("en")[key]
    return text.format(**values) if values else text


def _switched() -> None:
    picked = st.session_state.get("lang_switch")
    if picked in LANGUAGES:
        st.session_state[LANG] = picked
        st.query_params[LANG] = picked  # a shared link keeps the language


def language_switch() -> None:
    """The sidebar's language switch."""
    st.session_state["lang_switch"] = language()  # follows ?lang= too
    st.segmented_control(
        "Language · 언어", list(LANGUAGES), format_func=LANGUAGES.get, key="lang_switch", on_change=_switched
    )


def choice(widget, label: str, options, *, key: str, format_func, on_change=None, args=(), **kwargs):
    """A choice widget (st.radio, st.selectbox, st.select_slider) whose options are shown in this
    browser's language; the option picked is kept in st.session_state[key].

    Such a widget sends back its option's label, and Streamlit keeps a keyed widget's id when only
    its labels change: after a language switch the browser would send the old language's label,
    which no option has now, and the choice would be lost (an on_change callback would get the
    label, not an option). So each language draws its own widget, f"{key}.{lang}", which starts
    from the choice so far.
    """
    widget_key = f"{key}.{language()}"
    if key in st.session_state:
        st.session_state[widget_key] = st.session_state[key]

    def changed() -> None:
        st.session_state[key] = st.session_state[widget_key]
        if on_change is not None:
            on_change(*args)

    picked = widget(label, options, key=widget_key, format_func=format_func, on_change=changed, **kwargs)
    st.session_state[key] = picked
    return picked


def kept_tabs(table: str, names: list[str], *, key: str) -> dict:
    """st.tabs labelled by the locales' f"{table}.tab_{name}" strings, each run only while open
    (on_change="rerun"); {name: tab}.

    Streamlit keeps the open tab by its label in st.session_state[key], so after a language
    switch no tab would have it and the first would open: the label kept from the other
    language is changed to the same tab's label in this one.
    """
    labels = [t(f"{table}.tab_{name}") for name in names]
    for name, label in zip(names, labels):
        if st.session_state.get(key) in {strings(lang)[f"{table}.tab_{name}"] for lang in LANGUAGES} - {label}:
            st.session_state[key] = label
    return dict(zip(names, st.tabs(labels, key=key, on_change="rerun")))
