"""Bindings of the track module: the C++ and Python track-file readers agree bit for bit, the
camera conventions agree, the importers, and import-track scored by eval_track.py."""

import json
import math
import os
import random
import struct
import subprocess
import sys

import _vanelia
import pytest

from vanelia_blender.core import conventions, track_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "docs", "track_example.json")
ORBIT_GT = os.path.join(ROOT, "tests", "data", "footage", "orbit", "gt.json")
EVAL_TRACK = os.path.join(ROOT, "tests", "data", "tools", "eval_track.py")
INVALID = os.path.join(ROOT, "tests", "data", "track", "invalid_tracks.json")
VANELIA = os.environ.get("VANELIA_CLI", os.path.join(ROOT, "build", "bin", "vanelia"))


def assert_identical(a, b, where="doc"):
    """Same structure, same types, and floats with the same bits."""
    assert type(a) is type(b), "%s: %s vs %s" % (where, type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_identical(a[key], b[key], where + "." + key)
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, "%s[%d]" % (where, i))
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b), "%s: %r vs %r" % (where, a, b)
    else:
        assert a == b, where


def test_cpp_written_track_reads_identically_in_cpp_and_python(tmp_path):
    out = tmp_path / "orbit_track.json"
    subprocess.run([VANELIA, "import-track", ORBIT_GT, "-o", str(out), "--quiet"], check=True)
    from_cpp = _vanelia.read_track_file(str(out))
    from_python = track_file.load(out)
    assert_identical(from_cpp, from_python)
    assert len(from_python["frames"]) == 96


def test_python_written_track_reads_identically_in_cpp(tmp_path):
    rng = random.Random(9)
    doc = track_file.load(EXAMPLE)
    doc["tracker"]["options"]["values"] = [rng.uniform(-1e6, 1e6) for _ in range(500)]
    for frame in doc["frames"]:
        frame["timestamp_s"] = rng.random() * 1000.0
    path = tmp_path / "t.json"
    track_file.dump(doc, path)
    assert_identical(_vanelia.read_track_file(str(path)), track_file.load(path))
    assert_identical(_vanelia.read_track_file(str(path)), doc)


def test_cpp_and_python_writers_write_the_same_text():
    doc = track_file.load(EXAMPLE)
    assert _vanelia.format_track(doc) == track_file.dumps(doc)
    gt_doc = _vanelia.import_ground_truth(ORBIT_GT)
    assert _vanelia.format_track(gt_doc) == track_file.dumps(gt_doc)


def test_cpp_reader_gives_the_shared_messages():
    with open(INVALID) as fh:
        cases = json.load(fh)["cases"]
    for case in cases:
        doc = track_file.load(EXAMPLE)
        node = doc
        for key in case["path"][:-1]:
            node = node[key]
        if case.get("delete"):
            del node[case["path"][-1]]
        else:
            node[case["path"][-1]] = case["value"]
        with pytest.raises(_vanelia.InputError) as info:
            _vanelia.read_track_file_string(json.dumps(doc), "t.json")
        assert str(info.value) == "track 't.json': " + case["message"]


def test_write_track_file_never_overwrites(tmp_path):
    path = str(tmp_path / "t.json")
    doc = track_file.load(EXAMPLE)
    _vanelia.write_track_file(path, doc)
    with pytest.raises(_vanelia.InputError, match="already exists"):
        _vanelia.write_track_file(path, doc)
    _vanelia.write_track_file(path, doc, overwrite=True)
    assert_identical(track_file.load(path), doc)


def random_pose(rng):
    q = [rng.gauss(0, 1) for _ in range(4)]
    n = math.sqrt(sum(c * c for c in q))
    w, x, y, z = (c / n for c in q)
    r = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return r, [rng.gauss(0, 2) for _ in range(3)]


def test_cpp_and_python_conventions_agree():
    rng = random.Random(4)
    for _ in range(200):
        r, t = random_pose(rng)
        cpp = _vanelia.blender_c2w_from_cam_from_world(r, t).tolist()
        py = conventions.blender_c2w_from_cam_from_world(r, t)
        assert max(abs(a - b) for ra, rb in zip(cpp, py) for a, b in zip(ra, rb)) < 1e-14
        r_cpp, t_cpp = _vanelia.cam_from_world_from_blender_c2w(cpp)
        r_py, t_py = conventions.cam_from_world_from_blender_c2w(py)
        assert (
            max(abs(a - b) for ra, rb in zip(r_cpp.tolist(), r_py) for a, b in zip(ra, rb)) < 1e-14
        )
        assert max(abs(a - b) for a, b in zip(t_cpp.tolist(), t_py)) < 1e-14


def test_project_track_points_matches_python_projection():
    doc = track_file.load(EXAMPLE)
    frame = doc["frames"][2]
    r, t = conventions.cam_from_world_from_blender_c2w(frame["c2w_blender"])
    k = frame["K"]
    points = [[0.0, 0.0, 0.0], [1.0, 0.5, 0.2], [-0.7, 1.2, 1.0]]
    pixels = _vanelia.project_track_points(EXAMPLE, frame["index"], points).tolist()
    for x, (u, v) in zip(points, pixels):
        xc = [sum(r[i][j] * x[j] for j in range(3)) + t[i] for i in range(3)]
        assert abs(k[0][0] * xc[0] / xc[2] + k[0][2] - u) < 1e-9
        assert abs(k[1][1] * xc[1] / xc[2] + k[1][2] - v) < 1e-9
    with pytest.raises(_vanelia.InputError, match="no frame with index 3"):
        _vanelia.project_track_points(EXAMPLE, 3, points)


def test_import_colmap_text_model(tmp_path):
    (tmp_path / "cameras.txt").write_text("# c\n1 SIMPLE_RADIAL 640 360 500 320 180 -0.01\n")
    (tmp_path / "images.txt").write_text(
        "# i\n"
        "1 1 0 0 0 0 0 4 1 img_0005.jpg\n\n"
        "2 0.99500416527802582 0.099833416646828155 0 0 0.1 0 4 1 img_0009.jpg\n"
        "320 180 1\n"
    )
    (tmp_path / "points3D.txt").write_text("1 0 0 0 255 0 0 0.25 2 0\n")
    doc = _vanelia.import_colmap(str(tmp_path), fps_num=30000, fps_den=1001)
    track_file.validate(doc)
    assert doc["world"] == "track"
    assert [f["index"] for f in doc["frames"]] == [5, 9]
    assert doc["frames"][0]["K"][0] == [500.0, 0.0, 319.5]
    assert doc["lens"] == {"model": "radial_k1k2", "k1": -0.01, "k2": 0.0}
    assert doc["points"]["rgb"] == [[255, 0, 0]]
    assert doc["frames"][1]["reproj_err_px"] == 0.25
    assert doc["frames"][0]["reproj_err_px"] is None
    assert doc["fps"] == {"num": 30000, "den": 1001}


def test_import_errors_are_input_errors(tmp_path):
    with pytest.raises(_vanelia.InputError, match="not a folder with cameras"):
        _vanelia.import_colmap(str(tmp_path))
    with pytest.raises(_vanelia.InputError, match="nope.json"):
        _vanelia.import_ground_truth(str(tmp_path / "nope.json"))


def test_import_track_orbit_scores_exactly(tmp_path):
    """Done-when of issue 3: import-track of orbit gt.json scored by eval_track.py."""
    out = tmp_path / "orbit_track.json"
    subprocess.run([VANELIA, "import-track", ORBIT_GT, "-o", str(out), "--quiet"], check=True)
    result = subprocess.run(
        [sys.executable, EVAL_TRACK, ORBIT_GT, str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    metrics = json.loads(result.stdout)
    assert metrics["registered"] == 96
    assert metrics["ate_rmse_m"] <= 1e-6
    assert metrics["rot_err_max_deg"] <= 1e-5
    assert metrics["focal_err_pct_max"] <= 1e-9
    assert metrics["plane_normal_err_deg"] <= 1e-6


def test_import_track_cli_usage_and_overwrite(tmp_path):
    out = tmp_path / "t.json"
    out.write_text("keep")
    run = subprocess.run(
        [VANELIA, "import-track", ORBIT_GT, "-o", str(out)], capture_output=True, text=True
    )
    assert run.returncode == 2 and "already exists" in run.stderr
    assert out.read_text() == "keep"
    run = subprocess.run(
        [VANELIA, "import-track", str(tmp_path), "-o", str(tmp_path / "x.json")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "COLMAP" in run.stderr
    run = subprocess.run([VANELIA, "import-track", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "--first-number" in run.stdout
