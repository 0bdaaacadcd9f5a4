"""Colours and pictures for a page: small grey images made big enough to count their pixels,
colour scales, colour ranges, and PNG pictures.

A picture is far cheaper than an interactive heatmap, for the server that builds it and for
the browser that draws it: the Draw page shows four of them after every stroke, in every
student's browser at once.

    png(enlarge(image28, centre=14.0))  # 28x28 in [0, 1] -> a 280x280 PNG with a pixel grid
    png(magnify(weights_rgb(mosaic(filters)), 12))  # conv filters: blue < 0 < red
    signed_limit(maps), scale_each(maps)  # colour ranges that keep 0 in the middle
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


# Colour scales as Plotly draws them, so a picture and a heatmap of the same thing agree.
VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"]
BLUE_WHITE_RED = [
    "#053061",
    "#2166ac",
    "#4393c3",
    "#92c5de",
    "#d1e5f0",
    "#f7f7f7",
    "#fddbc7",
    "#f4a582",
    "#d6604d",
    "#b2182b",
    "#67001f",
]
GAP = (255, 255, 255)  # NaN, the gaps of a mosaic: the page's background


def colorize(image: np.ndarray, colors: list[str], low: float, high: float) -> np.ndarray:
    """(H, W) float, NaN for gaps -> (H, W, 3) uint8: low..high spread evenly over the colours
    (an empty range, low == high, gives the middle colour)."""
    anchors = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colors], np.float32)  # (K, 3)
    image = np.asarray(image, np.float32)
    gap = np.isnan(image)
    x = (np.where(gap, low, image) - low) / (high - low) if high > low else np.full_like(image, 0.5)
    x = np.clip(x, 0, 1) * (len(anchors) - 1)
    i = np.minimum(x.astype(np.int64), len(anchors) - 2)  # the colour below each value
    f = (x - i)[..., None]  # and how far towards the next
    rgb = anchors[i] * (1 - f) + anchors[i + 1] * f
    rgb[gap] = GAP
    return (rgb + 0.5).astype(np.uint8)


def signed_limit(*arrays: np.ndarray) -> float:
    """The largest |value| in the arrays (1 if all are 0): a colour range of ± this puts 0 in the middle."""
    peak = max(float(np.abs(a).max()) for a in arrays)
    return peak if peak > 0 else 1.0


def scale_each(maps: np.ndarray) -> np.ndarray:
    """(N, H, W) -> each map divided by its own largest |value|, into [-1, 1]; all-zero maps stay 0."""
    maps = np.asarray(maps, dtype=np.float32)
    peak = np.abs(maps).max(axis=(-2, -1), keepdims=True)
    return maps / np.where(peak > 0, peak, 1)


def weights_rgb(weights: np.ndarray) -> np.ndarray:
    """Weights (H, W) -> RGB, zero white, negative blue, positive red, symmetric about zero."""
    limit = float(np.nanmax(np.abs(weights))) if np.isfinite(weights).any() else 0.0
    return colorize(weights, BLUE_WHITE_RED, -limit, limit)


def activations_rgb(maps: np.ndarray) -> np.ndarray:
    """Activations scaled to [0, 1] (H, W) -> RGB in viridis, dark to yellow."""
    return colorize(maps, VIRIDIS, 0.0, 1.0)


def magnify(rgb: np.ndarray, scale: int) -> np.ndarray:
    """Each pixel a scale x scale square, so the browser shows sharp pixels, not a blur."""
    return np.repeat(np.repeat(rgb, scale, 0), scale, 1)


def with_box(ink: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
    """(H, W) ink in [0, 1] -> (H, W, 3) uint8 grey with the box (x0, y0, x1, y1; x1, y1
    exclusive) outlined in orange."""
    grey = (np.clip(ink, 0, 1) * 255 + 0.5).astype(np.uint8)
    picture = Image.fromarray(grey).convert("RGB")
    if box is not None:
        x0, y0, x1, y1 = box
        width = max(2, round(max(ink.shape) / 140))  # 2 pixels on a 280-pixel canvas
        ImageDraw.Draw(picture).rectangle(
            [x0 - width, y0 - width, x1 - 1 + width, y1 - 1 + width], outline=MARK, width=width
        )
    return np.asarray(picture)


def png(rgb: np.ndarray) -> bytes:
    """uint8 (H, W) or (H, W, 3) -> PNG bytes, quick to make (low compression: they are small)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
