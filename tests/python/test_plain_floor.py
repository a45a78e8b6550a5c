"""Plain floors (issue 17): textured boxes on an untextured floor (tests/data/clips/plainfloor,
480x270, 24 frames). The camera solves, but nearly every point lies on a box, and RANSAC's
best plane cuts across the boxes 4 deg off the floor; the floor must come out within 1 deg of
the truth as the cameras see it (eval_track.py's plane_normal_err_cam_deg), and the track must
say that it leaned on the cameras' up and report a lowered confidence.

Not checked here: the product slip (issue 17 asks <= 1 px mean). On this clip the camera solve
itself (ATE 0.52 %, rotation error 0.63 deg) bounds it: even the best floor normal at the true
height gives about 12 px of slip; see native/bench/track_accuracy.py's floor lines."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.environ.get("VANELIA_CLI", os.path.join(ROOT, "build", "bin", "vanelia"))
EVAL_TRACK = os.path.join(ROOT, "tests", "data", "tools", "eval_track.py")
CLIP = os.path.join(ROOT, "tests", "data", "clips", "plainfloor")


@pytest.fixture(scope="module")
def plain_floor(tmp_path_factory):
    """The clip tracked and aligned by the CLI (about 4 s) and scored against gt.json."""
    with open(os.path.join(CLIP, "gt.json"), encoding="utf-8") as f:
        gt = json.load(f)
    height = gt["frames"][0]["c2w_blender"][2][3]
    track = tmp_path_factory.mktemp("plainfloor") / "track.json"
    cmd = [VANELIA, "track", os.path.join(CLIP, "video.mp4"), "-o", str(track), "--quiet"]
    subprocess.run(cmd + ["--camera-height", repr(height)], check=True)
    run = subprocess.run(
        [sys.executable, EVAL_TRACK, os.path.join(CLIP, "gt.json"), str(track)],
        check=True,
        capture_output=True,
        text=True,
    )
    with open(track, encoding="utf-8") as f:
        return json.loads(run.stdout), json.load(f)


def test_plain_floor_tilt_within_one_degree(plain_floor):
    metrics, _ = plain_floor
    print({k: metrics[k] for k in ("registered", "ate_pct", "rot_err_mean_deg", "slip_px_mean")})
    assert metrics["registered"] == metrics["total"] == 24
    assert metrics["plane_normal_err_cam_deg"] <= 1.0


def test_plain_floor_says_it_used_the_cameras_up(plain_floor):
    _, track = plain_floor
    warnings = track["summary"]["warnings"]
    assert any("off the cameras' up" in w and "floor normal" in w for w in warnings), warnings
    assert track["ground_plane"]["confidence"] < 0.5
