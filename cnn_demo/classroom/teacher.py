"""Who is the teacher: the browser on the machine that serves the app, or whoever enters the code.

A classroom is a room of people: thirty students are thirty people who could press Stop on the
teacher's run. So the actions the class shares (starting, pausing, resuming and stopping a run,
the model everyone uses, uploads and deletes, the experiments' Run again) belong to the teacher,
and the server checks who asks, not only the page that greys the buttons.

    code = server_code()                 # made once per server, or the fixed one it was given
    door = TeacherDoor(code)
    door.enter("192.0.2.7", "K7QX2M")    # Entry("right"), Entry("wrong", tries_left=4), Entry("wait", wait_s=30)
    is_loopback("127.0.0.1")             # True: a browser on this machine is the teacher's

The code is made when the server starts and printed in its terminal (as Jupyter prints its
token); `CNN_DEMO_TEACHER_CODE` fixes it instead. Codes are compared in constant time, and a
device that gets it wrong five times waits before the next try (30 s, doubling to 15 min): the
tries are counted by the device's address, so a new tab does not start them again.
This module knows no Streamlit: the pages ask it (app_pages/classroom.py).
"""

import hmac
import ipaddress
import os
import secrets
import string
import threading
import time
from dataclasses import dataclass
from functools import cache

# No 0/O, 1/I/L: a code read off a projector and typed on a tablet.
ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "0O1IL")
CODE_LENGTH = 6  # 31^6 = 887 million codes; five tries, then a wait
FREE_TRIES = 5
FIRST_WAIT_S = 30.0
LONGEST_WAIT_S = 15 * 60.0

CODE_ENV = "CNN_DEMO_TEACHER_CODE"  # a fixed code, for a teacher who wants the same one each lesson
ALL_STUDENTS_ENV = "CNN_DEMO_ALL_STUDENTS"  # "1": this machine's browser is a student too until it enters the code


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalised(code: str) -> str:
    """What a person types, as it is compared: no spaces or dashes, upper case."""
    return "".join(c for c in str(code).upper() if c not in " -\t")


def same_code(given: str, code: str) -> bool:
    """In constant time: how long a wrong try takes says nothing of how near it was."""
    return hmac.compare_digest(normalised(given).encode(), normalised(code).encode())


@cache
def server_code() -> str:
    """This server's teacher code: the fixed one from the environment, else one made now, once."""
    fixed = normalised(os.environ.get(CODE_ENV, ""))
    return fixed or new_code()


def all_students() -> bool:
    """The switch "every address is a student until it enters the code": for a teacher who
    projects from another computer than the one serving, and for tests."""
    return os.environ.get(ALL_STUDENTS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def is_loopback(ip: str | None) -> bool:
    """The TCP peer is this machine. None (unknown) is not: a session whose peer is unknown is
    a student until it enters the code."""
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip.split("%")[0])  # "%": an IPv6 zone
    except ValueError:
        return False
    # A dual-stack socket reports an IPv4 peer as "::ffff:127.0.0.1", which Python before 3.13
    # does not call loopback
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


@dataclass(frozen=True)
class Entry:
    """The answer to one try: "right", "wrong" (tries_left before a wait) or "wait" (wait_s)."""

    outcome: str
    tries_left: int = 0
    wait_s: float = 0.0


class TeacherDoor:
    """The teacher code and the tries at it, by who tries (a device's address, else its
    session), for one server; thread-safe: sessions run on threads of their own."""

    def __init__(self, code: str, clock=time.monotonic):
        self.code, self.clock = normalised(code), clock
        self._lock = threading.Lock()
        self._wrong: dict[str, int] = {}  # by who tries: wrong tries in a row
        self._locked_until: dict[str, float] = {}

    def wait_s(self, who: str) -> float:
        """Seconds `who` must still wait before its next try (0: it may try now)."""
        with self._lock:
            return max(0.0, self._locked_until.get(who, 0.0) - self.clock())

    def enter(self, who: str, given: str) -> Entry:
        with self._lock:
            now = self.clock()
            if self._locked_until.get(who, 0.0) > now:  # no try at all while waiting
                return Entry("wait", wait_s=self._locked_until[who] - now)
            if same_code(given, self.code):
                self._wrong.pop(who, None)
                self._locked_until.pop(who, None)
                return Entry("right")
            wrong = self._wrong.get(who, 0) + 1
            self._wrong[who] = wrong
            if wrong < FREE_TRIES:
                return Entry("wrong", tries_left=FREE_TRIES - wrong)
            wait = min(LONGEST_WAIT_S, FIRST_WAIT_S * 2 ** (wrong - FREE_TRIES))
            self._locked_until[who] = now + wait
            return Entry("wait", wait_s=wait)
