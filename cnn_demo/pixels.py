"""Small grey images made big enough to count their pixels, as PNG pictures for a page.

A picture is far cheaper than an interactive heatmap, for the server that builds it and for
the browser that draws it: the Draw page shows four of them after every stroke, in every
student's browser at once.

    png(enlarge(image28, centre=14.0))  # 28x28 in [0, 1] -> a 280x280 PNG with a pixel grid
"""

import io

import numpy as np
from PIL import Image, ImageDraw

GRID = (58, 63, 71)  # the thin lines between pixels, dark blue-grey
MARK = (255, 123, 0)  # orange: the centre mark and the ink's box


def enlarge(image: np.ndarray, scale: int = 10, centre: float | None = None) -> np.ndarray:
    """(H, W) in [0, 1] -> (H*scale, W*scale, 3) uint8 grey, a 1-pixel grid between the pixels.

    centre: the row and column index of a pixel to mark with a cross (where MNIST puts the
    centre of mass), or None.
    """
    grey = np.clip(np.nan_to_num(np.asarray(image, np.float32)), 0, 1)
    big = np.repeat(np.repeat((grey * 255 + 0.5).astype(np.uint8), scale, 0), scale, 1)  # (H*s, W*s)
    rgb = np.repeat(big[:, :, None], 3, axis=2)
    if scale >= 4:
        rgb[scale - 1 :: scale, :] = GRID  # the last row and column of each pixel
        rgb[:, scale - 1 :: scale] = GRID
    if centre is not None:
        c = round(centre * scale + (scale - 1) / 2)  # the middle of that pixel's square
        arm, half = int(scale * 0.9), max(1, scale // 6)
        rgb[c - half : c + half + 1, c - arm : c + arm + 1] = MARK
        rgb[c - arm : c + arm + 1, c - half : c + half + 1] = MARK
    return rgb


def with_box(ink: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
    """(H, W) ink in [0, 1] -> (H, W, 3) uint8 grey with the box (x0, y0, x1, y1; x1, y1
    exclusive) outlined in orange."""
    grey = (np.clip(ink, 0, 1) * 255 + 0.5).astype(np.uint8)
    picture = Image.fromarray(grey).convert("RGB")
    if box is not None:
        x0, y0, x1, y1 = box
        width = max(2, round(max(ink.shape) / 140))  # 2 pixels on a 280-pixel canvas
        ImageDraw.Draw(picture).rectangle([x0 - width, y0 - width, x1 - 1 + width, y1 - 1 + width], outline=MARK, width=width)
    return np.asarray(picture)


def png(rgb: np.ndarray) -> bytes:
    """uint8 (H, W) or (H, W, 3) -> PNG bytes, quick to make (low compression: they are small)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
