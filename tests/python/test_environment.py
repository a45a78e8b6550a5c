"""The environment from the footage (issue 21): the plate's frames, placed
with their cameras, fill an equirectangular world texture around the
product's spot (native floor/environment_map.hpp via
_vanelia.build_environment), and Blender lights and reflects with it
(scene/lighting.py set_world_environment).

tests/data/clips/light-east (320x180, 24 frames, boxes on a floor under a
sun; tests/data/README.md) with its ground-truth cameras (gt.json): the
map's texels that a camera saw match the plate's pixels in the same
direction (projected here independently, nearest pixel), the unseen ones are
filled (the floor's colour below the horizon), and a mirror sphere rendered
by Cycles under the map shows the map in the mirrored directions.
"""

import json
import math
import os
import shutil
import subprocess

import numpy as np
import pytest

import _vanelia

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIP = os.path.join(ROOT, "tests", "data", "clips", "light-east")
VIDEO = os.path.join(CLIP, "video.mp4")
SPOT = (0.0, 1.0, 0.0)  # the floor point the clip's cameras look at
CENTRE_HEIGHT_M = 0.2
RADIUS_M = 8.0
WIDTH = 256


def read_hdr(path):
    """A flat (uncompressed) Radiance RGBE file as [H, W, 3] float32."""
    with open(path, "rb") as f:
        data = f.read()
    header, _, rest = data.partition(b"\n\n")
    assert header.startswith(b"#?RADIANCE") and b"FORMAT=32-bit_rle_rgbe" in header
    size, _, pixels = rest.partition(b"\n")
    _, h, _, w = size.split()
    h, w = int(h), int(w)
    rgbe = np.frombuffer(pixels, dtype=np.uint8).reshape(h, w, 4).astype(np.float64)
    scale = np.where(rgbe[..., 3] > 0, np.ldexp(1.0, rgbe[..., 3].astype(int) - 136), 0.0)
    return (rgbe[..., :3] * scale[..., None]).astype(np.float32)


def linear(srgb8):
    c = srgb8.astype(np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def directions(w, h):
    """Unit directions of the texel centres, Blender's equirectangular
    convention (row 0 at the zenith, +X at the centre column)."""
    u = (np.arange(w) + 0.5) / w
    v = (np.arange(h) + 0.5) / h
    az = (0.5 - u) * 2.0 * math.pi
    el = (0.5 - v) * math.pi
    az, el = np.meshgrid(az, el)
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("environment")
    track = str(tmp / "gt_track.json")
    with open(track, "w") as f:
        json.dump(_vanelia.import_ground_truth(os.path.join(CLIP, "gt.json")), f)
    out = str(tmp / "environment.hdr")
    summary = _vanelia.build_environment(
        VIDEO,
        track,
        out,
        SPOT,
        width=WIDTH,
        max_frames=24,
        centre_height_m=CENTRE_HEIGHT_M,
        radius_m=RADIUS_M,
    )
    with open(os.path.join(CLIP, "gt.json")) as f:
        gt = json.load(f)
    frames = {f.index: linear(f.rgb) for f in _vanelia.VideoReader(VIDEO)}
    return {"tmp": tmp, "path": out, "summary": summary, "gt": gt, "frames": frames}


def _plate_view(built, env_shape):
    """Per texel: the plate's mean linear colour over the frames that see
    its point well inside the image (8 px margin) and, above the horizon,
    within 20 degrees of parallax; the number of such frames."""
    h, w = env_shape[:2]
    d = directions(w, h).reshape(-1, 3)
    centre = np.array(SPOT) + np.array([0.0, 0.0, CENTRE_HEIGHT_M])
    t = np.full(len(d), RADIUS_M)
    down = d[:, 2] < 0
    t_floor = np.where(down, centre[2] / np.maximum(-d[:, 2], 1e-9), np.inf)
    floor = t_floor <= RADIUS_M
    t[floor] = t_floor[floor]
    p = centre + t[:, None] * d
    total = np.zeros((len(d), 3))
    count = np.zeros(len(d))
    for fr in built["gt"]["frames"]:
        image = built["frames"][fr["index"]]
        ih, iw = image.shape[:2]
        w2c = np.array(fr["w2c_opencv"])
        k = np.array(fr["K_opencv"])
        q = (k @ (w2c[:3, :3] @ p.T + w2c[:3, 3:4])).T
        ok = q[:, 2] > 1e-6
        uu = q[:, 0] / np.where(ok, q[:, 2], 1.0)
        vv = q[:, 1] / np.where(ok, q[:, 2], 1.0)
        ok &= (uu >= 8) & (uu <= iw - 9) & (vv >= 8) & (vv <= ih - 9)
        c2w = np.array(fr["c2w_blender"])
        ray = p - c2w[:3, 3]
        ray /= np.linalg.norm(ray, axis=1, keepdims=True)
        ok &= floor | (np.sum(ray * d, axis=1) > math.cos(math.radians(20.0)))
        xi = np.rint(uu[ok]).astype(int)
        yi = np.rint(vv[ok]).astype(int)
        total[ok] += image[yi, xi]
        count[ok] += 1
    mean = total / np.maximum(count, 1)[:, None]
    return mean.reshape(h, w, 3), count.reshape(h, w), floor.reshape(h, w)


def test_seen_texels_match_the_plate_and_holes_are_filled(built):
    env = read_hdr(built["path"])
    s = built["summary"]
    assert s["format"] == "vanelia-environment/1"
    assert (s["width"], s["height"]) == (WIDTH, WIDTH // 2) == (env.shape[1], env.shape[0])
    assert s["frames_used"] == 24
    assert 0.05 < s["seen_fraction"] < 0.9, s["summary"]
    assert s["seen_below"] > s["seen_above"] > 0.0, s["summary"]
    plate, count, floor = _plate_view(built, env.shape)
    seen = count >= 3
    assert seen[floor].mean() > 0.2 and seen[~floor].mean() > 0.02
    diff = np.abs(env[seen] - plate[seen]).mean(axis=1)
    # Linear RGB; the plate's floor and boxes span about 0.05-0.6.
    assert diff.mean() < 0.02 and np.median(diff) < 0.01, (diff.mean(), np.median(diff))
    # A map made with the other azimuth direction would not match.
    mirrored = np.abs(env[:, ::-1][seen] - plate[seen]).mean(axis=1)
    assert mirrored.mean() > 3 * diff.mean(), (mirrored.mean(), diff.mean())
    # Holes filled: every texel finite and lit; unseen floor is floor-coloured.
    assert np.isfinite(env).all() and env.min() > 0.0
    unseen = count == 0
    floor_rgb = np.array(s["floor_rgb"])
    assert 0.02 < floor_rgb.mean() < 0.8
    far_floor = unseen & floor
    far_floor[: env.shape[0] * 3 // 4] = False  # the lowest quarter: near the nadir
    if far_floor.any():
        assert np.abs(np.median(env[far_floor], axis=0) - floor_rgb).max() < 0.05
    lo, hi = env[seen].min(axis=0), env[seen].max(axis=0)
    assert ((env[unseen] >= lo - 1e-3) & (env[unseen] <= hi + 1e-3)).all()


def test_build_environment_badarg(built, tmp_path):
    track = str(built["tmp"] / "gt_track.json")
    with pytest.raises(_vanelia.InputError, match="width"):
        _vanelia.build_environment(VIDEO, track, str(tmp_path / "e.hdr"), SPOT, width=255)
    with pytest.raises(_vanelia.InputError, match="radius_m"):
        _vanelia.build_environment(VIDEO, track, str(tmp_path / "e.hdr"), SPOT, radius_m=0.0)
    with pytest.raises(_vanelia.InputError, match="exists"):
        _vanelia.build_environment(VIDEO, track, built["path"], SPOT)
    with pytest.raises(_vanelia.InputError, match="missing.json"):
        _vanelia.build_environment(
            VIDEO, str(tmp_path / "missing.json"), str(tmp_path / "e.hdr"), SPOT
        )


@pytest.mark.skipif(shutil.which("blender") is None, reason="needs Blender")
def test_mirror_sphere_reflects_the_map(built):
    out = str(built["tmp"] / "sphere")
    script = os.path.join(ROOT, "tests", "blender", "environment_sphere.py")
    run = subprocess.run(
        [
            "blender",
            "-b",
            "--factory-startup",
            "--python",
            script,
            "--",
            "--env",
            built["path"],
            "--out",
            out,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("ENVIRONMENT_SPHERE ")]
    assert run.returncode == 0 and lines, run.stdout[-2000:] + run.stderr[-2000:]
    r = json.loads(lines[-1].split(" ", 1)[1])
    assert r["pixels"] > 1000
    # Cycles' mirror shows the map in the mirrored direction, at the world's
    # strength; the map read with the azimuth reversed does not match.
    assert r["correlation"] > 0.9 and r["correlation"] > r["mirrored_correlation"] + 0.2, r
    assert abs(r["median_ratio"] - 1.0) < 0.1 and r["mean_abs_rel_error"] < 0.25, r
