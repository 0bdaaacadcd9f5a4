"""The machine's training settings: the choice rule, what is kept, and a real (tiny) probe."""

import json

import torch

from cnn_demo.training import calibrate
from cnn_demo.training.calibrate import FASTER, Settings, choose
from cnn_demo.training.device import CPU_CORES

CPU = torch.device("cpu")


def probe(policy, rates, busy):
    """A probe's result: rates {(channels_last, dtype, threads): images/s}, busy: the best beside a busy core."""
    best = max(rates, key=rates.get)
    return {"wait_policy": policy, "rates": [[*k, r] for k, r in rates.items()], "busy": [*best, busy]}


def test_the_safe_default_stays_unless_another_choice_is_clearly_faster():
    close = {(True, "float32", CPU_CORES): 1000, (False, "float32", CPU_CORES): 1000 * FASTER - 1}
    chosen = choose([probe("PASSIVE", close, 800)])
    assert (chosen.channels_last, chosen.dtype, chosen.threads, chosen.wait_policy) == (
        True,
        "float32",
        CPU_CORES,
        "PASSIVE",
    )
    faster = {**close, (True, "bfloat16", CPU_CORES): 1500}
    assert choose([probe("PASSIVE", faster, 800)]).dtype == "bfloat16"
    # Two bf16 layouts within noise of each other: channels_last, the nearer to the default
    tie = {**faster, (False, "bfloat16", CPU_CORES): 1540}
    chosen = choose([probe("PASSIVE", tie, 800)])
    assert (chosen.channels_last, chosen.dtype) == (True, "bfloat16")


def test_spinning_threads_are_chosen_only_when_faster_and_no_worse_beside_a_busy_core():
    passive = probe("PASSIVE", {(True, "float32", CPU_CORES): 1000}, busy=600)
    spins_fast = probe("ACTIVE", {(True, "float32", CPU_CORES): 1300}, busy=650)
    spins_but_starves = probe("ACTIVE", {(True, "float32", CPU_CORES): 1300}, busy=300)
    spins_no_gain = probe("ACTIVE", {(True, "float32", CPU_CORES): 1050}, busy=700)
    assert choose([passive, spins_fast]).wait_policy == "ACTIVE"
    assert choose([passive, spins_but_starves]).wait_policy == "PASSIVE"
    assert choose([passive, spins_no_gain]).wait_policy == "PASSIVE"


def test_nothing_kept_means_safe_defaults_and_what_is_kept_is_per_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_DEMO_CACHE", str(tmp_path))
    assert calibrate.kept(CPU) is None
    default = calibrate.settings(CPU)
    assert (default.channels_last, default.autocast, default.measured) == (True, None, {})
    chosen = Settings(channels_last=False, dtype="bfloat16", threads=1, measured={"PASSIVE": {}})
    calibrate.keep(CPU, chosen)
    assert calibrate.settings(CPU) == chosen and calibrate.settings(CPU).autocast == torch.bfloat16
    entries = json.loads(calibrate.cache_file().read_text())
    (entry,) = entries.values()
    assert entry["machine"]["device"] == calibrate.cpu_model() and entry["machine"]["torch"] == torch.__version__
    # Another CPU (or torch) finds nothing of this one's
    monkeypatch.setattr(calibrate, "cpu_model", lambda: "Some Other CPU (family 1, model 1)")
    assert calibrate.kept(CPU) is None


def test_a_damaged_file_is_as_if_nothing_were_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_DEMO_CACHE", str(tmp_path))
    calibrate.cache_file().write_text("{not json")
    assert calibrate.kept(CPU) is None and calibrate.settings(CPU).measured == {}


def test_a_probe_times_every_layout_and_dtype_it_may_choose():
    result = calibrate.probe(CPU, round_s=0.01, rounds=1)
    layouts_dtypes = {(cl, dt) for cl, dt, n, rate in result["rates"]}
    assert {(True, "float32"), (False, "float32")} <= layouts_dtypes
    if result["bf16_cosine"] >= calibrate.COSINE_MIN:
        assert (True, "bfloat16") in layouts_dtypes
    assert all(rate > 0 for *_, rate in result["rates"]) and result["busy"][3] > 0
    assert 0.9 < result["bf16_cosine"] <= 1.0 + 1e-6  # bf16's gradient points where fp32's does
