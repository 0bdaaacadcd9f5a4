"""The teacher and the students, as the pages see them: who this session is, the teacher's
actions refused to anyone else on the server, and the sessions connected now.

    if teacher_action(st.button(t("train.stop"), disabled=not is_teacher())):
        manager.run.stop()      # only ever for the teacher: a student's press is refused here
    teacher_only_note("run")    # under greyed controls: who can use them, in this browser's language

A disabled button is only the page's side: a student's browser (or a script speaking
Streamlit's protocol) can still send the press. So every teacher action is checked where it
happens, in this server, by `teacher_action` or `is_teacher`, never by the page's look alone.

Who is the teacher (cnn_demo/classroom/teacher.py): a browser on the machine that serves the
app (its session's TCP peer is a loopback address; not `st.context.ip_address`, which reads
`None` for loopback and for "unknown" alike), unless every address is a student
(CNN_DEMO_ALL_STUDENTS=1); on any other device, a session that has entered the teacher code.
A script run outside a server (AppTest, bare mode) has no peer and no class: it is the teacher.
"""

import secrets
import threading

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app_pages.i18n import t
from cnn_demo.classroom.teacher import Entry, TeacherDoor, all_students, is_loopback, server_code
from cnn_demo.classroom.wall import ClassStore, anonymous_name

# The address's ?me=: this browser's student token, so a reload keeps its name and its drawings.
ME = "me"
ME_KEY = "student_token"
TOKEN_BYTES = 12  # 16 URL-safe characters: not guessable, short enough for an address bar

# session_state: this session entered the right code. Never a widget's key: a browser can set
# those, and nothing else in session_state.
TEACHER = "teacher_code_entered"


@st.cache_resource
def teacher_door() -> TeacherDoor:
    """One per server: its code (app.py prints it in the terminal at start) and the tries at it."""
    return TeacherDoor(server_code())


class Sessions:
    """The sessions seen by this server, and whether each is the teacher's: how many students
    are connected now (a session that has closed is dropped when counted)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._teacher: dict[str, bool] = {}

    def seen(self, session_id: str, teacher: bool) -> None:
        with self._lock:
            self._teacher[session_id] = teacher

    def students_now(self) -> int:
        if not runtime.exists():
            return 0
        live = runtime.get_instance()
        with self._lock:
            for sid in [sid for sid in self._teacher if not live.is_active_session(sid)]:
                del self._teacher[sid]
            return sum(not teacher for teacher in self._teacher.values())


@st.cache_resource
def sessions() -> Sessions:
    return Sessions()


def session_id() -> str | None:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def peer_address() -> str | None:
    """This session's TCP peer, as the server's socket saw it; None where unknown."""
    if not served():
        return None
    client = runtime.get_instance().get_client(session_id())
    context = getattr(client, "client_context", None)
    return getattr(context, "remote_ip", None)


def served() -> bool:
    """This script runs in a server for browsers: not AppTest (whose runtime is a mock: isinstance would pass, its type is no Runtime) nor
    bare `python page.py` (no runtime)."""
    return session_id() is not None and runtime.exists() and issubclass(type(runtime.get_instance()), runtime.Runtime)


def is_teacher() -> bool:
    """Whether this session may lead the class. Checked again at each action."""
    if not served():
        return True  # no class: a page test, a notebook
    if st.session_state.get(TEACHER) is True:
        return True
    return not all_students() and is_loopback(peer_address())


def note_this_session() -> None:
    """Counted among the class (app.py, at every run of a page)."""
    sid = session_id()
    if sid is not None and served():
        sessions().seen(sid, is_teacher())


def teacher_action(pressed: bool) -> bool:
    """True when a teacher action was asked for (`pressed`) and this session may do it; a
    student's press is refused, said on the page, and does nothing."""
    if not pressed:
        return False
    if is_teacher():
        return True
    refuse()
    return False


def refuse() -> None:
    """Say on this page that a teacher action was refused."""
    st.warning(t("class.refused"), icon=":material/lock:")


def teacher_only_note(what: str) -> None:
    """Under controls a student sees greyed: who can use them (what: a key of the locales'
    [class] table, teacher_only_<what>)."""
    if not is_teacher():
        st.caption(t(f"class.teacher_only_{what}"), help=t("class.teacher_only_help"))


def enter_code(given: str) -> Entry:
    """A try at the teacher code from this session; right: this session leads from now on."""
    who = peer_address() or session_id() or "unknown"  # a device's tries, not a tab's
    entry = teacher_door().enter(who, given)
    if entry.outcome == "right":
        st.session_state[TEACHER] = True
    return entry


def leave_teacher() -> None:
    st.session_state.pop(TEACHER, None)


def entry_text(entry: Entry) -> str:
    """What a try at the code answered, in this browser's language."""
    if entry.outcome == "wait":
        return t("class.code_wait", seconds=max(1, round(entry.wait_s)))
    return t(f"class.code_{entry.outcome}", tries=entry.tries_left)


@st.cache_resource
def class_store() -> ClassStore:
    """One per server: the class's drawings and names (checkpoints/class.sqlite3, or CNN_DEMO_CLASS_DB)."""
    return ClassStore()


def is_token(text) -> bool:
    return isinstance(text, str) and 16 <= len(text) <= 32 and all(c.isalnum() or c in "-_" for c in text)


def student_token() -> str:
    """This browser's student token: kept in the session, and in the address (?me=) so that a
    reload, which starts a new session, finds the same one. The pages' navigation drops the
    address's parameters, so each page run puts it back."""
    token = st.session_state.get(ME_KEY)
    if not is_token(token):
        asked = st.query_params.get(ME)
        token = asked if is_token(asked) else secrets.token_urlsafe(TOKEN_BYTES)
        st.session_state[ME_KEY] = token
    if st.query_params.get(ME) != token:
        st.query_params[ME] = token
    return token


def my_name() -> str:
    """The name this browser's drawings go on the wall under: the one chosen, else an animal."""
    token = student_token()
    return class_store().name(token) or anonymous_name(
        token,
        [w.strip() for w in t("class.name_adjectives").split(",")],
        [w.strip() for w in t("class.name_animals").split(",")],
        t("class.name_pattern"),
    )
