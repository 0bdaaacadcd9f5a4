"""The Train page's network editor (app_pages/network_editor.py): the table's rows to a NetSpec and
back, and a race started from the page (AppTest, no browser; tests/e2e/test_train.py drives it)."""

import math
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app_pages import network_editor as editor
from cnn_demo.network.model import PRESETS, SEED, ConvStage, NetSpec, SpecError

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_comes_back_from_its_rows(name):
    spec = PRESETS[name].spec
    assert editor.spec_of(editor.rows_of(spec), spec.hidden) == spec


def test_cells_the_table_leaves_empty_or_as_floats_are_read_as_the_spec_wants():
    rows = [{"out_channels": 8.0, "kernel_size": 3.0, "stride": math.nan, "pool": "max", "activation": None}]
    spec = editor.spec_of(rows, 64.0)
    assert spec == NetSpec((ConvStage(8, 3, pool="max"),), hidden=64)
    assert editor.pool_of("최대") == "max" and editor.pool_of("평균") == "avg" and editor.pool_of("없음") is None


@pytest.mark.parametrize(
    "rows, hidden, message",
    [
        (
            [{"out_channels": 8, "kernel_size": 9, "stride": 3}, {"out_channels": 8, "kernel_size": 9}],
            100,
            "conv2: a 9×9 kernel does not fit in its 7×7 input",
        ),
        (
            [{"out_channels": 8, "kernel_size": 5, "stride": 3}] * 3,
            100,
            "conv3: a 5×5 kernel does not fit in its 2×2 input",
        ),
        ([{"out_channels": 8}] * 5, 100, "at most 4 conv stages, not 5"),
        ([{"out_channels": 8, "kernel_size": 2.5}], 100, "conv1: kernel_size must be a whole number, not 2.5"),
        ([{"out_channels": 128, "kernel_size": 3, "padding": 1}] * 4, 1024, "multiply-adds per image is more than 20×"),
    ],
)
def test_a_table_that_cannot_work_is_a_spec_error_naming_the_stage(rows, hidden, message):
    with pytest.raises(SpecError, match=message):
        editor.spec_of(rows, hidden)


@pytest.fixture
def app(monkeypatch, tmp_path):
    monkeypatch.setenv("CNN_DEMO_TRAINING", "thread")
    monkeypatch.setattr("cnn_demo.storage.checkpoint.RUNS_DIR", tmp_path)
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    yield at
    from app_pages.common import run_manager

    run_manager().close()
    st.cache_resource.clear()


def test_a_race_started_from_the_page_trains_the_two_networks_it_shows(app):
    assert app.selectbox(key="net_preset.en").value == "seed"
    app.toggle(key="train_race").set_value(True).run()
    assert app.selectbox(key="race_preset.en").value == "fully_connected"  # the default opponent
    captions = " ".join(c.value for c in app.caption)
    assert "fc 155 · 123,235 parameters" in captions and "1e+01× the tutorial's" not in captions
    app.number_input(key="train_images").set_value(256).run()
    app.button[0].click().run()  # "Start training"
    assert not app.exception and not app.error
    from app_pages.common import run_manager

    run = run_manager().run
    assert run.config.net == SEED and run.config.race == PRESETS["fully_connected"].spec
    deadline = time.time() + 120
    while run.view().active and time.time() < deadline:
        time.sleep(0.1)
    view = run.view()
    assert view.state == "finished" and all(lane.saved_path.exists() for lane in view.lanes)
    app.run()
    assert "Race finished." in [s.value for s in app.success]
    assert [b.label for b in app.button if b.label == "Use this model"] == ["Use this model"] * 2
