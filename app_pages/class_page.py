"""The Class page (/class), which the teacher projects: the address students type, large and as a
QR code, how many students are connected now, and the teacher code, shown to the teacher only;
anyone else may enter it here to lead the class from another device. Below, the wall of the
class's drawings (cnn_demo/classroom/wall.py): each student's latest send, the teacher's
spotlight on one, and the teacher's remove and clear.

In tabs below (app_pages/class_digits.py): the rounds the teacher starts and the class's own
digits scored, and the challenge to fool the network.

Students' names are shown with st.text only: never as Markdown or HTML."""

import streamlit as st
from streamlit import net_util

from app_pages.class_digits import digits_tab, fool_tab, redraw_part
from app_pages.classroom import (
    TEACHER,
    class_store,
    enter_code,
    entry_text,
    is_teacher,
    leave_teacher,
    sessions,
    teacher_action,
    teacher_door,
    teacher_only_note,
)
from app_pages.common import projector, send_to_inspect
from app_pages.figures import picture, probability_bars
from app_pages.i18n import t
from app_pages.wall_tiles import tiles_data, wall_tiles
from cnn_demo.classroom.address import join_url, qr_png
from cnn_demo.classroom.teacher import all_students
from cnn_demo.classroom.wall import Sent
from cnn_demo.inside.pixels import enlarge

CONNECTED_EVERY_S = 2.0  # the count follows students arriving and leaving
# A send is on every teacher's wall within 2 s: a look each second, plus the draw. A student's
# Class page looks less often: a class may all sit on this page (kept at 10 s; a look is one element now).
WALL_EVERY_S = {True: 1.0, False: 10.0}
TILE_WIDTH = 150  # pixels: eleven tiles a row on a projector, two on a phone
# Our own constant CSS: the name in the spotlight large (it is st.text: plain text)
WALL_CSS = """<style>
.st-key-spotlight_name [data-testid="stText"] { font-size: 2rem; font-weight: 700; line-height: 1.2; }
</style>"""


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


def answer_text(sent: Sent, template: str | None = None) -> str:
    """ "7 · 93% sure"; template: t("class.answer") looked up once for a whole wall of tiles."""
    return (template or t("class.answer")).format(answer=sent.answer, percent=f"{sent.confidence:.0%}")


def tiles_part(tiles: list[Sent], teacher: bool) -> None:
    """Each student's latest drawing: the drawing, the model's answer, the name; the teacher's two
    buttons, spotlight and remove (refused on the server to anyone else, like every teacher
    action). One element for the whole wall (app_pages/wall_tiles.py)."""
    template = t("class.answer")
    scale = 1.4 if projector() else 1.0
    helps = {"spot": t("class.spotlight_help"), "remove": t("class.remove_help")}
    data = tiles_data(
        tiles, [answer_text(s, template) for s in tiles], teacher, round(TILE_WIDTH * scale), scale, helps
    )
    action = wall_tiles(data)
    if action is not None and teacher_action(True):
        if action.kind == "spot":
            class_store().spotlight(action.sent_id)
        else:
            class_store().remove(action.sent_id)
        redraw_part()


def spotlight_part(sent: Sent, teacher: bool) -> None:
    """The drawing the teacher chose, large: the drawing, what the model saw, its ten probabilities."""
    with st.container(border=True, key="spotlight"):
        st.markdown(f"**{t('class.spotlight_label')}**")
        with st.container(key="spotlight_name"):
            st.text(sent.name)
        drawing, seen, bars = st.columns([2, 2, 3], gap="medium")
        drawing.image(sent.drawing_png, caption=t("class.spotlight_drawing"), width="stretch", output_format="PNG")
        with seen:
            picture(enlarge(sent.image28), "spotlight_seen", caption=t("class.spotlight_seen"))
        with bars:
            st.metric(t("draw.prediction"), f"{sent.answer}", answer_text(sent), delta_color="off", delta_arrow="off")
            st.html(probability_bars(sent.probs))
        row = st.container(horizontal=True)
        inspect = row.button(t("class.inspect_this"), icon=":material/search:", help=t("class.inspect_this_help"))
        close = row.button(t("class.spotlight_close"), icon=":material/close:", disabled=not teacher)
        if inspect:  # Inspect is this browser's own page: anyone may open the drawing there
            send_to_inspect(sent.image28)
            st.switch_page("app_pages/inspect/page.py")
        if teacher_action(close):
            class_store().spotlight(None)
            redraw_part()


def clear_part(teacher: bool) -> None:
    """Clear the wall, behind a question: a mis-tap on a tablet clears nothing."""
    with st.popover(t("class.clear"), icon=":material/delete_sweep:", disabled=not teacher):
        st.write(t("class.clear_confirm"))
        if teacher_action(st.button(t("class.clear_yes"), type="primary", key="clear_yes")):
            class_store().clear_wall()
            redraw_part()


def wall_part() -> None:
    """The wall, read from the class store each second: the same in every browser, and after the
    server is started again."""
    teacher = is_teacher()
    store = class_store()
    spotlit = store.spotlit()
    if spotlit is not None:
        spotlight_part(spotlit, teacher)
    tiles = store.wall()
    head = st.container(horizontal=True, vertical_alignment="center")
    head.subheader(t("class.wall_title"), anchor=False)
    head.caption(t("class.wall_count", count=len(tiles)))
    with head:
        clear_part(teacher)
    st.caption(t("class.wall_caption"))
    teacher_only_note("wall")
    if not tiles:
        st.info(t("class.wall_empty"))
        return
    tiles_part(tiles, teacher)


st.html(WALL_CSS)
st.title(t("class.title"))
st.caption(t("class.caption"))
port = int(st.get_option("server.port") or 8501)
url = join_url(net_util.get_internal_ip(), port, st.get_option("server.baseUrlPath") or "")
# Folded away once the class has joined, so the wall fills the projected screen
with st.expander(t("class.join_title"), expanded=True, icon=":material/qr_code_2:"):
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
# Lazy tabs: only the open one runs (the wall's fragment looks each second; the results score a model)
wall_tab, our_digits_tab, fooling_tab = st.tabs(
    [t("rounds.tab_wall"), t("rounds.tab_digits"), t("rounds.tab_fool")], key="class_tab", on_change="rerun"
)
if wall_tab.open:
    with wall_tab:
        st.fragment(wall_part, run_every=WALL_EVERY_S[is_teacher()])()
if our_digits_tab.open:
    with our_digits_tab:
        digits_tab()
if fooling_tab.open:
    with fooling_tab:
        fool_tab()
