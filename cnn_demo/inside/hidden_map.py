"""A map of the hidden layer: how the network sorts the digits, laid out in two dimensions.

Each image is a point in the hidden layer (similar.hidden: the units after the first Linear +
ReLU, 100 for the tutorial's network). Laid out in two dimensions, the ten digits form ten
clouds, and the ones the network confuses touch.

    values = hidden_values(model, images)        # (N, hidden) float32
    pca = fit_pca(values)                         # the mean and the two main directions, kept
    points = pca.project(values)                  # (N, 2); a new digit: pca.project(its hidden values)
    flat = tsne(values)                           # (N, 2) with scikit-learn's t-SNE (seconds)
    where, near = place_among(values, flat, new)  # a new digit on the t-SNE map: among its neighbours

PCA is a projection, so a new digit lands exactly where its own values project. t-SNE has no
projection: it moves the given points until near ones stay near. A new digit is placed at the
mean position of its k nearest neighbours in the hidden layer, and the page says so.

The images are the same 2,000 test images that train.fit probes (probe_indices): every 5th, so
both halves of the test set (which differ in difficulty) are in it.
"""

from dataclasses import dataclass

import numpy as np
import torch

from cnn_demo.inside.similar import hidden
from cnn_demo.network.model import Net

NEIGHBOURS = 10  # a new digit's place on the t-SNE map: the mean of this many nearest images' places
# One colour per digit 0-9 (D3's category10): the same in the interactive map and the pictures.
DIGIT_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def probe_indices(count: int, size: int | None = None) -> np.ndarray:
    """The indices of the probe images among `count` test images: every (count // size)-th, the
    first `size` of them. size: default train.PROBE_IMAGES (2,000), the images fit scores."""
    if size is None:
        from cnn_demo.training.train import PROBE_IMAGES  # here: train imports this module

        size = PROBE_IMAGES
    return np.arange(0, count, max(1, count // size))[:size]


@torch.inference_mode()
def hidden_values(
    model: Net, images: np.ndarray | torch.Tensor, batch_size: int = 1000, autocast: torch.dtype | None = None
) -> np.ndarray:
    """images: uint8 (N, 28, 28), or floats in [0, 1] -> float32 (N, hidden): each image's hidden
    units, as the model computes them, on the model's device. The model is put in eval mode for
    the pass and back in its own mode after (fit calls this between epochs)."""
    if not isinstance(images, torch.Tensor):
        images = torch.from_numpy(np.array(images))  # a copy: the page's test set is read-only
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size].to(device).unsqueeze(1).float()  # (B, 1, 28, 28)
        if images.dtype == torch.uint8:
            x = x.div_(255)
        with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
            out.append(hidden(model, x).float().cpu())
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros((0, model.spec.hidden), np.float32)


@dataclass(frozen=True)
class PCA:
    """The two directions along which the hidden values vary most: new points project onto them."""

    mean: np.ndarray  # (hidden,) float32, the values' mean
    components: np.ndarray  # (2, hidden) float32, unit rows, most variance first
    explained: np.ndarray  # (2,) the fraction of all the variance along each

    def project(self, values: np.ndarray) -> np.ndarray:
        """(N, hidden) -> (N, 2), or (hidden,) -> (2,): (values - mean) @ components.T."""
        return ((np.asarray(values, np.float32) - self.mean) @ self.components.T).astype(np.float32)


def fit_pca(values: np.ndarray, dims: int = 2) -> PCA:
    """PCA of (N, hidden) values by numpy's SVD. Each direction's sign is fixed (its largest
    loading positive), so that the same values always give the same picture."""
    values = np.asarray(values, np.float64)
    mean = values.mean(0)
    _, singular, vt = np.linalg.svd(values - mean, full_matrices=False)  # vt: (min(N, hidden), hidden)
    components = vt[:dims]
    if len(components) < dims:  # fewer images or units than directions: pad with zero directions
        components = np.vstack([components, np.zeros((dims - len(components), values.shape[1]))])
    rows = np.arange(dims)
    components = components * np.where(components[rows, np.abs(components).argmax(1)] < 0, -1.0, 1.0)[:, None]
    variance = singular**2
    explained = np.zeros(dims)
    explained[: min(dims, len(variance))] = variance[:dims] / max(variance.sum(), 1e-12)
    return PCA(mean.astype(np.float32), components.astype(np.float32), explained.astype(np.float32))


def pca_points(model: Net, images: np.ndarray | torch.Tensor, autocast: torch.dtype | None = None) -> np.ndarray:
    """The images' PCA map in one call: (N, 2) float16, what a training run's epoch carries
    (2,000 x 2 x 2 bytes = 16 kB per network)."""
    # A network that blew up can hold inf: its map is then meaningless, but must not stop the run.
    values = np.nan_to_num(hidden_values(model, images, autocast=autocast), nan=0.0, posinf=0.0, neginf=0.0)
    points = fit_pca(values).project(values)
    return np.clip(points, -60_000, 60_000).astype(np.float16)  # float16 ends at 65,504


def align(points: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """points, previous: (N, 2), the same images' maps at two moments of training. PCA's directions
    have no sign of their own: each axis of `points` is flipped where that puts the images nearer
    their previous places, so a slider over epochs shows the clouds moving, not the map mirrored."""
    if previous is None or len(previous) != len(points):
        return points
    p, q = np.asarray(points, np.float32), np.asarray(previous, np.float32)
    signs = np.where(((p - p.mean(0)) * (q - q.mean(0))).sum(0) < 0, -1, 1).astype(np.float32)
    return (p * signs).astype(points.dtype)


def tsne(values: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """(N, hidden) -> (N, 2) float32: scikit-learn's t-SNE (Barnes-Hut), started from the PCA
    map (stabler and more faithful to the large-scale layout than a random start). Seconds for
    2,000 images: the page computes it once per model and keeps it."""
    from sklearn.manifold import TSNE  # only here: importing scikit-learn takes a second

    values = np.asarray(values, np.float32)
    perplexity = min(perplexity, max(1.0, (len(values) - 1) / 3))  # it must be below the number of points
    return (
        TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, learning_rate="auto")
        .fit_transform(values)
        .astype(np.float32)
    )


def nearest(values: np.ndarray, new_values: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """The indices of the k rows of values (N, hidden) nearest to new_values (hidden,), nearest first
    (Euclidean distance, the one t-SNE keeps)."""
    distances = ((np.asarray(values, np.float32) - np.asarray(new_values, np.float32)) ** 2).sum(1)  # (N,)
    k = min(k, len(distances))
    near = np.argpartition(distances, k - 1)[:k]
    return near[np.argsort(distances[near])]


def place_among(
    values: np.ndarray, points: np.ndarray, new_values: np.ndarray, k: int = NEIGHBOURS
) -> tuple[np.ndarray, np.ndarray]:
    """Where a new image goes on a map made without it (t-SNE's): the mean place of its k nearest
    images in the hidden layer. values (N, hidden), points (N, 2), new_values (hidden,).
    Returns its (2,) place and the neighbours' indices, nearest first."""
    near = nearest(values, new_values, k)
    return np.asarray(points, np.float32)[near].mean(0), near


@dataclass(frozen=True)
class HiddenMap:
    """One model's map of the probe images."""

    indices: np.ndarray  # (N,) each point's index in the test set
    labels: np.ndarray  # (N,) each point's digit
    values: np.ndarray  # (N, hidden) float32, the hidden layer's values
    pca: PCA
    points: np.ndarray  # (N, 2) float32, pca.project(values)


def hidden_map(
    model: Net, images: np.ndarray, labels: np.ndarray, indices: np.ndarray | None = None, autocast=None
) -> HiddenMap:
    """images: uint8 (count, 28, 28), the whole test set; labels (count,). indices: which of them
    to map, default probe_indices(count)."""
    indices = probe_indices(len(images)) if indices is None else np.asarray(indices)
    values = hidden_values(model, np.asarray(images)[indices], autocast=autocast)
    pca = fit_pca(values)
    return HiddenMap(indices, np.asarray(labels)[indices], values, pca, pca.project(values))


def points_picture(points: np.ndarray, labels: np.ndarray, size: int = 200, dot: int = 1) -> np.ndarray:
    """A map as a still picture: (N, 2) points, (N,) digits -> (size, size, 3) uint8, white, each
    point a (2 dot + 1)-pixel square in its digit's colour, y upwards. Cheap to redraw while a run
    trains (an interactive chart of 2,000 points is not). Drawn in a fixed shuffled order, so no
    digit always lies on top."""
    points = np.nan_to_num(np.asarray(points, np.float32))
    picture = np.full((size, size, 3), 255, np.uint8)
    if not len(points):
        return picture
    low, high = points.min(0), points.max(0)
    margin = dot + 2
    scaled = (points - low) / np.maximum(high - low, 1e-6)  # (N, 2) in [0, 1]
    x = np.round(margin + scaled[:, 0] * (size - 1 - 2 * margin)).astype(int)
    y = np.round(size - 1 - margin - scaled[:, 1] * (size - 1 - 2 * margin)).astype(int)
    colours = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in DIGIT_COLOURS], np.uint8)
    order = np.random.default_rng(0).permutation(len(points))
    for dy in range(-dot, dot + 1):
        for dx in range(-dot, dot + 1):  # later points overwrite earlier ones, in `order`
            picture[y[order] + dy, x[order] + dx] = colours[np.asarray(labels)[order] % 10]
    return picture
