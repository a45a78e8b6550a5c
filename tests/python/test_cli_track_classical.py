"""`vanelia track` (classical tracker) on bad input: exit 2, one line on stderr that names the
option or the file, and no track file left behind (issue 5's list: a one-frame clip, a black
clip, a clip too short to solve, a negative or absurd focal, --start past the end)."""

import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample", "video.mp4")


def _track(tmp_path, video, *extra):
    out = tmp_path / "track.json"
    run = subprocess.run(
        [VANELIA, "track", video, "-o", str(out), "--quiet", *extra],
        capture_output=True,
        text=True,
    )
    return run, out


def _only_our_error(run):
    """One `vanelia: error:` line, nothing else (no libav or Ceres log lines)."""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vanelia: error: "), run.stderr
    return lines[0]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--end", "1"], "the clip has 1 frame(s)"),
        (["--end", "2"], "the clip has 2 frame(s)"),
        (["--start", "500"], "start = 500 (--start) is past the last frame"),
        (["--focal-px", "-3"], "--focal-px -3"),
        (["--focal-px", "1e9"], "--focal-px 1e9"),
        (["--focal-mm", "28"], "--focal-mm needs --sensor-mm"),
        (["--focal-mm", "-28", "--sensor-mm", "36"], "--focal-mm"),
    ],
)
def test_bad_frames_and_focal_name_the_option(tmp_path, extra, message):
    run, out = _track(tmp_path, SAMPLE, *extra)
    assert run.returncode == 2
    assert message in _only_our_error(run)
    assert not out.exists()


def test_black_clip_says_there_is_nothing_to_track(tmp_path):
    black = tmp_path / "black.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=black:s=320x180:r=24",
            "-t",
            "1",
            "-pix_fmt",
            "yuv420p",
            str(black),
        ],
        check=True,
    )
    run, out = _track(tmp_path, str(black))
    assert run.returncode == 2
    line = _only_our_error(run)
    assert str(black) in line and "no feature to track" in line
    assert not out.exists()


def test_not_a_video_names_the_file(tmp_path):
    bogus = tmp_path / "clip.mp4"
    bogus.write_text("not a video\n")
    run, out = _track(tmp_path, str(bogus))
    assert run.returncode == 2
    assert str(bogus) in _only_our_error(run)
    assert not out.exists()
