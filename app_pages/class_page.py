"""The Class page (/class), which the teacher projects: the address students type, large and as a
QR code, how many students are connected now, and the teacher code, shown to the teacher only;
anyone else may enter it here to lead the class from another device."""

import streamlit as st
from streamlit import net_util

from app_pages.classroom import TEACHER, enter_code, entry_text, is_teacher, leave_teacher, sessions, teacher_door
from app_pages.i18n import t
from cnn_demo.classroom.address import join_url, qr_png
from cnn_demo.classroom.teacher import all_students

CONNECTED_EVERY_S = 2.0  # the count follows students arriving and leaving


def address_part(url: str | None) -> None:
    """The address as large text and as a QR code; without a network address, why students can't join."""
    if url is None:
        st.warning(t("class.no_address"))
        return
    st.markdown(t("class.address_label"))
    with st.container(key="class_address"):
        st.header(url, anchor=False)  # large: read off a projector from the back row
    st.image(qr_png(url), caption=t("class.qr_caption"), width=320)


@st.fragment(run_every=CONNECTED_EVERY_S)
def connected_part() -> None:
    st.metric(t("class.connected"), sessions().students_now())


def teacher_part() -> None:
    """For the teacher: the code, to lead from another device, and how it is set."""
    st.subheader(t("class.code_title"))
    with st.container(key="class_code"):
        st.header(teacher_door().code, anchor=False)
    st.caption(t("class.code_help"))
    if all_students():
        st.caption(t("class.all_students_on"))


def code_entry_part() -> None:
    """For anyone else: a box for the teacher code. A student has no need of it."""
    st.subheader(t("class.enter_title"))
    with st.form("teacher_code_form", clear_on_submit=True, border=False):
        given = st.text_input(t("class.code_label"), type="password", max_chars=32, key="teacher_code_input")
        if st.form_submit_button(t("class.code_button")) and given:
            entry = enter_code(given)
            if entry.outcome == "right":
                st.rerun()  # the page again, as the teacher's
            (st.error if entry.outcome == "wait" else st.warning)(entry_text(entry))


def lead_part() -> None:
    """A teacher who entered the code on this device may hand the lead back."""
    if st.button(t("class.leave")):
        leave_teacher()
        st.rerun()


st.title(t("class.title"))
st.caption(t("class.caption"))
port = int(st.get_option("server.port") or 8501)
url = join_url(net_util.get_internal_ip(), port, st.get_option("server.baseUrlPath") or "")
left, right = st.columns([3, 2], gap="large")
with left:
    address_part(url)
with right:
    connected_part()
    if is_teacher():
        teacher_part()
        if st.session_state.get(TEACHER):
            lead_part()
    else:
        st.info(t("class.you_are_student"))
        code_entry_part()
