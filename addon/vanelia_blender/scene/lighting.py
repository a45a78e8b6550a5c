"""Light: a sun (its direction turns the shadow) and a world light.

Their settings come from core/light_settings.py: the fixed sun, or the one
estimated from the footage's shadows (issue 21; `ensure_light`).

The sun's direction is given as azimuth (degrees from +X towards +Y of the
direction the light comes from) and elevation above the horizon. The world
is a uniform grey the user can make stronger or weaker; it is not in Cycles'
light distribution (sampling method None), so that each sample's direct
light is the sun's: Cycles 3.x picks one light per sample, and a second
light multiplies the noise of the shadow.

With an environment made from the footage (native build_environment, issue
21; `set_world_environment`) the world's colour comes from that
equirectangular texture instead, scaled so that it lights an upward floor as
much as the uniform world did: the product takes the room's colours and
shows the room in its reflections. The camera never sees the world (the
film is transparent and the plate is composited under the render).
"""

import math

import bpy
import mathutils

from ..core import blender_compat
from .collection import ensure_data, ensure_object

SUN_NAME = "Vanelia Sun"
KEY_ANGLE_DEG = 1.5  # sun disc: a crisp shadow with little noise
WORLD_NAME = "Vanelia World"
ENVIRONMENT_NODE = "Vanelia Environment"


def sun_direction(azimuth_deg, elevation_deg):
    """Unit vector the sunlight travels along (pointing down)."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    towards_sun = (math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el))
    return [-c for c in towards_sun]


def _sun(collection, name, direction, strength, angle_deg, cast_shadow):
    light = ensure_data(bpy.data.lights, name, "light", lambda n: bpy.data.lights.new(n, "SUN"))
    light.energy = strength
    light.angle = math.radians(angle_deg)
    if hasattr(light, "use_shadow"):
        light.use_shadow = cast_shadow
    if hasattr(light, "cycles") and hasattr(light.cycles, "cast_shadow"):  # Blender 3.x
        light.cycles.cast_shadow = cast_shadow
    obj = ensure_object(name, light, collection)
    # A sun shines down its local -Z: point -Z along the direction.
    obj.rotation_mode = "QUATERNION"
    obj.rotation_quaternion = mathutils.Vector(direction).to_track_quat("-Z", "Y")
    obj.location = (0.0, 0.0, 10.0)
    return obj


def ensure_sun(
    collection, azimuth_deg=-60.0, elevation_deg=50.0, strength=3.0, angle_deg=KEY_ANGLE_DEG
):
    """The sun (casts the shadow the ground catches): the only light Cycles
    samples directly, so its shadow settles in few samples. Returns (sun,
    light direction)."""
    d = sun_direction(azimuth_deg, elevation_deg)
    key = _sun(collection, SUN_NAME, d, strength, angle_deg, True)
    return key, d


def ensure_light(collection, scene, settings):
    """The sun and world of a core.light_settings.LightSettings (the fixed
    light, or one from the footage's light estimate). Returns (sun, light
    direction)."""
    sun, d = ensure_sun(
        collection,
        settings.azimuth_deg,
        settings.elevation_deg,
        settings.sun_strength,
        settings.sun_angle_deg,
    )
    sun.data.color = tuple(settings.sun_colour)  # the plate's white balance (issue 21)
    ensure_world(scene, settings.world_strength, tuple(settings.world_colour))
    sun["vanelia_light_source"] = settings.source
    sun["vanelia_light_summary"] = settings.summary
    return sun, d


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
    # Not a light in the light distribution: Cycles 3.x picks one light per
    # sample, and a second light there multiplies the key sun's noise. The
    # uniform world still lights everything through BSDF-sampled rays.
    if hasattr(world, "cycles"):
        blender_compat.set_enum_if_offered(world.cycles, "sampling_method", "NONE")
    if scene.world is not None and scene.world != world:
        scene.world.use_fake_user = True
    scene.world = world
    return world


def upper_irradiance(image):
    """Irradiance an upward surface gets from an equirectangular `image`
    (linear RGB, Blender's rows bottom to top) at strength 1, as the mean
    over the channels: the sum of L cos(zenith) d(solid angle) over the
    upper half. A uniform world of radiance L gives pi L."""
    import numpy as np

    w, h = image.size
    pixels = np.empty(w * h * 4, dtype=np.float32)
    image.pixels.foreach_get(pixels)
    rgb = pixels.reshape(h, w, 4)[:, :, :3].mean(axis=2)
    elevation = ((np.arange(h) + 0.5) / h - 0.5) * math.pi  # bottom row first
    texel = (2.0 * math.pi / w) * (math.pi / h) * np.cos(elevation)  # solid angle
    weight = np.where(elevation > 0.0, texel * np.sin(elevation), 0.0)
    return float((rgb.sum(axis=1) * weight).sum())


def set_world_environment(world, path):
    """The world's colour from the equirectangular image at `path` (an
    Environment Texture node, update-or-create), its strength set so that
    it lights an upward floor as the uniform colour and strength it replaces
    did; `path` None removes the node (the uniform world). Returns the node
    or None."""
    nodes = world.node_tree.nodes
    node = nodes.get(ENVIRONMENT_NODE)
    if path is None:
        if node is not None:
            nodes.remove(node)
        return None
    bg = nodes["Background"]
    if node is None:
        node = nodes.new("ShaderNodeTexEnvironment")
        node.name = node.label = ENVIRONMENT_NODE
        node.location = (bg.location.x - 300, bg.location.y)
    if node.image is not None and node.image.get("vanelia_environment"):
        bpy.data.images.remove(node.image)  # ours, from an earlier build
    image = bpy.data.images.load(path)
    image["vanelia_environment"] = path
    # Packed: the run's temporary file goes, a kept .blend and the farm's
    # render steps still have the texture.
    image.pack()
    for name in ("Linear Rec.709", "Linear"):  # Blender 4.x, 3.x
        if blender_compat.set_enum_if_offered(image.colorspace_settings, "name", name):
            break
    node.image = image
    node.projection = "EQUIRECTANGULAR"
    world.node_tree.links.new(node.outputs["Color"], bg.inputs["Color"])
    uniform = sum(tuple(bg.inputs["Color"].default_value)[:3]) / 3.0
    uniform *= bg.inputs["Strength"].default_value
    irradiance = upper_irradiance(image)
    if irradiance > 1e-6:
        bg.inputs["Strength"].default_value = math.pi * uniform / irradiance
    world["vanelia_environment"] = path
    return node
