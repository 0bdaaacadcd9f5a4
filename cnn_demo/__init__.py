"""cnn_demo: the engine of the classroom CNN app. It never imports streamlit.

One command line for all of it: `python -m cnn_demo COMMAND` (train, evaluate, bench, calibrate,
experiments, inspect, similar, drawn, data, store, checkpoint; see __main__).

Laid out by concern, one idea per module:
    network/      the network as data
        model         NetSpec, build, PRESETS (the tutorial's is SEED), the names of its stages
        arithmetic    output sizes, receptive fields, parameter counts of each layer
    training/     making a network learn
        train         TrainConfig, the training loop `fit` and the messages it yields (Step, Probe, Epoch, End)
        live          the app's background training run: start, pause, resume, stop, watch
        jobs          one job per server in a process of its own, below the pages; restarting with settings
        device        which device to use, and how many CPU threads each kind of work gets
        calibrate     this machine's fastest layout, dtype, threads and wait policy, measured once
        evaluate      test accuracy, confusion matrix, mistakes, learning curves
        curves        loss curves for a chart: smoothed, and thinned to a few hundred points
        bench         the tutorial's pipeline against this one
    inside/       looking inside a trained model
        features      every stage's output for one image (hooks on the real model), kernels
        attribution   where the model looks: saliency and Grad-CAM
        equivariance  measured: conv maps move with the input, pooled features less
        similar       training images nearest in the hidden layer
        predict       class probabilities for 28 x 28 images, and the runner-up digit
        probe         shift, turn, thicken, erase a digit to watch the prediction follow
        inspect       each stage's shape and arithmetic for one test image, on the command line
        pixels        colour scales, colour ranges and enlarged pictures as PNG
        mosaic        many small maps tiled into one image
        arithmetic_steps  one value's arithmetic: a conv's window, products and sums, a pooling, the softmax
        ablation      break it: a damaged copy (channels, units, layers, biases off; noise) and its accuracy
        feature_vis   what each channel looks for: pictures by gradient ascent, the test images it likes most
        hidden_map    the hidden layer in two dimensions: PCA, t-SNE, a new digit placed
    drawings/     from a drawing to what the model sees
        preprocess    a drawing or photo -> the 28 x 28 image the model expects, as MNIST was made
        drawn         digits drawn stroke by stroke, to measure the whole path
    storage/      what is kept on disk
        data          load_mnist: MNIST as tensors, offline first
        checkpoint    the one checkpoint format: save, load, DEFAULT (never unpickled)
        store         the saved models of a server, the active one, uploads and deletes
    classroom/    the class: who leads it, how students join, what they send
        teacher       the teacher code, the tries at it, who is on the serving machine
        address       the address students type, and its QR code
        wall          the class store (SQLite): names, sent drawings, the wall, the spotlight
    experiments/  the tutorial's claims measured
        claims        shuffled pixels, shifted digits, every preset; results kept as JSON
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: data/, checkpoints/, locales/

# OpenMP threads that wait actively spin on their core. When the cores are shared (a page
# answering a student while a run trains, a browser on the same laptop), every layer then
# waits for a descheduled thread: training ran 4x slower here under load. Passive waiting
# costs little when the machine is idle. It must be set before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
