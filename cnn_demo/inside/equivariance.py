"""Equivariance, measured: move the input by whole pixels and see how each stage follows.
A convolution moves with the picture; max-pooling lets a feature move inside its window.
A fully connected network has no grid: its rows are input, flatten, hidden and logits.

    result = shift_equivariance(model, image28, dx=1, dy=0)
    result.rows          # one ShiftRow per stage: how much it changed, and whether it merely moved
    result.moved_maps    # the moved image's feature maps, for drawing beside the original's
"""

from dataclasses import dataclass

import numpy as np

from cnn_demo.inside.features import feature_maps
from cnn_demo.network.arithmetic import stage_geometry
from cnn_demo.network.model import Net


def shift(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Move the last two axes by whole pixels (dx right, dy down), filling with zeros."""
    out = np.zeros_like(image)
    h, w = image.shape[-2:]
    if abs(dx) >= w or abs(dy) >= h:
        return out
    src_y, dst_y = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    src_x, dst_x = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[..., dst_y, dst_x] = image[..., src_y, src_x]
    return out


@dataclass
class ShiftRow:
    stage: str  # "input", "conv1", ... "logits"
    jump: int  # image pixels between neighbouring units of this stage (0 for vectors)
    changed: float  # how much the stage's output changes in place when the image moves
    # The same after moving f(x) along by the shift (in this stage's units), away from the
    # zero-filled edge band: ~0 means the map moved with the picture. None when the shift
    # is not a whole number of units here (e.g. 1 pixel at pool1, whose units are 2 px apart).
    shift_error: float | None


@dataclass
class Equivariance:
    moved: np.ndarray  # (28, 28): the image shifted by (dx, dy)
    moved_maps: dict[str, np.ndarray]  # feature_maps of the moved image
    rows: list[ShiftRow]  # "input", then every stage in data order


def shift_equivariance(
    model: Net, image28: np.ndarray, dx: int, dy: int, maps: dict[str, np.ndarray] | None = None
) -> Equivariance:
    """Shift the input by (dx, dy) pixels and compare every stage's output with the original's.

    maps: feature_maps(model, image28) if the caller has them already (they are not recomputed).
    Both numbers of a row are mean |difference| / mean |f(x) − f(blank)|: a change measured
    against how far the digit moves this stage away from its output for an empty image
    (which is not zero: the biases). So a conv map that merely moves reports about the
    input's own change, and 0.3 means "30% of what the digit puts there changed".
    A convolution slides the same kernel everywhere, so the map of a shifted image is the
    shifted map (shift_error ~ 0, exactly so away from the edges). Max-pooling over 2 x 2
    windows lets a feature move inside its window without changing the output, so pooled
    features change less than the maps they pool.
    """
    x = np.asarray(image28, dtype=np.float32)
    moved = shift(x, dx, dy)
    a = feature_maps(model, x) if maps is None else maps
    b = feature_maps(model, moved)
    blank = feature_maps(model, np.zeros_like(x))
    jumps = {name: row.jump for name, row in stage_geometry(model).items()}  # vectors: none

    def rel(diff: np.ndarray, signal: np.ndarray) -> float:
        return float(np.abs(diff).mean() / max(float(np.abs(signal).mean()), 1e-12))

    rows = [ShiftRow("input", 1, rel(moved - x, x), None)]
    for name, fa in a.items():
        fb, jump = b[name], jumps.get(name, 0)
        err = None
        if jump and dx % jump == 0 and dy % jump == 0:
            ux, uy = dx // jump, dy // jump
            h, w = fa.shape[-2:]
            # The band the shift fills with zeros holds nothing of x; leave it out.
            inside = (..., slice(max(0, uy), h + min(0, uy)), slice(max(0, ux), w + min(0, ux)))
            err = rel((fb - shift(fa, ux, uy))[inside], (fa - blank[name])[inside])
        rows.append(ShiftRow(name, jump, rel(fb - fa, fa - blank[name]), err))
    return Equivariance(moved, b, rows)
