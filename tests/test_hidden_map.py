"""The hidden layer's map: PCA with new points projected, t-SNE with new points placed among their
neighbours, and the PCA map each training epoch carries."""

import numpy as np
import pytest
import torch

from cnn_demo.inside.hidden_map import (
    align,
    fit_pca,
    hidden_map,
    hidden_values,
    pca_points,
    place_among,
    points_picture,
    probe_indices,
    tsne,
)
from cnn_demo.inside.similar import hidden
from cnn_demo.network.model import PRESETS, build
from cnn_demo.training.calibrate import Settings
from cnn_demo.training.train import Epoch, TrainConfig, fit


def small_net():
    torch.manual_seed(0)
    return build().eval()


def test_placed_point_equals_the_projection_of_its_hidden_values():
    model = small_net()
    images = (torch.rand(64, 28, 28) * 255).to(torch.uint8).numpy()
    labels = np.arange(64) % 10
    found = hidden_map(model, images, labels, indices=np.arange(64))
    new = torch.rand(1, 1, 28, 28)
    with torch.no_grad():
        new_hidden = hidden(model, new)[0].numpy()  # the model's own layers, independently of hidden_values
    want = (new_hidden - found.values.mean(0)) @ found.pca.components.T
    np.testing.assert_allclose(found.pca.project(new_hidden), want, rtol=1e-4, atol=1e-4)
    # and hidden_values is that same computation for a batch
    np.testing.assert_allclose(hidden_values(model, new[:, 0]), new_hidden[None], rtol=1e-5, atol=1e-5)
    # the map's points are the projections of the images' own values
    np.testing.assert_allclose(found.points, found.pca.project(found.values), rtol=1e-5, atol=1e-5)


def test_pca_separates_well_separated_data_and_matches_numpy():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 50)) * 10
    labels = np.repeat(np.arange(3), 100)
    values = centres[labels] + rng.normal(size=(300, 50))
    pca = fit_pca(values)
    points = pca.project(values)
    means = np.array([points[labels == c].mean(0) for c in range(3)])
    spread = max(points[labels == c].std(0).max() for c in range(3))
    gaps = [np.linalg.norm(means[a] - means[b]) for a in range(3) for b in range(a + 1, 3)]
    assert min(gaps) > 5 * spread  # three clouds, far apart
    np.testing.assert_allclose(np.linalg.norm(pca.components, axis=1), 1, rtol=1e-5)
    # the variance along each direction is numpy's largest eigenvalues of the covariance
    eig = np.sort(np.linalg.eigvalsh(np.cov(values.T, bias=True)))[::-1][:2]
    np.testing.assert_allclose(points.var(0), eig, rtol=1e-3)
    assert pca.explained[0] >= pca.explained[1] > 0


def test_tsne_places_a_training_point_near_itself():
    rng = np.random.default_rng(1)
    values = (rng.normal(size=(4, 20)) * 8)[np.repeat(np.arange(4), 40)] + rng.normal(size=(160, 20))
    flat = tsne(values.astype(np.float32), perplexity=10)
    assert flat.shape == (160, 2)
    where, near = place_among(values, flat, values[7], k=5)
    assert near[0] == 7  # its nearest image is itself
    span = np.ptp(flat, 0).max()
    assert np.linalg.norm(where - flat[7]) < 0.1 * span


def test_align_flips_an_axis_back():
    points = np.random.default_rng(2).normal(size=(50, 2)).astype(np.float16)
    np.testing.assert_array_equal(align(points * np.array([-1, 1], np.float16), points), points)
    np.testing.assert_array_equal(align(points, None), points)


def test_probe_indices_are_the_ones_fit_scores():
    assert probe_indices(10_000).tolist() == list(range(0, 10_000, 5))
    assert probe_indices(256).tolist() == list(range(256))


def test_points_picture_colours_each_digit():
    picture = points_picture(np.array([[0, 0], [1, 1]], np.float32), np.array([0, 3]), size=40)
    assert picture.shape == (40, 40, 3) and picture.dtype == np.uint8
    colours = {tuple(c) for c in picture.reshape(-1, 3)}
    assert (31, 119, 180) in colours and (214, 39, 40) in colours  # digit 0's and digit 3's


def test_each_epoch_carries_the_pca_map_of_the_probe_images():
    torch.manual_seed(0)
    model = build(PRESETS["fully_connected"].spec)
    train_set = ((torch.rand(128, 28, 28) * 255).to(torch.uint8), torch.arange(128) % 10)
    test_set = ((torch.rand(40, 28, 28) * 255).to(torch.uint8), torch.arange(40) % 10)
    config = TrainConfig.from_recipe("quick", epochs=2, train_images=128, batch_size=64, device="cpu")
    events = fit(model, config, train_set, test_set, tuned=Settings())  # float32: comparable below
    epochs = [e for e in events if isinstance(e, Epoch)]
    assert len(epochs) == 2
    for epoch in epochs:
        (points,) = epoch.maps  # one network
        assert points.shape == (40, 2) and points.dtype == np.float16
    # the last epoch's map is the trained model's own
    want = pca_points(model, test_set[0])
    np.testing.assert_allclose(epochs[-1].maps[0].astype(np.float32), want.astype(np.float32), atol=2e-2, rtol=2e-2)
    assert not np.allclose(epochs[0].maps[0], epochs[1].maps[0])  # it moved as the network learned


@pytest.mark.parametrize("count", [1, 3])
def test_pca_of_very_few_images_does_not_fail(count):
    pca = fit_pca(np.random.default_rng(0).normal(size=(count, 5)))
    assert pca.components.shape == (2, 5)
