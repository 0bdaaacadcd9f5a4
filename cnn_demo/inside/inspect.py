"""python -m cnn_demo inspect: what a network computes at each stage for one test image.

Prints each stage's shape and the arithmetic that made it, the conv layers' parameter
counts beside fully connected ones, and how each stage follows a 1-pixel shift; --bench
times feature_maps. The engine of the Inspect page is in features, arithmetic,
attribution and equivariance; this is only its command line.

    python -m cnn_demo inspect [CHECKPOINT] [--bench] [--runs 200] [--index 0]
"""

import argparse
import os
import statistics
import sys
import time

from cnn_demo.inside.equivariance import shift_equivariance
from cnn_demo.inside.features import feature_maps, probabilities
from cnn_demo.network.arithmetic import layer_arithmetic, param_counts
from cnn_demo.network.model import net_name
from cnn_demo.storage import checkpoint
from cnn_demo.storage.data import DataError, load_mnist


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m cnn_demo inspect", description="Each stage's shape and arithmetic; --bench times feature_maps."
    )
    p.add_argument("checkpoint", nargs="?", default=str(checkpoint.DEFAULT))
    p.add_argument("--bench", action="store_true", help="time feature_maps on a test image")
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--index", type=int, default=0, help="test image to use")
    args = p.parse_args(argv)
    try:
        model, _ = checkpoint.load(args.checkpoint)
        images, labels = load_mnist("test")
    except (ValueError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    image = images[args.index].float().div(255).numpy()  # (28, 28) in [0, 1]

    maps = feature_maps(model, image)
    layers = {row.name: row for row in layer_arithmetic(model)}
    print(f"{args.checkpoint}, test image {args.index} (label {labels[args.index].item()})")
    print(f"  network: {net_name(model.spec)}, {model.spec.describe()}")
    print(f"  {'input':8s} {'1 × 28 × 28':>14s}")
    for name, m in maps.items():
        line = f"  {name:8s} {' × '.join(map(str, m.shape)):>14s}"
        if name in layers:
            row = layers[name]
            rf = row.receptive_field
            line += f"   {row.kind} K={row.kernel} S={row.stride} P={row.padding}: {row.formula}   sees {rf}×{rf} px"
        print(line)
    print(f"  prediction {int(maps['logits'].argmax())}, p = {probabilities(maps['logits']).max():.3f}")
    counts = param_counts(model)
    if counts:
        print("parameters: conv vs a fully connected layer with the same input and output")
    else:
        n = model.fc_layer[0].out_features
        print(f"no conv layers: each of the {n} hidden units reads all 784 pixels, so no feature maps")
    for row in counts:
        print(f"  {row.name}: {row.params_formula}   vs FC {row.fc_formula}   ({row.fc_params / row.params:,.0f}×)")
    print("1-pixel shift right: relative change in place / error after shifting back")
    for row in shift_equivariance(model, image, 1, 0, maps).rows:
        err = "—" if row.shift_error is None else f"{row.shift_error:.2e}"
        print(f"  {row.stage:8s} changed {row.changed:6.3f}   shift error {err}")

    if args.bench:
        for _ in range(10):  # warm-up: first calls allocate and pick kernels
            feature_maps(model, image)
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            feature_maps(model, image)
            times.append((time.perf_counter() - t0) * 1000)
        q = statistics.quantiles(times, n=100)
        load = os.getloadavg()[0]  # other work on the machine shows in the p95
        print(
            f"feature_maps: p50 {q[49]:.2f} ms  p95 {q[94]:.2f} ms  over {args.runs} runs "
            f"(load average {load:.1f}, {os.cpu_count()} cores)"
        )
    return 0
