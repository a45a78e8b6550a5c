"""core/light_settings.py (bpy-free): the sun and world from a light
estimate keep the lit floor as bright as the fixed light, split by the
estimate's key-to-ambient ratio; an unsupported estimate is soft and top-down."""

import math

import pytest

from vanelia_blender.core import light_settings as ls


def _estimate(**fields):
    e = {
        "format": "vanelia-light/1",
        "supported": True,
        "azimuth_deg": 30.0,
        "elevation_deg": 40.0,
        "key_to_ambient": 2.0,
        "ambient_rgb": [0.8, 0.9, 1.0],
        "summary": "sun from azimuth 30 deg",
    }
    e.update(fields)
    return e


def _floor(s):
    """A white floor's radiance in the sun: sun + world (grey part)."""
    sun = s.sun_strength * math.sin(math.radians(s.elevation_deg)) / math.pi
    return sun, max(s.world_colour) * s.world_strength


def test_fixed_is_todays_light():
    s = ls.fixed()
    assert (s.azimuth_deg, s.elevation_deg, s.sun_strength) == (-60.0, 50.0, 3.0)
    assert s.world_strength == 0.6 and s.source == "fixed"
    assert sum(_floor(s)) == pytest.approx(ls.LIT_FLOOR)


def test_estimate_sets_direction_and_balance():
    s = ls.settings(_estimate())
    assert (s.azimuth_deg, s.elevation_deg) == (30.0, 40.0)
    sun, world = _floor(s)
    assert sun + world == pytest.approx(ls.LIT_FLOOR)
    assert sun / world == pytest.approx(2.0)
    assert s.sun_angle_deg == ls.HARD_ANGLE_DEG and s.source == "estimate"
    assert s.world_colour[2] == pytest.approx(ls.WORLD_GREY)
    assert s.world_colour[0] == pytest.approx(0.8 * ls.WORLD_GREY)


def test_unsupported_is_soft_top_down():
    s = ls.settings(_estimate(supported=False, reason="no shadow"))
    assert s.elevation_deg == 90.0 and s.source == "fallback"
    assert s.sun_angle_deg == ls.SOFT_ANGLE_DEG
    sun, world = _floor(s)
    assert sun / world == pytest.approx(ls.SOFT_KEY_TO_AMBIENT)


def test_badarg():
    with pytest.raises(ls.LightError, match="vanelia-light/1"):
        ls.settings({"azimuth_deg": 1.0})
    with pytest.raises(ls.LightError, match="elevation"):
        ls.fixed(0.0, 95.0)


def test_plate_light_sets_levels_and_colours():
    # The plate's light (sun_rgb, sky_rgb): a white floor lit by the sun and
    # world gets exactly sun_rgb + sky_rgb per channel (issue 21: exposure
    # and white balance from the plate).
    sun_rgb, sky_rgb = [0.9, 0.6, 0.3], [0.1, 0.2, 0.4]
    s = ls.settings(_estimate(sun_rgb=sun_rgb, sky_rgb=sky_rgb))
    assert s.source == "estimate" and s.elevation_deg == 40.0
    sun = [s.sun_strength * c * math.sin(math.radians(40.0)) / math.pi for c in s.sun_colour]
    world = [s.world_strength * c for c in s.world_colour]
    assert sun == pytest.approx(sun_rgb) and world == pytest.approx(sky_rgb)
    assert max(s.sun_colour) == pytest.approx(1.0) and max(s.world_colour) == pytest.approx(1.0)


def test_plate_light_unsupported_keeps_the_lit_floor_level():
    sky_rgb = [0.3, 0.3, 0.6]
    s = ls.settings(_estimate(supported=False, sun_rgb=[0.0, 0.0, 0.0], sky_rgb=sky_rgb))
    assert s.source == "fallback" and s.elevation_deg == 90.0
    assert s.sun_angle_deg == ls.SOFT_ANGLE_DEG
    total = [
        s.sun_strength * a / math.pi + s.world_strength * b
        for a, b in zip(s.sun_colour, s.world_colour)
    ]
    assert total == pytest.approx(sky_rgb)


def test_plate_light_absent_or_black_keeps_the_balance():
    black = ls.settings(_estimate(sun_rgb=[0.0, 0.0, 0.0], sky_rgb=[0.0, 0.0, 0.0]))
    assert black == ls.settings(_estimate())
