"""cnn_demo.inside.attribution against independent truths: finite differences for saliency, and
Grad-CAM written out here with plain autograd on the model's own layers."""

import numpy as np
import pytest
import torch

from cnn_demo.inside.attribution import grad_cam, saliency
from cnn_demo.network.model import Net, build


def test_saliency_matches_finite_differences(model, digits):
    # A little noise: on a blank background max-pool windows hold exact ties, where the
    # gradient picks one input and a finite difference splits the change between them.
    x = digits[3] + np.random.default_rng(1).uniform(0, 0.01, (28, 28)).astype(np.float32)
    s = saliency(model, x, target=4)
    assert s.shape == (28, 28) and s.min() >= 0 and s.max() == pytest.approx(1)
    # Central differences in float64 on the 40 most salient pixels and 40 others, one batch.
    pixels = np.concatenate([np.argsort(s, axis=None)[-40:], np.random.default_rng(0).choice(784, 40, replace=False)])
    eps = 1e-5
    bumps = torch.zeros(len(pixels), 784, dtype=torch.float64)
    bumps[torch.arange(len(pixels)), torch.from_numpy(pixels)] = eps
    bumps = bumps.reshape(-1, 1, 28, 28)
    base = torch.from_numpy(x)[None, None].double()
    m64 = build().double().eval()
    m64.load_state_dict(model.state_dict())
    with torch.no_grad():
        fd = ((m64(base + bumps)[:, 4] - m64(base - bumps)[:, 4]) / (2 * eps)).abs().numpy()
    # The most salient pixel is among them, so both are scaled by the same largest gradient.
    np.testing.assert_allclose(s.reshape(-1)[pixels], fd / fd.max(), atol=1e-3)
    assert all(p.grad is None for p in model.parameters())


def reference_grad_cam(model: Net, image28: np.ndarray, target: int, stage: str) -> np.ndarray:
    """Grad-CAM by hand: the model run in two halves around the stage, placed on the image by
    numpy's linear interpolation. Not scaled: (28, 28), >= 0."""
    split = {"relu2": 4, "relu3": 7}[stage]  # model.layer[:split] ends with this stage's ReLU
    # Unit u of the stage is centred on image coordinate centre + u·jump (pixel p spans [p, p+1)).
    centre, jump = {"relu2": (4.5, 1), "relu3": (9.0, 2)}[stage]
    act = model.layer[:split](torch.from_numpy(image28)[None, None]).detach().requires_grad_(True)  # (1, C, H, W)
    logits = model.fc_layer(model.layer[split:](act).flatten(1))[0]  # (10,)
    (grad,) = torch.autograd.grad(logits[target], act)
    cam = torch.relu((grad.mean((2, 3), keepdim=True) * act).sum(1))[0].detach().numpy()  # (H, W)
    units = (np.arange(28) + 0.5 - centre) / jump  # each pixel centre, in units; np.interp holds the edge value
    index = np.arange(cam.shape[0])
    across = np.stack([np.interp(units, index, row) for row in cam])  # (H, 28)
    return np.stack([np.interp(units, index, column) for column in across.T], axis=1)  # (28, 28)


@pytest.mark.parametrize("stage", ["relu2", "relu3"])
def test_grad_cam_is_grad_cam(model, digits, stage):
    cams = {}
    for target in range(10):
        expected = reference_grad_cam(model, digits[0], target, stage)
        cam = grad_cam(model, digits[0], target, stage=stage)
        assert cam.shape == (28, 28) and cam.min() >= 0 and cam.max() <= 1 + 1e-6
        peak = expected.max()
        np.testing.assert_allclose(cam, expected / peak if peak > 0 else expected, atol=1e-4, err_msg=f"class {target}")
        if peak > 0:
            cams[target] = cam
    # Most classes find some evidence here, so a grad_cam that returned zeros would fail above,
    # and the evidence differs from class to class.
    assert len(cams) >= 5
    first, *others = cams.values()
    assert all(np.abs(first - other).max() > 0.1 for other in others)
    predicted = int(model(torch.from_numpy(digits[0])[None, None]).argmax())
    np.testing.assert_array_equal(grad_cam(model, digits[0], stage=stage), grad_cam(model, digits[0], predicted, stage))
    assert all(p.grad is None for p in model.parameters())


def test_grad_cam_needs_a_spatial_stage(model, digits):
    with pytest.raises(ValueError):
        grad_cam(model, digits[0], stage="hidden")
