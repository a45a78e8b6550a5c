"""Light: a sun (its direction turns the shadow) and a world light.

The sun's direction is given as azimuth (degrees from +X towards +Y of the
direction the light comes from) and elevation above the horizon. The world
is a uniform grey background whose strength the user can change.
"""

import math

import bpy

from .collection import ensure_data, ensure_object

SUN_NAME = "Vanelia Sun"
WORLD_NAME = "Vanelia World"


def sun_direction(azimuth_deg, elevation_deg):
    """Unit vector the sunlight travels along (pointing down)."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    towards_sun = (math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el))
    return [-c for c in towards_sun]


def ensure_sun(collection, azimuth_deg=-60.0, elevation_deg=50.0, strength=3.0):
    light = ensure_data(bpy.data.lights, SUN_NAME, "light", lambda n: bpy.data.lights.new(n, "SUN"))
    light.energy = strength
    light.angle = math.radians(4.0)
    obj = ensure_object(SUN_NAME, light, collection)
    d = sun_direction(azimuth_deg, elevation_deg)
    # A sun shines down its local -Z: point -Z along d.
    obj.rotation_mode = "QUATERNION"
    import mathutils

    obj.rotation_quaternion = mathutils.Vector(d).to_track_quat("-Z", "Y")
    obj.location = (0.0, 0.0, 10.0)
    return obj, d


def ensure_world(scene, strength=0.6, colour=(0.8, 0.8, 0.8)):
    """Our world, assigned to the scene. A user's world is kept (with a fake
    user so that it survives saving) and can be put back in the scene."""
    world = ensure_data(bpy.data.worlds, WORLD_NAME, "world", bpy.data.worlds.new)
    world.use_nodes = True
    bg = world.node_tree.nodes.get("Background")
    if bg is None:
        bg = world.node_tree.nodes.new("ShaderNodeBackground")
    bg.inputs["Color"].default_value = (*colour, 1.0)
    bg.inputs["Strength"].default_value = strength
    if scene.world is not None and scene.world != world:
        scene.world.use_fake_user = True
    scene.world = world
    return world
