"""The plate's grain (issue 21): measured natively (core/image_noise.hpp via
_vanelia.measure_plate_grain) and added to the product and its shadow by the
render (addon/vanelia_blender/render/grain.py), with the real FFmpeg and the
real Blender.

- A lossless clip of smooth shading with boxes and Gaussian noise of known
  deviation per channel (2, 4, 6 code values) is measured within 10 %.
- `vanelia run` of the sample with --grain auto reports the measure, and its
  rendered frames differ from a --grain off run by exactly that noise where
  the render covers (alpha > 0) and not at all elsewhere; a second run gives
  the same frames (the noise is seeded by the frame).
- --grain with another word is refused before any work.
"""

import os
import re
import subprocess

import numpy as np
import pytest

import _vanelia

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample")
VIDEO = os.path.join(SAMPLE, "video.mp4")
PRODUCT = os.path.join(SAMPLE, "product.glb")
W, H = 320, 192


def _noisy_clip(path, sigma, frames=6, seed=3):
    """A lossless RGB clip (FFV1): shading, two boxes, Gaussian noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    base = 60.0 + 90.0 * x / W + 40.0 * y / H
    base[40:120, 50:130] += 45.0
    base[90:180, 200:260] -= 30.0
    raw = bytearray()
    for _ in range(frames):
        img = np.stack([base + 10.0 * c for c in range(3)], -1)
        img += rng.standard_normal((H, W, 3)) * np.asarray(sigma)
        raw += np.clip(np.rint(img), 1, 254).astype(np.uint8).tobytes()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-s", f"{W}x{H}", "-r", "24", "-i", "-", "-c:v", "ffv1", "-pix_fmt", "bgr0", path],
        input=bytes(raw), check=True,
    )  # fmt: skip


def test_the_measure_recovers_a_known_noise(tmp_path):
    clip = str(tmp_path / "noisy.mkv")
    sigma = (2.0, 4.0, 6.0)
    _noisy_clip(clip, sigma)
    noise = _vanelia.measure_plate_grain(clip)
    assert noise["valid"] and noise["frames_used"] == 6
    for got, want in zip(noise["sigma"], sigma):
        assert abs(got - want) <= 0.1 * want, (noise, sigma)


def _frames(folder):
    """The kept RGBA frames as [N, H, W, 4] uint8 (FFmpeg decodes them)."""
    names = sorted(n for n in os.listdir(folder) if n.endswith(".png"))
    out = []
    for name in names:
        raw = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", os.path.join(folder, name), "-f", "rawvideo",
             "-pix_fmt", "rgba", "-"],
            capture_output=True, check=True,
        ).stdout  # fmt: skip
        out.append(np.frombuffer(raw, np.uint8).reshape(360, 640, 4))
    return np.stack(out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("grain")
    track = str(work / "track.json")
    subprocess.run(
        [VANELIA, "import-track", os.path.join(SAMPLE, "gt.json"), "-o", track, "--quiet"],
        check=True,
    )
    out = {}
    for name, grain in (("auto", "auto"), ("again", "auto"), ("off", "off")):
        run = subprocess.run(
            [VANELIA, "run", VIDEO, PRODUCT, "--track", track, "-o", str(work / f"{name}.mp4"),
             "--samples", "2", "--end", "4", "--grain", grain, "--light", "fixed",
             "--environment", "off", "--keep-frames", str(work / name)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        out[name] = (run.stderr, _frames(str(work / name)))
    return out


def test_the_render_gets_the_measured_grain_where_it_covers(runs):
    stderr, grained = runs["auto"]
    m = re.search(r"grain: the plate's noise, sigma R/G/B ([\d.]+)/([\d.]+)/([\d.]+)", stderr)
    assert m, stderr
    sigma = np.array([float(v) for v in m.groups()])
    measured = _vanelia.measure_plate_grain(VIDEO, end=4)
    assert np.allclose(sigma, measured["sigma"], atol=0.006)
    _, clean = runs["off"]
    assert "grain:" not in runs["off"][0]
    assert np.array_equal(grained[..., 3], clean[..., 3])
    covered = clean[..., 3] > 0
    # Pixels far from 0 and 255, so the noise is not clipped.
    colour = clean[..., :3].astype(np.float64)
    usable = covered[..., None] & (colour > 24) & (colour < 231)
    diff = grained[..., :3].astype(np.float64) - colour
    for c in range(3):
        d = diff[..., c][usable[..., c]]
        assert d.size > 2000
        assert abs(d.std() - sigma[c]) <= 0.05 * sigma[c] + 0.1, (c, d.std(), sigma[c])
        assert abs(d.mean()) < 4.0 * sigma[c] / np.sqrt(d.size)  # 4 standard errors
    assert not diff[~covered].any(), "grain outside what the render covers"


def test_the_grain_is_the_same_on_every_run(runs):
    assert np.array_equal(runs["auto"][1], runs["again"][1])
    # ... and differs from frame to frame.
    grained, clean = runs["auto"][1], runs["off"][1]
    noise = grained[..., :3].astype(int) - clean[..., :3].astype(int)
    covered = clean[..., 3] > 0
    assert not np.array_equal(noise[0][covered[0] & covered[1]], noise[1][covered[0] & covered[1]])


def test_a_bad_grain_is_refused_before_work(tmp_path):
    out = tmp_path / "x.mp4"
    run = subprocess.run(
        [VANELIA, "run", VIDEO, PRODUCT, "-o", str(out), "--grain", "strong"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2
    assert "--grain 'strong': must be auto or off" in run.stderr.strip().splitlines()[-1]
    assert not os.listdir(tmp_path)
