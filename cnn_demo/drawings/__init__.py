"""Drawings to MNIST images: the one preprocessing (preprocess), and digits drawn stroke by
stroke for tests and measurements (drawn)."""
