"""The depth sidecar reader and the depth test (core/depth_sidecar.py), bpy-free: the committed
gt-derived sidecar of tests/data/clips/slider against its gt cameras, the resampling onto a
render's pixels, the soft depth test, and the errors."""

import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "addon"))
from vanelia_blender.core import depth_sidecar, track_file  # noqa: E402

CLIP = os.path.join(ROOT, "tests", "data", "clips", "slider")


def _gt():
    with open(os.path.join(CLIP, "gt.json")) as f:
        return json.load(f)


def _track(gt, scale=1.0):
    """A minimal valid track of the clip's gt cameras naming its sidecar (relative path)."""
    frames = [
        dict(
            index=f["index"],
            timestamp_s=f["time_s"],
            c2w_blender=f["c2w_blender"],
            focal_px=f["focal_px"],
            K=f["K_opencv"],
            confidence=1.0,
            reproj_err_px=None,
        )
        for f in gt["frames"]
    ]
    m = [[scale if r == c and r < 3 else float(r == c) for c in range(4)] for r in range(4)]
    return dict(
        format="vanelia-track",
        version=1,
        source=dict(path="video.mp4", sha256="", frame_count=gt["num_frames"]),
        width=gt["width"],
        height=gt["height"],
        fps=dict(num=gt["fps"], den=1),
        fps_float=float(gt["fps"]),
        tracker=dict(name="ground-truth", version="1", options={}),
        world="blender",
        blender_from_track=m,
        scale=dict(method="none", value_m=None),
        lens=dict(model="pinhole", k1=0.0, k2=0.0),
        frames=frames,
        summary=dict(
            registered=len(frames),
            total=len(frames),
            reproj_err_px=None,
            focal_px=None,
            warnings=[],
        ),
        depth=dict(gt["depth_sidecar"]),
    )


def test_committed_sidecar_is_the_planar_depth_of_the_gt_cameras():
    gt = _gt()
    doc = _track(gt)
    track_file.validate(doc, "slider")
    folder = depth_sidecar.folder_of(doc, os.path.join(CLIP, "track.json"))
    assert folder == os.path.join(CLIP, "depth")
    side = depth_sidecar.Sidecar(folder, doc)
    assert (side.width, side.height, len(side.frame_index)) == (80, 45, 12)
    # Floor pixels of every frame: the depth of the floor point along the optical axis.
    v, u = np.mgrid[40:45, 0:80]
    for k, f in enumerate(gt["frames"]):
        c2w = np.array(f["c2w_blender"])
        rot = c2w[:3, :3] @ np.diag([1.0, -1.0, -1.0])  # OpenCV camera axes
        fx, fy, cx, cy = side.intrinsics[k]
        rays = np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u, float)], -1) @ rot.T
        z = -c2w[2, 3] / rays[..., 2]
        floor = np.asarray(side.depth[k][40:45], float)
        near = np.abs(floor - z) < 0.01 * z  # boxes, the slider, may stand in front
        assert near.mean() > 0.4, f"frame {k}"
        assert np.all(floor[~near] < z[~near]), "only something in front hides the floor"


def test_frame_at_resamples_nearest_onto_the_render_and_scales_to_the_world():
    gt = _gt()
    side = depth_sidecar.Sidecar(os.path.join(CLIP, "depth"), _track(gt, scale=2.0))
    f = gt["frames"][3]
    depth, conf = side.frame_at(f["index"], f["K_opencv"], gt["width"], gt["height"])
    assert depth.shape == conf.shape == (180, 320)
    raw = np.asarray(side.depth[3], np.float32)
    # Render pixel (4j + 1.5, 4i + 1.5) is map pixel (j, i): nearest, x the world scale 2.
    np.testing.assert_allclose(depth[2::4, 2::4], 2.0 * raw, rtol=1e-6)
    assert np.all(conf[depth > 0] == 1.0)
    assert side.frame_at(99, f["K_opencv"], 320, 180) is None
    # A render wider than the map's view: outside it, no depth and no confidence.
    k = np.array(f["K_opencv"])
    k[0, 0] *= 0.5
    k[1, 1] *= 0.5
    depth, conf = side.frame_at(f["index"], k, 320, 180)
    assert conf[:, :70].max() == 0.0 and depth[:, :70].max() == 0.0
    assert conf[60:120, 100:220].min() == 1.0


def test_visibility_is_a_soft_depth_test_weighted_by_confidence():
    depth = np.array([2.0, 2.0, 2.0, 2.0, 0.0, 2.0])
    conf = np.array([1.0, 1.0, 1.0, 0.5, 1.0, 1.0])
    product_z = np.array([1.5, 2.0, 3.0, 3.0, 3.0, 2.0 * (1 + depth_sidecar.TOLERANCE)])
    vis = depth_sidecar.visibility(product_z, depth, conf)
    # in front; on the surface (within tolerance); behind; behind at half confidence; no depth;
    # at the middle of the soft edge.
    np.testing.assert_allclose(vis, [1.0, 1.0, 0.0, 0.5, 1.0, 0.5], atol=1e-9)


def test_errors_name_the_file_and_the_rule(tmp_path):
    gt = _gt()
    doc = _track(gt)
    for name in ("frame_index", "intrinsics", "depth", "confidence"):
        src = np.load(os.path.join(CLIP, "depth", name + ".npy"))
        np.save(tmp_path / (name + ".npy"), src)
    np.save(tmp_path / "depth.npy", np.zeros((12, 45, 80), np.float64))
    with pytest.raises(depth_sidecar.DepthSidecarError, match=r"depth.npy': dtype '<f8'"):
        depth_sidecar.Sidecar(str(tmp_path), doc)
    np.save(tmp_path / "depth.npy", np.zeros((12, 45, 81), np.float32))
    with pytest.raises(depth_sidecar.DepthSidecarError, match=r"confidence.npy': shape"):
        depth_sidecar.Sidecar(str(tmp_path), doc)
    np.save(tmp_path / "depth.npy", np.zeros((12, 45, 80), np.float32))
    doc["depth"]["count"] = 11
    with pytest.raises(depth_sidecar.DepthSidecarError, match="the track's depth says 80x45, 11"):
        depth_sidecar.Sidecar(str(tmp_path), doc)
    doc = _track(gt)
    doc["frames"] = doc["frames"][:11]
    doc["summary"]["registered"] = doc["summary"]["total"] = 11
    doc["depth"]["count"] = 12
    with pytest.raises(track_file.TrackFileError, match="depth.count: must be <= the number"):
        track_file.validate(doc, "t")
    with pytest.raises(depth_sidecar.DepthSidecarError, match="frame_index.npy': missing"):
        depth_sidecar.Sidecar(str(tmp_path / "none"))
