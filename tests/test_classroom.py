"""The teacher code, the tries at it, who is on this machine, and the address students join at."""

import io

import pytest
import zxingcpp
from PIL import Image

from cnn_demo.classroom import teacher
from cnn_demo.classroom.address import join_url, qr_png
from cnn_demo.classroom.teacher import FIRST_WAIT_S, FREE_TRIES, LONGEST_WAIT_S, TeacherDoor


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_codes_are_random_and_easy_to_read_off_a_projector():
    codes = {teacher.new_code() for _ in range(200)}
    assert len(codes) == 200  # 31^6 of them: no two alike in 200
    for code in codes:
        assert len(code) == teacher.CODE_LENGTH and not set(code) & set("0O1IL")


def test_a_code_is_compared_as_a_person_types_it():
    assert teacher.same_code(" k7q-x2m ", "K7QX2M")
    assert not teacher.same_code("K7QX2N", "K7QX2M")
    assert not teacher.same_code("", "K7QX2M")


def test_five_wrong_tries_then_a_wait_that_doubles():
    clock = Clock()
    door = TeacherDoor("K7QX2M", clock=clock)
    answers = [door.enter("192.0.2.7", "WRONG1") for _ in range(FREE_TRIES)]
    assert [a.outcome for a in answers] == ["wrong"] * (FREE_TRIES - 1) + ["wait"]
    assert [a.tries_left for a in answers[:-1]] == [4, 3, 2, 1]
    assert answers[-1].wait_s == FIRST_WAIT_S
    # While it waits, even the right code is not tried: guessing gains nothing from a wait.
    clock.now += FIRST_WAIT_S - 1
    assert door.enter("192.0.2.7", "K7QX2M").outcome == "wait"
    assert door.wait_s("192.0.2.7") == pytest.approx(1.0)
    assert door.enter("192.0.2.8", "K7QX2M").outcome == "right"  # another device is not held up
    clock.now += 1
    again = door.enter("192.0.2.7", "WRONG2")
    assert again.outcome == "wait" and again.wait_s == 2 * FIRST_WAIT_S
    clock.now += again.wait_s
    assert door.enter("192.0.2.7", "k7qx2m").outcome == "right"  # and the count starts again
    assert door.enter("192.0.2.7", "nope").tries_left == FREE_TRIES - 1


def test_the_wait_stops_growing():
    clock = Clock()
    door = TeacherDoor("K7QX2M", clock=clock)
    for _ in range(40):
        entry = door.enter("x", "WRONG")
        clock.now += entry.wait_s
    assert entry.wait_s == LONGEST_WAIT_S


def test_only_a_loopback_peer_is_this_machine():
    assert teacher.is_loopback("127.0.0.1") and teacher.is_loopback("::1") and teacher.is_loopback("127.3.4.5")
    assert teacher.is_loopback("::ffff:127.0.0.1")  # an IPv4 peer as a dual-stack socket reports it
    for other in (None, "", "192.168.1.20", "10.0.0.2", "fe80::1%eth0", "::ffff:192.168.1.20", "not an address"):
        assert not teacher.is_loopback(other)


def test_a_fixed_code_and_the_all_students_switch_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(teacher.CODE_ENV, "class-7b")
    teacher.server_code.cache_clear()
    try:
        assert teacher.server_code() == "CLASS7B"
    finally:
        teacher.server_code.cache_clear()
    monkeypatch.setenv(teacher.ALL_STUDENTS_ENV, "1")
    assert teacher.all_students()
    monkeypatch.setenv(teacher.ALL_STUDENTS_ENV, "0")
    assert not teacher.all_students()


def test_the_join_address():
    assert join_url("192.168.1.20", 8501) == "http://192.168.1.20:8501"
    assert join_url("192.168.1.20", 8501, "/cnn/") == "http://192.168.1.20:8501/cnn"
    assert join_url("fd00::5", 80) == "http://[fd00::5]:80"
    assert join_url(None, 8501) is None


def test_the_qr_code_reads_back_as_the_address():
    url = "http://192.168.1.20:8501"
    image = Image.open(io.BytesIO(qr_png(url)))
    assert [found.text for found in zxingcpp.read_barcodes(image)] == [url]
