"""Evaluate: how good the active model is on the 10,000 test images, where it goes wrong,
how the saved runs learned, and which training images it finds alike a drawing.

The page: the model's scores, and four tabs, each a function of its own module in this folder
(confusion, mistakes, curves, alike). The numbers come from cnn_demo.training.evaluate, computed
once per model version and cached (data.py); this page draws them. A tab runs only while open.
"""

import numpy as np
import streamlit as st

from app_pages.common import accuracy_text, active
from app_pages.evaluate.alike import alike_tab
from app_pages.evaluate.confusion import confusion_tab
from app_pages.evaluate.curves import curves_tab
from app_pages.evaluate.data import evaluation, mnist
from app_pages.evaluate.figures import axis_start, per_class_figure
from app_pages.evaluate.mistakes import mistakes_tab
from app_pages.figures import chart
from app_pages.i18n import kept_tabs, t
from cnn_demo.storage.data import DataError

TABS = ["confusion", "mistakes", "curves", "alike"]  # named by the locales' evaluate.tab_* strings

st.title(t("evaluate.title"))
loaded = active()
try:
    with st.spinner(t("evaluate.testing"), show_time=True):
        result = evaluation(loaded.version, loaded.model)
        test_images, test_labels = (tensor.numpy() for tensor in mnist("test"))  # uint8 (N, 28, 28), (N,)
except DataError as e:
    st.error(t("evaluate.no_test_set", error=e))
    st.stop()

st.caption(t("evaluate.caption", name=loaded.name))
wrong = result.misclassified
m1, m2, m3, m4 = st.columns(4)
m1.metric(t("evaluate.accuracy"), accuracy_text(result.accuracy), help=t("evaluate.accuracy_help"))
m2.metric(t("evaluate.right"), f"{len(test_labels) - len(wrong):,}")
m3.metric(t("evaluate.wrong"), f"{len(wrong):,}")
worst = int(np.argmin(result.per_class))
hardest_right = t("evaluate.hardest_right", percent=f"{100 * result.per_class[worst]:.2f}%")
m4.metric(t("evaluate.hardest"), str(worst), hardest_right, delta_color="off", delta_arrow="off")
st.markdown(t("evaluate.per_digit", start=f"{axis_start(result):.0f}%"))
chart(per_class_figure(result), key="eval_per_class", height=260)

tabs = kept_tabs("evaluate", TABS, key="eval_tab")
if tabs["confusion"].open:
    with tabs["confusion"]:
        confusion_tab(result, test_images)
if tabs["mistakes"].open:
    with tabs["mistakes"]:
        mistakes_tab(result, test_images, test_labels)
if tabs["curves"].open:
    with tabs["curves"]:
        curves_tab(loaded.path)
if tabs["alike"].open:
    with tabs["alike"]:
        alike_tab(loaded, test_images, test_labels)
