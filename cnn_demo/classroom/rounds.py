"""Rounds: the teacher asks the class for digits, and each student's Draw page asks them in turn.

    EACH = "each"   every digit 0-9 once, in an order of the student's own
    ONE = "one"     one digit, the same for everyone ("draw a 7")
    FOOL = "fool"   a challenge: a digit a person reads at once and the network gets wrong

The label of a send is what was asked (each, one) or what the student says they drew (fool): the
server decides it from the round, never the browser from what it shows. A send whose round has
ended, or that answers a digit no longer asked, is refused (RoundClosed). The rounds are kept in
the class store (wall.py); this module is their rules.
"""

from dataclasses import dataclass

import numpy as np

EACH, ONE, FOOL = "each", "one", "fool"
KINDS = (EACH, ONE, FOOL)


class RoundClosed(RuntimeError):
    """A send for a round that has ended, or for a digit no longer asked (a late send)."""


@dataclass(frozen=True)
class Round:
    id: int
    kind: str  # one of KINDS
    digit: int | None  # the digit of a ONE round
    started_at: float
    ended_at: float | None

    @property
    def open(self) -> bool:
        return self.ended_at is None

    def wanted(self) -> list[int]:
        """The digits this round asks each student for (a fool round asks none: any number of tries)."""
        if self.kind == EACH:
            return list(range(10))
        if self.kind == ONE:
            return [int(self.digit)]
        return []

    def order(self, token: str) -> list[int]:
        """The digits in the order this student is asked them: shuffled per student and round in
        an EACH round, so that a class's 3s are not all drawn at the same minute (a seeded order:
        a reload asks the same next digit)."""
        from cnn_demo.classroom.wall import hash_mix

        digits = self.wanted()
        if self.kind == EACH:
            rng = np.random.default_rng(hash_mix(f"round:{self.id}:{token}"))
            digits = [int(d) for d in rng.permutation(digits)]
        return digits

    def next_digit(self, token: str, done: list[int]) -> int | None:
        """The digit this student is asked next, given the labels they have sent in this round;
        None: they have drawn every one (or it is a fool round, whose digit they say)."""
        left = list(done)
        for digit in self.order(token):
            if digit in left:
                left.remove(digit)
            else:
                return digit
        return None


def check_kind(kind: str, digit: int | None) -> tuple[str, int | None]:
    if kind not in KINDS:
        raise ValueError(f"a round is one of {', '.join(KINDS)}, not {kind!r}")
    if kind == ONE:
        if digit is None or not 0 <= int(digit) <= 9:
            raise ValueError(f"a one-digit round needs a digit 0-9, not {digit!r}")
        return kind, int(digit)
    return kind, None
