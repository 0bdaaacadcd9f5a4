"""What the Evaluate page computes once per model version and shares between sessions."""

import streamlit as st

from cnn_demo.storage.data import load_mnist
from cnn_demo.training.evaluate import Evaluation, embed_on_best_device, evaluate_on_every_core


@st.cache_resource(show_spinner=False)
def mnist(split: str) -> tuple:  # of the engine's tensors: the page does no tensor work
    """(images uint8 (N, 28, 28), labels int64 (N,)) as tensors: shared, never written to."""
    return load_mnist(split)


@st.cache_resource(max_entries=4, show_spinner=False)
def evaluation(version: str, _model) -> Evaluation:
    """The active model on all 10,000 test images; `version` is the cache key, the model is not hashed."""
    return evaluate_on_every_core(_model, *mnist("test"))


@st.cache_resource(max_entries=2, show_spinner=False)
def training_embedding(version: str, _model):  # a tensor of the engine's
    """(60000, hidden): every training image in the model's hidden layer, once per model."""
    return embed_on_best_device(_model, mnist("train")[0])
