"""The classroom CNN app. Start it with:  streamlit run app.py

This file only routes: the pages live in pages/, the engine in cnn_demo/.
"""

import streamlit as st

from pages.common import sidebar


def run() -> None:
    st.set_page_config(page_title="CNN classroom", page_icon=":material/neurology:", layout="wide")
    pages = [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/train.py", title="Train", icon=":material/monitoring:", url_path="train"),
        st.Page("pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw"),
        st.Page("pages/inspect.py", title="Inspect", icon=":material/search:", url_path="inspect"),
    ]
    page = st.navigation(pages)
    sidebar()
    page.run()


if __name__ == "__main__":
    run()
