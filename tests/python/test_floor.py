"""Bindings of the floor module: aligning a track file to the floor."""

import json
import math
import os

import _vanelia
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE_GT = os.path.join(ROOT, "tests", "data", "sample", "gt.json")


def _random_similarity(seed):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    r = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    return 0.3 + 2.0 * rng.random(), r, rng.normal(size=3) * 5.0


def _track_world_doc(seed):
    """The sample's true cameras moved into an arbitrary 'tracker' world,
    with points on the floor and on a box, as a tracker would give them."""
    doc = _vanelia.import_ground_truth(SAMPLE_GT)
    s, r, t = _random_similarity(seed)
    for frame in doc["frames"]:
        c2w = np.array(frame["c2w_blender"])
        c2w[:3, :3] = r @ c2w[:3, :3]
        c2w[:3, 3] = s * (r @ c2w[:3, 3]) + t
        frame["c2w_blender"] = c2w.tolist()
    rng = np.random.default_rng(seed + 100)
    floor = np.c_[rng.uniform(-3, 3, (600, 2)), np.zeros(600)]
    box = np.c_[rng.uniform(-0.5, 0.5, (150, 2)), np.full(150, 0.8)]
    pts = np.vstack([floor, box])
    doc["points"] = {
        "xyz": ((s * (r @ pts.T)).T + t).tolist(),
        "rgb": [[128, 128, 128]] * len(pts),
        "confidence": [1.0] * len(pts),
    }
    doc["world"] = "track"
    doc["blender_from_track"] = np.eye(4).tolist()
    doc["scale"] = {"method": "none", "value_m": None}
    del doc["ground_plane"]
    return doc


def test_align_recovers_floor_and_camera_heights(tmp_path):
    truth = _vanelia.import_ground_truth(SAMPLE_GT)
    heights = [f["c2w_blender"][2][3] for f in truth["frames"]]
    src = tmp_path / "raw.json"
    out = tmp_path / "aligned.json"
    _vanelia.write_track_file(str(src), _track_world_doc(3))
    result = _vanelia.align_track_file(str(src), str(out), camera_height_m=heights[0])
    assert result["aligned"] and result["method"] == "ransac"
    assert result["inliers"] >= 500
    aligned = json.loads(out.read_text())
    assert aligned["world"] == "blender"
    assert aligned["ground_plane"]["normal"] == [0, 0, 1]
    assert aligned["scale"] == {"method": "camera_height", "value_m": heights[0]}
    for frame, h in zip(aligned["frames"], heights):
        assert frame["c2w_blender"][2][3] == pytest.approx(h, abs=1e-6)
    xyz = np.array(aligned["points"]["xyz"])
    assert np.abs(xyz[:600, 2]).max() < 1e-5
    assert xyz[600:, 2] == pytest.approx(0.8, abs=1e-5)
    # Origin on the floor where frame 0's image centre looks, heading +Y.
    c2w0 = np.array(aligned["frames"][0]["c2w_blender"])
    forward = -c2w0[:3, 2]
    assert abs(forward[0]) < 1e-9 and forward[1] > 0
    assert math.isclose(c2w0[0, 3], 0.0, abs_tol=1e-6)


def test_align_refuses_to_overwrite(tmp_path):
    src = tmp_path / "raw.json"
    _vanelia.write_track_file(str(src), _track_world_doc(4))
    out = tmp_path / "aligned.json"
    out.write_text("precious")
    with pytest.raises(_vanelia.InputError, match="overwrite"):
        _vanelia.align_track_file(str(src), str(out))
    assert out.read_text() == "precious"


def test_align_without_points_keeps_track_world(tmp_path):
    doc = _track_world_doc(5)
    del doc["points"]
    src = tmp_path / "raw.json"
    out = tmp_path / "out.json"
    _vanelia.write_track_file(str(src), doc)
    result = _vanelia.align_track_file(str(src), str(out))
    assert not result["aligned"]
    assert any("no floor found" in w for w in result["warnings"])
    written = json.loads(out.read_text())
    assert written["world"] == "track"
    assert any("no floor found" in w for w in written["summary"]["warnings"])


def test_bad_distance_indices_name_the_rule(tmp_path):
    src = tmp_path / "raw.json"
    _vanelia.write_track_file(str(src), _track_world_doc(6))
    with pytest.raises(_vanelia.InputError, match="distance point indices"):
        _vanelia.align_track_file(str(src), str(tmp_path / "o.json"), distance=(0, 99999, 1.0))


def test_cli_align_end_to_end_and_bad_input(tmp_path):
    import subprocess

    exe = os.path.join(ROOT, "build", "bin", "vanelia")
    src = tmp_path / "raw.json"
    _vanelia.write_track_file(str(src), _track_world_doc(7))
    out = tmp_path / "aligned.json"
    run = subprocess.run(
        [exe, "align", str(src), "-o", str(out), "--camera-height", "1.5"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "floor:      ransac" in run.stderr
    assert json.loads(out.read_text())["world"] == "blender"
    again = subprocess.run([exe, "align", str(src), "-o", str(out)], capture_output=True, text=True)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    bad = subprocess.run(
        [exe, "align", str(src), "-o", str(tmp_path / "x.json"), "--camera-height", "-1"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "--camera-height" in bad.stderr
    assert not (tmp_path / "x.json").exists()
