"""Digits drawn the way people draw them on the Draw page's canvas, to measure the whole path.

MNIST's test set says how well the model reads MNIST. What a class draws is different: a
mouse or a finger, a round brush 10-30 pixels wide on a 280x280 canvas, any size, anywhere.
This module draws such digits from stroke templates (several styles per digit: a 1 with and
without a flag, an open and a closed 4, a 7 with and without a bar, a 9 with a straight or a
curved tail ...), each one varied at random: size, place, width, slant, turn, wobble.

    drawing = draw_digit(7, np.random.default_rng(0))
    drawing.canvas    # (280, 280, 4) uint8 RGBA, as st_canvas returns it
    drawing.strokes   # [(K, 2) x, y in canvas pixels, ...]: the end-to-end tests replay these

    python -m cnn_demo drawn [--n 1000] [--checkpoint PATH] [--seed 0] [--json]

reports a checkpoint's accuracy on N drawn digits through canvas_to_mnist + predict_proba,
with and without MNIST-style fitting.
"""

import argparse
import json
import sys
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from cnn_demo.drawings.preprocess import CANVAS  # drawn on a canvas as big as the Draw page's

SUPERSAMPLE = 4  # draw 4x larger, then average down: anti-aliased edges like the browser's


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> np.ndarray:
    """Points along an ellipse, angles in degrees with y pointing down: 0 right, 90 bottom, 270 top."""
    t = np.radians(np.linspace(start, end, max(8, int(abs(end - start) / 5))))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def _bezier(p0, p1, p2) -> np.ndarray:
    """A quadratic curve from p0 to p2 pulled towards p1."""
    t = np.linspace(0, 1, 16)[:, None]
    return (1 - t) ** 2 * np.array(p0) + 2 * (1 - t) * t * np.array(p1) + t**2 * np.array(p2)


def _line(*points) -> np.ndarray:
    return np.array(points, float)


def _path(*parts: np.ndarray) -> np.ndarray:
    """One stroke made of pieces drawn one after the other without lifting the pen."""
    return np.concatenate(parts)


# Digit -> styles: (name, how often people draw it, strokes). A stroke is an (K, 2) array of
# x, y with y down; a digit is 1 high and as wide as it is usually drawn.
_BOWL_3 = _arc(0.30, 0.72, 0.33, 0.28, 250, 520)  # the lower bowl of a 3
_BOWL_5 = _arc(0.30, 0.70, 0.32, 0.30, 235, 510)  # the bowl of a 5
_LOOP_6 = _arc(0.29, 0.75, 0.28, 0.25, 180, -130)  # the loop of a 6, anticlockwise on screen
_LOOP_9 = _arc(0.30, 0.27, 0.30, 0.27, -30, -390)  # the loop of a 9, anticlockwise from its right
TEMPLATES: dict[int, list[tuple[str, float, list[np.ndarray]]]] = {
    0: [
        ("oval", 0.6, [_arc(0.35, 0.5, 0.35, 0.5, 265, -105)]),
        ("narrow, overlapping", 0.4, [_arc(0.28, 0.5, 0.28, 0.5, 290, -100)]),
    ],
    1: [
        ("stick", 0.5, [_line((0.0, 0.0), (0.0, 1.0))]),
        ("flag", 0.35, [_line((-0.12, 0.22), (0.03, 0.0), (0.03, 1.0))]),
        ("flag and base", 0.15, [_line((-0.12, 0.22), (0.03, 0.0), (0.03, 1.0)), _line((-0.2, 1.0), (0.26, 1.0))]),
    ],
    2: [
        ("angular", 0.5, [_path(_arc(0.30, 0.27, 0.30, 0.27, 190, 380), _line((0.0, 1.0), (0.65, 1.0)))]),
        (
            "swan",
            0.5,
            [
                _path(
                    _arc(0.30, 0.27, 0.30, 0.27, 200, 400),
                    _bezier((0.53, 0.44), (0.2, 0.75), (0.0, 1.0)),
                    _bezier((0.0, 1.0), (0.3, 0.93), (0.66, 0.98)),
                )
            ],
        ),
    ],
    3: [
        ("round", 0.7, [_path(_arc(0.30, 0.25, 0.30, 0.25, 200, 480), _BOWL_3)]),
        ("flat top", 0.3, [_path(_line((0.0, 0.0), (0.6, 0.0), (0.22, 0.42)), _arc(0.30, 0.72, 0.33, 0.28, 260, 520))]),
    ],
    4: [
        ("closed", 0.5, [_line((0.45, 0.0), (0.0, 0.65), (0.72, 0.65)), _line((0.5, 0.05), (0.5, 1.0))]),
        ("open", 0.5, [_line((0.05, 0.0), (0.0, 0.6), (0.72, 0.6)), _line((0.52, 0.0), (0.52, 1.0))]),
    ],
    5: [
        ("one stroke", 0.4, [_path(_line((0.6, 0.0), (0.1, 0.0), (0.06, 0.45)), _BOWL_5)]),
        ("bar last", 0.6, [_path(_line((0.1, 0.0), (0.06, 0.45)), _BOWL_5), _line((0.1, 0.0), (0.62, 0.0))]),
    ],
    6: [
        ("curved", 0.6, [_path(_bezier((0.55, 0.0), (0.08, 0.22), (0.01, 0.75)), _LOOP_6)]),
        ("straight", 0.4, [_path(_line((0.55, 0.0), (0.02, 0.7)), _LOOP_6)]),
    ],
    7: [
        ("plain", 0.55, [_line((0.0, 0.0), (0.65, 0.0), (0.2, 1.0))]),
        ("barred", 0.25, [_line((0.0, 0.0), (0.65, 0.0), (0.2, 1.0)), _line((0.2, 0.52), (0.62, 0.52))]),
        (
            "hooked",
            0.2,
            [_path(_line((0.0, 0.15), (0.0, 0.0), (0.65, 0.0)), _bezier((0.65, 0.0), (0.35, 0.45), (0.3, 1.0)))],
        ),
    ],
    8: [
        (
            "one stroke",
            0.7,
            [
                _path(
                    _arc(0.32, 0.24, 0.26, 0.24, 340, 110), _arc(0.32, 0.72, 0.32, 0.28, 270, 620), _line((0.57, 0.16))
                )
            ],
        ),
        ("two loops", 0.3, [_arc(0.32, 0.24, 0.25, 0.24, 270, -95), _arc(0.32, 0.72, 0.32, 0.28, 270, -95)]),
    ],
    9: [
        ("straight tail", 0.6, [_path(_LOOP_9, _line((0.6, 0.2), (0.58, 1.0)))]),
        ("curved tail", 0.4, [_path(_LOOP_9, _bezier((0.6, 0.2), (0.62, 0.9), (0.25, 1.0)))]),
    ],
}


@dataclass
class Drawing:
    label: int  # the digit drawn
    style: str  # which template, e.g. "open" for a 4
    strokes: list[np.ndarray]  # each (K, 2): x, y in canvas pixels, in drawing order
    brush: int  # stroke width in pixels (the canvas's stroke width)
    canvas: np.ndarray  # (280, 280, 4) uint8 RGBA, as the canvas returns it


def draw_digit(label: int, rng: np.random.Generator, size: int = CANVAS, background: str = "black") -> Drawing:
    """One digit drawn with a random style, size, place, brush, slant, turn and wobble."""
    styles = TEMPLATES[label]
    weights = np.array([w for _, w, _ in styles])
    name, _, template = styles[rng.choice(len(styles), p=weights / weights.sum())]

    height = rng.uniform(0.25, 0.85) * size  # from small to nearly the whole canvas
    brush = round(min(rng.uniform(10, 28), 0.22 * height))  # a thick brush on a small digit is a blob
    widen = rng.uniform(0.8, 1.25)  # narrow or wide handwriting
    slant = rng.uniform(-0.1, 0.35)  # most people lean their digits right
    turn = np.radians(rng.uniform(-12, 12))
    wobble = 0.04  # how far a hand strays from the ideal line, in digit heights
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])

    strokes = []
    for stroke in template:
        points = _resample(stroke, step=0.02)  # (K, 2) evenly spaced, in digit heights
        # The hand drifts along the stroke, and the whole stroke lands a little off where it was meant.
        points = points + _smooth_noise(points, wobble, rng) + rng.normal(0, 0.025, 2)
        x, y = points[:, 0] * widen, points[:, 1]
        x = x + slant * (1 - y)  # shear: the top leans right
        points = np.stack([x, y], 1) @ rotation.T * height  # (K, 2) pixels, not yet placed
        strokes.append(points)

    # Place the digit anywhere it fits whole on the canvas, brush included.
    margin = brush / 2 + 2
    extent = np.ptp(np.concatenate(strokes), axis=0)  # (2,) width, height in pixels
    shrink = min(1.0, float(((size - 2 * margin) / np.maximum(extent, 1e-6)).min()))  # turned too big: fit it
    strokes = [s * shrink for s in strokes]
    low = np.concatenate(strokes).min(0)
    room = size - 2 * margin - extent * shrink  # (2,) free space in x and y
    offset = margin - low + rng.uniform(0, 1, 2) * room
    strokes = [s + offset + rng.normal(0, 0.3, s.shape) for s in strokes]  # and a little tremor
    return Drawing(label, name, strokes, brush, render(strokes, brush, size, background))


def drawings(n: int, seed: int = 0, size: int = CANVAS, background: str = "black") -> list[Drawing]:
    """n digits, 0..9 in turn; drawing i is the same for any n with the same seed."""
    return [draw_digit(i % 10, np.random.default_rng([seed, i]), size, background) for i in range(n)]


def render(strokes: list[np.ndarray], brush: int, size: int = CANVAS, background: str = "black") -> np.ndarray:
    """Strokes -> (size, size, 4) uint8 RGBA: white ink with round caps and joins.

    background "black": opaque, the colour carries the ink (st_canvas with a background colour);
    "transparent": the alpha channel carries it (st_canvas without one).
    """
    # no strokes: a blank canvas, as one just cleared
    coverage = _ink_coverage(strokes, brush, size) if strokes else np.zeros((size, size), np.uint8)
    rgba = np.zeros((size, size, 4), np.uint8)
    if background == "black":
        rgba[..., :3] = coverage[..., None]
        rgba[..., 3] = 255
    elif background == "transparent":
        rgba[..., :3] = np.where(coverage > 0, 255, 0)[..., None]
        rgba[..., 3] = coverage
    else:
        raise ValueError(f"background must be 'black' or 'transparent', not {background!r}")
    return rgba


def _ink_coverage(strokes: list[np.ndarray], brush: int, size: int) -> np.ndarray:
    """(size, size) uint8: how much of each canvas pixel the strokes cover, 0..255."""
    s = SUPERSAMPLE
    # Draw only the canvas pixels around the ink (x0..x1, y0..y1), s times larger: fast, and
    # exactly what drawing the whole canvas would give there.
    everything = np.concatenate(strokes)
    x0, y0 = np.clip(np.floor(everything.min(0) - brush / 2 - 1), 0, size).astype(int)
    x1, y1 = np.clip(np.ceil(everything.max(0) + brush / 2 + 1), 0, size).astype(int)
    img = Image.new("L", (max(x1 - x0, 1) * s, max(y1 - y0, 1) * s), 0)
    pen = ImageDraw.Draw(img)
    r = brush * s / 2
    for stroke in strokes:
        points = [((float(x) - x0) * s, (float(y) - y0) * s) for x, y in stroke]
        if len(points) > 1:
            pen.line(points, fill=255, width=round(brush * s))
        for x, y in points:  # round caps and joins, like the browser's brush
            pen.ellipse((x - r, y - r, x + r, y + r), fill=255)
    coverage = np.zeros((size, size), np.uint8)
    coverage[y0:y1, x0:x1] = np.asarray(img.reduce(s))[: y1 - y0, : x1 - x0]  # the average over each s x s block
    return coverage


def _resample(points: np.ndarray, step: float) -> np.ndarray:
    """A polyline -> points spaced `step` apart along it (its ends kept)."""
    along = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    if along[-1] == 0:
        return points[:1]
    t = np.linspace(0, along[-1], max(2, int(np.ceil(along[-1] / step)) + 1))
    return np.stack([np.interp(t, along, points[:, 0]), np.interp(t, along, points[:, 1])], 1)


def _smooth_noise(points: np.ndarray, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """(K, 2) slow random drift along a stroke: two sine waves per axis, at most about one bend
    per digit height travelled, so a straight line bows a little but never wiggles."""
    along = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])[:, None, None]
    freq = rng.uniform(0.2, 0.8, (1, 2, 2))  # (1, wave, axis): cycles per digit height of stroke
    phase = rng.uniform(0, 2 * np.pi, (1, 2, 2))
    weight = rng.normal(0, amplitude / 2, (1, 2, 2))
    return (weight * np.sin(2 * np.pi * freq * along + phase)).sum(1)


def accuracy_on_drawings(model, items: list[Drawing], fit: bool = True) -> tuple[float, list[float], np.ndarray]:
    """(accuracy, per-class accuracy, predictions) of `model` on drawings, read through the Draw
    page's path: canvas_to_mnist, then predict_proba. A drawing that preprocesses to nothing
    counts as wrong (prediction -1)."""
    from cnn_demo.drawings.preprocess import canvas_to_mnist
    from cnn_demo.inside.predict import predict_proba

    images = [canvas_to_mnist(d.canvas, fit=fit) for d in items]
    blank = np.zeros((28, 28), np.float32)  # never happens with these drawings; counted wrong if it did
    probs = predict_proba(model, np.stack([blank if im is None else im for im in images]))  # (N, 10)
    predictions = np.where([im is None for im in images], -1, probs.argmax(1))
    labels = np.array([d.label for d in items])
    per_class = [float((predictions[labels == c] == c).mean()) for c in range(10)]
    return float((predictions == labels).mean()), per_class, predictions


def main(argv: list[str] | None = None) -> int:
    from cnn_demo.storage import checkpoint

    p = argparse.ArgumentParser(
        prog="python -m cnn_demo drawn", description="Accuracy of a checkpoint on digits drawn like the Draw page's."
    )
    p.add_argument("--n", type=int, default=1000, help="how many digits to draw (0..9 in turn)")
    p.add_argument("--checkpoint", default=str(checkpoint.DEFAULT))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--background", choices=["black", "transparent"], default="black")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error("--n must be at least 1")
    try:
        model, _ = checkpoint.load(args.checkpoint)
    except checkpoint.CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    items = drawings(args.n, args.seed, background=args.background)
    results = {}
    for fit in (True, False):
        acc, per_class, predictions = accuracy_on_drawings(model, items, fit)
        results[fit] = (acc, per_class)
        label = "MNIST-style fitting" if fit else "plain resize (fit=False)"
        print(f"{args.checkpoint}: {100 * acc:.2f}% of {args.n} drawn digits, {label}")
        print("  " + "  ".join(f"{d}: {100 * a:5.1f}%" for d, a in enumerate(per_class)))
        if fit:
            wrong = [(d.label, d.style, int(q)) for d, q in zip(items, predictions) if q != d.label]
            for label_, style, guess in wrong[:12]:
                print(f"  wrong: a {label_} ({style}) read as {guess}")
    if args.json:
        print(
            json.dumps(
                {
                    "checkpoint": args.checkpoint,
                    "n": args.n,
                    "seed": args.seed,
                    "accuracy": round(results[True][0], 4),
                    "per_class": [round(a, 4) for a in results[True][1]],
                    "accuracy_no_fit": round(results[False][0], 4),
                    "per_class_no_fit": [round(a, 4) for a in results[False][1]],
                }
            )
        )
    return 0
