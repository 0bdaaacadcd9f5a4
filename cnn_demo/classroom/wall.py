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
"""


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

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql_and_args: list[tuple[str, tuple]]) -> list[sqlite3.Cursor]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursors = [self._db.execute(sql, args) for sql, args in sql_and_args]
                self._db.execute("UPDATE wall SET value = value + 1 WHERE key = 'version'")
                self._db.execute("INSERT OR IGNORE INTO wall(key, value) VALUES ('version', 1)")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return cursors

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

    def send(self, token: str, name: str, ink: np.ndarray, image28: np.ndarray, probs: np.ndarray, model: str) -> Sent:
        """Keep one drawing: ink (H, W) in [0, 1], image28 (28, 28) in [0, 1], probs (10,).
        Returns once it is on disk."""
        name = self.name(token) or clean_name(name)
        image28 = np.asarray(image28, np.float32)
        probs = np.asarray(probs, np.float32)
        if image28.shape != (28, 28) or probs.shape != (10,):
            raise ValueError(
                f"a sent drawing needs a (28, 28) image and 10 probabilities, not {image28.shape}, {probs.shape}"
            )
        png = drawing_png(ink)
        pixels = (np.clip(image28, 0, 1) * 255).round().astype(np.uint8).tobytes()
        now = self.clock()
        cursors = self._write(
            [
                (
                    "INSERT INTO students(token, name, since) VALUES (?, ?, ?) ON CONFLICT(token) DO NOTHING",
                    (token, name, now),
                ),
                (
                    "INSERT INTO drawings(token, name, sent_at, drawing, image28, probs, model) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (token, name, now, png, pixels, probs.tobytes(), str(model)),
                ),
            ]
        )
        return self.get(cursors[1].lastrowid)

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


COLUMNS = "id, token, name, sent_at, drawing, image28, probs, model, on_wall"


def _sent(row: tuple) -> Sent:
    sent_id, token, name, sent_at, png, pixels, probs, model, on_wall = row
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
    )
