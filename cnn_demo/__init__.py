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
