"""The enlarged pictures the Draw page shows: every pixel countable, the values kept."""

import io

import numpy as np
from PIL import Image

from cnn_demo.pixels import GRID, MARK, enlarge, png, with_box


def test_enlarge_keeps_every_value_and_draws_a_grid():
    image = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    big = enlarge(image)
    assert big.shape == (280, 280, 3) and big.dtype == np.uint8
    inside = big[4::10, 4::10, 0]  # a point inside each pixel's square
    np.testing.assert_allclose(inside / 255, image, atol=0.5 / 255 + 1e-6)
    assert (big[9::10, :] == GRID).all() and (big[:, 9::10] == GRID).all()


def test_the_centre_mark_sits_on_pixel_14():
    big = enlarge(np.zeros((28, 28)), centre=14.0)
    rows, cols = np.nonzero((big == MARK).all(axis=2))
    assert abs(rows.mean() - 144.5) <= 1 and abs(cols.mean() - 144.5) <= 1  # pixel 14 spans 140..148


def test_box_outlines_the_ink_and_png_round_trips():
    ink = np.zeros((280, 280), np.float32)
    ink[100:150, 60:90] = 1
    picture = with_box(ink, (60, 100, 90, 150))
    orange = (picture == MARK).all(axis=2)
    rows, cols = np.nonzero(orange)
    assert rows.min() < 100 and rows.max() >= 150 and cols.min() < 60 and cols.max() >= 90
    assert not orange[100:150, 60:90].any()  # the ink itself is not painted over
    back = np.asarray(Image.open(io.BytesIO(png(picture))))
    assert np.array_equal(back, picture)
