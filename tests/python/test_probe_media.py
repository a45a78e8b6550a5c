"""`_vanelia.probe_media` (libavformat, no executable) against the ffprobe
executable that core/media.py ran before: the same MediaInfo, field for field
(pts within 1 µs), on the project's clips and on made ones: rotated by a
display matrix, full range, VFR, HLG/BT.2020 10-bit HEVC with audio, no audio;
`vanelia info` prints the probe; bad input is a MediaError naming the file."""

import dataclasses
import json
import pathlib
import subprocess

import _vanelia
import pytest

from vanelia_blender.core import media

ROOT = pathlib.Path(__file__).resolve().parents[2]
VANELIA = pathlib.Path(_vanelia.__file__).resolve().parent.parent / "bin" / "vanelia"
SAMPLE = ROOT / "tests" / "data" / "sample" / "video.mp4"
CLIPS = [SAMPLE] + sorted((ROOT / "tests" / "data" / "clips").glob("*/video.mp4"))
CLIPS += sorted((ROOT / "tests" / "data" / "footage").glob("*/video.mp4"))


def _ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Small clips with what the project's clips lack (each made from the sample)."""
    work = tmp_path_factory.mktemp("probe")
    out = {}
    src = ["-i", str(SAMPLE), "-t", "0.5"]
    out["rotated"] = work / "rotated.mp4"
    _ffmpeg(*src, "-c", "copy", "-metadata:s:v:0", "rotate=90", str(out["rotated"]))
    out["full_range"] = work / "full.mp4"
    _ffmpeg(*src, "-vf", "scale=out_range=pc,format=yuvj420p", "-c:v", "libx264",
            "-color_range", "pc", "-an", str(out["full_range"]))  # fmt: skip
    out["hlg"] = work / "hlg.mp4"
    _ffmpeg(*src, "-vf", "format=yuv420p10le", "-c:v", "libx265", "-preset", "ultrafast",
            "-tag:v", "hvc1", "-x265-params", "log-level=error", "-color_primaries", "bt2020",
            "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc", "-color_range", "tv",
            "-c:a", "copy", str(out["hlg"]))  # fmt: skip
    out["vfr"] = work / "vfr.mp4"
    _ffmpeg(*src, "-vf", "setpts='(N+if(gt(N,5),N-5,0))/24/TB'", "-fps_mode", "vfr",
            "-c:v", "libx264", "-an", str(out["vfr"]))  # fmt: skip
    return out


def _compare(path):
    native = media.probe_video(str(path), "native")
    ffprobe = media.probe_video(str(path), "ffprobe")
    a, b = dataclasses.asdict(native), dataclasses.asdict(ffprobe)
    pts_a, pts_b = a.pop("pts"), b.pop("pts")
    assert a == b
    assert len(pts_a) == len(pts_b) == native.frame_count
    assert max(abs(x - y) for x, y in zip(pts_a, pts_b)) < 1e-6
    return native


@pytest.mark.parametrize("path", CLIPS, ids=lambda p: p.parent.name)
def test_project_clips_probe_as_ffprobe_does(path):
    _compare(path)


def test_sample_fields():
    info = _compare(SAMPLE)
    assert (info.width, info.height, info.fps_num, info.fps_den) == (640, 360, 24, 1)
    assert info.frame_count == 48 and info.has_audio and not info.vfr
    assert (info.color_primaries, info.color_transfer, info.color_space) == ("bt709",) * 3
    assert info.color_range == "tv" and info.pix_fmt == "yuv420p"


def test_rotated_clip_is_upright(made):
    info = _compare(made["rotated"])
    assert (info.width, info.height, info.rotation_deg) == (360, 640, 270)


def test_full_range_clip(made):
    info = _compare(made["full_range"])
    assert info.color_range == "pc" and not info.has_audio


def test_hlg_clip_keeps_its_tags(made):
    info = _compare(made["hlg"])
    assert (info.color_primaries, info.color_transfer) == ("bt2020", "arib-std-b67")
    assert (info.color_space, info.pix_fmt) == ("bt2020nc", "yuv420p10le")
    assert info.has_audio


def test_vfr_clip(made):
    info = _compare(made["vfr"])
    assert info.vfr and (info.fps_num, info.fps_den) != (24, 1)


def test_probe_media_dict():
    probe = _vanelia.probe_media(str(SAMPLE))
    assert probe["fps"] == {"num": 24, "den": 1} and probe["frame_count"] == 48
    assert probe["duration_s"] == pytest.approx(2.0)
    assert probe["audio_codec"] == "aac" and probe["codec"] == "h264"
    assert len(probe["pts_s"]) == 48 and probe["pts_s"][1] == pytest.approx(1 / 24)


def test_info_prints_the_probe(made):
    done = subprocess.run([VANELIA, "info", str(made["hlg"]), "--json"], capture_output=True)
    assert done.returncode == 0, done.stderr
    source = json.loads(done.stdout)["source"]
    assert source["color_transfer"] == "arib-std-b67" and source["frame_count"] == 12
    assert "pts_s" not in source
    text = subprocess.run([VANELIA, "info", str(made["hlg"])], capture_output=True, text=True)
    assert "transfer arib-std-b67" in text.stdout and "audio stream:   aac" in text.stdout


def test_bad_input_names_the_file(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(media.MediaError, match="notes.mp4"):
        media.probe_video(str(bad), "native")
    with pytest.raises(_vanelia.DecodeError, match="notes.mp4"):
        _vanelia.probe_media(str(bad))
    with pytest.raises(media.MediaError, match="backend 'gst'"):
        media.probe_video(str(SAMPLE), "gst")
