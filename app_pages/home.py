"""Home: what a CNN is, in a few sentences, the active network stage by stage, and where to go next."""

import inspect

import streamlit as st

from app_pages.common import active, dims, net_shows, net_title
from app_pages.i18n import t
from cnn_demo.network.arithmetic import TableRow, network_table
from cnn_demo.network.model import Net

# The pages the home page leads to: (name, entry script as app.py lists it, icon).
LINKS = (
    ("train", "app_pages/train.py", ":material/monitoring:"),
    ("draw", "app_pages/draw.py", ":material/draw:"),
    ("inspect", "app_pages/inspect/page.py", ":material/search:"),
)


def stage_cells(row: TableRow) -> tuple[str, str]:
    """(stage, what it does) of one row of the network's table, in this browser's language."""
    if row.kind == "input":
        return t("net.input"), t("net.input_does")
    if row.kind == "conv":
        does = [t("net.conv_does", count=row.filters, shape=dims(row.filter_shape))]
        does += [t("net.stride", stride=row.stride)] if row.stride != 1 else []
        does += [t("net.padding", padding=row.padding)] if row.padding else []
        return f"{row.stage} + {t(f'net.{row.activation}')}", ", ".join(does)
    if row.kind == "pool":
        does = t(f"net.{row.pooling}_does", size=row.size)
        does += f", {t('net.pool_step', stride=row.pool_stride)}" if row.pool_stride != row.size else ""
        return f"{row.stage} · {t(f'net.{row.pooling}')}", does
    if row.kind == "hidden":
        return t("net.hidden"), t("net.hidden_does", count=row.out_shape[0])
    return t(f"net.{row.kind}"), t(f"net.{row.kind}_does")  # flatten, logits


st.title(t("home.title"))
st.markdown(t("home.intro"))

for column, (page, script, icon) in zip(st.columns(3), LINKS):
    with column:
        st.subheader(f"{icon} {t(f'nav.{page}')}")
        st.write(t(f"home.{page}_text"))
        st.page_link(script, label=t("home.open", page=t(f"nav.{page}")), icon=icon)

loaded = active()
model = loaded.model  # shared by every session: only read
st.subheader(t("home.network"))
st.markdown(t("home.active_net", title=net_title(model.spec), name=loaded.name, shows=net_shows(model.spec)))
rows = [(*stage_cells(row), dims(row.out_shape)) for row in network_table(model)]
st.table(
    [{t("net.col_stage"): s, t("net.col_does"): d, t("net.col_shape"): shape} for s, d, shape in rows],
    hide_index=True,
    border="horizontal",
)
params = sum(p.numel() for p in model.parameters())
st.markdown(t("home.params", count=f"{params:,}"))
with st.expander(t("home.code")):
    st.caption(t("home.printout"))
    st.code(str(model), language="text")
    st.caption(t("home.source"))
    st.code(inspect.getsource(Net), language="python")
