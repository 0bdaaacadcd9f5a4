"""The Draw page's preprocessing, checked against MNIST's own recipe and images."""

import io

import numpy as np
import pytest
from PIL import Image

from cnn_demo.drawings import preprocess
from cnn_demo.drawings.drawn import render
from cnn_demo.drawings.preprocess import ImageError, canvas_to_mnist, decode_image, preprocess_steps
from cnn_demo.inside.probe import ERASE_REGIONS, probe
from cnn_demo.storage.checkpoint import ROOT

# A 2 drawn with the mouse: a top arc, a diagonal, a base; in units of the digit's height.
TWO = [np.array([[0.0, 0.3], [0.1, 0.08], [0.3, 0.0], [0.5, 0.08], [0.58, 0.3], [0.0, 1.0], [0.65, 1.0]])]


def two_canvas(height: float, left: float, top: float, brush: int) -> np.ndarray:
    """(280, 280, 4) RGBA: white strokes on black, as st_canvas returns it."""
    return render([s * height + (left, top) for s in TWO], brush)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    return (rows * image).sum() / image.sum(), (cols * image).sum() / image.sum()


def test_nothing_drawn_is_none():
    assert canvas_to_mnist(np.zeros((280, 280, 4), np.uint8) + [0, 0, 0, 255]) is None  # black canvas
    assert canvas_to_mnist(np.zeros((280, 280, 4), np.uint8)) is None  # transparent canvas
    assert canvas_to_mnist(np.full((100, 80), 255, np.uint8)) is None  # white paper
    assert canvas_to_mnist(np.full((50, 50, 3), 0.5)) is None  # flat grey, floats


def test_a_few_stray_pixels_are_nothing():
    canvas = np.zeros((280, 280), np.uint8)
    canvas[[10, 200, 150], [30, 40, 250]] = 255
    steps = preprocess_steps(canvas)
    assert steps.box is None and steps.image28 is None


def test_a_single_dot_does_not_crash():
    dot = render([np.array([[140.0, 140.0]])], brush=18)
    image = canvas_to_mnist(dot)
    assert image is None or (image.shape == (28, 28) and 0 <= image.min() and image.max() <= 1)


def test_every_input_format_and_polarity_gives_the_same_image():
    rgba = two_canvas(180, 50, 60, brush=16)
    grey = rgba[..., 0]  # (H, W) uint8, white ink on black
    reference = canvas_to_mnist(rgba)
    assert reference is not None and reference.dtype == np.float32 and reference.shape == (28, 28)
    transparent = np.zeros_like(rgba)
    transparent[..., :3], transparent[..., 3] = 255, grey  # ink only in the alpha channel
    variants = {
        "grey": grey,
        "grey (H, W, 1)": grey[..., None],
        "rgb": np.repeat(grey[..., None], 3, axis=2),
        "transparent rgba": transparent,
        "black on white": 255 - grey,
        "black on white rgb": np.repeat(255 - grey[..., None], 3, axis=2),
        "floats in [0, 1]": grey / 255.0,
        "floats in [0, 255]": grey.astype(np.float64),
    }
    for name, image in variants.items():
        np.testing.assert_allclose(canvas_to_mnist(image), reference, atol=1e-4, err_msg=name)


def test_small_in_a_corner_and_large_in_the_middle_look_the_same():
    small = canvas_to_mnist(two_canvas(70, 8, 10, brush=6))
    large = canvas_to_mnist(two_canvas(210, 70, 35, brush=18))
    assert np.abs(small - large).mean() < 0.05


def test_mnist_size_and_centre():
    for canvas in (
        two_canvas(70, 8, 10, brush=6),
        two_canvas(210, 70, 35, brush=18),
        two_canvas(120, 150, 150, brush=25),
    ):
        image = canvas_to_mnist(canvas)
        rows, cols = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
        assert rows[-1] - rows[0] + 1 <= 20 and cols[-1] - cols[0] + 1 <= 20
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 >= 19  # the long side fills the box
        cy, cx = centre_of_mass(image)
        assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_a_rectangle_keeps_its_aspect_ratio():
    canvas = np.zeros((280, 280), np.uint8)
    canvas[37:137, 180:230] = 255  # 100 tall, 50 wide, far from the centre
    steps = preprocess_steps(canvas)
    assert steps.box == (180, 37, 230, 137)
    assert np.isclose(steps.fit20.sum(), 20 * 10, atol=1)  # a 20 x 10 block
    image = steps.image28
    assert (image > 0.5).sum(0).max() == 20 and (image > 0.5).sum(1).max() == 10


def test_mnist_digits_enlarged_and_moved_come_back():
    # Independent truth: MNIST's own test images already are 20x20-fitted and centred, so
    # enlarging one 5x, putting it anywhere on a canvas and preprocessing gives it back.
    path = ROOT / "data" / "mnist.npz"
    if not path.exists():
        pytest.skip("data/mnist.npz is not there")
    with np.load(path) as npz:
        digits = npz["x_test"][:40]
    rng = np.random.default_rng(0)
    diffs = []
    for digit in digits:
        big = np.asarray(Image.fromarray(digit).resize((140, 140), Image.BILINEAR))
        canvas = np.zeros((280, 280), np.uint8)
        top, left = rng.integers(0, 140, 2)
        canvas[top : top + 140, left : left + 140] = big
        diffs.append(np.abs(canvas_to_mnist(canvas) - digit / 255).mean())
    assert np.mean(diffs) < 0.04


def test_without_fitting_is_a_plain_resize():
    small = two_canvas(70, 8, 10, brush=6)
    fitted, plain = canvas_to_mnist(small), canvas_to_mnist(small, fit=False)
    assert np.abs(fitted - plain).mean() > 0.05  # a corner digit stays small, in the corner
    rows, cols = np.nonzero(plain > 0.2)
    assert rows.max() < 12 and cols.max() < 12
    # A 28x28 image enlarged 10x comes back from a plain resize nearly as it was (the
    # anti-aliasing filter softens its edges a little).
    image = np.zeros((28, 28), np.float32)
    image[5:20, 9:13] = 1
    back = canvas_to_mnist(np.kron(image, np.ones((10, 10), np.float32)), fit=False)
    assert np.abs(back - image).mean() < 0.01 and np.abs(back - image).max() < 0.2


def test_steps_for_the_page():
    steps = preprocess_steps(two_canvas(150, 30, 40, brush=14))
    x0, y0, x1, y1 = steps.box
    assert steps.ink.shape == (280, 280) and 30 - 8 <= x0 < x1 <= 30 + 100 + 8 and 40 - 8 <= y0 < y1 <= 40 + 150 + 8
    assert steps.fit20.shape == (20, 20) and steps.image28.shape == (28, 28)
    assert np.isclose(steps.fit20.sum(), steps.image28.sum(), rtol=1e-5)  # centring only moves the ink
    assert preprocess_steps(two_canvas(150, 30, 40, brush=14), fit=False).fit20 is None


def test_bad_shapes_are_refused():
    for shape in [(280,), (280, 280, 2), (0, 10), (2, 2, 2, 2)]:
        with pytest.raises(ValueError):
            canvas_to_mnist(np.zeros(shape, np.uint8))


def png(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def test_upload_png_and_jpeg_go_through_the_same_preprocessing():
    rgba = two_canvas(180, 50, 60, brush=16)
    reference = canvas_to_mnist(rgba)
    np.testing.assert_allclose(canvas_to_mnist(decode_image(png(rgba))), reference, atol=1e-4)
    photo = np.repeat(255 - rgba[..., :1], 3, axis=2)  # black ink on white paper, as a JPEG
    from_jpeg = canvas_to_mnist(decode_image(png(photo, "JPEG")))
    assert np.abs(from_jpeg - reference).mean() < 0.03


def test_bad_uploads_say_why(monkeypatch):
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"")
    with pytest.raises(ImageError, match="could not be read"):
        decode_image(b"this is not an image at all")
    with pytest.raises(ImageError, match="PNG or JPEG"):
        decode_image(png(np.zeros((10, 10), np.uint8), "GIF"))
    with pytest.raises(ImageError, match="could not be read"):
        decode_image(png(np.zeros((50, 50), np.uint8))[:60])  # cut short
    monkeypatch.setattr(preprocess, "MAX_UPLOAD_PIXELS", 100 * 100 - 1)
    with pytest.raises(ImageError, match="too large"):
        decode_image(png(np.zeros((100, 100), np.uint8)))


def test_large_uploads_are_shrunk():
    assert max(decode_image(png(np.zeros((300, 2000), np.uint8))).shape) == preprocess.UPLOAD_SIDE


# probe: the page's sliders


def test_probe_shift_and_erase():
    image = np.zeros((28, 28), np.float32)
    image[10:14, 12:16] = 1
    moved = probe(image, shift=(3, -2))
    assert np.array_equal(moved[8:12, 15:19], np.ones((4, 4))) and moved.sum() == 16
    assert probe(image, shift=(40, 0)).sum() == 0  # off the image entirely
    assert probe(image, erase=ERASE_REGIONS["top half"]).sum() == 0
    assert probe(image, erase=ERASE_REGIONS["bottom half"]).sum() == 16
    np.testing.assert_array_equal(probe(image), image)


def test_probe_rotation_turns_about_the_centre_anticlockwise():
    image = np.zeros((28, 28), np.float32)
    image[14, 20] = 1  # 6 pixels right of the centre (14, 14)
    turned = probe(image, rotate_deg=90)
    assert np.unravel_index(turned.argmax(), turned.shape) == (8, 14)  # now 6 pixels above it


def test_probe_thickness():
    image = np.zeros((28, 28), np.float32)
    image[14, 14] = 1
    assert probe(image, thickness=1).sum() == 5  # a plus: the pixel and its 4 neighbours
    stroke = np.zeros((28, 28), np.float32)
    stroke[4:24, 12:16] = 1  # a 4-pixel-wide bar
    assert probe(stroke, thickness=-1).sum() < stroke.sum() < probe(stroke, thickness=2).sum()
    with pytest.raises(ValueError):
        probe(image, thickness=3)
