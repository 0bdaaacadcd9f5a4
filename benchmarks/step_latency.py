"""From a picked value to its sum, on the server: the Step through tab's work for one pick.

    python -m benchmarks.step_latency [--picks 300] [--json]

For the tutorial's network (preset "seed", the shipped checkpoints/default.safetensors) and MNIST
test image 0, the maps are computed once (the Inspect page has them already); then each pick, a
random conv layer, channel, row and column, times the engine call (conv_step) and the building of
the figures the tab draws for it (the clickable map, each shown input channel with its window,
the weights and the products), as plain dicts ready to send. p50 and p95 in milliseconds; the
target is p95 <= 100 ms. Streamlit's own serialising and the browser's drawing are not counted.
"""

import argparse
import json
import statistics
import time

import numpy as np

from cnn_demo import ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--picks", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    # The tab's figure code reads the language through Streamlit's session, absent in a script: English.
    import app_pages.i18n as i18n

    i18n.language = lambda: "en"
    from app_pages.inspect.step import shown_channels
    from app_pages.inspect.step_figures import numbers_figure, padded_figure, pickable_map_figure
    from cnn_demo.inside.arithmetic_steps import conv_step, layer_input
    from cnn_demo.inside.features import feature_maps
    from cnn_demo.storage import checkpoint
    from cnn_demo.storage.data import load_mnist

    model, _ = checkpoint.load(ROOT / "checkpoints" / "default.safetensors")
    images, _ = load_mnist("test")
    image28 = images[0].numpy().astype(np.float32) / 255
    maps = feature_maps(model, image28)
    convs = [name for name in maps if name.startswith("conv")]
    rng = np.random.default_rng(0)
    times = []
    for _ in range(args.picks):
        layer = convs[rng.integers(len(convs))]
        c, h, w = maps[layer].shape
        channel, row, col = int(rng.integers(c)), int(rng.integers(h)), int(rng.integers(w))
        start = time.perf_counter()
        inputs = layer_input(model, layer, image28, maps)
        step = conv_step(model, layer, inputs, channel, row, col)
        figures = [pickable_map_figure(maps[layer][channel], (row, col), layer, 330)]
        for i in shown_channels(step):
            figures.append(padded_figure(step.padded[i], step.padding, step.top, step.left, step.kernel, "", 260))
            figures.append(numbers_figure(step.weights[i], "", 230))
            figures.append(numbers_figure(step.products[i], "", 230))
        [f.to_plotly_json() for f in figures]
        times.append(1000 * (time.perf_counter() - start))
    p50, p95 = statistics.median(times), float(np.percentile(times, 95))
    result = {"picks": args.picks, "p50_ms": round(p50, 2), "p95_ms": round(p95, 2), "target_p95_ms": 100}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.picks} picks: p50 {p50:.1f} ms, p95 {p95:.1f} ms (target p95 <= 100 ms)")


if __name__ == "__main__":
    main()
