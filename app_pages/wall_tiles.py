"""The tiles of the class's wall as one element: a components-v2 element (app_pages/wall_tiles.js,
in the page's DOM, no iframe), not a container of Streamlit elements per tile.

Why: the teacher's wall is looked at each second (a send is on it within 2 s), and each look sends
every element on it again. As containers, a tile was seven elements (the box, the picture, the
name, the answer, a row, two buttons): 420 a second for 60 students, each its own message through
the server's event loop, and the class's strokes waited behind them (python -m
benchmarks.class_load, docs/performance.md). As one element, a look is one message; the browser
keeps the tiles it has and adds, removes and orders the rest.

A student's name goes into the page as text (textContent), never as HTML or Markdown. The
teacher's buttons send {kind: "spot" | "remove", id}; what they do is checked on the server
(class_page.py, teacher_action), so a student's session sending the same is refused."""

import base64
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import streamlit as st

from cnn_demo.classroom.wall import Sent

KEY = "wall_tiles"  # the element's container gets the class st-key-wall_tiles
ACTIONS = ("spot", "remove")

CSS = """
.wall-tiles { display: flex; flex-wrap: wrap; gap: 0.5rem; }
.wall-tile {
  width: var(--tile-width); box-sizing: border-box; padding: calc(0.75rem * var(--tile-scale));
  border: 1px solid var(--st-border-color, rgba(49, 51, 63, 0.2));
  border-radius: var(--st-base-radius, 0.5rem); display: flex; flex-direction: column; gap: 0.4rem;
}
.wall-tile img { width: 100%; aspect-ratio: 1; border-radius: 0.25rem; display: block; background: #000; }
.wall-name { font-weight: 600; font-size: calc(1rem * var(--tile-scale)); line-height: 1.3; overflow-wrap: anywhere; white-space: pre-wrap; }
.wall-answer { font-size: calc(0.875rem * var(--tile-scale)); opacity: 0.6; }
.wall-buttons { display: flex; gap: 0.5rem; }
.wall-button {
  display: inline-flex; align-items: center; justify-content: center; cursor: pointer;
  width: calc(2.5rem * var(--tile-scale)); height: calc(2.5rem * var(--tile-scale)); padding: 0;
  color: inherit; background: var(--st-background-color, #fff);
  border: 1px solid var(--st-border-color, rgba(49, 51, 63, 0.2)); border-radius: var(--st-button-radius, 0.5rem);
}
.wall-button:hover, .wall-button:focus-visible { border-color: var(--st-primary-color, #ff4b4b); color: var(--st-primary-color, #ff4b4b); }
.wall-button svg { width: calc(1.1rem * var(--tile-scale)); height: calc(1.1rem * var(--tile-scale)); fill: currentColor; }
"""

# Registered once, at import: every session mounts the same definition.
_component = st.components.v2.component(
    "cnn_demo.wall_tiles",
    js=(Path(__file__).with_suffix(".js")).read_text(encoding="utf-8"),
    css=CSS,
    isolate_styles=False,  # the page's DOM: tests and the benchmark find the tiles there
)


@dataclass(frozen=True)
class Action:
    """A press of a tile's button: kind "spot" or "remove", on the drawing with this id."""

    kind: str
    sent_id: int


@lru_cache(maxsize=1024)
def data_url(png: bytes) -> str:
    """A tile's picture inline (about 2 KB): the same bytes give the same text, made once."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def tiles_data(tiles: list[Sent], answers: list[str], teacher: bool, width: int, scale: float, helps: dict) -> dict:
    """What the element draws: each tile's id, name, answer text and picture; the teacher's buttons
    (with their tooltips) only for the teacher."""
    return {
        "tiles": [
            {"id": s.id, "name": s.name, "answer": answer, "src": data_url(s.drawing_png)}
            for s, answer in zip(tiles, answers, strict=True)
        ],
        "teacher": teacher,
        "width": width,
        "scale": scale,
        "spot_help": helps["spot"],
        "remove_help": helps["remove"],
    }


def parse_action(value) -> Action | None:
    """The trigger value a button sent, checked: anything else a browser might send is nothing."""
    if not isinstance(value, dict) or value.get("kind") not in ACTIONS:
        return None
    sent_id = value.get("id")
    if not isinstance(sent_id, int) or isinstance(sent_id, bool):
        return None
    return Action(value["kind"], sent_id)


def wall_tiles(data: dict) -> Action | None:
    """Draw the tiles; the button pressed in this run, if any (a trigger: it reads None next run)."""
    result = _component(key=KEY, data=data, on_action_change=lambda: None)
    return parse_action(getattr(result, "action", None))
