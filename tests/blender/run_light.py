"""The sun and world built from a light estimate (issue 21), in the real
Blender: scene/lighting.ensure_light with core/light_settings' settings.

    blender -b --factory-startup --python tests/blender/run_light.py

Checks, for a supported estimate and an unsupported one: the sun shines
along the estimate's direction (its local -Z in the world), its strength and
disc angle, and the world's colour and strength. Exits 1 on any failure.
"""

import math
import os
import sys

import bpy
import mathutils

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scene_testing as st  # noqa: E402

sys.path.insert(0, st.ADDON)
from vanelia_blender.core import light_settings  # noqa: E402
from vanelia_blender.scene import lighting  # noqa: E402
from vanelia_blender.scene.collection import ensure_collection  # noqa: E402

SUNNY = {
    "format": "vanelia-light/1",
    "supported": True,
    "azimuth_deg": 56.5,
    "elevation_deg": 35.0,
    "direction": [
        -math.cos(math.radians(35.0)) * math.cos(math.radians(56.5)),
        -math.cos(math.radians(35.0)) * math.sin(math.radians(56.5)),
        -math.sin(math.radians(35.0)),
    ],
    "key_to_ambient": 1.5,
    "ambient_rgb": [0.8, 0.9, 1.0],
    "summary": "sun from azimuth 56.5 deg, elevation 35.0 deg",
}
OVERCAST = {"format": "vanelia-light/1", "supported": False, "summary": "unsupported"}
# The plate's light level and colour (exposure and white balance, issue 21).
PLATE = dict(SUNNY, sun_rgb=[0.35, 0.33, 0.28], sky_rgb=[0.45, 0.44, 0.48])


def check(estimate, expected_dir):
    scene = bpy.context.scene
    coll = ensure_collection(scene)
    s = light_settings.settings(estimate)
    sun, _ = lighting.ensure_light(coll, scene, s)
    bpy.context.view_layer.update()
    axis = sun.matrix_world.to_3x3() @ mathutils.Vector((0.0, 0.0, -1.0))
    err = math.degrees(axis.normalized().angle(mathutils.Vector(expected_dir)))
    assert err < 0.01, f"sun axis {tuple(axis)} vs {expected_dir}: {err:.4f} deg"
    assert math.isclose(sun.data.energy, s.sun_strength, rel_tol=1e-6), sun.data.energy
    assert math.isclose(math.degrees(sun.data.angle), s.sun_angle_deg, rel_tol=1e-5)
    bg = scene.world.node_tree.nodes["Background"]
    colour = tuple(bg.inputs["Color"].default_value)[:3]
    assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(colour, s.world_colour)), colour
    assert math.isclose(bg.inputs["Strength"].default_value, s.world_strength, rel_tol=1e-6)
    assert sun["vanelia_light_source"] == s.source
    assert all(
        math.isclose(a, b, abs_tol=1e-6) for a, b in zip(sun.data.color, s.sun_colour)
    ), tuple(sun.data.color)
    print(f"run_light: {s.source}: sun axis error {err:.5f} deg, energy {sun.data.energy:.3f}")


def main():
    check(SUNNY, SUNNY["direction"])
    check(OVERCAST, [0.0, 0.0, -1.0])
    check(PLATE, SUNNY["direction"])


if __name__ == "__main__":
    try:
        main()
    except Exception:
        import traceback

        traceback.print_exc()
        sys.exit(1)
