"""The load generator's pieces that need no server: the canvas's value as the component sends
it, a finger's path, the training speed read off the Train page, CPU time and memory from /proc."""

import base64
import io
import json
import os
import resource
import time

import numpy as np
from PIL import Image

from benchmarks.class_load import Teacher
from benchmarks.proc_usage import cpu_by_role, process_cpu_s, rss_mb, share_of_cores
from cnn_demo.drawings.drawn import drawings, render
from harness.canvas import canvas_value, fabric_path, finger_path
from harness.websocket import left_behind


def test_the_canvas_value_carries_the_paths_and_the_whole_canvas_as_png():
    d = drawings(5, seed=3)[4]  # a 4: two strokes
    value = json.loads(canvas_value(d.strokes, d.brush))
    raw, data = value["drawing"]["raw"], value["drawing"]["data"]
    assert raw["version"] == "7.4.0" and raw["background"] == "#000000"
    assert [o["type"] for o in raw["objects"]] == ["Path", "Path"]
    assert all(o["strokeWidth"] == d.brush and o["stroke"] == "#FFFFFF" for o in raw["objects"])
    assert data.startswith("data:image/png;base64,")
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1]))))
    # What the server decodes is exactly the canvas drawn: 280 x 280, opaque RGBA.
    assert picture.shape == (280, 280, 4) and (picture[..., 3] == 255).all()
    np.testing.assert_array_equal(picture, render(d.strokes, d.brush))


def test_a_fabric_path_goes_through_the_stroke_from_its_first_point_to_its_last():
    stroke = np.array([[10.0, 20.0], [30.0, 20.0], [30.0, 60.0]])
    path = fabric_path(stroke, 18)["path"]
    assert path[0] == ["M", 10.0, 20.0] and path[-1] == ["L", 30.0, 60.0]
    assert [c[0] for c in path[1:-1]] == ["Q", "Q"]
    assert path[1][3:] == [20.0, 20.0]  # a curve to the midpoint of the next segment, as fabric's pencil draws


def test_a_finger_reports_a_move_every_few_pixels_and_keeps_the_ends():
    stroke = np.array([[0.0, 0.0], [100.0, 0.0], [100.0, 50.0]])
    points = finger_path(stroke, spacing=6)
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    assert steps.max() <= 6 + 1e-9 and len(points) >= 150 / 6
    np.testing.assert_array_equal(points[0], stroke[0])
    np.testing.assert_array_equal(points[-1], stroke[-1])


def test_training_speed_between_two_moments_leaves_evaluation_out():
    teacher = Teacher("http://localhost:1")
    batch = 100
    # (time, step, the page's cumulative images/s): 100 steps trained in 2 s of training,
    # then 5 s of evaluation (no steps), then 100 more steps in 4 s.
    teacher.samples = [(0.0, 100, 100 * batch / 2), (11.0, 200, 200 * batch / 6)]
    assert abs(teacher.images_per_s(0, 11, batch) - 100 * batch / 4) < 1e-6  # not 100 steps / 11 s
    assert teacher.images_per_s(5, 6, batch) is None  # fewer than two readings


def test_cpu_time_from_proc_is_what_the_process_itself_counts():
    def spin(seconds: float) -> None:
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass

    before, own_before = process_cpu_s(os.getpid()), time.process_time()
    spin(0.3)
    used, own_used = process_cpu_s(os.getpid()) - before, time.process_time() - own_before
    tick = 1 / os.sysconf("SC_CLK_TCK")  # /proc counts in clock ticks
    assert abs(used - own_used) <= 3 * tick, (used, own_used)
    # Counted as the server when it is the server's pid, as the benchmark (generator) otherwise
    as_server, as_generator = cpu_by_role(os.getpid()), cpu_by_role(-1)
    assert as_server["server"] >= own_used and as_server["generator"] == 0
    assert as_generator["generator"] >= own_used and as_generator["server"] == 0


def test_share_of_cores_is_cpu_seconds_over_wall_seconds_and_cores():
    cores = os.cpu_count() or 1
    share = share_of_cores({"server": 1.0, "training": 0.0}, {"server": 1.5, "training": 2.0 * cores}, 4.0)
    assert share == {"server": round(0.5 / (4 * cores), 3), "training": 0.5}


def test_resident_memory_is_below_the_peak_the_kernel_reports():
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    assert 10 < rss_mb(os.getpid()) <= peak_mb + 1


def test_left_behind_is_what_the_next_run_neither_wrote_again_nor_replaced_from_above():
    before = {(0, 4): "block vertical", (0, 4, 0): "element", (0, 4, 1): "element", (0, 5): "element"}
    # an element written where the block was takes everything below it away
    assert left_behind(before, {(0, 4): "element", (0, 5): "element"}) == []
    # the same block written again keeps the children it is not given: the second one stays
    assert left_behind(before, {(0, 4): "block vertical", (0, 4, 0): "element", (0, 5): "element"}) == [(0, 4, 1)]
    assert left_behind(before, {}) == sorted(before)
