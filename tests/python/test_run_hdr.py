"""`vanelia run` on an HDR phone-style plate: an HLG BT.2020 10-bit HEVC clip made with
FFmpeg from the rendered sample. The output keeps the plate's transfer, primaries, matrix
and range, its plate pixels stay within 1 % of the source, and the product (rendered SDR)
is mapped into the plate's signal (BT.2408 reference white) rather than pasted as SDR
values; the default H.264 keeps it HDR too (8-bit, tagged)."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "addon"))
from vanelia_blender.encode import hdr  # noqa: E402

VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample")
W, H, FRAMES = 640, 360, 8
RENDER = ["--end", str(FRAMES), "--samples", "4", "--location", "0", "0", "0", "--quiet"]

pytestmark = pytest.mark.skipif(shutil.which("blender") is None, reason="needs Blender")


def _vanelia(*args):
    return subprocess.run([VANELIA, *args], capture_output=True, text=True, timeout=600)


def _ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def _tags(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries"]
        + ["stream=pix_fmt,color_primaries,color_transfer,color_space,color_range", "-of", "json"]
        + [path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)["streams"][0]


def _decode(path, vf, pix_fmt, dtype, channels):
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-frames:v", str(FRAMES), "-vf", vf]
        + ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype).reshape(-1, H, W, channels).astype(np.float64)


def _luma(path):
    return _decode(path, "null", "gray10le", np.uint16, 1)[..., 0] / 1023.0


def _signal(path):
    """The BT.2020 R'G'B' signal (no transfer undone), full range [0, 1]."""
    vf = "scale=in_color_matrix=bt2020:in_range=tv:out_range=pc,format=rgb48le"
    return _decode(path, vf, "rgb48le", np.uint16, 3) / 65535.0


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    work = tmp_path_factory.mktemp("hdr")
    track = str(work / "T.json")
    done = _vanelia("import-track", os.path.join(SAMPLE, "gt.json"), "-o", track, "--quiet")
    assert done.returncode == 0, done.stderr
    hlg = str(work / "hlg.mp4")
    _ffmpeg(
        "-i", os.path.join(SAMPLE, "video.mp4"),
        "-vf", "zscale=tin=bt709:min=bt709:pin=bt709:rin=tv:t=arib-std-b67:m=bt2020nc:p=bt2020"
        ":r=tv,format=yuv420p10le",
        "-c:v", "libx265", "-preset", "fast", "-crf", "12", "-tag:v", "hvc1",
        "-x265-params",
        "log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
        "-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc",
        "-color_range", "tv", "-c:a", "copy", hlg,
    )  # fmt: skip
    outs = {}
    for name, video, codec in (
        ("hevc", hlg, "hevc"),
        ("h264", hlg, "h264"),
        ("sdr", os.path.join(SAMPLE, "video.mp4"), "h264"),
    ):
        outs[name] = str(work / f"{name}.mp4")
        done = _vanelia(
            "run", video, os.path.join(SAMPLE, "product.glb"), "--track", track,
            "-o", outs[name], "--codec", codec, *RENDER,
        )  # fmt: skip
        assert done.returncode == 0, (name, done.stderr)
    return hlg, outs


def test_hlg_plate_keeps_its_transfer_primaries_matrix_and_range(clips):
    hlg, outs = clips
    assert _tags(hlg)["color_transfer"] == "arib-std-b67"
    for name, pix_fmt in (("hevc", "yuv420p10le"), ("h264", "yuv420p")):
        tags = _tags(outs[name])
        assert tags["pix_fmt"] == pix_fmt, name
        assert (tags["color_primaries"], tags["color_transfer"]) == ("bt2020", "arib-std-b67")
        assert (tags["color_space"], tags["color_range"]) == ("bt2020nc", "tv"), name


def _product_masks(outs):
    sdr_in = _decode(os.path.join(SAMPLE, "video.mp4"), "format=rgb24", "rgb24", np.uint8, 3)
    sdr_out = _decode(outs["sdr"], "format=rgb24", "rgb24", np.uint8, 3)
    changed = np.abs(sdr_out - sdr_in).max(-1) > 20  # the product and its dark shadow
    near = np.zeros_like(changed)
    for k in range(len(changed)):
        ys, xs = np.nonzero(changed[k])
        assert len(ys) > 100
        near[k, max(ys.min() - 24, 0) : ys.max() + 24, max(xs.min() - 24, 0) : xs.max() + 24] = True
    return changed, near, sdr_out / 255.0


def test_plate_pixels_stay_within_one_percent(clips):
    hlg, outs = clips
    _, near, _ = _product_masks(outs)
    for name in ("hevc", "h264"):
        diff = np.abs(_luma(outs[name]) - _luma(hlg))[~near]
        assert diff.mean() <= 0.01, (name, diff.mean())


def test_product_is_mapped_into_the_hlg_signal(clips):
    _, outs = clips
    changed, _, sdr = _product_masks(outs)
    # The core of the product/shadow: away from edges, where 4:2:0 chroma and
    # the encoders' rounding dominate.
    core = changed.copy()
    core[:, 1:-1, 1:-1] &= changed[:, :-2, 1:-1] & changed[:, 2:, 1:-1]
    core[:, 1:-1, 1:-1] &= changed[:, 1:-1, :-2] & changed[:, 1:-1, 2:]
    signal = _signal(outs["hevc"])
    mapped = np.abs(signal - hdr.map_srgb(sdr, hdr.HLG))[core].mean()
    pasted = np.abs(signal - sdr)[core].mean()
    assert core.sum() > 500
    assert mapped <= 0.03 and mapped < 0.3 * pasted, (mapped, pasted)
