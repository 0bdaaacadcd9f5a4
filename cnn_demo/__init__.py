"""cnn_demo: the engine of the classroom CNN app. It never imports streamlit.

Modules, one idea each:
    model       SeedCNN, the tutorial's network
    data        load_mnist: MNIST as tensors, offline first
    device      which device to use
    train       the training loop (a generator) and `python -m cnn_demo.train`
    evaluate    test accuracy and `python -m cnn_demo.evaluate`
    checkpoint  the one checkpoint format: save, load, DEFAULT
    bench       `python -m cnn_demo.bench`: the tutorial's pipeline against this one
"""

import os

# OpenMP threads that wait actively spin on their core. When the cores are shared (a page
# answering a student while a run trains, a browser on the same laptop), every layer then
# waits for a descheduled thread: training ran 4x slower here under load. Passive waiting
# costs little when the machine is idle. It must be set before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
