"""Fast page-logic tests with Streamlit's AppTest (no browser; live timers and the canvas are
covered by the real-browser tests in tests/e2e)."""

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cnn_demo import data

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def app():
    st.cache_resource.clear()  # a fresh "server": its own model store and run manager
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    yield at
    st.cache_resource.clear()


def test_home_shows_the_active_model_in_the_sidebar(app):
    assert "How a convolutional neural network sees digits" in app.title[0].value
    assert app.sidebar.metric[0].value == "99.52%"  # the shipped default


def test_recipe_fills_the_hyper_parameters(app):
    app.switch_page("views/train.py").run()
    values = lambda: {n.label: n.value for n in app.number_input}
    assert values() == {"Epochs": 10, "Batch size": 256, "Learning rate": 0.0002, "Training images": 60000}
    app.radio(key="train_recipe").set_value("best").run()
    assert values() == {"Epochs": 16, "Batch size": 128, "Learning rate": 0.003, "Training images": 60000}


def test_missing_data_is_a_clear_message_and_starts_nothing(app, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DATA_FILE", tmp_path / "absent.npz")
    monkeypatch.setattr(data, "DOWNLOAD_DIR", tmp_path / "dl")

    def no_network(*args, **kwargs):
        raise RuntimeError("no network")

    from torchvision import datasets

    monkeypatch.setattr(datasets, "MNIST", no_network)
    app.switch_page("views/train.py").run()
    app.button[0].click().run()  # "Start training"
    assert app.button[0].label == "Start training"
    (error,) = app.error
    assert error.value.startswith("Training did not start: MNIST is not in") and "mnist.npz" in error.value
    assert not app.exception


def test_hyper_parameters_stay_in_range(app):
    """The widgets keep what a user types inside the trainer's limits."""
    app.switch_page("views/train.py").run()
    app.number_input(key="train_lr").set_value(5.0).run()
    app.number_input(key="train_epochs").set_value(0).run()
    values = {n.label: n.value for n in app.number_input}
    assert 0 < values["Learning rate"] <= 1.0 and values["Epochs"] >= 1
    assert not app.exception
