"""Home: what a CNN is, in a few sentences, and where to go next."""

import inspect

import streamlit as st

from cnn_demo.model import Net
from views.common import active
from views.i18n import t

st.title(t("home.title"))
st.markdown(t("home.intro"))

for column, (page, icon) in zip(
    st.columns(3), (("train", ":material/monitoring:"), ("draw", ":material/draw:"), ("inspect", ":material/search:"))
):
    with column:
        st.subheader(f"{icon} {t(f'nav.{page}')}")
        st.write(t(f"home.{page}_text"))
        st.page_link(f"views/{page}.py", label=t("home.open", page=t(f"nav.{page}")), icon=icon)

st.subheader(t("home.network"))
st.markdown(t("home.table"))
params = sum(p.numel() for p in active().model.parameters())
st.markdown(t("home.params", count=f"{params:,}"))
with st.expander(t("home.code")):
    st.code(inspect.getsource(Net), language="python")
