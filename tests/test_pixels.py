"""The enlarged pictures the Draw page shows: every pixel countable, the values kept."""

import io

import numpy as np
from PIL import Image

from cnn_demo.inside.mosaic import mosaic
from cnn_demo.inside.pixels import (
    BLUE_WHITE_RED,
    GAP,
    GRID,
    MARK,
    VIRIDIS,
    activations_rgb,
    colorize,
    enlarge,
    magnify,
    png,
    scale_each,
    signed_limit,
    weights_rgb,
    with_box,
)


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


def rgb(hex_colour: str) -> list[int]:
    return [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]


def test_colorize_spreads_low_to_high_over_the_colours_and_leaves_gaps_white():
    image = np.array([[0.0, 0.5, 1.0, np.nan, -3.0, 7.0]])
    out = colorize(image, ["#000000", "#ff0000", "#ffffff"], low=0.0, high=1.0)
    assert out.shape == (1, 6, 3) and out.dtype == np.uint8
    assert out[0, :3].tolist() == [[0, 0, 0], [255, 0, 0], [255, 255, 255]]
    assert tuple(out[0, 3]) == GAP  # NaN: the gap between maps of a mosaic
    assert out[0, 4].tolist() == [0, 0, 0] and out[0, 5].tolist() == [255, 255, 255]  # clipped
    assert colorize(np.array([[0.25]]), ["#000000", "#ff0000", "#ffffff"], 0.0, 1.0)[0, 0].tolist() == [128, 0, 0]


def test_weights_are_white_at_zero_blue_below_red_above_symmetric():
    filters = np.zeros((16, 5, 5), np.float32)
    filters[0, 0, 0], filters[1, 0, 0] = -0.5, 0.25  # the larger size sets the scale both ways
    out = weights_rgb(mosaic(filters, cols=8))
    assert out[0, 0].tolist() == rgb(BLUE_WHITE_RED[0])  # -0.5: the darkest blue
    assert out[0, 2].tolist() == rgb(BLUE_WHITE_RED[5])  # 0: white-grey, filter 0's second pixel
    red = out[0, 6]  # filter 1's first pixel, +0.25: halfway to the darkest red
    assert red[0] > red[2] and red.tolist() != rgb(BLUE_WHITE_RED[-1])
    assert tuple(out[0, 5]) == GAP  # the gap between filter 0 and filter 1
    assert weights_rgb(np.zeros((3, 3))).tolist() == [[rgb(BLUE_WHITE_RED[5])] * 3] * 3  # all zero: no division by 0


def test_activations_use_viridis_and_magnify_keeps_sharp_squares():
    maps = np.array([[0.0, 1.0]], np.float32)
    out = activations_rgb(maps)
    assert out[0, 0].tolist() == rgb(VIRIDIS[0]) and out[0, 1].tolist() == rgb(VIRIDIS[-1])
    big = magnify(out, 3)
    assert big.shape == (3, 6, 3)
    assert (big[:, :3] == out[0, 0]).all() and (big[:, 3:] == out[0, 1]).all()


def test_colour_ranges():
    maps = np.array([[[1.0, -4.0]], [[0.5, 0.25]], [[0.0, 0.0]]], dtype=np.float32)
    assert signed_limit(maps) == 4 and signed_limit(np.zeros(3)) == 1
    scaled = scale_each(maps)
    np.testing.assert_allclose(scaled[0, 0], [0.25, -1])
    np.testing.assert_allclose(scaled[1, 0], [1, 0.5])
    assert (scaled[2] == 0).all()
