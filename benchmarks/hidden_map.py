"""How long the Inspect page's map of the hidden layer takes for the shipped model: the hidden
values and PCA of the 2,000 probe test images (what the tab shows at once), and scikit-learn's
t-SNE of them (computed on demand, once per model), and placing one new digit on each.

    python -m benchmarks.hidden_map [CHECKPOINT] [--threads N] [--json]

Single-threaded by default, as a page's script thread runs (use_threads(1)); the first PCA pass
is timed apart from a second one (the first builds the kernels).
"""

import argparse
import json
import time

import numpy as np

from cnn_demo.inside.hidden_map import hidden_map, place_among, tsne
from cnn_demo.storage import checkpoint
from cnn_demo.storage.data import load_mnist
from cnn_demo.training.device import use_threads


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.hidden_map", description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", nargs="?", default=str(checkpoint.DEFAULT))
    p.add_argument("--threads", type=int, default=1, help="torch threads for the hidden values (a page uses 1)")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    args = p.parse_args(argv)
    use_threads(args.threads)
    model, _ = checkpoint.load(args.checkpoint)
    images, labels = (a.numpy() for a in load_mnist("test"))
    r = {}
    t0 = time.perf_counter()
    found = hidden_map(model, images, labels)
    r["pca_first_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    found = hidden_map(model, images, labels)
    r["pca_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    flat = tsne(found.values)
    r["tsne_s"] = round(time.perf_counter() - t0, 2)
    new = found.values[0] + np.float32(0.01)
    t0 = time.perf_counter()
    found.pca.project(new)
    place_among(found.values, flat, new)
    r["place_new_digit_s"] = round(time.perf_counter() - t0, 4)
    r["images"] = len(found.indices)
    print(
        f"{r['images']:,} images: hidden values + PCA {r['pca_s']:.2f} s (first {r['pca_first_s']:.2f} s), "
        f"t-SNE {r['tsne_s']:.1f} s, one new digit placed on both {1000 * r['place_new_digit_s']:.1f} ms"
    )
    if args.json:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
