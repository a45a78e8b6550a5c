"""The classical tracker through the Python module: track_video on the bundled
orbit clip (every 8th frame), a cancelling progress callback, bad input."""

import os

import _vanelia
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ORBIT = os.path.join(ROOT, "tests", "data", "footage", "orbit", "video.mp4")


def test_track_video_returns_a_track_document(tmp_path):
    out = tmp_path / "track.json"
    seen = []

    def progress(p):
        seen.append((p.stage, p.done))
        return True

    doc = _vanelia.track_video(ORBIT, output=str(out), every=4, progress=progress)
    assert out.exists()
    assert doc["world"] == "track"
    assert doc["tracker"]["name"] == "classical"
    assert doc["summary"]["registered"] == 24
    assert [f["index"] for f in doc["frames"]] == list(range(0, 96, 4))
    assert abs(doc["summary"]["focal_px"] - 497.78) < 0.02 * 497.78
    assert any(stage == "track" for stage, _ in seen)
    assert _vanelia.read_track_file(str(out))["summary"]["registered"] == 24


def test_track_video_cancel_raises_cancelled(tmp_path):
    out = tmp_path / "track.json"
    with pytest.raises(_vanelia.Cancelled):
        _vanelia.track_video(ORBIT, output=str(out), every=8, progress=lambda p: False)
    assert not out.exists()


def test_track_video_bad_lens_names_the_option():
    with pytest.raises(_vanelia.InputError, match="lens"):
        _vanelia.track_video(ORBIT, every=8, lens="fisheye")


def test_track_video_bad_focal_names_the_field():
    with pytest.raises(_vanelia.InputError, match="focal_px"):
        _vanelia.track_video(ORBIT, every=8, focal_px=-1.0)
