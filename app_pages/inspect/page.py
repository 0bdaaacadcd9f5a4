"""Inspect: what the network computes at each stage for one digit, and why a CNN is built so.

The page: its input, the model's answer, and ten tabs, each a function of its own module in this
folder (maps, channel, filters, end, where, step: the arithmetic of one value, how: the five
numbers of a conv layer, breakit: switching parts off, looks: what each channel looks for,
hidden_map: the hidden layer in two dimensions). Every number shown is read from the active model,
whatever its network: one section per conv stage (conv, activation, pooling), and for a fully
connected net its hidden units' weights as 28 x 28 pictures instead of feature maps. A tab runs
only while open (on_change="rerun"), so an input change redraws only the input, the prediction
and the open tab.
"""

import streamlit as st

from app_pages.common import active, dims
from app_pages.figures import INK, image_figure
from app_pages.i18n import kept_tabs, t
from app_pages.inspect.breakit import break_tab, probe_tensors
from app_pages.inspect.channel import channel_tab
from app_pages.inspect.end import end_tab
from app_pages.inspect.figures import DIGITS, bars_figure, show
from app_pages.inspect.filters import filters_tab
from app_pages.inspect.hidden_map import map_tab
from app_pages.inspect.how import how_tab
from app_pages.inspect.looks import looks_tab
from app_pages.inspect.maps import maps_tab
from app_pages.inspect.picker import picked_input, test_set
from app_pages.inspect.step import step_tab
from app_pages.inspect.where import where_tab
from cnn_demo.inside.features import chains, feature_maps, probabilities
from cnn_demo.network.arithmetic import layer_arithmetic
from cnn_demo.storage.data import DataError

TABS = [
    "maps",
    "channel",
    "filters",
    "end",
    "where",
    "step",
    "how",
    "break",
    "looks",
    "map",
]  # named by the locales' inspect.tab_* strings

loaded = active()
model = loaded.model  # shared by every session: only read
st.title(t("inspect.title"))
st.caption(t("inspect.caption", name=loaded.name))
try:
    images, labels, by_class = test_set()
except DataError as e:
    st.error(t("inspect.no_test_set", error=e))
    st.stop()
image28, input_title = picked_input(images, labels, by_class)  # (28, 28) in [0, 1], ink = 1

# What several tabs read: the digit's outputs at every stage, and the network's layers.
maps = feature_maps(model, image28)  # by stage name: (C, H, W) maps, "flatten", "hidden", "logits"
probs = probabilities(maps["logits"])  # (10,)
predicted = int(probs.argmax())
stages = chains(model)  # one per conv stage: conv, activation, optional pooling; [] without convs
layers = {row.name: row for row in layer_arithmetic(model)}  # each conv and pool layer

left, right = st.columns([1, 2])
with left:
    hover = t("inspect.hover_pixel", value="%{z:.2f}")
    show(image_figure(image28, 0, 1, INK, height=300, title=input_title, hover=hover), "input")
    st.caption(t("inspect.input_caption", shape=dims((1, *image28.shape))))
with right:
    sure = t("inspect.sure", percent=f"{100 * probs[predicted]:.1f}%")
    st.metric(t("inspect.prediction"), f"{predicted}", sure, delta_color="off", delta_arrow="off")
    show(bars_figure(probs, DIGITS, t("inspect.probs_title"), predicted, 230, percent=True), "probs_top")

tabs = kept_tabs("inspect", TABS, key="inspect_tab")
if tabs["maps"].open:
    with tabs["maps"]:
        maps_tab(model, stages, layers, maps)
if tabs["channel"].open:
    with tabs["channel"]:
        channel_tab(model, stages, layers, image28, maps)
if tabs["filters"].open:
    with tabs["filters"]:
        filters_tab(loaded, stages)
if tabs["end"].open:
    with tabs["end"]:
        end_tab(model, image28, maps, probs, predicted)
if tabs["where"].open:
    with tabs["where"]:
        where_tab(model, image28, maps, probs, predicted)
if tabs["step"].open:
    with tabs["step"]:
        step_tab(model, stages, layers, image28, maps)
if tabs["how"].open:
    with tabs["how"]:
        how_tab(model, stages, layers, image28, maps, predicted)
if tabs["break"].open:
    with tabs["break"]:
        break_tab(loaded, image28, *probe_tensors(images, labels))  # the Train page's 2,000 held-out images
if tabs["looks"].open:
    with tabs["looks"]:
        looks_tab(loaded, probe_tensors(images, labels)[0])
if tabs["map"].open:
    with tabs["map"]:
        map_tab(loaded, maps["hidden"], predicted, images, labels)
