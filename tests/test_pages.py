"""Fast page-logic tests with Streamlit's AppTest (no browser; live timers and the canvas are
covered by the real-browser tests in tests/e2e)."""

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cnn_demo.storage import data
from cnn_demo.training.train import CONFIG_LIMITS, TrainConfig

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def app(monkeypatch):
    # Runs train on a thread of this process: a worker process per test would import torch again.
    monkeypatch.setenv("CNN_DEMO_TRAINING", "thread")
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
    app.switch_page("app_pages/train.py").run()
    values = lambda: {n.label: n.value for n in app.number_input}
    # Quick is the first choice: one epoch of 20,000 images
    assert values() == {"Epochs": 1, "Batch size": 64, "Learning rate": 0.005, "Training images": 20000}
    app.radio(key="train_recipe.en").set_value("seed").run()
    assert values() == {"Epochs": 10, "Batch size": 256, "Learning rate": 0.0002, "Training images": 60000}
    app.radio(key="train_recipe.en").set_value("best").run()
    assert values() == {"Epochs": 16, "Batch size": 128, "Learning rate": 0.003, "Training images": 60000}


def test_missing_data_is_a_clear_message_and_starts_nothing(app, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DATA_FILE", tmp_path / "absent.npz")
    monkeypatch.setattr(data, "DOWNLOAD_DIR", tmp_path / "dl")

    def no_network(*args, **kwargs):
        raise RuntimeError("no network")

    from torchvision import datasets

    monkeypatch.setattr(datasets, "MNIST", no_network)
    app.switch_page("app_pages/train.py").run()
    app.button[0].click().run()  # "Start training"
    assert app.button[0].label == "Start training"
    (error,) = app.error
    assert error.value.startswith("Training did not start: MNIST is not in") and "mnist.npz" in error.value
    assert not app.exception


# Each hyper-parameter box of the Train page and the trainer's name for it.
BOXES = {"train_epochs": "epochs", "train_batch": "batch_size", "train_lr": "lr", "train_images": "train_images"}


def test_hyper_parameter_boxes_hold_the_trainers_limits(app):
    """The page offers exactly what the trainer accepts (cnn_demo.training.train.CONFIG_LIMITS, which
    tests/test_train.py checks the trainer enforces): no value a box lets through is refused."""
    app.switch_page("app_pages/train.py").run()
    for key, name in BOXES.items():
        box = app.number_input(key=key)
        assert (box.min, box.max) == CONFIG_LIMITS[name], key


def test_a_setting_the_trainer_refuses_is_a_clear_error_and_starts_nothing(app, monkeypatch):
    """Whatever reaches the Start button goes through the trainer's check, and its refusal is
    shown, not raised, and starts no run. (Streamlit itself swaps a value outside a box's
    range for the box's minimum before the page reads it, so the refusal is provoked here.)"""
    checked = []

    def refuse(config):
        checked.append(config)
        raise ValueError("lr must be between 1e-06 and 1, not 5")

    monkeypatch.setattr(TrainConfig, "validated", refuse)
    app.switch_page("app_pages/train.py").run()
    app.button[0].click().run()  # "Start training"
    (error,) = app.error
    assert error.value == "Training did not start: lr must be between 1e-06 and 1, not 5"
    assert checked and checked[0].lr == 0.005 and checked[0].train_images == 20_000  # what the boxes held (Quick)
    assert app.button[0].label == "Start training" and not app.button[0].disabled
    assert any(i.value.startswith("No run yet") for i in app.info)
    assert not app.exception
