"""The class's wall of drawings, kept on disk: what students send, their names, and what the
teacher puts in the spotlight.

A student's drawing reaches the class only when they send it, and a send is acknowledged only
once it is written: a server killed and started again shows the same wall. The store is SQLite,
the embedded database Python ships, in one file beside the checkpoints (WAL mode: the wall's
readers never wait for a writer, and a second process may read the same file). It is plain SQL,
so a school's shared server could put a database server such as PostgreSQL in its place.

    store = ClassStore("checkpoints/class.sqlite3")
    sent = store.send("k3J9...", "Blue otter", drawing, image28, probs, model="tutorial")
    store.wall()                 # every student's latest drawing on the wall, in the order they came
    store.mine("k3J9...")        # a student's own sends, newest first; store.take_back(...)
    store.spotlight(sent.id)     # the teacher's: store.remove(id), store.clear_wall()
    store.version()              # changes with every write: the wall's pages redraw only then

Rounds (rounds.py) make the class's own labelled digits (digits.py):

    store.start_round("each")    # every digit 0-9 once; ("one", 7): a 7; ("fool"): fool the network
    store.asked(token)           # (the open round, the digit this student is asked next)
    store.send(token, name, ink, image28, probs, model, round_id=r.id, label=7, strokes=json)
    store.end_round()            # a send after this is refused: RoundClosed
    store.digits()               # ClassDigits: every labelled digit, as arrays
    store.delete(id); store.delete_student(student); store.delete_round(r.id); store.delete_digits()
    store.judge(id, accepted=True); store.add_fooled_to_digits()
    store.import_digits(ClassDigits.from_npz(data))

A student is a token the pages give each browser (in its address, so a reload keeps it). The
store knows no Streamlit; app_pages/classroom.py says who is asking.
"""

import io
import os
import sqlite3
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cnn_demo.classroom.digits import ClassDigits, student_id
from cnn_demo.classroom.rounds import FOOL, Round, RoundClosed, check_kind
from cnn_demo.storage.checkpoint import RUNS_DIR

DB_ENV = "CNN_DEMO_CLASS_DB"  # the store's file, where not beside the checkpoints
NAME_MAX = 20  # characters of a student's name
DRAWING_SIDE = 112  # the drawing as kept: the 280-pixel canvas shrunk to this (a tile shows it at ~120)
MINE_MAX = 12  # a student's own sends shown and kept on the wall's side; older ones are still theirs

SCHEMA = """
CREATE TABLE IF NOT EXISTS students (
    token TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    since REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS drawings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT NOT NULL REFERENCES students(token),
    name TEXT NOT NULL,          -- the name at the time of the send
    sent_at REAL NOT NULL,
    drawing BLOB NOT NULL,       -- PNG, grey, DRAWING_SIDE a side, ink white
    image28 BLOB NOT NULL,       -- 784 bytes, uint8: what the model saw
    probs BLOB NOT NULL,         -- 10 float32: the model's answer
    model TEXT NOT NULL,
    on_wall INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS drawings_by_student ON drawings(token, id);
CREATE TABLE IF NOT EXISTS wall (
    key TEXT PRIMARY KEY,
    value INTEGER
);
CREATE TABLE IF NOT EXISTS rounds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,          -- rounds.KINDS
    digit INTEGER,               -- a "one" round's digit
    started_at REAL NOT NULL,
    ended_at REAL                -- NULL while it is open (at most one is)
);
"""
# Columns a store made before rounds lacks: added in place, so a class's wall survives the update
DRAWING_COLUMNS_ADDED = {
    "student": "TEXT",  # digits.student_id(token), or the id an imported file gave
    "round_id": "INTEGER",  # the round it was sent in (NULL: a send outside rounds)
    "label": "INTEGER",  # the digit asked for, or said in a fool round (NULL: none)
    "strokes": "TEXT",  # the canvas's fabric.js JSON: the drawing can be preprocessed again
    "fool": "TEXT",  # a fool round's send the network got wrong: pending, accepted, rejected
    "in_digits": "INTEGER NOT NULL DEFAULT 0",  # 1: one of the class's labelled digits
}
PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"


class BadName(ValueError):
    """A name that cannot be used (empty once cleaned)."""


def default_store_path() -> Path:
    return Path(os.environ.get(DB_ENV) or RUNS_DIR.parent / "class.sqlite3")


def clean_name(name: str) -> str:
    """What a student typed -> the name kept: no control characters, spaces collapsed, at most
    NAME_MAX characters. Shown as text everywhere, never as HTML or Markdown."""
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in unicodedata.normalize("NFC", str(name)))
    text = " ".join(text.split())[:NAME_MAX].strip()
    if not text:
        raise BadName("a name needs at least one letter")
    return text


def anonymous_name(token: str, adjectives: list[str], animals: list[str], pattern: str = "{adjective} {animal}") -> str:
    """The name a student has until they choose one: an adjective and an animal picked by their token,
    so the same browser keeps it across reloads without anything being stored."""
    digest = hash_mix(token)
    adjective = adjectives[digest % len(adjectives)]
    animal = animals[(digest // len(adjectives)) % len(animals)]
    return clean_name(pattern.format(adjective=adjective, animal=animal))


def hash_mix(text: str) -> int:
    """A stable hash (Python's hash() changes from process to process)."""
    h = 1469598103934665603
    for byte in text.encode():
        h = ((h ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


@dataclass(frozen=True)
class Sent:
    """One drawing sent to the class."""

    id: int
    token: str
    name: str
    sent_at: float
    drawing_png: bytes  # (DRAWING_SIDE, DRAWING_SIDE) grey PNG, ink white
    image28: np.ndarray  # (28, 28) float32 in [0, 1]: what the model saw
    probs: np.ndarray  # (10,) float32
    model: str
    on_wall: bool
    student: str | None = None  # digits.student_id of the sender
    round_id: int | None = None
    label: int | None = None  # the digit asked for (or said, in a fool round)
    fool: str | None = None  # PENDING, ACCEPTED or REJECTED: a fool round's send the network got wrong
    in_digits: bool = False  # one of the class's labelled digits

    @property
    def right(self) -> bool | None:
        """The model's answer (when sent) was the label; None: no label."""
        return None if self.label is None else self.answer == self.label

    @property
    def answer(self) -> int:
        return int(self.probs.argmax())

    @property
    def confidence(self) -> float:
        return float(self.probs.max())


def drawing_png(ink: np.ndarray) -> bytes:
    """(H, W) float ink in [0, 1] (the canvas in the model's polarity) -> a small grey PNG."""
    grey = (np.clip(np.asarray(ink, np.float32), 0, 1) * 255).astype(np.uint8)
    picture = Image.fromarray(grey, "L").resize((DRAWING_SIDE, DRAWING_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return out.getvalue()


class ClassStore:
    """The class's drawings and names in one SQLite file; thread-safe (every browser session of a
    server runs on a thread of its own, and they share one store)."""

    def __init__(self, path: str | Path | None = None, clock=time.time):
        self.path = Path(path) if path is not None else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._lock = threading.Lock()
        # One connection, used under the lock. isolation_level=None: each `with self._db` below
        # is one explicit transaction, committed (so on disk, WAL) before a send is acknowledged.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process loses no commit
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        have = {row[1] for row in self._db.execute("PRAGMA table_info(drawings)")}
        for column, kind in DRAWING_COLUMNS_ADDED.items():
            if column not in have:
                try:
                    self._db.execute(f"ALTER TABLE drawings ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError as e:  # a second process opening the old file at once
                    if "duplicate column" not in str(e):
                        raise
        self._db.execute("CREATE INDEX IF NOT EXISTS drawings_by_round ON drawings(round_id, token)")
        self._db.execute("CREATE INDEX IF NOT EXISTS drawings_in_digits ON drawings(in_digits, id)")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql_and_args: list[tuple[str, tuple]]) -> list[sqlite3.Cursor]:
        """These statements in one write transaction (_transaction); their cursors."""
        return self._transaction(lambda db: [db.execute(sql, args) for sql, args in sql_and_args])

    def _transaction(self, work):
        """work(db) in one write transaction under the lock, the version bumped; its result."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._db)
                self._db.execute("UPDATE wall SET value = value + 1 WHERE key = 'version'")
                self._db.execute("INSERT OR IGNORE INTO wall(key, value) VALUES ('version', 1)")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return result

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # --- names ---------------------------------------------------------------------------

    def name(self, token: str) -> str | None:
        """The name this student chose or sent under; None before either."""
        rows = self._read("SELECT name FROM students WHERE token = ?", (token,))
        return rows[0][0] if rows else None

    def rename(self, token: str, name: str) -> str:
        """Keep the name a student chose (cleaned); their drawings on the wall follow it."""
        name = clean_name(name)
        self._write(
            [
                (
                    "INSERT INTO students(token, name, since) VALUES (?, ?, ?) "
                    "ON CONFLICT(token) DO UPDATE SET name = excluded.name",
                    (token, name, self.clock()),
                ),
                ("UPDATE drawings SET name = ? WHERE token = ?", (name, token)),
            ]
        )
        return name

    # --- sends ---------------------------------------------------------------------------

    def send(
        self,
        token: str,
        name: str,
        ink: np.ndarray,
        image28: np.ndarray,
        probs: np.ndarray,
        model: str,
        round_id: int | None = None,
        label: int | None = None,
        strokes: str | None = None,
    ) -> Sent:
        """Keep one drawing: ink (H, W) in [0, 1], image28 (28, 28) in [0, 1], probs (10,).
        Returns once it is on disk.

        In a round (round_id), label is the digit the page asked for (checked here against what
        the round asks this student now) or, in a fool round, the digit the student says it is;
        a round that has ended, or a digit no longer asked, raises RoundClosed and keeps nothing."""
        name = self.name(token) or clean_name(name)
        image28 = np.asarray(image28, np.float32)
        probs = np.asarray(probs, np.float32)
        if image28.shape != (28, 28) or probs.shape != (10,):
            raise ValueError(
                f"a sent drawing needs a (28, 28) image and 10 probabilities, not {image28.shape}, {probs.shape}"
            )
        if round_id is not None and (label is None or not 0 <= int(label) <= 9):
            raise ValueError(f"a send in a round needs its digit 0-9, not {label!r}")
        png = drawing_png(ink)
        pixels = (np.clip(image28, 0, 1) * 255).round().astype(np.uint8).tobytes()
        now = self.clock()
        answer = int(probs.argmax())

        def work(db: sqlite3.Connection) -> int:
            fool, in_digits = None, 0
            if round_id is not None:
                found = _round_row(db, int(round_id))
                if found is None or not found.open:
                    raise RoundClosed("the round has ended")
                if found.kind == FOOL:
                    fool = PENDING if answer != int(label) else None
                else:
                    if found.next_digit(token, _labels_sent(db, found.id, token)) != int(label):
                        raise RoundClosed("that digit is no longer asked")
                    in_digits = 1
            db.execute(
                "INSERT INTO students(token, name, since) VALUES (?, ?, ?) ON CONFLICT(token) DO NOTHING",
                (token, name, now),
            )
            cursor = db.execute(
                "INSERT INTO drawings(token, name, sent_at, drawing, image28, probs, model, student, round_id, "
                "label, strokes, fool, in_digits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    token,
                    name,
                    now,
                    png,
                    pixels,
                    probs.tobytes(),
                    str(model),
                    student_id(token),
                    None if round_id is None else int(round_id),
                    None if label is None else int(label),
                    strokes,
                    fool,
                    in_digits,
                ),
            )
            return cursor.lastrowid

        return self.get(self._transaction(work))

    def get(self, sent_id: int) -> Sent | None:
        rows = self._read(f"SELECT {COLUMNS} FROM drawings WHERE id = ?", (int(sent_id),))
        return _sent(rows[0]) if rows else None

    def mine(self, token: str, limit: int = MINE_MAX) -> list[Sent]:
        """A student's own sends, newest first (on the wall or not)."""
        rows = self._read(f"SELECT {COLUMNS} FROM drawings WHERE token = ? ORDER BY id DESC LIMIT ?", (token, limit))
        return [_sent(r) for r in rows]

    def take_back(self, token: str, sent_id: int) -> bool:
        """A student takes one of their own drawings back: gone from the wall and from the disk.
        Another student's drawing is not theirs to take (False)."""
        cursors = self._write([("DELETE FROM drawings WHERE id = ? AND token = ?", (int(sent_id), token))])
        return cursors[0].rowcount > 0

    # --- the wall --------------------------------------------------------------------------

    def wall(self) -> list[Sent]:
        """Every student's latest drawing still on the wall, in the order the students first came
        (a student's tile keeps its place when they send again, so they find it)."""
        columns = ", ".join(f"d.{c.strip()}" for c in COLUMNS.split(","))
        rows = self._read(
            f"SELECT {columns} FROM drawings d JOIN students s ON s.token = d.token WHERE d.id IN "
            "(SELECT MAX(id) FROM drawings WHERE on_wall = 1 GROUP BY token) ORDER BY s.since, s.token"
        )
        return [_sent(r) for r in rows]

    def remove(self, sent_id: int) -> None:
        """The teacher takes a drawing off the wall (a rude one, say); its student still has it."""
        self._write([("UPDATE drawings SET on_wall = 0 WHERE id = ?", (int(sent_id),))])

    def clear_wall(self) -> None:
        """Every drawing off the wall; the students keep theirs."""
        self._write(
            [
                ("UPDATE drawings SET on_wall = 0 WHERE on_wall = 1", ()),
                ("DELETE FROM wall WHERE key = 'spotlight'", ()),
            ]
        )

    def spotlight(self, sent_id: int | None) -> None:
        """The drawing the teacher shows large (None: none)."""
        if sent_id is None:
            self._write([("DELETE FROM wall WHERE key = 'spotlight'", ())])
        else:
            self._write([("INSERT OR REPLACE INTO wall(key, value) VALUES ('spotlight', ?)", (int(sent_id),))])

    def spotlit_id(self) -> int | None:
        rows = self._read("SELECT value FROM wall WHERE key = 'spotlight'")
        return int(rows[0][0]) if rows else None

    def spotlit(self) -> Sent | None:
        """The drawing in the spotlight, while it is still on the wall."""
        sent_id = self.spotlit_id()
        sent = self.get(sent_id) if sent_id is not None else None
        return sent if sent is not None and sent.on_wall else None

    def version(self) -> int:
        """A number that changes with every write: a page polls it and redraws the wall only then."""
        rows = self._read("SELECT value FROM wall WHERE key = 'version'")
        return int(rows[0][0]) if rows else 0

    # --- rounds ----------------------------------------------------------------------------

    def start_round(self, kind: str, digit: int | None = None) -> Round:
        """The teacher asks the class for digits (rounds.KINDS); a round still open ends now."""
        kind, digit = check_kind(kind, digit)
        now = self.clock()

        def work(db: sqlite3.Connection) -> int:
            db.execute("UPDATE rounds SET ended_at = ? WHERE ended_at IS NULL", (now,))
            return db.execute(
                "INSERT INTO rounds(kind, digit, started_at) VALUES (?, ?, ?)", (kind, digit, now)
            ).lastrowid

        return self.round(self._transaction(work))

    def end_round(self) -> Round | None:
        """The open round ends: a send for it from now on is refused. The round that ended, if any."""
        open_round = self.current_round()
        if open_round is None:
            return None
        self._write(
            [("UPDATE rounds SET ended_at = ? WHERE id = ? AND ended_at IS NULL", (self.clock(), open_round.id))]
        )
        return self.round(open_round.id)

    def round(self, round_id: int) -> Round | None:
        rows = self._read(f"SELECT {ROUND_COLUMNS} FROM rounds WHERE id = ?", (int(round_id),))
        return _round(rows[0]) if rows else None

    def current_round(self) -> Round | None:
        rows = self._read(f"SELECT {ROUND_COLUMNS} FROM rounds WHERE ended_at IS NULL ORDER BY id DESC LIMIT 1")
        return _round(rows[0]) if rows else None

    def rounds(self) -> list[Round]:
        """Every round, newest first."""
        return [_round(r) for r in self._read(f"SELECT {ROUND_COLUMNS} FROM rounds ORDER BY id DESC")]

    def asked(self, token: str) -> tuple[Round | None, int | None]:
        """The open round and the digit it asks this student for next (None: they have drawn
        them all, or it is a fool round, whose digit they say)."""
        open_round = self.current_round()
        if open_round is None:
            return None, None
        with self._lock:
            done = _labels_sent(self._db, open_round.id, token)
        return open_round, open_round.next_digit(token, done)

    def sent_in_round(self, round_id: int, token: str) -> list[int]:
        """The labels this student has sent in this round."""
        with self._lock:
            return _labels_sent(self._db, int(round_id), token)

    def round_progress(self, round_id: int) -> tuple[int, int]:
        """(drawings sent in this round, students who sent them)."""
        rows = self._read("SELECT COUNT(*), COUNT(DISTINCT token) FROM drawings WHERE round_id = ?", (int(round_id),))
        return int(rows[0][0]), int(rows[0][1])

    # --- the class's digits ------------------------------------------------------------------

    def digits(self, token: str | None = None, student: str | None = None, strokes: bool = False) -> ClassDigits:
        """The class's labelled digits (or one student's: by token, or by student id) as arrays,
        in the order they were sent; strokes: with the canvas's strokes (an export), else "" each."""
        where, args = "in_digits = 1", []
        if token is not None:
            where, args = where + " AND token = ?", [*args, token]
        if student is not None:
            where, args = where + " AND student = ?", [*args, student]
        rows = self._read(
            f"SELECT id, token, student, name, round_id, sent_at, probs, model, label, image28, {'strokes' if strokes else 'NULL'} "
            f"FROM drawings WHERE {where} ORDER BY id",
            tuple(args),
        )
        n = len(rows)
        images = (
            np.frombuffer(b"".join(r[9] for r in rows), np.uint8).reshape(n, 28, 28)
            if n
            else np.zeros((0, 28, 28), np.uint8)
        )
        probs = np.frombuffer(b"".join(r[6] for r in rows), np.float32).reshape(n, 10).copy()  # (N, 10)
        return ClassDigits(
            images=images.copy(),
            labels=np.array([r[8] for r in rows], np.int64),
            students=np.array([r[2] or student_id(r[1]) for r in rows], dtype=str).reshape(n),
            names=np.array([r[3] for r in rows], dtype=str).reshape(n),
            rounds=np.array([-1 if r[4] is None else r[4] for r in rows], np.int64),
            sent_at=np.array([r[5] for r in rows], np.float64),
            answers=probs.argmax(axis=1) if n else np.zeros(0, np.int64),
            probs=probs,
            models=np.array([r[7] for r in rows], dtype=str).reshape(n),
            strokes=[r[10] or "" for r in rows],
            ids=np.array([r[0] for r in rows], np.int64),
        )

    def digits_version(self) -> tuple[int, int, int]:
        """Changes whenever the class's digits do (a send to the wall alone does not): a cache key
        for scoring models on them."""
        rows = self._read(
            "SELECT COUNT(*), COALESCE(MAX(id), 0), COALESCE(SUM(id), 0) FROM drawings WHERE in_digits = 1"
        )
        return tuple(int(v) for v in rows[0])

    def digit_count(self) -> tuple[int, int]:
        """(labelled digits, students who drew them)."""
        rows = self._read("SELECT COUNT(*), COUNT(DISTINCT student) FROM drawings WHERE in_digits = 1")
        return int(rows[0][0]), int(rows[0][1])

    def get_many(self, ids) -> list[Sent]:
        """The sends of these ids, in that order (ids deleted since are left out)."""
        ids = [int(i) for i in ids]
        if not ids:
            return []
        found = {}
        for start in range(0, len(ids), 500):  # SQLite's limit on a statement's variables
            chunk = ids[start : start + 500]
            rows = self._read(
                f"SELECT {COLUMNS} FROM drawings WHERE id IN ({', '.join('?' * len(chunk))})", tuple(chunk)
            )
            found.update({r[0]: _sent(r) for r in rows})
        return [found[i] for i in ids if i in found]

    def students_with_digits(self) -> list[tuple[str, str, int]]:
        """(student id, name, how many digits) for each student with labelled digits, by name."""
        rows = self._read(
            "SELECT student, MAX(name), COUNT(*) FROM drawings WHERE in_digits = 1 GROUP BY student ORDER BY MAX(name)"
        )
        return [(r[0], r[1], int(r[2])) for r in rows]

    # --- the teacher's deletes (a student's own: take_back) -----------------------------------

    def delete(self, sent_id: int) -> bool:
        """One drawing, gone from the disk."""
        return self._write([("DELETE FROM drawings WHERE id = ?", (int(sent_id),))])[0].rowcount > 0

    def delete_student(self, student: str) -> int:
        """Every labelled digit of one student (by student id); how many."""
        return self._write([("DELETE FROM drawings WHERE student = ? AND in_digits = 1", (student,))])[0].rowcount

    def delete_round(self, round_id: int) -> int:
        """Every drawing sent in one round; how many."""
        return self._write([("DELETE FROM drawings WHERE round_id = ?", (int(round_id),))])[0].rowcount

    def delete_digits(self) -> int:
        """Every labelled digit and every fool round's send; how many. Unlabelled sends stay on the wall."""
        return self._write([("DELETE FROM drawings WHERE in_digits = 1 OR fool IS NOT NULL", ())])[0].rowcount

    # --- fool the network ---------------------------------------------------------------------

    def fooling(self, status: str | None = None) -> list[Sent]:
        """A fool round's sends that the network got wrong (status: PENDING, ACCEPTED, REJECTED,
        None: all), oldest first."""
        if status is None:
            rows = self._read(f"SELECT {COLUMNS} FROM drawings WHERE fool IS NOT NULL ORDER BY id")
        else:
            rows = self._read(f"SELECT {COLUMNS} FROM drawings WHERE fool = ? ORDER BY id", (status,))
        return [_sent(r) for r in rows]

    def judge(self, sent_id: int, accepted: bool) -> bool:
        """The teacher says whether a fooling drawing is really readable as its digit."""
        cursors = self._write(
            [
                (
                    "UPDATE drawings SET fool = ? WHERE id = ? AND fool IS NOT NULL",
                    (ACCEPTED if accepted else REJECTED, int(sent_id)),
                )
            ]
        )
        return cursors[0].rowcount > 0

    def fooled_counts(self) -> list[tuple[str, int]]:
        """(name, accepted fooling drawings) per student, most first."""
        rows = self._read(
            "SELECT MAX(name), COUNT(*) FROM drawings WHERE fool = ? GROUP BY token ORDER BY COUNT(*) DESC, MAX(name)",
            (ACCEPTED,),
        )
        return [(r[0], int(r[1])) for r in rows]

    def add_fooled_to_digits(self) -> int:
        """The accepted fooling drawings join the class's digits (labelled with the digit the
        student said); how many joined now."""
        sql = "UPDATE drawings SET in_digits = 1 WHERE fool = ? AND in_digits = 0"
        return self._write([(sql, (ACCEPTED,))])[0].rowcount

    # --- import -------------------------------------------------------------------------------

    def import_digits(self, digits: ClassDigits) -> tuple[int, int]:
        """Labelled digits from a file (ClassDigits.from_npz): (added, already here). A digit
        already in the store (same student, time, label and image) is not added twice. Each
        imported student gets a new random token: the file never lets anyone act as them."""
        import secrets

        def work(db: sqlite3.Connection) -> tuple[int, int]:
            added = skipped = 0
            tokens: dict[str, str] = {}
            for i in range(len(digits)):
                student = str(digits.students[i])
                pixels = np.ascontiguousarray(digits.images[i], np.uint8).tobytes()
                label, sent_at = int(digits.labels[i]), float(digits.sent_at[i])
                duplicate = db.execute(
                    "SELECT 1 FROM drawings WHERE student = ? AND sent_at = ? AND label = ? AND image28 = ? LIMIT 1",
                    (student, sent_at, label, pixels),
                ).fetchone()
                if duplicate:
                    skipped += 1
                    continue
                if student not in tokens:
                    row = db.execute("SELECT token FROM drawings WHERE student = ? LIMIT 1", (student,)).fetchone()
                    tokens[student] = row[0] if row else "imported-" + secrets.token_urlsafe(12)
                token = tokens[student]
                try:
                    name = clean_name(str(digits.names[i]))
                except BadName:
                    name = "?"
                probs = np.asarray(digits.probs[i], np.float32)
                if np.isnan(probs).any():  # a file without them: the answer given then, surely
                    answer, probs = int(digits.answers[i]), np.zeros(10, np.float32)
                    if 0 <= answer <= 9:
                        probs[answer] = 1.0
                db.execute(
                    "INSERT INTO students(token, name, since) VALUES (?, ?, ?) ON CONFLICT(token) DO NOTHING",
                    (token, name, sent_at),
                )
                db.execute(
                    "INSERT INTO drawings(token, name, sent_at, drawing, image28, probs, model, on_wall, student, "
                    "label, strokes, in_digits) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, 1)",
                    (
                        token,
                        name,
                        sent_at,
                        drawing_png(digits.images[i].astype(np.float32) / 255),
                        pixels,
                        probs.tobytes(),
                        str(digits.models[i]),
                        student,
                        label,
                        digits.strokes[i] or None,
                    ),
                )
                added += 1
            return added, skipped

        return self._transaction(work)


COLUMNS = "id, token, name, sent_at, drawing, image28, probs, model, on_wall, student, round_id, label, fool, in_digits"
ROUND_COLUMNS = "id, kind, digit, started_at, ended_at"


def _round(row: tuple) -> Round:
    round_id, kind, digit, started_at, ended_at = row
    return Round(int(round_id), kind, None if digit is None else int(digit), float(started_at), ended_at)


def _round_row(db: sqlite3.Connection, round_id: int) -> Round | None:
    row = db.execute(f"SELECT {ROUND_COLUMNS} FROM rounds WHERE id = ?", (round_id,)).fetchone()
    return _round(row) if row else None


def _labels_sent(db: sqlite3.Connection, round_id: int, token: str) -> list[int]:
    rows = db.execute("SELECT label FROM drawings WHERE round_id = ? AND token = ?", (round_id, token)).fetchall()
    return [int(r[0]) for r in rows if r[0] is not None]


def _sent(row: tuple) -> Sent:
    sent_id, token, name, sent_at, png, pixels, probs, model, on_wall, student, round_id, label, fool, in_digits = row
    image28 = np.frombuffer(pixels, np.uint8).reshape(28, 28).astype(np.float32) / 255
    return Sent(
        int(sent_id),
        token,
        name,
        float(sent_at),
        bytes(png),
        image28,
        np.frombuffer(probs, np.float32).copy(),
        model,
        bool(on_wall),
        student or student_id(token),
        None if round_id is None else int(round_id),
        None if label is None else int(label),
        fool,
        bool(in_digits),
    )
