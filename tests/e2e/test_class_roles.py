"""The teacher's controls belong to the teacher, on the server: a student's session that sends what
a button would send (the widget's trigger in a rerun, at Streamlit's protocol level) starts,
switches, deletes and reruns nothing; the teacher code entered wrong, then right, makes a session
lead. (Two layers refuse it: Streamlit 1.67 discards a forged value of a widget it drew disabled,
and app_pages.classroom.teacher_action refuses a student's press that still arrives, e.g. on an
older Streamlit or at the edge where a button was enabled in the run before: tests/test_classroom_pages.py.)

The server runs with every address a student (CNN_DEMO_ALL_STUDENTS=1: these sessions connect
from this machine, whose browser would otherwise be the teacher's) and a fixed code.
"""

import json

import numpy as np
import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState

from cnn_demo.classroom.wall import ClassStore
from harness.browser import Server
from harness.websocket import Session, component_trigger, run_sync, trigger_widget

CODE = "TEST42"
# What each page shows when its press had done something: a run, the delete dialog, a job.
DONE = {"models": "Delete a saved model", "experiments": "Running ·"}


@pytest.fixture(scope="module")
def class_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    mp = pytest.MonkeyPatch()
    mp.setenv("CNN_DEMO_ALL_STUDENTS", "1")
    mp.setenv("CNN_DEMO_TEACHER_CODE", CODE)
    try:
        server = Server(folder / "runs", folder / "server.log")
    finally:
        mp.undo()
    yield server
    server.stop()


def button(run, label: str):
    for e in run.elements("button"):
        if e.button.label.startswith(label):
            return e.button
    raise LookupError(f"no button {label!r}: {[e.button.label for e in run.elements('button')]}")


def alerts(run) -> list[str]:
    return [e.alert.body for e in run.elements("alert")]


def captions(run) -> str:
    return " ".join(e.markdown.body for e in run.elements("markdown"))


async def press_as_student(url: str, page: str, label: str):
    async with Session(url) as s:
        run = await s.open(page)
        start = button(run, label)
        assert start.disabled, f"{label} is not greyed for a student"
        return run, await s.rerun([trigger_widget(start.id)])


def texts(run) -> str:
    bodies = [e.markdown.body for e in run.elements("markdown")] + alerts(run)
    bodies += [e.heading.body for e in run.elements("heading")] + [e.progress.text for e in run.elements("progress")]
    return " ".join(bodies)


@pytest.mark.parametrize(
    ("page", "label"),
    [("train", "Start training"), ("experiments", "Run"), ("models", "Delete"), ("models", "Use for everyone")],
)
def test_a_students_press_does_nothing(class_server, page, label):
    shown, pressed = run_sync(press_as_student(class_server.url, page, label))
    assert "Only the teacher" in captions(shown)  # the greyed controls say who can use them
    assert pressed.finished in ("FINISHED_SUCCESSFULLY", "FINISHED_EARLY_FOR_RERUN")
    if page in DONE:
        assert DONE[page] not in texts(pressed)
    else:
        assert any("No run yet" in a for a in alerts(pressed)), alerts(pressed)  # still no run
    assert button(pressed, label).disabled  # and still greyed
    assert not list(class_server.runs_dir.glob("*"))  # nothing trained, nothing saved
    assert "Traceback" not in class_server.log_text()


def test_the_teacher_code_wrong_then_right(class_server):
    async def go():
        async with Session(class_server.url) as s:
            run = await s.open("class")
            assert CODE not in captions(run) and CODE not in [e.heading.body for e in run.elements("heading")]
            box = next(e.text_input for e in run.elements("text_input"))
            submit = button(run, "Lead the class")
            wrong = await s.rerun([WidgetState(id=box.id, string_value="NOPE00"), trigger_widget(submit.id)])
            right = await s.rerun([WidgetState(id=box.id, string_value=CODE.lower()), trigger_widget(submit.id)])
            train = await s.open("train")
            return wrong, right, train

    wrong, right, train = run_sync(go())
    assert any("not the teacher code" in a and "4 more tries" in a for a in alerts(wrong)), alerts(wrong)
    assert CODE in [e.heading.body for e in right.elements("heading")]  # the teacher's view: the code shown
    assert not button(train, "Start training").disabled  # and the run's controls are this session's


def test_students_connected_are_counted_on_the_class_page(class_server):
    async def go():
        async with Session(class_server.url) as a, Session(class_server.url) as b, Session(class_server.url) as c:
            await a.open("draw")
            await b.open("draw")
            run = await c.open("class")
            return run.metrics()["Students connected now"][0]

    assert run_sync(go()) == "3"  # every address a student here: the page's own session too


def test_a_students_forged_wall_actions_do_nothing(class_server):
    """Spotlight and remove sent by a student's session as the teacher's tile buttons send them
    (the wall element's trigger, which a student's page draws without buttons), and the clear
    button a student's page holds, greyed, in its popover. The wall is the same afterwards; the
    same spotlight sent by the teacher's session does spotlight (the forgery is well formed)."""
    store = ClassStore(class_server.runs_dir.parent / "class.sqlite3")
    ids = [
        store.send(f"student-{i:011d}", f"S{i}", np.ones((280, 280)), np.zeros((28, 28)), np.eye(10)[i], "m").id
        for i in range(2)
    ]

    def keyed(run, key: str) -> str:
        return next(e.button.id for e in run.elements("button") if e.button.id.endswith(key))

    def action(run, kind: str, sent_id: int):
        _, wall = run.component("wall_tiles")
        return component_trigger(wall.id, "action", {"kind": kind, "id": sent_id})

    async def go():
        async with Session(class_server.url) as teacher, Session(class_server.url) as student:
            run = await teacher.open("class")
            box = next(e.text_input for e in run.elements("text_input"))
            lead = await teacher.rerun(
                [WidgetState(id=box.id, string_value=CODE), trigger_widget(button(run, "Lead the class").id)]
            )
            assert json.loads(lead.component("wall_tiles")[1].json)["teacher"] is True
            seen = await student.open("class")
            assert json.loads(seen.component("wall_tiles")[1].json)["teacher"] is False  # no buttons drawn
            pressed = [
                await student.rerun([action(seen, "spot", ids[0])]),
                await student.rerun([action(seen, "remove", ids[1])]),
                await student.rerun([trigger_widget(keyed(seen, "clear_yes"))]),
            ]
            kept = (store.spotlit_id(), sorted(s.id for s in store.wall()))
            await teacher.rerun([action(lead, "spot", ids[0])])
            return pressed, kept

    pressed, (spotlit, on_wall) = run_sync(go())
    for p in pressed:
        assert any("Only the teacher can do that" in a for a in alerts(p)), alerts(p)
    assert spotlit is None and on_wall == sorted(ids)  # nothing spotlit, removed or cleared
    assert store.spotlit_id() == ids[0]  # the teacher's own press
    assert "Traceback" not in class_server.log_text()


def tab_id(run) -> str:
    """The Class page's tabs (a widget: only the open tab runs) as its id."""
    for d in run.of("delta"):
        if d.WhichOneof("type") == "add_block" and d.add_block.WhichOneof("type") == "tab_container":
            return d.add_block.id
    raise LookupError("no tabs in this run")


def test_a_students_forged_round_digit_and_fool_actions_do_nothing(class_server):
    """The teacher's controls of rounds, the class's digits and the fool challenge, pressed by a
    student's session as the greyed buttons would send them: no round starts or ends, no digit
    is deleted, no fooling drawing is judged. The same press by the teacher does start a round."""
    store = ClassStore(class_server.runs_dir.parent / "class.sqlite3")
    store.delete_digits()
    r = store.start_round("each")
    token = "student-forgery-0"
    digit = store.asked(token)[1]
    kept = store.send(token, "S", np.ones((280, 280)), np.zeros((28, 28)), np.eye(10)[digit], "m", r.id, digit)
    fool = store.start_round("fool")
    fooling = store.send(token, "S", np.ones((280, 280)), np.zeros((28, 28)), np.eye(10)[1], "m", fool.id, 7)
    assert fooling.fool == "pending"

    def keyed(run, key: str) -> str:
        return next(e.button.id for e in run.elements("button") if e.button.id.endswith(key))

    async def go():
        async with Session(class_server.url) as student, Session(class_server.url) as teacher:
            first = await student.open("class")
            tabs = tab_id(first)
            digits = await student.rerun([WidgetState(id=tabs, string_value="Our digits")])
            assert button(digits, "Start: each digit").disabled and button(digits, "End the round").disabled
            pressed = [
                await student.rerun([trigger_widget(button(digits, "Start: each digit").id)]),
                await student.rerun([trigger_widget(button(digits, "End the round").id)]),
                await student.rerun([trigger_widget(button(digits, "Start: fool").id)]),
            ]
            fooled = await student.rerun([WidgetState(id=tabs, string_value="Fool the network")])
            assert not [e for e in fooled.elements("button") if e.button.id.endswith("_accept")]  # not drawn
            # The teacher's button ids, sent from the student's session (as a page drawn before would)
            run = await teacher.open("class")
            box = next(e.text_input for e in run.elements("text_input"))
            await teacher.rerun(
                [WidgetState(id=box.id, string_value=CODE), trigger_widget(button(run, "Lead the class").id)]
            )
            lead = await teacher.rerun([WidgetState(id=tab_id(run), string_value="Our digits")])
            pressed.append(await student.rerun([trigger_widget(keyed(lead, "delete_all_yes"))]))
            pressed.append(await student.rerun([trigger_widget(keyed(lead, "delete_student"))]))
            judged = await teacher.rerun([WidgetState(id=tab_id(run), string_value="Fool the network")])
            pressed.append(await student.rerun([trigger_widget(keyed(judged, f"pending_{fooling.id}_accept"))]))
            state = (store.current_round().id, store.digit_count(), store.get(fooling.id).fool)
            await teacher.rerun([WidgetState(id=tab_id(run), string_value="Our digits")])
            await teacher.rerun([trigger_widget(button(lead, "Start: each digit").id)])
            return pressed, state

    pressed, (open_round, counted, judged) = run_sync(go())
    assert open_round == fool.id  # no round started or ended by the student
    assert counted == (1, 1) and store.get(kept.id) is not None  # nothing deleted
    assert judged == "pending"
    assert store.current_round().kind == "each"  # the teacher's own press
    assert "Traceback" not in class_server.log_text()
    store.end_round()
