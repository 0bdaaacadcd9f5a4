"""The classroom CNN app. Start it with:  streamlit run app.py

This file only routes: the pages live in pages/, the engine in cnn_demo/.
"""

import streamlit as st

from pages.common import run_page, sidebar
from pages.i18n import t

# (file, url path, icon); each page's title comes from the [nav] table of the locales.
PAGES = [
    ("home", "", ":material/home:"),
    ("train", "train", ":material/monitoring:"),
    ("draw", "draw", ":material/draw:"),
    ("inspect", "inspect", ":material/search:"),
    ("evaluate", "evaluate", ":material/analytics:"),
    ("models", "models", ":material/folder_open:"),
]


def run() -> None:
    st.set_page_config(page_title="CNN classroom", page_icon=":material/neurology:", layout="wide")
    pages = [
        st.Page(f"pages/{name}.py", title=t(f"nav.{name}"), icon=icon, url_path=path or None, default=not path)
        for name, path, icon in PAGES
    ]
    page = st.navigation(pages)
    sidebar()
    run_page(page)


if __name__ == "__main__":
    run()
