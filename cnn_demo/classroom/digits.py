"""The class's own digits as a labelled set: the room's handwriting as a test set, and the part of
it a fine-tune may learn from.

MNIST's digits were written by American census workers and students in the 1990s; a class's are
written with a finger or a mouse on a canvas, today. The class store (wall.py) keeps each
labelled send; this module is the same digits as arrays, in the form a notebook, the Evaluate
code and the training loop read:

    digits = class_store.digits()          # ClassDigits: images (N, 28, 28) uint8, labels (N,)
    learn, held = digits.split()           # one student in five is never trained on
    Path("class_digits.npz").write_bytes(digits.to_npz())
    x, y = np.load("class_digits.npz")["x_class"], np.load("class_digits.npz")["y_class"]
    ClassDigits.from_npz(data)             # back, checked: ImportRefused says what is wrong

The held-out part is chosen by student, not by drawing: a student's digits are all in or all out,
so that the fine-tune is measured on handwriting it never saw, not on a second 7 by the same hand.
"""

import io
import json
import zipfile
from dataclasses import dataclass, field

import numpy as np

HOLD_OUT_EVERY = 5  # one student in five is held out
IMPORT_MAX = 100_000  # digits in one file: a school's year, many times over
KEYS = ("x_class", "y_class")  # as data/mnist.npz names its arrays: x_train, y_train, x_test, y_test


class ImportRefused(ValueError):
    """A file that is not the class's digits; the message says what is wrong, for people."""


def student_id(token: str) -> str:
    """A student as exports and the held-out split know them: a stable pseudonym of their token
    (the token itself lets whoever has it act as that student, so it never leaves the server)."""
    from cnn_demo.classroom.wall import hash_mix  # wall imports this module

    return f"{hash_mix('student:' + token):016x}"


@dataclass(frozen=True)
class ClassDigits:
    """Labelled digits of a class, in the order they were sent. Everything is numpy."""

    images: np.ndarray  # uint8 (N, 28, 28): 0 background, 255 ink, as MNIST
    labels: np.ndarray  # int64 (N,): the digit asked for (or, in a fool round, said)
    students: np.ndarray  # str (N,): student_id of who drew it
    names: np.ndarray = field(default=None)  # str (N,): the name at export time
    rounds: np.ndarray = field(default=None)  # int64 (N,): the round (-1: none, or imported)
    sent_at: np.ndarray = field(default=None)  # float64 (N,): seconds since 1970
    answers: np.ndarray = field(default=None)  # int64 (N,): the model's answer when it was sent (-1: unknown)
    probs: np.ndarray = field(default=None)  # float32 (N, 10): its ten probabilities then (a NaN row: unknown)
    models: np.ndarray = field(default=None)  # str (N,): the model that answered then
    strokes: list = field(default=None)  # N fabric.js JSON texts of the canvas ("" where unknown)
    ids: np.ndarray = field(default=None)  # int64 (N,): row ids in the store (-1: not stored)

    def __post_init__(self):
        n = len(self.labels)
        defaults = {
            "names": lambda: np.array([""] * n, dtype=str),
            "rounds": lambda: np.full(n, -1, np.int64),
            "sent_at": lambda: np.zeros(n, np.float64),
            "answers": lambda: np.full(n, -1, np.int64),
            "probs": lambda: np.full((n, 10), np.nan, np.float32),
            "models": lambda: np.array([""] * n, dtype=str),
            "strokes": lambda: [""] * n,
            "ids": lambda: np.full(n, -1, np.int64),
        }
        for name, make in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, make())

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, mask_or_index) -> "ClassDigits":
        index = np.flatnonzero(mask_or_index) if np.asarray(mask_or_index).dtype == bool else np.asarray(mask_or_index)
        return ClassDigits(
            images=self.images[index],
            labels=self.labels[index],
            students=self.students[index],
            names=self.names[index],
            rounds=self.rounds[index],
            sent_at=self.sent_at[index],
            answers=self.answers[index],
            probs=self.probs[index],
            models=self.models[index],
            strokes=[self.strokes[i] for i in index],
            ids=self.ids[index],
        )

    def held_out(self) -> np.ndarray:
        """bool (N,): the digits a fine-tune never trains on (held_out_students)."""
        held = held_out_students(self.students)
        return np.isin(self.students, list(held)) if held else np.zeros(len(self), bool)

    def split(self) -> tuple["ClassDigits", "ClassDigits"]:
        """(to learn from, held out)."""
        held = self.held_out()
        return self.take(~held), self.take(held)

    def student_count(self) -> int:
        return len(set(self.students.tolist()))

    def to_npz(self) -> bytes:
        """One compressed .npz that np.load reads without pickles: x_class, y_class as
        data/mnist.npz's arrays, and who, when, which round, the answer and its probabilities then,
        and the strokes."""
        out = io.BytesIO()
        np.savez_compressed(
            out,
            x_class=np.asarray(self.images, np.uint8),
            y_class=np.asarray(self.labels, np.uint8),
            students=np.asarray(self.students, dtype=str),
            names=np.asarray(self.names, dtype=str),
            rounds=np.asarray(self.rounds, np.int64),
            sent_at=np.asarray(self.sent_at, np.float64),
            answers=np.asarray(self.answers, np.int64),
            probs=np.asarray(self.probs, np.float32),
            models=np.asarray(self.models, dtype=str),
            # The strokes as one JSON list in bytes: a str array pads every text to the longest
            strokes_json=np.frombuffer(json.dumps(list(self.strokes)).encode(), np.uint8),
        )
        return out.getvalue()

    @classmethod
    def from_npz(cls, data: bytes) -> "ClassDigits":
        """An exported file back, checked; anything else is refused with ImportRefused (no
        pickles: np.load with allow_pickle=False reads no code)."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files if key != "strokes_json"}
                strokes_raw = npz["strokes_json"].tobytes() if "strokes_json" in npz.files else None
            if not all(isinstance(a, np.ndarray) for a in arrays.values()):
                raise ValueError("its members are not arrays")  # a zip of other files: np.load gives their bytes
        # TypeError: an .npy (one array, not a named set); AttributeError: a strokes_json that is not an array
        except (ValueError, OSError, zipfile.BadZipFile, EOFError, KeyError, TypeError, AttributeError) as e:
            raise ImportRefused(f"not an .npz file of digits ({e})") from None
        missing = [k for k in KEYS if k not in arrays]
        if missing:
            raise ImportRefused(f"the file has no {' or '.join(missing)} (an export of the class's digits has both)")
        images, labels = arrays["x_class"], arrays["y_class"]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ImportRefused(f"x_class must hold 28 × 28 images, not shape {images.shape}")
        if labels.shape != (len(images),):
            raise ImportRefused(f"y_class must hold one label per image: {labels.shape} for {len(images)} images")
        if len(images) > IMPORT_MAX:
            raise ImportRefused(f"{len(images)} digits is more than one file may hold ({IMPORT_MAX})")
        if not np.issubdtype(labels.dtype, np.integer) or (len(labels) and (labels.min() < 0 or labels.max() > 9)):
            raise ImportRefused("y_class must hold digits 0 to 9")
        if images.dtype != np.uint8:
            # not (>= and <=): a NaN fails both, where `< 0 or > 1` let it through
            if not np.issubdtype(images.dtype, np.floating) or (
                images.size and not (images.min() >= 0 and images.max() <= 1)
            ):
                raise ImportRefused(f"x_class must be uint8 0-255 or floats 0-1, not {images.dtype}")
            images = (images * 255).round().astype(np.uint8)
        n = len(images)
        strokes = [""] * n
        if strokes_raw is not None:
            try:
                strokes = json.loads(strokes_raw.decode())
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ImportRefused("strokes_json is not JSON") from None
            if not isinstance(strokes, list) or len(strokes) != n or not all(isinstance(s, str) for s in strokes):
                raise ImportRefused("strokes_json must be one text per image")

        def column(key, dtype, default):
            value = arrays.get(key)
            if value is None:
                return np.full(n, default, dtype)
            if value.shape != (n,):
                raise ImportRefused(f"{key} must hold one value per image, not shape {value.shape}")
            try:
                return value.astype(dtype)
            except (ValueError, TypeError):
                raise ImportRefused(f"{key} has values of the wrong kind ({value.dtype})") from None

        students = column("students", str, "imported")
        probs = arrays.get("probs")
        if probs is None:
            probs = np.full((n, 10), np.nan, np.float32)  # a file from before they were exported
        elif probs.shape != (n, 10) or not np.issubdtype(probs.dtype, np.floating):
            raise ImportRefused(
                f"probs must hold ten probabilities per image, not {probs.dtype} of shape {probs.shape}"
            )
        else:
            probs = probs.astype(np.float32)
            known = ~np.isnan(probs).all(axis=1)  # a row of NaNs: not known
            row_sums = probs[known].sum(axis=1)
            if not (np.all(probs[known] >= 0) and np.all(probs[known] <= 1) and np.all(np.abs(row_sums - 1) < 1e-3)):
                raise ImportRefused("probs must be ten probabilities from 0 to 1 per image, adding up to 1")
        return cls(
            images=np.ascontiguousarray(images),
            labels=labels.astype(np.int64),
            students=np.array([s[:32] or "imported" for s in students.tolist()], dtype=str),
            names=np.array([s[:32] for s in column("names", str, "").tolist()], dtype=str),
            rounds=column("rounds", np.int64, -1),
            sent_at=column("sent_at", np.float64, 0.0),
            answers=column("answers", np.int64, -1),
            probs=probs,
            models=column("models", str, ""),
            strokes=strokes,
        )


def held_out_students(students) -> set[str]:
    """The students (ids) a fine-tune never trains on: one in five, by a hash of their id, so a
    student stays on their side as the class grows. Where the hash happens to hold out nobody or
    everybody, only the student first in the hash's order: a small class's fallback that moves no
    student a fine-tune learned from into the held-out part as the class grows."""
    from cnn_demo.classroom.wall import hash_mix

    unique = sorted(set(np.asarray(students).tolist()))
    if len(unique) < 2:
        return set()  # one student: nothing to hold out by student (the caller says so)
    held = {s for s in unique if hash_mix("held:" + s) % HOLD_OUT_EVERY == 0}
    if not held or len(held) == len(unique):
        held = {min(unique, key=lambda s: hash_mix("held:" + s))}
    return held
