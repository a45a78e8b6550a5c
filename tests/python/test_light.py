"""The key light estimated from rendered clips with a known sun (issue 21):
tests/data/clips/light-* (320x180, 24 frames; tests/data/README.md), tracked
here with the classical tracker, then `estimate_light` on the aligned track.
gt.json's `light` gives the truth in the generator's world; the aligned
track's world has the same floor (z = 0) and puts the first camera's heading
along +Y, so the truth's azimuth is turned by the difference of the headings.
"""

import json
import math
import os

import pytest

import _vanelia

CLIPS = os.path.join(os.path.dirname(__file__), "..", "data", "clips")


def _heading_deg(c2w):
    """Azimuth of a Blender camera's view direction (-Z) on the floor."""
    return math.degrees(math.atan2(-c2w[1][2], -c2w[0][2]))


def _estimate(name, tmp_path):
    clip = os.path.join(CLIPS, name)
    raw = str(tmp_path / "raw.json")
    track = str(tmp_path / "track.json")
    _vanelia.track_video(os.path.join(clip, "video.mp4"), output=raw)
    assert _vanelia.align_track_file(raw, track)["aligned"]
    with open(os.path.join(clip, "gt.json")) as f:
        gt = json.load(f)
    with open(track) as f:
        doc = json.load(f)
    assert doc["world"] == "blender"
    estimate = _vanelia.estimate_light(os.path.join(clip, "video.mp4"), track)
    turn = _heading_deg(doc["frames"][0]["c2w_blender"]) - _heading_deg(
        gt["frames"][0]["c2w_blender"]
    )
    return gt["light"], estimate, turn


@pytest.mark.parametrize("name", ["light-east", "light-north", "light-low"])
def test_sun_direction_within_15_and_10_degrees(name, tmp_path):
    truth, e, turn = _estimate(name, tmp_path)
    assert e["format"] == "vanelia-light/1"
    assert e["supported"], e["summary"]
    azimuth = truth["sun_azimuth_deg"] + turn
    d_az = (e["azimuth_deg"] - azimuth + 180.0) % 360.0 - 180.0
    d_el = e["elevation_deg"] - truth["sun_elevation_deg"]
    assert abs(d_az) < 15.0 and abs(d_el) < 10.0, (d_az, d_el, e["summary"])
    assert 0.0 < e["ambient_fraction"] < 0.8
    assert e["objects"] >= 1 and e["shadow_cells"] > 0
    az, el = math.radians(e["azimuth_deg"]), math.radians(e["elevation_deg"])
    expected = [-math.cos(el) * math.cos(az), -math.cos(el) * math.sin(az), -math.sin(el)]
    assert e["direction"] == pytest.approx(expected, abs=1e-9)


def test_overcast_is_unsupported(tmp_path):
    truth, e, _ = _estimate("light-overcast", tmp_path)
    assert truth["model"] == "overcast"
    assert not e["supported"]
    assert e["reason"]
    assert e["elevation_deg"] == 90.0 and e["confidence"] == 0.0
    assert "unsupported" in e["summary"]


def test_estimate_light_badarg(tmp_path):
    clip = os.path.join(CLIPS, "light-east")
    with pytest.raises(_vanelia.InputError, match="missing.json"):
        _vanelia.estimate_light(os.path.join(clip, "video.mp4"), str(tmp_path / "missing.json"))
    with pytest.raises(_vanelia.InputError, match="max_frames"):
        _vanelia.estimate_light(
            os.path.join(clip, "video.mp4"), str(tmp_path / "missing.json"), max_frames=0
        )
