"""cnn_demo: the engine of the classroom CNN app. It never imports streamlit.

Modules, one idea each:
    model         NetSpec, build, PRESETS: the network as data (the tutorial's is SEED), the names of its stages
    data          load_mnist: MNIST as tensors, offline first
    device        which device to use, and how many CPU threads each kind of work gets
    train         the training loop (a generator) and `python -m cnn_demo.train`
    live          the app's background training run: start, pause, resume, stop, watch
    curves        loss curves for a chart: smoothed, and thinned to a few hundred points
    evaluate      test accuracy, confusion matrix, mistakes, learning curves; `python -m cnn_demo.evaluate`
    checkpoint    the one checkpoint format: save, load, DEFAULT
    store         the saved models of a server, the active one, uploads and deletes
    preprocess    a drawing or photo -> the 28 x 28 image the model expects, as MNIST was made
    predict       class probabilities for 28 x 28 images, and the runner-up digit
    probe         shift, turn, thicken, erase a digit to watch the prediction follow
    drawn         digits drawn stroke by stroke, to measure the whole path; `python -m cnn_demo.drawn`
    features      every stage's output for one image (hooks on the real model), kernels
    arithmetic    output sizes, receptive fields, parameter counts of each layer
    attribution   where the model looks: saliency and Grad-CAM
    equivariance  measured: conv maps move with the input, pooled features less
    inspect       `python -m cnn_demo.inspect`: each stage's shape and arithmetic, --bench
    similar       training images nearest in the hidden layer; `python -m cnn_demo.similar`
    mosaic        many small maps tiled into one image
    pixels        colour scales, colour ranges and enlarged pictures as PNG
    bench         `python -m cnn_demo.bench`: the tutorial's pipeline against this one
"""

import os

# OpenMP threads that wait actively spin on their core. When the cores are shared (a page
# answering a student while a run trains, a browser on the same laptop), every layer then
# waits for a descheduled thread: training ran 4x slower here under load. Passive waiting
# costs little when the machine is idle. It must be set before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
