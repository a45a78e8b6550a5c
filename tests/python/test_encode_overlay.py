"""The native overlay + encode stage (`_vanelia.encode_overlay`, `OverlayEncoder`,
`vanelia encode`) against the ffmpeg executable's filter graph that encode/encode.py
ran before: the sample (640x360, 24 fps, AAC) under synthetic straight-alpha renders.
The output decodes with the plate's size, rate, frame count and colour tags, keeps the
plate away from the renders within 1 % (2.55/255) of the source, matches the ffmpeg
CLI's output within 1 % on average, keeps the audio span; progress cancels;
encode.py takes the native path when the module is present."""

import json
import os
import subprocess

import _vanelia
import numpy as np
import pytest

from vanelia_blender.core import media
from vanelia_blender.encode import encode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(os.path.dirname(os.path.dirname(_vanelia.__file__)), "bin", "vanelia")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample", "video.mp4")
FIRST, EVERY, COUNT = 6, 2, 5
BOX = (270, 130, 100, 100)  # the opaque red render: x, y, w, h
ACCURATE = "scale=flags=bicubic+accurate_rnd+full_chroma_int,format=rgb24"


def _ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def _streams(path):
    cmd = ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", path]
    out = json.loads(subprocess.run(cmd, capture_output=True, check=True).stdout)
    return {s["codec_type"]: s for s in out["streams"]}


def _rgb(path, frames, select=None):
    # Accurate chroma interpolation, as tests/python/test_run_codecs.py decodes.
    vf = (f"select='{select}'," if select else "") + ACCURATE
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-vf", vf, "-vsync", "0"]
    cmd += ["-frames:v", str(frames), "-f", "rawvideo", "-"]
    raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(frames, 360, 640, 3).astype(np.int16)


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    folder = tmp_path_factory.mktemp("renders")
    x, y, w, h = BOX
    red = f"between(X,{x},{x + w - 1})*between(Y,{y},{y + h - 1})"
    blue = "between(X,20,99)*between(Y,250,309)"
    _ffmpeg("-f", "lavfi", "-i", f"color=c=black:s=640x360,format=rgba,geq=r='255*{red}':g=0"
            f":b='255*{blue}':a='255*{red}+128*{blue}'",
            "-frames:v", str(COUNT), "-start_number", "0", str(folder / "%06d.png"))  # fmt: skip
    return str(folder)


def _plate_mask():
    mask = np.ones((360, 640), bool)
    x, y, w, h = BOX
    mask[y - 4 : y + h + 4, x - 4 : x + w + 4] = False
    mask[246:314, 16:104] = False
    return mask


def _check(out, codec_name, pix_fmt, renders_tags=None, corner=False):
    """`corner`: the plate gate on the top-left 64x64 only, as test_run_codecs.py
    holds the 10-bit codecs (DNxHR's fixed bit budget spreads over the frame)."""
    plate, got = _streams(SAMPLE), _streams(out)
    video = got["video"]
    assert (video["codec_name"], video["pix_fmt"]) == (codec_name, pix_fmt)
    assert (video["width"], video["height"]) == (640, 360)
    assert video["r_frame_rate"] == "12/1"
    assert int(video["nb_read_frames"]) == COUNT
    assert got["audio"]["codec_name"] == plate["audio"]["codec_name"]
    assert abs(float(got["audio"]["duration"]) - COUNT * EVERY / 24) < 0.05
    for key, value in (renders_tags or {}).items():
        assert video.get(key) == value, key
    want = _rgb(SAMPLE, COUNT, f"gte(n,{FIRST})*not(mod(n-{FIRST},{EVERY}))")
    have = _rgb(out, COUNT)
    mask = _plate_mask()
    if corner:
        mask[:] = False
        mask[:64, :64] = True
    diff = np.abs(want - have)[:, mask].mean()
    assert diff <= 2.55, f"plate differs by {diff:.3f}/255"
    x, y, w, h = BOX
    red = have[:, y + 10 : y + h - 10, x + 10 : x + w - 10].mean(axis=(0, 1, 2))
    assert red[0] > 230 and red[1] < 30 and red[2] < 30, red
    return have


def test_encode_py_uses_the_native_stage(tmp_path, renders):
    info = media.probe_video(SAMPLE)
    assert encode.native_stage(info, "h264") is _vanelia
    out = str(tmp_path / "native.mp4")
    encode.encode(renders, SAMPLE, info, out, FIRST, EVERY, COUNT, False)
    native = _check(out, "h264", "yuv420p")
    # The ffmpeg executable's filter graph on the same inputs.
    cli = str(tmp_path / "cli.mp4")
    cmd = encode.encode_command(renders, SAMPLE, info, cli, FIRST, EVERY, COUNT)
    subprocess.run(cmd, check=True)
    reference = _check(cli, "h264", "yuv420p")
    # Two CRF 10 encodes of the same pictures: each ~1.4/255 from the source.
    assert np.abs(native - reference).mean() < 2.55
    assert sorted(os.listdir(tmp_path)) == ["cli.mp4", "native.mp4"]


@pytest.mark.parametrize(
    "codec,name,pix_fmt", [("hevc", "hevc", "yuv420p10le"), ("dnxhr", "dnxhd", "yuv422p10le")]
)
def test_10_bit_codecs_carry_the_plates_colour(tmp_path, renders, codec, name, pix_fmt):
    info = media.probe_video(SAMPLE)
    out = str(tmp_path / f"out{encode.CODECS[codec].extension}")
    encode.encode(renders, SAMPLE, info, out, FIRST, EVERY, COUNT, False, codec)
    tags = {"color_primaries": "bt709", "color_transfer": "bt709", "color_space": "bt709"}
    _check(out, name, pix_fmt, dict(tags, color_range="tv"), corner=True)


def test_piped_encoder_and_cancel(tmp_path, renders):
    info = media.probe_video(SAMPLE)
    options = encode.native_options(
        _vanelia, SAMPLE, info, str(tmp_path / "c.mp4"), FIRST, EVERY, COUNT, "h264", False
    )
    seen = []
    with pytest.raises(_vanelia.Cancelled):
        _vanelia.encode_overlay(options, renders, progress=lambda p: seen.append(p.done) or False)
    assert seen and not os.listdir(tmp_path)
    piped = encode.PipedEncode(SAMPLE, info, str(tmp_path / "p.mp4"), FIRST, EVERY, COUNT, False)
    with piped:
        for k in range(COUNT):
            piped.add(os.path.join(renders, f"{k:06d}.png"))
        piped.finish()
    _check(str(tmp_path / "p.mp4"), "h264", "yuv420p")
    with pytest.raises(media.MediaError, match="3 renders given; needs 5"):
        with encode.PipedEncode(SAMPLE, info, str(tmp_path / "q.mp4"), 0, 1, 5, False) as bad:
            for k in range(3):
                bad.add(os.path.join(renders, f"{k:06d}.png"))
            bad.finish()
    assert sorted(os.listdir(tmp_path)) == ["p.mp4"]


def test_options_are_checked():
    options = _vanelia.OverlayEncodeOptions()
    options.plate_path, options.output_path, options.count = SAMPLE, "/tmp/x.mp4", 1
    options.codec = "av1"
    with pytest.raises(_vanelia.InputError, match="codec = 'av1'"):
        options.check()
    assert _vanelia.overlay_codecs() == ["h264", "h264_preview", "hevc", "prores", "dnxhr"]
    assert _vanelia.have_overlay_encoder("prores")


def test_cli_encode(tmp_path, renders):
    out = str(tmp_path / "cli.mp4")
    done = subprocess.run(
        [VANELIA, "encode", SAMPLE, renders, "-o", out, "--first", str(FIRST),
         "--every", str(EVERY), "--quiet"], capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    _check(out, "h264", "yuv420p")
    again = subprocess.run([VANELIA, "encode", SAMPLE, renders, "-o", out], capture_output=True)
    assert again.returncode != 0 and b"exists" in again.stderr
    bad = subprocess.run(
        [VANELIA, "encode", SAMPLE, renders, "-o", str(tmp_path / "b.mp4"), "--codec", "vp9"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "codec = 'vp9'" in bad.stderr, bad.stderr
    assert sorted(os.listdir(tmp_path)) == ["cli.mp4"]
