"""Probe the model: change a 28x28 digit a little and watch the prediction follow.

    probe(image28, shift=(3, 0), rotate_deg=20, thickness=1, erase=ERASE_REGIONS["top half"])

Each change is applied to the image the model sees, after the MNIST-style preprocessing,
in this order: thickness, rotation, shift, erase. Nothing re-centres the result: the point
is to show what an off-centre, turned, thin or broken digit does to the answer.
"""

import numpy as np
from PIL import Image

from cnn_demo.drawings.preprocess import paste

# Parts of the 28x28 image to blank out, as (x0, y0, x1, y1), x1 and y1 exclusive.
ERASE_REGIONS: dict[str, tuple[int, int, int, int] | None] = {
    "nothing": None,
    "top half": (0, 0, 28, 14),
    "bottom half": (0, 14, 28, 28),
    "left half": (0, 0, 14, 28),
    "right half": (14, 0, 28, 28),
    "middle band": (0, 11, 28, 17),
}
MAX_THICKNESS = 2  # steps of thickening (+) or thinning (-), one pixel each side per step


def probe(
    image28: np.ndarray,
    shift: tuple[int, int] = (0, 0),
    rotate_deg: float = 0.0,
    thickness: int = 0,
    erase: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """(28, 28) float32 in [0, 1] -> the same image thickened or thinned, turned anticlockwise
    by rotate_deg about the centre, shifted by whole pixels (dx right, dy down), partly erased."""
    if not -MAX_THICKNESS <= thickness <= MAX_THICKNESS:
        raise ValueError(f"thickness must be between -{MAX_THICKNESS} and {MAX_THICKNESS}, not {thickness}")
    out = np.asarray(image28, np.float32)
    for _ in range(abs(thickness)):
        out = _dilate(out) if thickness > 0 else _erode(out)
    if rotate_deg:
        # About pixel (14, 14), where MNIST puts the centre of mass (PIL's centre is a corner-based
        # coordinate, hence the half pixel).
        img = Image.fromarray(out, mode="F").rotate(rotate_deg, resample=Image.BILINEAR, center=(14.5, 14.5))
        out = np.asarray(img)
    dx, dy = shift
    if dx or dy:
        out = paste(out, top=int(dy), left=int(dx), size=out.shape[0])  # what leaves the frame is lost
    if erase is not None:
        x0, y0, x1, y1 = erase
        out = out.copy()
        out[y0:y1, x0:x1] = 0
    return np.clip(out, 0, 1).astype(np.float32)


def _neighbourhood(image: np.ndarray) -> np.ndarray:
    # (5, 28, 28): each pixel and its four neighbours (a plus-shaped kernel), zeros outside.
    p = np.pad(image, 1)
    h, w = image.shape
    return np.stack([p[1 : h + 1, 1 : w + 1], p[:h, 1 : w + 1], p[2:, 1 : w + 1], p[1 : h + 1, :w], p[1 : h + 1, 2:]])


def _dilate(image: np.ndarray) -> np.ndarray:
    return _neighbourhood(image).max(0)  # grey dilation: strokes grow by a pixel each side


def _erode(image: np.ndarray) -> np.ndarray:
    return _neighbourhood(image).min(0)  # grey erosion: strokes shrink by a pixel each side
