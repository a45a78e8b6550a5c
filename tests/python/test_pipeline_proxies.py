"""Issue 20's proxies in `vanelia run` (the CLI path, the real Blender): the
run builds the holdout / shadow-catcher boxes natively from the track's
points before Blender starts (pipeline/proxy_stage.hpp), says how many in its
output, hands them to batch.py, and the rendered product pass is hidden where
the occluder clip's box stands in front of it; `--proxies off` builds none
(~13 s: two one-frame runs).

The track: the occluder clip's gt cameras carrying a reconstruction-like
cloud sampled from its gt.json boxes (tests/blender/scene_testing.gt_points,
as run_occlusion_acceptance.py). One frame (index 10, where the box hides
~40 % of the product), 4 samples, with the --passes product pass."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
CLIP = os.path.join(ROOT, "tests", "data", "clips", "occluder")
PRODUCT = os.path.join(ROOT, "tests", "data", "sample", "product.glb")
FRAME = 10  # decoded index; the passes number Blender frames (index + 1)

sys.path.insert(0, os.path.join(ROOT, "tests", "blender"))
import scene_testing as st  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("blender") is None, reason="needs Blender")


def _track(tmp_path, gt):
    doc = st.gt_to_track(gt)
    xyz = st.gt_points(gt)
    doc["points"] = {
        "xyz": xyz,
        "rgb": [[128, 128, 128]] * len(xyz),
        "confidence": [1.0] * len(xyz),
    }
    return st.write_json(doc, str(tmp_path / "track.json"))


def _size(path):
    """(height, width) of an image, read by ffprobe."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "json", path],
        capture_output=True,
        text=True,
        check=True,
    )
    size = json.loads(probe.stdout)["streams"][0]
    return size["height"], size["width"]


def _decode(path, pix_fmt, dtype, shape):
    """An image decoded by FFmpeg to raw `pix_fmt` samples, as an array of `shape`."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype).reshape(shape)


def _read_alpha(path):
    """The alpha of an RGBA EXR, decoded by FFmpeg."""
    h, w = _size(path)
    return _decode(path, "gbrapf32le", np.float32, (4, h, w))[3]


def _truth_product():
    """The truth frame's product mask: its red channel over half (the truth
    renders the product white on black)."""
    path = os.path.join(CLIP, "truth", f"{FRAME:04d}.png")
    h, w = _size(path)
    return _decode(path, "rgb24", np.uint8, (h, w, 3))[..., 0] > 127


def _run(tmp_path, track, name, *extra):
    passes = tmp_path / name
    cmd = [VANELIA, "run", os.path.join(CLIP, "video.mp4"), PRODUCT, "--track", track]
    cmd += ["-o", str(tmp_path / f"{name}.mp4"), "--location", "0", "0.6", "0"]
    cmd += ["--height", "0.8", "--samples", "4", "--start", str(FRAME), "--end", str(FRAME + 1)]
    cmd += ["--light", "fixed", "--grain", "off", "--motion-blur", "off"]
    cmd += ["--passes", str(passes), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    alpha = _read_alpha(str(passes / "product" / f"product.{FRAME + 1:04d}.exr"))
    return done.stdout + done.stderr, alpha > 0.5


def test_run_builds_proxies_that_hide_the_product(tmp_path):
    gt = json.load(open(os.path.join(CLIP, "gt.json")))
    truth = _truth_product()
    counts = [f["product_px"] for f in gt["product_truth"]["frames"]]
    assert truth.sum() < 0.7 * max(counts)  # the box hides part of it here
    track = _track(tmp_path, gt)
    log, visible = _run(tmp_path, track, "auto")
    assert "proxies: 7 proxies (7 boxes, 0 walls)" in log, log[-3000:]
    assert st.iou(visible, truth) >= 0.9, (visible.sum(), truth.sum())
    log, visible = _run(tmp_path, track, "off", "--proxies", "off")
    assert "proxies: no proxies (off)" in log, log[-3000:]
    # Nothing hides it: the whole bottle, the box's part included.
    assert visible.sum() > 1.4 * truth.sum(), (visible.sum(), truth.sum())
    assert (visible & truth).sum() >= 0.95 * truth.sum()
