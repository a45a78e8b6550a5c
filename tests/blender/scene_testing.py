"""Shared helpers of the scene/render tests (plain Python + NumPy; usable
inside Blender and from /usr/bin/python3): decoding frames with FFmpeg,
PSNR, rasterising a mesh through a ground-truth camera, writing small GLBs
and track files derived from a ground-truth `gt.json`."""

import json
import os
import struct
import subprocess
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADDON = os.path.join(REPO, "addon")
SAMPLE = os.path.join(REPO, "tests", "data", "sample")


def check(cond, message):
    """A failed check ends the test with exit 1 and says why."""
    if not cond:
        print(f"FAIL: {message}", file=sys.stderr, flush=True)
        raise SystemExit(1)
    print(f"ok: {message}", flush=True)


def decode_frames(path, size=None):
    """All frames of a video or one image as uint8 [N,H,W,3] (FFmpeg,
    display rotation applied, every decoded frame in presentation order)."""
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height:stream_side_data=rotation:stream_tags=rotate",
            "-of",
            "json",
            path,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    stream = json.loads(probe.stdout)["streams"][0]
    w, h = stream["width"], stream["height"]
    rot = int(float(stream.get("tags", {}).get("rotate", 0)))
    for side in stream.get("side_data_list", []):
        rot = int(float(side.get("rotation", 0)))
    if rot % 180:
        w, h = h, w
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            path,
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def read_png(path, rgba=False):
    fmt = "rgba" if rgba else "rgb24"
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", path],
        capture_output=True,
        text=True,
        check=True,
    )
    w, h = map(int, probe.stdout.strip().split(",")[:2])
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", fmt, "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(h, w, 4 if rgba else 3)


def psnr(a, b, mask=None):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    err = (a - b) ** 2
    if mask is not None:
        err = err[mask]
    mse = err.mean()
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def gt_to_track(gt, frames=None, width=None, height=None):
    """A track file v1 dict (world "blender") from a gt.json dict."""
    out = []
    for f in gt["frames"]:
        if frames is not None and f["index"] not in frames:
            continue
        out.append(
            dict(
                index=f["index"],
                timestamp_s=f["time_s"],
                c2w_blender=f["c2w_blender"],
                focal_px=f["focal_px"],
                K=f["K_opencv"],
                confidence=1.0,
                reproj_err_px=None,
            )
        )
    ident = [[1.0 if r == c else 0.0 for c in range(4)] for r in range(4)]
    return dict(
        format="vanelia-track",
        version=1,
        source=dict(path=gt.get("video", ""), sha256="", frame_count=gt["num_frames"]),
        width=width or gt["width"],
        height=height or gt["height"],
        fps=dict(num=int(gt["fps"]), den=1),
        fps_float=float(gt["fps"]),
        tracker=dict(name="ground-truth", version="1", options={}),
        world="blender",
        blender_from_track=ident,
        scale=dict(method="none", value_m=1.0),
        ground_plane=dict(
            normal=[0.0, 0.0, 1.0], offset=0.0, method="manual", inliers=0, rms=0.0, confidence=1.0
        ),
        lens=dict(model="pinhole", k1=0.0, k2=0.0),
        frames=out,
        summary=dict(
            registered=len(out),
            total=gt["num_frames"],
            reproj_err_px=None,
            focal_px=out[0]["focal_px"],
            warnings=[],
        ),
    )


def write_json(obj, path):
    with open(path, "w") as f:
        json.dump(obj, f)
    return path


def rasterize(triangles_world, K, w2c, width, height):
    """Boolean [H,W] coverage of pixel centres by the triangles (world,
    [T,3,3]) projected with OpenCV K and w2c (4x4)."""
    K = np.asarray(K, float)
    w2c = np.asarray(w2c, float)
    pts = triangles_world.reshape(-1, 3)
    cam = pts @ w2c[:3, :3].T + w2c[:3, 3]
    uv = cam @ K.T
    uv = (uv[:, :2] / uv[:, 2:3]).reshape(-1, 3, 2)
    mask = np.zeros((height, width), bool)
    for tri in uv:
        x0, y0 = np.floor(tri.min(0)).astype(int)
        x1, y1 = np.ceil(tri.max(0)).astype(int)
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, width - 1), min(y1, height - 1)
        if x1 < x0 or y1 < y0:
            continue
        xs, ys = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
        (ax, ay), (bx, by), (cx, cy) = tri
        d = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy)
        if abs(d) < 1e-12:
            continue
        l1 = ((by - cy) * (xs - cx) + (cx - bx) * (ys - cy)) / d
        l2 = ((cy - ay) * (xs - cx) + (ax - cx) * (ys - cy)) / d
        inside = (l1 >= 0) & (l2 >= 0) & (1 - l1 - l2 >= 0)
        mask[y0 : y1 + 1, x0 : x1 + 1] |= inside
    return mask


def iou(a, b):
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def write_glb(path, doc, binary=b""):
    """A GLB file from a glTF JSON dict and its binary buffer."""
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    chunks = struct.pack("<I4s", len(text), b"JSON") + text
    if binary:
        chunks += struct.pack("<I4s", len(binary), b"BIN\0") + binary
    with open(path, "wb") as f:
        f.write(struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks)
    return path


def empty_glb(path):
    """A valid GLB with a node but no mesh."""
    return write_glb(
        path,
        {
            "asset": {"version": "2.0"},
            "scenes": [{"nodes": [0]}],
            "nodes": [{"name": "nothing"}],
            "scene": 0,
        },
    )


def gt_points(gt, seed=3, per_m2=400, noise_m=0.01, outliers=0.02):
    """A reconstruction-like cloud from gt.json: points on the faces of the
    static boxes that face a camera (tops and the sides a camera sees),
    floor points around them, Gaussian noise and outliers in the air (the
    proxies' input in run_occlusion_acceptance.py and
    tests/python/test_pipeline_proxies.py)."""
    rng = np.random.default_rng(seed)
    cams = np.array([np.array(f["c2w_blender"])[:3, 3] for f in gt["frames"]])
    pts = []
    for obj in gt["scene_objects"]:
        if obj["kind"] != "box":
            continue
        c, size = np.array(obj["location"]), np.array(obj["size"])
        a = np.radians(obj.get("rotation_z_deg", 0.0))
        rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        for axis in range(3):
            for sign in (-1.0, 1.0):
                if axis == 2 and sign < 0:
                    continue  # the bottom stands on the floor
                normal = rot[:, axis] * sign
                centre = c + normal * size[axis] / 2
                if not np.any((cams - centre) @ normal > 0):
                    continue
                others = [k for k in range(3) if k != axis]
                area = size[others[0]] * size[others[1]]
                q = rng.uniform(-0.5, 0.5, (int(per_m2 * area) + 1, 3))
                q[:, axis] = 0.5 * sign
                pts.append(c + (q * size) @ rot.T)
    floor = rng.uniform(-3.0, 3.0, (3000, 3))
    floor[:, 2] = 0.0
    pts.append(floor)
    cloud = np.concatenate(pts)
    cloud += rng.normal(0.0, noise_m, cloud.shape)
    n = int(outliers * len(cloud))
    air = np.column_stack([rng.uniform(-3, 3, n), rng.uniform(-2, 5, n), rng.uniform(0.1, 2, n)])
    return np.concatenate([cloud, air]).tolist()
