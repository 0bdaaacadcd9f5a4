"""The classroom CNN app. Start it with:  streamlit run app.py

This file only routes: the pages live in app_pages/ (the folder Streamlit's docs name for apps
that use st.navigation; a pages/ folder would turn on its older multipage mode), the engine in
cnn_demo/.
"""

import os

import streamlit as st

from cnn_demo.training import jobs

# The server's training worker, started at its first page before the pages import torch (the
# worker imports it meanwhile), so that it is ready when a teacher presses Start on that page:
# started after, a fresh server's first run waited seconds for it. RunManager takes it over.
# Not in a spawned child that runs this script again (a page's run can put it back as __main__
# while a process starts): it would start a worker of its own.
if __name__ == "__main__" and os.environ.get("CNN_DEMO_TRAINING", "process") != "thread":  # page tests: a thread
    jobs.start_early(jobs.TRAINING_WORKER, (True,))  # (own_data): it reads MNIST itself

from app_pages.common import sidebar  # noqa: E402 -- imports torch: after the worker's start
from app_pages.i18n import t  # noqa: E402

# (name, entry script, url path, icon); each page's title comes from the [nav] table of the locales
# under its name. A page of several parts is a folder, run from its page.py.
PAGES = [
    ("home", "app_pages/home.py", "", ":material/home:"),
    ("train", "app_pages/train.py", "train", ":material/monitoring:"),
    ("draw", "app_pages/draw.py", "draw", ":material/draw:"),
    ("inspect", "app_pages/inspect/page.py", "inspect", ":material/search:"),
    ("evaluate", "app_pages/evaluate/page.py", "evaluate", ":material/analytics:"),
    ("models", "app_pages/models.py", "models", ":material/folder_open:"),
    ("experiments", "app_pages/experiments.py", "experiments", ":material/science:"),
]


def run() -> None:
    st.set_page_config(page_title="CNN classroom", page_icon=":material/neurology:", layout="wide")
    pages = [
        st.Page(script, title=t(f"nav.{name}"), icon=icon, url_path=path or None, default=not path)
        for name, script, path, icon in PAGES
    ]
    page = st.navigation(pages)
    sidebar()
    page.run()


if __name__ == "__main__":
    run()
