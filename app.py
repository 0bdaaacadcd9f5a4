"""The classroom CNN app. Start it with:  streamlit run app.py

This file only routes: the pages live in app_pages/ (the folder Streamlit's docs name for apps
that use st.navigation; a pages/ folder would turn on its older multipage mode), the engine in
cnn_demo/.
"""

import streamlit as st

from app_pages.common import sidebar
from app_pages.i18n import t

# (file, url path, icon); each page's title comes from the [nav] table of the locales.
PAGES = [
    ("home", "", ":material/home:"),
    ("train", "train", ":material/monitoring:"),
    ("draw", "draw", ":material/draw:"),
    ("inspect", "inspect", ":material/search:"),
    ("evaluate", "evaluate", ":material/analytics:"),
    ("models", "models", ":material/folder_open:"),
    ("experiments", "experiments", ":material/science:"),
]


def run() -> None:
    st.set_page_config(page_title="CNN classroom", page_icon=":material/neurology:", layout="wide")
    pages = [
        st.Page(f"app_pages/{name}.py", title=t(f"nav.{name}"), icon=icon, url_path=path or None, default=not path)
        for name, path, icon in PAGES
    ]
    page = st.navigation(pages)
    sidebar()
    page.run()


if __name__ == "__main__":
    run()
