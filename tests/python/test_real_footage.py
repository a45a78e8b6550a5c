"""The real-footage set of issue 17 (tests/data/real): every clip decodes through `vanelia info`
with the size and frame count its README states, its COLMAP reference track validates and covers
the frames its colmap.txt says COLMAP registered (or colmap.txt says why COLMAP made no model),
and native/bench/real_footage.py scores the classical tracker on the smallest clip (no COLMAP
run: CI has no colmap) with finite numbers, registering the frames after tracking breaks
(relocalisation) with poses that agree with the reference."""

import json
import math
import os
import re
import subprocess
import sys

import pytest

from vanelia_blender.core import track_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
REAL = os.path.join(ROOT, "tests", "data", "real")
SCORER = os.path.join(ROOT, "native", "bench", "real_footage.py")

# clip: (footage, width, height, frames), as each clip's README.md states them
CLIPS = {
    "tum_office": ("frames", 640, 480, 17),
    "cyprus_arch": ("frames", 1500, 1000, 10),
    "sam2_dog": ("video.mp4", 640, 360, 48),
    "sam2_bedroom": ("video.mp4", 640, 360, 48),
}
# COLMAP 3.8 made no model of these (a camera held nearly still): no reference/track.json
NO_REFERENCE = {"sam2_dog", "sam2_bedroom"}


def _info(source):
    run = subprocess.run([VANELIA, "info", source, "--json"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _colmap_log(clip):
    with open(os.path.join(REAL, clip, "reference", "colmap.txt")) as fh:
        text = fh.read()
    registered = int(re.search(r"^Registered images: *(\d+)$", text, re.M).group(1))
    reproj = float(re.search(r"^Mean reprojection error: *([0-9.]+)px$", text, re.M).group(1))
    return registered, reproj


@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_clip_decodes_as_documented(clip):
    footage, width, height, frames = CLIPS[clip]
    info = _info(os.path.join(REAL, clip, footage))
    assert (info["width"], info["height"], info["frame_count"]) == (width, height, frames)
    assert info["rotation_deg"] == 0
    with open(os.path.join(REAL, clip, "README.md")) as fh:
        readme = fh.read()
    assert "%dx%d" % (width, height) in readme
    assert "licen" in readme.lower()


@pytest.mark.parametrize("clip", sorted(NO_REFERENCE))
def test_reference_failure_is_recorded(clip):
    with open(os.path.join(REAL, clip, "reference", "colmap.txt")) as fh:
        text = fh.read()
    assert "No good initial image pair" in text
    assert "colmap mapper" in text
    assert not os.path.exists(os.path.join(REAL, clip, "reference", "track.json"))


@pytest.mark.parametrize("clip", sorted(set(CLIPS) - NO_REFERENCE))
def test_reference_validates_and_covers_its_frames(clip):
    footage, width, height, frames = CLIPS[clip]
    doc = track_file.load(os.path.join(REAL, clip, "reference", "track.json"))
    track_file.validate(doc, clip)
    assert doc["tracker"]["name"] == "colmap"
    assert (doc["width"], doc["height"]) == (width, height)
    assert doc["source"]["frame_count"] == frames
    index = [f["index"] for f in doc["frames"]]
    assert all(0 <= i < frames for i in index)
    registered, reproj = _colmap_log(clip)
    # import-track keeps every registered COLMAP image: the counts agree
    assert len(index) == registered == doc["summary"]["registered"]
    assert registered >= 2
    assert 0.0 < reproj < 2.0
    assert abs(doc["summary"]["reproj_err_px"] - reproj) < 0.05


def test_scorer_on_the_smallest_clip(tmp_path):
    out = tmp_path / "rows.jsonl"
    run = subprocess.run(
        [sys.executable, SCORER, "--names", "tum_office", "--no-colmap", "--nice", "0"]
        + ["--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    registered, _ = _colmap_log("tum_office")
    assert row["clip"] == "tum_office" and row["frames"] == 17
    assert row["colmap_registered"] == registered
    # what the classical tracker registers is recorded against the reference
    assert 0 <= row["ours_registered"] <= row["frames"]
    assert row["both_registered"] + row["ours_only"] == row["ours_registered"]
    for key in ("ate_pct", "rot_err_mean_deg", "focal_err_pct_mean", "our_fps"):
        assert isinstance(row[key], float) and math.isfinite(row[key]), (key, row[key])
    # Relocalisation: tracking breaks at frame 11 (frames 1 s apart); frames
    # 11-16 are brought back against the map (11/17 without it). Measured
    # 2026-12-07: 17/17, ATE 0.19 % of the path, rotation 0.26 deg mean
    # against COLMAP's reference (whose own reruns move by ~0.03 deg), with
    # the descriptor-matched tracks in the adjustment (0.16 %, 0.32 deg
    # without them).
    assert row["ours_registered"] >= 16, row.get("ours_warnings")
    assert row["both_registered"] >= 16
    assert row["ate_pct"] < 0.5, row["ate_pct"]
    assert row["rot_err_mean_deg"] < 0.6, row["rot_err_mean_deg"]
    assert row["focal_err_pct_mean"] < 4.0, row["focal_err_pct_mean"]
    assert "tum_office" in run.stdout.splitlines()[-2]


def test_wide_baseline_photos_all_register(tmp_path):
    """cyprus_arch: ten photos walked round an arch; KLT links only three of
    them, the others are relocalised by SIFT + PnP and tied into the bundle
    adjustment by descriptor-matched tracks (3/10 registered without them).
    Measured 2026-12-07: 10/10, ATE 0.09 % of the path, rotation 0.18 deg
    mean, focal 0.7 % off, 0.28 px against COLMAP's 10/10 at 0.565 px."""
    out = tmp_path / "rows.jsonl"
    run = subprocess.run(
        [sys.executable, SCORER, "--names", "cyprus_arch", "--no-colmap", "--nice", "0"]
        + ["--json", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    registered, _ = _colmap_log("cyprus_arch")
    assert row["ours_registered"] >= registered == 10, row.get("ours_warnings")
    assert row["both_registered"] == 10
    assert row["ate_pct"] < 0.3, row["ate_pct"]
    assert row["rot_err_mean_deg"] < 0.4, row["rot_err_mean_deg"]
    assert row["focal_err_pct_mean"] < 2.5, row["focal_err_pct_mean"]
    assert row["ours_reproj_px"] < 0.7, row["ours_reproj_px"]
