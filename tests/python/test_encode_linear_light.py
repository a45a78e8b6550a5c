"""The native overlay + encode stage composites in linear light: a grey render at alpha
128/255 over flat grey patches of a 10-bit plate (lossless FFV1, made here) gives the mix
of the plate's and the render's light in the plate's transfer (HLG: scene light, PQ:
display light, SDR: the sRGB curve), not the mix of the signals; opaque render pixels land
at BT.2408's reference white (encode/hdr.py); where the render is transparent the plate's
samples stay; the output keeps the plate's transfer, primaries, matrix and range. The
plate and render are tiny (128x64, 2 frames), ProRes 422 HQ out, compared as raw codes."""

import json
import os
import subprocess

import _vanelia
import numpy as np
import pytest

from vanelia_blender.core import media
from vanelia_blender.encode import encode, hdr

VANELIA = os.path.join(os.path.dirname(os.path.dirname(_vanelia.__file__)), "bin", "vanelia")
W, H, FRAMES = 128, 64, 2
PATCHES = (300, 700)  # the plate's luma codes, left and right half (10-bit, limited)
GREY, ALPHA = 200, 128  # the render's sRGB grey and alpha over the middle rows
# transfer -> (primaries, matrix tag)
PLATES = {
    hdr.HLG: ("bt2020", "bt2020nc"),
    hdr.PQ: ("bt2020", "bt2020nc"),
    "bt709": ("bt709", "bt709"),
}


def _ffmpeg(*args, data=None):
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", *args]
    return subprocess.run(cmd, input=data, capture_output=True, check=True).stdout


def _plate(path, transfer):
    y = np.empty((H, W), np.uint16)
    y[:, : W // 2], y[:, W // 2 :] = PATCHES
    chroma = np.full((H // 2, W // 2), 512, np.uint16)
    raw = b"".join(p.astype("<u2").tobytes() for p in (y, chroma, chroma))
    primaries, space = PLATES[transfer]
    _ffmpeg(
        "-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-s", f"{W}x{H}", "-r", "24",
        "-i", "-", "-frames:v", str(FRAMES), "-c:v", "ffv1", "-color_primaries", primaries,
        "-color_trc", transfer, "-colorspace", space, "-color_range", "tv", path,
        data=raw * FRAMES,
    )  # fmt: skip


def _renders(folder):
    """Rows 0-15 transparent, 16-39 grey at alpha 128/255, 40-63 opaque grey."""
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[16:, :, :3] = GREY
    rgba[16:40, :, 3], rgba[40:, :, 3] = ALPHA, 255
    for k in range(FRAMES):
        _ffmpeg(
            "-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{W}x{H}", "-i", "-",
            str(folder / f"{k:06d}.png"), data=rgba.tobytes(),
        )  # fmt: skip


def _luma(path, pix_fmt):
    """The decoded luma codes [frames, H, W], no conversion."""
    raw = _ffmpeg("-i", path, "-f", "rawvideo", "-pix_fmt", pix_fmt, "-")
    chroma = {"yuv420p10le": H * W // 2, "yuv422p10le": H * W}[pix_fmt]
    frames = np.frombuffer(raw, "<u2").reshape(-1, H * W + chroma)
    return frames[:, : H * W].reshape(-1, H, W).astype(np.float64)


def _tags(path):
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries"]
    cmd += ["stream=color_primaries,color_transfer,color_space,color_range", "-of", "json", path]
    return json.loads(subprocess.run(cmd, capture_output=True, check=True).stdout)["streams"][0]


def _mix(plate, alpha, transfer, linear):
    """The expected signal of the grey render over a grey plate signal."""
    render = np.full((1, 3), GREY / 255)
    plate_rgb = np.full((1, 3), plate)
    if not linear:
        target = hdr.map_srgb(render, transfer) if transfer in hdr.TRANSFERS else render
        return (alpha * target + (1 - alpha) * plate_rgb)[0, 0]
    if transfer in hdr.TRANSFERS:
        return hdr.composite(plate_rgb, render, alpha, transfer)[0, 0]
    lin = alpha * hdr.srgb_to_linear(render) + (1 - alpha) * hdr.srgb_to_linear(plate_rgb)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)[0, 0]


def _check(out, plate, transfer):
    primaries, space = PLATES[transfer]
    assert _tags(out) == {
        "color_primaries": primaries,
        "color_transfer": transfer,
        "color_space": space,
        "color_range": "tv",
    }
    got = _luma(out, "yuv422p10le")
    source = _luma(plate, "yuv420p10le")
    # Transparent rows: the plate's codes (ProRes 422 HQ on a flat patch: within 1).
    assert np.abs(got[:, 2:14] - source[:, 2:14]).max() <= 1
    for half, code in enumerate(PATCHES):
        cols = slice(half * W // 2 + 4, (half + 1) * W // 2 - 4)
        signal = (code - 64) / 876
        for rows, alpha in ((slice(20, 36), ALPHA / 255), (slice(44, 60), 1.0)):
            have = (got[:, rows, cols].mean() - 64) / 876
            want = _mix(signal, alpha, transfer, linear=True)
            assert abs(have - want) * 876 <= 1.5, (transfer, code, alpha, have, want)
            if alpha < 1 and half == 0:  # dark plate: far from the mix of the signals
                gamma = _mix(signal, alpha, transfer, linear=False)
                assert abs(have - gamma) * 876 > 15, (transfer, code, have, gamma)


@pytest.mark.parametrize("transfer", list(PLATES))
def test_composite_is_in_the_plates_linear_light(tmp_path, transfer):
    plate = str(tmp_path / "plate.mkv")
    _plate(plate, transfer)
    _renders(tmp_path)
    info = media.probe_video(plate)
    assert encode.native_stage(info, "prores") is _vanelia
    out = str(tmp_path / "out.mov")
    encode.encode(str(tmp_path), plate, info, out, 0, 1, FRAMES, False, "prores")
    _check(out, plate, transfer)


def test_cli_encode_takes_an_hlg_plate(tmp_path):
    """`vanelia encode` (the worker mode's encode) composites an HDR plate the same way."""
    plate = str(tmp_path / "plate.mkv")
    _plate(plate, hdr.HLG)
    _renders(tmp_path)
    out = str(tmp_path / "out.mov")
    cmd = [VANELIA, "encode", plate, str(tmp_path), "-o", out, "--codec", "prores", "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    _check(out, plate, hdr.HLG)
