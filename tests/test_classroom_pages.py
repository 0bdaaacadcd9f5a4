"""The second layer of the teacher's controls: a press that reaches the page from a session that
is not the teacher's (a button enabled in the run before, an older Streamlit that does not discard
a disabled widget's forged value) is refused and does nothing."""

from streamlit.testing.v1 import AppTest

import app_pages.classroom as classroom

SCRIPT = """
import streamlit as st
from app_pages.classroom import teacher_action
if teacher_action(st.button("Stop the class's run")):
    st.session_state["stopped"] = True
"""


def test_a_students_press_is_refused(monkeypatch):
    monkeypatch.setattr(classroom, "is_teacher", lambda: False)
    at = AppTest.from_string(SCRIPT).run()
    at.button[0].click().run()
    assert "stopped" not in at.session_state
    assert [w.value for w in at.warning] == [
        "Only the teacher can do that. If you are the teacher, enter your code on the Class page."
    ]


def test_the_teachers_press_goes_through(monkeypatch):
    monkeypatch.setattr(classroom, "is_teacher", lambda: True)
    at = AppTest.from_string(SCRIPT).run()
    at.button[0].click().run()
    assert at.session_state["stopped"] and not at.warning


def test_outside_a_server_there_is_no_class():
    """AppTest's runtime is a stand-in: a page test is the teacher, and no student is counted."""
    at = AppTest.from_string(
        "import streamlit as st\nfrom app_pages.classroom import is_teacher, sessions\n"
        "st.write(str(is_teacher()), str(sessions().students_now()))"
    ).run()
    assert [m.value for m in at.markdown] == ["True 0"]
