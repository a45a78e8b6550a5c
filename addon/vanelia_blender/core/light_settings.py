"""The product's light from a light estimate (issue 21), without bpy.

An estimate is the `vanelia-light/1` dict of the native `estimate_light`
(native/include/vanelia/pipeline/light_stage.hpp): where the sun comes from
(azimuth from +X towards +Y, elevation above the floor, degrees), whether
the footage supports it, and `key_to_ambient`, the sun's irradiance on the
floor over the ambient light's. `settings()` turns it into the sun and world
that scene/lighting.py builds, keeping the lit floor as bright as the fixed
default light (sun 3 W/m^2 at 50 deg, world 0.6 x grey 0.8):

    sun_strength * sin(elevation) / pi + 0.8 * world_strength = LIT_FLOOR
    sun_strength * sin(elevation) / pi = key_to_ambient * 0.8 * world_strength

(Cycles: a uniform world of radiance L lights a white floor to radiance L; a
sun of strength S at elevation e to S sin(e) / pi.) An unsupported estimate
gives the soft top-down light: elevation 90, a wide sun disc and a weak key.

An estimate that measured the plate's floor also carries `sun_rgb` and
`sky_rgb`, the light in the plate's own units (its sRGB-decoded values over
the floor's assumed albedo): then the sun's strength and colour and the
world's come from them instead of LIT_FLOOR, so the product takes the plate's
exposure, gain and white balance (issue 21):

    sun_strength * sun_colour * sin(elevation) / pi = sun_rgb
    world_strength * world_colour = sky_rgb

(an unsupported estimate: the lit floor's level, split as the fallback's.)
"""

import math
from dataclasses import dataclass

FIXED_AZIMUTH_DEG = -60.0
FIXED_ELEVATION_DEG = 50.0
FIXED_SUN_STRENGTH = 3.0
FIXED_WORLD_STRENGTH = 0.6
WORLD_GREY = 0.8
HARD_ANGLE_DEG = 1.5  # the sun's disc: a crisp shadow
SOFT_ANGLE_DEG = 30.0  # the fallback's disc: a soft shadow under the product
SOFT_KEY_TO_AMBIENT = 0.5  # the fallback's key is half the ambient light
MAX_KEY_TO_AMBIENT = 20.0
LIT_FLOOR = (
    FIXED_SUN_STRENGTH * math.sin(math.radians(FIXED_ELEVATION_DEG)) / math.pi
    + WORLD_GREY * FIXED_WORLD_STRENGTH
)


@dataclass
class LightSettings:
    azimuth_deg: float = FIXED_AZIMUTH_DEG
    elevation_deg: float = FIXED_ELEVATION_DEG
    sun_strength: float = FIXED_SUN_STRENGTH  # W/m^2
    sun_angle_deg: float = HARD_ANGLE_DEG
    world_strength: float = FIXED_WORLD_STRENGTH
    world_colour: tuple = (WORLD_GREY, WORLD_GREY, WORLD_GREY)
    sun_colour: tuple = (1.0, 1.0, 1.0)
    source: str = "fixed"  # "fixed", "estimate" or "fallback"
    summary: str = ""


class LightError(ValueError):
    """An estimate that is not a vanelia-light/1 dict or a bad sun."""


def fixed(azimuth_deg=FIXED_AZIMUTH_DEG, elevation_deg=FIXED_ELEVATION_DEG):
    """Today's fixed sun, turned to (azimuth_deg, elevation_deg)."""
    if not (math.isfinite(azimuth_deg) and 0.0 < elevation_deg <= 90.0):
        raise LightError(
            f"sun ({azimuth_deg}, {elevation_deg}): the azimuth must be finite and the "
            "elevation in (0, 90] degrees"
        )
    return LightSettings(azimuth_deg=azimuth_deg, elevation_deg=elevation_deg)


def _balanced(azimuth_deg, elevation_deg, key_to_ambient, angle_deg, colour, source, summary):
    k = min(max(key_to_ambient, 0.0), MAX_KEY_TO_AMBIENT)
    ambient = LIT_FLOOR / (1.0 + k)  # WORLD_GREY * world_strength
    sin_el = max(math.sin(math.radians(elevation_deg)), 0.05)
    peak = max(colour) if max(colour) > 0 else 1.0
    return LightSettings(
        azimuth_deg=azimuth_deg,
        elevation_deg=elevation_deg,
        sun_strength=k * ambient * math.pi / sin_el,
        sun_angle_deg=angle_deg,
        world_strength=ambient / WORLD_GREY,
        world_colour=tuple(WORLD_GREY * c / peak for c in colour),
        source=source,
        summary=summary,
    )


def _rgb(estimate, key):
    """The estimate's colour `key` as 3 floats >= 0, or None when absent or black."""
    value = estimate.get(key)
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        return None
    rgb = tuple(max(float(c), 0.0) for c in value)
    return rgb if all(map(math.isfinite, rgb)) and max(rgb) > 1e-6 else None


def _split(rgb):
    """(strength, colour with a maximum of 1) of a linear RGB light."""
    peak = max(rgb)
    return peak, tuple(c / peak for c in rgb)


def _from_plate(base, sun_rgb, sky_rgb):
    """`base` (direction, disc, source, summary kept) with the plate's light
    levels and colours: sun_rgb (None = no sun light) and sky_rgb."""
    sin_el = max(math.sin(math.radians(base.elevation_deg)), 0.05)
    base.world_strength, base.world_colour = _split(sky_rgb)
    if sun_rgb is None:
        base.sun_strength, base.sun_colour = 0.0, (1.0, 1.0, 1.0)
    else:
        peak, base.sun_colour = _split(sun_rgb)
        base.sun_strength = peak * math.pi / sin_el
    return base


def settings(estimate):
    """The sun and world of an estimate (a vanelia-light/1 dict)."""
    if not isinstance(estimate, dict) or estimate.get("format") != "vanelia-light/1":
        raise LightError("light estimate: not a vanelia-light/1 dict")
    summary = str(estimate.get("summary", ""))
    sun_rgb, sky_rgb = _rgb(estimate, "sun_rgb"), _rgb(estimate, "sky_rgb")
    if not estimate.get("supported"):
        if sky_rgb is not None:  # the lit floor's level, split as the fallback's
            k = SOFT_KEY_TO_AMBIENT
            base = LightSettings(0.0, 90.0, sun_angle_deg=SOFT_ANGLE_DEG)
            base.source, base.summary = "fallback", summary
            key = tuple(c * k / (1.0 + k) for c in sky_rgb)
            return _from_plate(base, key, tuple(c / (1.0 + k) for c in sky_rgb))
        return _balanced(
            0.0, 90.0, SOFT_KEY_TO_AMBIENT, SOFT_ANGLE_DEG, (1.0, 1.0, 1.0), "fallback", summary
        )
    colour = tuple(float(c) for c in estimate.get("ambient_rgb", (1.0, 1.0, 1.0)))
    if sky_rgb is not None:
        base = LightSettings(
            float(estimate["azimuth_deg"]),
            float(estimate["elevation_deg"]),
            sun_angle_deg=HARD_ANGLE_DEG,
            source="estimate",
            summary=summary,
        )
        return _from_plate(base, sun_rgb, sky_rgb)
    return _balanced(
        float(estimate["azimuth_deg"]),
        float(estimate["elevation_deg"]),
        float(estimate.get("key_to_ambient", 1.0)),
        HARD_ANGLE_DEG,
        colour,
        "estimate",
        summary,
    )
