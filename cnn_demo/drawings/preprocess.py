"""A drawing or a photo of a digit -> the 28x28 image the model expects, made the way MNIST was.

MNIST's recipe (LeCun, Cortes and Burges): each digit's bounding box was scaled, keeping its
aspect ratio, to fit a 20x20 box, with anti-aliasing (hence the grey edges); then it was put
in a 28x28 image so that its centre of mass sits at the centre. Measured on the training set,
that centre is pixel (14.0, 14.0) (row, column; std 0.29, which is the rounding of a whole-pixel
shift). A model trained on MNIST has only ever seen digits of that size and position, so a
drawing must be brought to the same size and position before the model sees it.

    steps = preprocess_steps(canvas)   # every stage, for the Draw page's step-by-step view
    image28 = canvas_to_mnist(canvas)  # just the result: (28, 28) float32, ink = 1, or None

The one preprocessing of the project: the Draw page, the upload, the benchmark and the
tests all go through `preprocess_steps`.
"""

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

CANVAS = 280  # the Draw page's canvas, pixels a side: ten times MNIST's 28
FIT = 20  # MNIST's digit box, pixels
SIZE = 28  # MNIST's image, pixels
CENTRE = 14.0  # where MNIST's centre of mass sits (row and column, pixel indices)
INK_LEVEL = 0.2  # a pixel with more ink than this counts for the bounding box
MIN_INK_FRACTION = 0.0005  # less inked area than this (39 pixels of a 280x280 canvas) is "nothing drawn"
MIN_CONTRAST = 0.15  # ink must stand out from the background by this much
MAX_UPLOAD_PIXELS = 25_000_000  # refuse bigger uploads before decoding them
UPLOAD_SIDE = 1024  # uploads are shrunk to at most this many pixels a side first


@dataclass
class Steps:
    """What happens to a drawing on its way to the model (None fields: nothing was drawn)."""

    ink: np.ndarray  # (H, W) float32 in [0, 1], ink = 1: the input in the model's polarity
    box: tuple[int, int, int, int] | None  # (x0, y0, x1, y1) of the ink in `ink`; x1, y1 exclusive
    fit20: np.ndarray | None  # (20, 20) float32: the box scaled to fit 20x20 (None when fit=False)
    image28: np.ndarray | None  # (28, 28) float32 in [0, 1]: what the model sees


def preprocess_steps(image: np.ndarray, fit: bool = True) -> Steps:
    """Every stage of `canvas_to_mnist`. fit=False: a plain resize of the whole input instead."""
    ink = to_ink(image)
    box = ink_box(ink)
    if box is None:
        return Steps(ink, None, None, None)
    if not fit:
        return Steps(ink, box, None, _resize(ink, SIZE, SIZE))
    x0, y0, x1, y1 = box
    fit20 = fit_box(ink[y0:y1, x0:x1])
    return Steps(ink, box, fit20, centre_of_mass_28(fit20))


def canvas_to_mnist(image: np.ndarray, fit: bool = True) -> np.ndarray | None:
    """A canvas (H, W, 4) RGBA, (H, W, 3) RGB or (H, W) grey, uint8 or float, either polarity
    -> (28, 28) float32 in [0, 1] with ink = 1, MNIST-style; None when nothing is drawn."""
    return preprocess_steps(image, fit).image28


def to_ink(image: np.ndarray) -> np.ndarray:
    """Any canvas or photo -> (H, W) float32 in [0, 1] where ink = 1 and background = 0."""
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)) or min(image.shape[:2]) < 1:
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {image.shape}")
    if image.dtype == np.uint8:
        values = image.astype(np.float32) / 255
    else:
        values = np.nan_to_num(image.astype(np.float32))
        if values.max(initial=0) > 1:  # floats in 0..255
            values /= 255
    if values.ndim == 3 and values.shape[2] == 4:
        alpha = values[..., 3]
        if alpha.min() < 1:  # a transparent background: the alpha channel is exactly the strokes
            return np.clip(alpha, 0, 1)
        values = values[..., :3]
    if values.ndim == 3 and values.shape[2] == 3:
        values = values @ np.array([0.299, 0.587, 0.114], np.float32)  # luminance, as PIL's "L"
    elif values.ndim == 3:
        values = values[..., 0]
    # The background is what most of the border shows: dark (a canvas) or light (paper).
    border = np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]])
    background = float(np.median(border))
    if background > 0.5:
        values, background = 1 - values, 1 - background
    # Stretch so that the background is 0 and the strongest ink 1 (grey paper, faint pencil).
    peak = float(values.max())
    if peak - background < MIN_CONTRAST:
        return np.zeros(values.shape, np.float32)
    return np.clip((values - background) / (peak - background), 0, 1).astype(np.float32)


def ink_box(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) around the ink, x1 and y1 exclusive; None if there is too little ink."""
    mask = ink > INK_LEVEL
    if mask.sum() < max(4, MIN_INK_FRACTION * mask.size):
        return None
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def fit_box(crop: np.ndarray) -> np.ndarray:
    """(h, w) crop of the ink -> (20, 20): scaled so its longer side is 20, aspect kept, centred."""
    h, w = crop.shape
    scale = FIT / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    fitted = _resize(crop, new_h, new_w)  # (new_h, new_w), max side 20
    box = np.zeros((FIT, FIT), np.float32)
    top, left = (FIT - new_h) // 2, (FIT - new_w) // 2
    box[top : top + new_h, left : left + new_w] = fitted
    return box


def centre_of_mass_28(fit20: np.ndarray) -> np.ndarray:
    """(20, 20) -> (28, 28) with the ink's centre of mass at pixel (14, 14), shifted by whole pixels."""
    rows, cols = np.indices(fit20.shape)
    mass = fit20.sum()
    com_y, com_x = (rows * fit20).sum() / mass, (cols * fit20).sum() / mass
    top, left = round(CENTRE - com_y), round(CENTRE - com_x)  # where fit20's (0, 0) lands
    return paste(fit20, top, left)


def paste(image: np.ndarray, top: int, left: int, size: int = SIZE) -> np.ndarray:
    """Put `image` into a black (size, size) image with its (0, 0) at (top, left); what falls outside is cut."""
    out = np.zeros((size, size), np.float32)
    h, w = image.shape
    y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + h, size), min(left + w, size)
    if y0 < y1 and x0 < x1:
        out[y0:y1, x0:x1] = image[y0 - top : y1 - top, x0 - left : x1 - left]
    return out


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    # Pillow's Lanczos on 32-bit floats: a true anti-aliasing filter when shrinking (its support
    # widens with the scale, so every source pixel counts), smooth when enlarging a tiny dot.
    out = Image.fromarray(np.ascontiguousarray(image, np.float32), mode="F").resize((width, height), Image.LANCZOS)
    return np.clip(np.asarray(out), 0, 1)  # Lanczos overshoots a little at hard edges


class ImageError(ValueError):
    """An upload that is not a usable image; the message says why, for the user."""


def decode_image(data: bytes) -> np.ndarray:
    """The bytes of an uploaded PNG or JPEG -> (H, W, 4) RGBA or (H, W) grey uint8, at most 1024 a side."""
    if not data:
        raise ImageError("The file is empty.")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in ("PNG", "JPEG"):
                raise ImageError(f"This is a {img.format} image; please upload a PNG or JPEG.")
            # The header gives the size before any pixel is decoded: refuse decompression bombs here.
            if img.width * img.height > MAX_UPLOAD_PIXELS:
                raise ImageError(
                    f"The image is {img.width} x {img.height} pixels, too large; "
                    f"please upload one under {MAX_UPLOAD_PIXELS // 1_000_000} million pixels."
                )
            img = ImageOps.exif_transpose(img)  # phone photos: apply the camera's rotation
            has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
            img = img.convert("RGBA" if has_alpha else "L")
            img.thumbnail((UPLOAD_SIDE, UPLOAD_SIDE), Image.LANCZOS)
            return np.asarray(img)
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ImageError("This file could not be read as a PNG or JPEG image.") from None
