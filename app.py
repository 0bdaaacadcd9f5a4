"""The classroom CNN app. Start it with:  streamlit run app.py

This file only routes: the pages live in app_pages/ (the folder Streamlit's docs name for apps
that use st.navigation; a pages/ folder would turn on its older multipage mode), the engine in
cnn_demo/.

It is read two ways. `streamlit run app.py` finds the st.App below and imports this file once,
as the module `app`, to serve it (so nothing heavy is imported at the top: the server answers
sooner); each browser session then runs it as its script (`__main__`), which routes.
"""

import os
from contextlib import asynccontextmanager

import streamlit as st

from cnn_demo.classroom.teacher import server_code
from cnn_demo.training import jobs

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
    ("class", "app_pages/class_page.py", "class", ":material/groups:"),
]


def start_training_worker() -> None:
    """The server's training process, started once, as early as possible: it imports torch,
    loads MNIST and builds its first kernels (5 s of a core on a Zen 1) while the server starts
    and draws its first page, so that a teacher's first Start finds it ready. RunManager takes it
    over (jobs.take_early). Not for page tests, which train on a thread (CNN_DEMO_TRAINING)."""
    if os.environ.get("CNN_DEMO_TRAINING", "process") != "thread":
        jobs.start_early(jobs.TRAINING_WORKER, (True,))  # (own_data): it reads MNIST itself


@asynccontextmanager
async def server_lifetime(_app):
    """From the server's start to its end: the training worker starts with the server, not with
    its first page (measured on a fresh server, the first page took 6 s to be served and 13 s to
    draw on a Zen 1, and the first Start waited for a worker started only then)."""
    start_training_worker()
    # Printed in the terminal, as Jupyter prints its token: a teacher on another device than
    # this one enters it on the Class page (a browser on this machine leads without it).
    print(f"\n  Teacher code: {server_code()}  (the Class page shows it to a browser on this machine)\n", flush=True)
    yield


def run() -> None:
    # Imported here, not above: they import torch, and the server imports this file at its start.
    from app_pages.classroom import note_this_session, student_token
    from app_pages.common import sidebar
    from app_pages.i18n import t

    st.set_page_config(page_title="CNN classroom", page_icon=":material/neurology:", layout="wide")
    pages = [
        st.Page(script, title=t(f"nav.{name}"), icon=icon, url_path=path or None, default=not path)
        for name, script, path, icon in PAGES
    ]
    page = st.navigation(pages)
    note_this_session()  # counted on the Class page, as the teacher or a student
    student_token()  # ?me= in the address on every page: a reload keeps this browser's name and drawings
    sidebar()
    page.run()


if __name__ == "app":  # imported by `streamlit run app.py`, once, to serve the app
    app = st.App("app.py", lifespan=server_lifetime)
elif __name__ == "__main__":  # a browser session's run
    # The worker was started with the server; this starts it here only when the server was
    # started without the st.App (an embedding, an older streamlit), before torch is imported.
    # Never in a spawned child that runs this file again (__mp_main__): it would start its own.
    start_training_worker()
    run()
