"""cnn_demo.inside.equivariance: conv maps move with the input, pooling damps the change."""

import numpy as np

from cnn_demo.inside import equivariance
from cnn_demo.inside.equivariance import shift, shift_equivariance
from cnn_demo.inside.features import feature_maps


def test_shift_moves_pixels():
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_array_equal(shift(x, 1, 0)[:, 1:], x[:, :3])
    assert (shift(x, 1, 0)[:, 0] == 0).all()
    np.testing.assert_array_equal(shift(x, 0, -2)[:2], x[2:])
    assert (shift(x, 5, 0) == 0).all()


def test_conv_maps_shift_with_the_input_and_pooling_damps_change(model, digits):
    for dx, dy in ((1, 0), (0, -1), (2, 1)):
        rows = {r.stage: r for r in shift_equivariance(model, digits[0], dx, dy).rows}
        assert rows["input"].changed > 0.2
        for name in ("conv1", "relu1", "conv2", "relu2"):
            assert rows[name].changed > 0.1  # the map did change in place ...
            assert rows[name].shift_error < 1e-4  # ... but it is the old map moved along
        assert rows["pool1"].changed < rows["relu2"].changed
        assert rows["pool2"].changed < rows["relu3"].changed
    # 2 pixels are one unit of pool1 and conv3: they shift exactly too; pool2's are 4 px apart.
    rows = {r.stage: r for r in shift_equivariance(model, digits[0], 2, 0).rows}
    assert rows["pool1"].shift_error < 1e-4 and rows["conv3"].shift_error < 1e-4
    assert rows["pool2"].shift_error is None and rows["hidden"].shift_error is None


def test_the_moved_image_and_its_maps_come_with_the_rows(model, digits, monkeypatch):
    result = shift_equivariance(model, digits[1], -2, 3)
    np.testing.assert_array_equal(result.moved, shift(digits[1], -2, 3))
    expected = feature_maps(model, result.moved)
    assert list(result.moved_maps) == list(expected)
    for name, m in expected.items():
        np.testing.assert_array_equal(result.moved_maps[name], m)

    # Given the image's maps, it computes only the moved image's and a blank one's.
    seen = []

    def counted(model, image28):
        seen.append(np.array(image28))
        return feature_maps(model, image28)

    monkeypatch.setattr(equivariance, "feature_maps", counted)
    again = shift_equivariance(model, digits[1], -2, 3, maps=feature_maps(model, digits[1]))
    assert len(seen) == 2 and not any(np.array_equal(image, digits[1]) for image in seen)
    assert [(r.stage, r.changed, r.shift_error) for r in again.rows] == [
        (r.stage, r.changed, r.shift_error) for r in result.rows
    ]
