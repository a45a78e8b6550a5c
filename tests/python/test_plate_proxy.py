"""The native plate proxy (`_vanelia.make_plate_proxy`, `vanelia proxy`) against the
two ffmpeg processes encode/proxy.py ran before (`make_proxy_ffmpeg`): the committed
portrait clip (rotation metadata) and VFR clip, a small odd-sized clip turned 270
degrees (yuv444p) and a full-range one turned 180 degrees give bit-identical decoded
frames, the same frame count, rate, size and colour tags; proxy.make_proxy takes the
native path, worker mode the CLI's; a missing source is an error naming it and writes
nothing; a cancel leaves nothing."""

import json
import os
import subprocess

import _vanelia
import pytest

from vanelia_blender.core import media, worker_calls
from vanelia_blender.encode import proxy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(os.path.dirname(os.path.dirname(_vanelia.__file__)), "bin", "vanelia")
CLIPS = os.path.join(ROOT, "tests", "data", "clips")


def _ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def _stream(path):
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams"]
    out = subprocess.run([*cmd, "-of", "json", path], capture_output=True, check=True)
    return json.loads(out.stdout)["streams"][0]


def _raw(path):
    """Every decoded frame, in the stream's own pixel format, as bytes."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:v:0"]
    cmd += ["-fps_mode", "passthrough", "-f", "rawvideo", "-"]
    return subprocess.run(cmd, capture_output=True, check=True).stdout


@pytest.fixture(scope="module")
def odd_rotated(tmp_path_factory):
    """63x35 yuv420p (FFV1), 6 frames, turned 270 degrees clockwise (upright
    35x63, odd: the proxy is yuv444p)."""
    folder = tmp_path_factory.mktemp("odd")
    plain, turned = str(folder / "plain.mov"), str(folder / "turned.mov")
    source = ["-f", "lavfi", "-i", "testsrc=size=63x35:rate=12", "-frames:v", "6"]
    _ffmpeg(*source, "-pix_fmt", "yuv420p", "-c:v", "ffv1", plain)
    _ffmpeg("-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=90", turned)
    return turned


@pytest.fixture(scope="module")
def full_range_rotated(tmp_path_factory):
    """64x36 full-range yuvj420p H.264 (SMPTE 170M tags), 6 frames, turned 180
    degrees: the proxy's samples are limited range (swscale, as ffmpeg's)."""
    folder = tmp_path_factory.mktemp("full")
    plain, turned = str(folder / "plain.mp4"), str(folder / "turned.mp4")
    tags = "colour_primaries=6:transfer_characteristics=6:matrix_coefficients=6"
    source = ["-f", "lavfi", "-i", "testsrc=size=64x36:rate=12", "-frames:v", "6"]
    _ffmpeg(
        *source,
        "-pix_fmt",
        "yuvj420p",
        "-c:v",
        "libx264",
        "-bsf:v",
        f"h264_metadata={tags}:video_full_range_flag=1",
        plain,
    )
    _ffmpeg("-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=180", turned)
    return turned


@pytest.mark.parametrize("name", ["portrait", "vfr", "odd", "full"])
def test_native_proxy_is_the_ffmpeg_proxy(name, odd_rotated, full_range_rotated, tmp_path):
    made = {"odd": odd_rotated, "full": full_range_rotated}
    source = made.get(name) or os.path.join(CLIPS, name, "video.mp4")
    info = media.probe_video(source, backend="native")
    assert proxy.proxy_reason(info)
    reference = proxy.make_proxy_ffmpeg(info, str(tmp_path / "ffmpeg.mkv"))
    native = str(tmp_path / "native.mkv")
    result = _vanelia.make_plate_proxy(source, native, fps=(info.fps_num, info.fps_den))
    assert sorted(os.listdir(tmp_path)) == ["ffmpeg.mkv", "native.mkv"]
    assert (result["width"], result["height"]) == (info.width, info.height)
    assert result["rotation_deg"] == info.rotation_deg
    assert result["frames"] == info.frame_count
    ours, theirs = media.probe_video(native), media.probe_video(reference)
    for field in ("width", "height", "fps_num", "fps_den", "frame_count", "vfr"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert ours.rotation_deg == 0 and not ours.vfr
    keys = ("pix_fmt", "color_space", "color_primaries", "color_transfer", "r_frame_rate")
    ours_s, theirs_s = _stream(native), _stream(reference)
    assert {k: ours_s.get(k) for k in keys} == {k: theirs_s.get(k) for k in keys}
    assert ours_s["pix_fmt"] == ("yuv444p" if name == "odd" else "yuv420p")
    raw = _raw(native)
    assert len(raw) > 0 and raw == _raw(reference)


def test_make_proxy_takes_the_native_path(tmp_path):
    source = os.path.join(CLIPS, "portrait", "video.mp4")
    info = media.probe_video(source)
    out = str(tmp_path / "p.mkv")
    assert proxy.make_proxy(info, out) == out
    assert (media.probe_video(out).width, media.probe_video(out).height) == (360, 640)
    # Worker mode: the CLI's `vanelia proxy` in the module's stead.
    by_cli = str(tmp_path / "w.mkv")
    runner = worker_calls.Worker(VANELIA)
    assert runner.make_plate_proxy(source, by_cli, fps=(info.fps_num, info.fps_den))
    assert _raw(out) == _raw(by_cli)


def test_cli_proxy_and_a_missing_source(tmp_path):
    source = os.path.join(CLIPS, "vfr", "video.mp4")
    out = str(tmp_path / "cli.mkv")
    done = subprocess.run([VANELIA, "proxy", source, "-o", out], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "24 frames" in done.stderr
    assert media.probe_video(out).frame_count == 24
    missing = str(tmp_path / "no-such.mp4")
    bad = str(tmp_path / "bad.mkv")
    done = subprocess.run([VANELIA, "proxy", missing, "-o", bad], capture_output=True, text=True)
    assert done.returncode != 0 and missing in done.stderr
    with pytest.raises(_vanelia.Error, match="no-such.mp4"):
        _vanelia.make_plate_proxy(missing, bad)
    assert sorted(os.listdir(tmp_path)) == ["cli.mkv"]


def test_cancel_leaves_nothing(tmp_path):
    source = os.path.join(CLIPS, "portrait", "video.mp4")
    seen = []

    def progress(p):
        seen.append(p.done)
        return p.done < 3

    with pytest.raises(_vanelia.Cancelled):
        _vanelia.make_plate_proxy(source, str(tmp_path / "c.mkv"), progress=progress)
    assert seen and os.listdir(tmp_path) == []
