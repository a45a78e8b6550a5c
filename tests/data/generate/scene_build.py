"""Build the procedural test scene in Blender (run inside `blender -b`; imported by make_clip.py).

Metric world (1 Blender unit = 1 m), Z up, the floor is the plane z = 0. Every mesh is built from
vertices in metres with an identity object scale, so the procedural textures (driven by Object
coordinates) have the same density on every object. Two texture levels:

- "rich": a stone floor (Voronoi cells with dark mortar and per-stone colour plus fine noise),
  textured boxes and two brick walls: tracks well.
- "low": an almost uniform concrete floor (2 % contrast noise), plain boxes and no walls: the
  low-texture case a tracker must survive or report.
- "plainfloor": the rich scene's textured boxes on the "low" concrete floor, no walls: the
  camera tracks well but nearly every point lies on a box, none on the floor (issue 17).
"""

import math

import bpy
import mathutils

# name, centre (x, y, z) in metres, size (x, y, z) in metres, rotation about +Z in degrees,
# colours (a, b) that the box's noise texture mixes.
RICH_BOXES = [
    ("BoxA", (-1.0, 1.8, 0.4), (0.8, 0.8, 0.8), 25.0, ((0.8, 0.35, 0.2), (0.95, 0.8, 0.5))),
    ("BoxB", (0.9, 2.6, 0.6), (0.6, 0.6, 1.2), -15.0, ((0.2, 0.35, 0.8), (0.7, 0.8, 0.95))),
    ("BoxC", (-2.2, 0.2, 0.2), (1.2, 0.6, 0.4), 40.0, ((0.3, 0.7, 0.3), (0.85, 0.9, 0.6))),
    ("BoxD", (1.8, 0.4, 0.3), (0.5, 0.9, 0.6), 10.0, ((0.75, 0.7, 0.2), (0.5, 0.3, 0.1))),
    ("BoxE", (0.2, 3.8, 0.5), (0.5, 0.5, 1.0), 0.0, ((0.7, 0.3, 0.7), (0.95, 0.8, 0.9))),
]
# Walls are thin boxes: y = +7 m (along x) and x = -7 m (along y), 3 m high.
RICH_WALLS = [
    ("WallNorth", (0.0, 7.1, 1.5), (14.4, 0.2, 3.0), 0.0),
    ("WallWest", (-7.1, 0.0, 1.5), (0.2, 14.4, 3.0), 0.0),
]
LOW_BOXES = [
    ("BoxA", (-1.0, 1.8, 0.4), (0.8, 0.8, 0.8), 25.0, ((0.55, 0.55, 0.58), (0.57, 0.57, 0.6))),
    ("BoxB", (0.9, 2.6, 0.6), (0.6, 0.6, 1.2), -15.0, ((0.45, 0.47, 0.5), (0.47, 0.49, 0.52))),
]
FLOOR_SIZE_M = 40.0


def _clear_scene():
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj, do_unlink=True)
    for coll in (bpy.data.meshes, bpy.data.materials, bpy.data.cameras, bpy.data.lights):
        for block in list(coll):
            coll.remove(block)


def _box_mesh(name, size):
    sx, sy, sz = (s / 2.0 for s in size)
    verts = [(x, y, z) for z in (-sz, sz) for y in (-sy, sy) for x in (-sx, sx)]
    faces = [
        (0, 2, 3, 1),  # bottom
        (4, 5, 7, 6),  # top
        (0, 1, 5, 4),  # -y
        (2, 6, 7, 3),  # +y
        (0, 4, 6, 2),  # -x
        (1, 3, 7, 5),  # +x
    ]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    mesh.update()
    return mesh


def _add_object(name, mesh, location, rot_z_deg, material):
    obj = bpy.data.objects.new(name, mesh)
    obj.location = location
    obj.rotation_euler = (0.0, 0.0, math.radians(rot_z_deg))
    obj.data.materials.append(material)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _nodes(mat):
    mat.use_nodes = True
    tree = mat.node_tree
    bsdf = tree.nodes["Principled BSDF"]
    bsdf.inputs["Specular"].default_value = 0.2
    coords = tree.nodes.new("ShaderNodeTexCoord")
    return tree, bsdf, coords


def _stone_floor_material():
    mat = bpy.data.materials.new("StoneFloor")
    tree, bsdf, coords = _nodes(mat)
    links = tree.links
    mapping = tree.nodes.new("ShaderNodeMapping")
    mapping.inputs["Scale"].default_value = (1.6, 1.6, 1.6)
    links.new(coords.outputs["Object"], mapping.inputs["Vector"])
    cells = tree.nodes.new("ShaderNodeTexVoronoi")  # per-stone random colour
    cells.inputs["Scale"].default_value = 1.0
    links.new(mapping.outputs["Vector"], cells.inputs["Vector"])
    edges = tree.nodes.new("ShaderNodeTexVoronoi")  # mortar lines
    edges.feature = "DISTANCE_TO_EDGE"
    edges.inputs["Scale"].default_value = 1.0
    links.new(mapping.outputs["Vector"], edges.inputs["Vector"])
    mortar = tree.nodes.new("ShaderNodeValToRGB")
    mortar.color_ramp.elements[0].position = 0.02
    mortar.color_ramp.elements[0].color = (0.03, 0.03, 0.03, 1)
    mortar.color_ramp.elements[1].position = 0.06
    links.new(edges.outputs["Distance"], mortar.inputs["Fac"])
    grey = tree.nodes.new("ShaderNodeMixRGB")
    grey.inputs["Fac"].default_value = 0.55
    grey.inputs["Color2"].default_value = (0.3, 0.3, 0.28, 1)
    links.new(cells.outputs["Color"], grey.inputs["Color1"])
    noise = tree.nodes.new("ShaderNodeTexNoise")  # fine grain for corners to lock on
    noise.inputs["Scale"].default_value = 9.0
    noise.inputs["Detail"].default_value = 8.0
    links.new(coords.outputs["Object"], noise.inputs["Vector"])
    grain = tree.nodes.new("ShaderNodeMixRGB")
    grain.blend_type = "MULTIPLY"
    grain.inputs["Fac"].default_value = 0.8
    links.new(grey.outputs["Color"], grain.inputs["Color1"])
    links.new(noise.outputs["Color"], grain.inputs["Color2"])
    final = tree.nodes.new("ShaderNodeMixRGB")
    final.blend_type = "MULTIPLY"
    final.inputs["Fac"].default_value = 1.0
    links.new(grain.outputs["Color"], final.inputs["Color1"])
    links.new(mortar.outputs["Color"], final.inputs["Color2"])
    links.new(final.outputs["Color"], bsdf.inputs["Base Color"])
    bsdf.inputs["Roughness"].default_value = 0.8
    return mat


def _noise_material(name, colour_a, colour_b, scale, contrast):
    """Two colours mixed by fractal noise; contrast 1 = full range, 0.02 = nearly flat."""
    mat = bpy.data.materials.new(name)
    tree, bsdf, coords = _nodes(mat)
    links = tree.links
    noise = tree.nodes.new("ShaderNodeTexNoise")
    noise.inputs["Scale"].default_value = scale
    noise.inputs["Detail"].default_value = 10.0
    noise.inputs["Roughness"].default_value = 0.6
    links.new(coords.outputs["Object"], noise.inputs["Vector"])
    ramp = tree.nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].position = 0.5 - 0.1 * contrast
    ramp.color_ramp.elements[0].color = (*colour_a, 1)
    ramp.color_ramp.elements[1].position = 0.5 + 0.1 * contrast
    ramp.color_ramp.elements[1].color = (*colour_b, 1)
    links.new(noise.outputs["Fac"], ramp.inputs["Fac"])
    links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    bsdf.inputs["Roughness"].default_value = 0.7
    return mat


def _brick_material(name, along_x):
    mat = bpy.data.materials.new(name)
    tree, bsdf, coords = _nodes(mat)
    links = tree.links
    # Brick texture reads (u, v) from x, y: swizzle the wall's horizontal axis and z into them.
    sep = tree.nodes.new("ShaderNodeSeparateXYZ")
    comb = tree.nodes.new("ShaderNodeCombineXYZ")
    links.new(coords.outputs["Object"], sep.inputs["Vector"])
    links.new(sep.outputs["X" if along_x else "Y"], comb.inputs["X"])
    links.new(sep.outputs["Z"], comb.inputs["Y"])
    brick = tree.nodes.new("ShaderNodeTexBrick")
    brick.inputs["Scale"].default_value = 1.0
    brick.inputs["Brick Width"].default_value = 0.4
    brick.inputs["Row Height"].default_value = 0.15
    brick.inputs["Mortar Size"].default_value = 0.015
    brick.inputs["Color1"].default_value = (0.55, 0.22, 0.12, 1)
    brick.inputs["Color2"].default_value = (0.75, 0.45, 0.3, 1)
    brick.inputs["Mortar"].default_value = (0.7, 0.7, 0.65, 1)
    links.new(comb.outputs["Vector"], brick.inputs["Vector"])
    links.new(brick.outputs["Color"], bsdf.inputs["Base Color"])
    bsdf.inputs["Roughness"].default_value = 0.9
    return mat


def _floor_mesh():
    h = FLOOR_SIZE_M / 2.0
    mesh = bpy.data.meshes.new("Floor")
    mesh.from_pydata([(-h, -h, 0), (h, -h, 0), (h, h, 0), (-h, h, 0)], [], [(0, 1, 2, 3)])
    mesh.update()
    return mesh


# The default light (every committed clip): a sun turned by these Euler angles (XYZ, degrees),
# 2.2 W/m2, 2-degree disc, under a Nishita sky of strength 0.15.
DEFAULT_SUN_EULER_DEG = (40.0, 10.0, -30.0)
SUN_STRENGTH = 2.2
SUN_ANGLE_DEG = 2.0
SKY_STRENGTH = 0.15
# Overcast: no sun, a uniform bright grey sky (soft light from the whole upper hemisphere).
OVERCAST_COLOUR = (0.85, 0.87, 0.9)
OVERCAST_STRENGTH = 1.0


def sun_travel_direction(azimuth_deg, elevation_deg):
    """Unit vector the sunlight travels along; azimuth is measured from +X towards +Y of the
    direction the light comes FROM, elevation above the horizon (the convention of the add-on's
    scene/lighting.py)."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    return (-math.cos(el) * math.cos(az), -math.cos(el) * math.sin(az), -math.sin(el))


def _sky_world(
    colour=None, strength=SKY_STRENGTH, sun_elevation_deg=50.0, sun_rotation_deg=-30.0, disc=True
):
    world = bpy.data.worlds.new("Sky") if not bpy.data.worlds else bpy.data.worlds[0]
    bpy.context.scene.world = world
    world.use_nodes = True
    tree = world.node_tree
    if colour is None:
        sky = tree.nodes.new("ShaderNodeTexSky")
        sky.sky_type = "NISHITA"
        sky.sun_elevation = math.radians(sun_elevation_deg)
        sky.sun_rotation = math.radians(sun_rotation_deg)
        sky.sun_disc = disc
        tree.links.new(sky.outputs["Color"], tree.nodes["Background"].inputs["Color"])
    else:
        tree.nodes["Background"].inputs["Color"].default_value = (*colour, 1.0)
    tree.nodes["Background"].inputs["Strength"].default_value = strength


def _lights(light=None):
    """The scene's light; `light` None (the default sun), {"sun": (azimuth_deg, elevation_deg)}
    or {"overcast": True}. Returns the gt.json `light` record."""
    if light and light.get("overcast"):
        _sky_world(colour=OVERCAST_COLOUR, strength=OVERCAST_STRENGTH)
        return {
            "model": "overcast",
            "sky_colour": list(OVERCAST_COLOUR),
            "sky_strength": OVERCAST_STRENGTH,
            "note": "no sun: a uniform sky lights the scene; objects cast only soft contact "
            "shadows",
        }
    sun_data = bpy.data.lights.new("Sun", type="SUN")
    sun_data.energy = SUN_STRENGTH
    sun_data.angle = math.radians(SUN_ANGLE_DEG)
    sun = bpy.data.objects.new("Sun", sun_data)
    bpy.context.scene.collection.objects.link(sun)
    if light and "sun" in light:
        az, el = light["sun"]
        d = mathutils.Vector(sun_travel_direction(az, el))
        sun.rotation_mode = "QUATERNION"
        sun.rotation_quaternion = d.to_track_quat("-Z", "Y")
        # The sky's sun disc is off: the lamp is the only sun (the sky's gradient follows it).
        _sky_world(sun_elevation_deg=el, sun_rotation_deg=az - 90.0, disc=False)
    else:
        sun.rotation_euler = tuple(math.radians(a) for a in DEFAULT_SUN_EULER_DEG)
        _sky_world()
        bpy.context.view_layer.update()
        d = (sun.matrix_world.to_3x3() @ mathutils.Vector((0.0, 0.0, -1.0))).normalized()
        az = math.degrees(math.atan2(-d.y, -d.x))
        el = math.degrees(math.asin(-d.z))
    return {
        "model": "sun",
        "sun_azimuth_deg": az,
        "sun_elevation_deg": el,
        "sun_direction": [float(c) for c in d],
        "sun_strength": SUN_STRENGTH,
        "sun_angle_deg": SUN_ANGLE_DEG,
        "sky": "Nishita",
        "sky_strength": SKY_STRENGTH,
    }


def build_scene(texture, light=None):
    """Build the scene; return (scene_objects list, light record) for gt.json. `light`: see
    _lights."""
    if texture not in ("rich", "low", "plainfloor"):
        raise ValueError(f"texture = {texture!r}; must be 'rich', 'low' or 'plainfloor'")
    _clear_scene()
    if texture == "rich":
        floor_mat = _stone_floor_material()
        boxes = RICH_BOXES
    else:
        floor_mat = _noise_material("ConcreteFloor", (0.5, 0.5, 0.5), (0.52, 0.52, 0.52), 3.0, 1.0)
        boxes = RICH_BOXES if texture == "plainfloor" else LOW_BOXES
    _add_object("Floor", _floor_mesh(), (0, 0, 0), 0.0, floor_mat)
    objects = []
    for name, loc, size, rot, (ca, cb) in boxes:
        contrast = 0.02 if texture == "low" else 1.0
        mat = _noise_material(name + "Mat", ca, cb, 4.0, contrast)
        _add_object(name, _box_mesh(name, size), loc, rot, mat)
        objects.append(
            {
                "name": name,
                "kind": "box",
                "location": list(loc),
                "size": list(size),
                "rotation_z_deg": rot,
            }
        )
    if texture == "rich":
        for name, loc, size, rot in RICH_WALLS:
            mat = _brick_material(name + "Mat", along_x=size[0] > size[1])
            _add_object(name, _box_mesh(name, size), loc, rot, mat)
            objects.append(
                {
                    "name": name,
                    "kind": "wall",
                    "location": list(loc),
                    "size": list(size),
                    "rotation_z_deg": rot,
                }
            )
    light_record = _lights(light)
    return objects, light_record


def add_walker(frames_xy, size=(0.5, 0.35, 1.7)):
    """A person-sized textured box that walks: one (x, y) floor position per frame (keyframed,
    linear). Returns its gt.json entry."""
    mat = _noise_material("WalkerMat", (0.15, 0.15, 0.2), (0.9, 0.85, 0.7), 6.0, 1.0)
    obj = _add_object("Walker", _box_mesh("Walker", size), (0, 0, size[2] / 2), 0.0, mat)
    for i, (x, y) in enumerate(frames_xy):
        obj.location = (x, y, size[2] / 2)
        obj.keyframe_insert("location", frame=i + 1)
    make_keys_linear(obj)
    return {
        "name": "Walker",
        "kind": "moving box",
        "size": list(size),
        "location_per_frame": [[x, y, size[2] / 2] for x, y in frames_xy],
        "note": "moves through the scene: not part of the static world a tracker solves",
    }


def make_keys_linear(obj):
    """Linear interpolation between all of `obj`'s keyframes (poses between frames for motion
    blur follow straight lines, not Bezier overshoots)."""
    if obj.animation_data and obj.animation_data.action:
        for fcurve in obj.animation_data.action.fcurves:
            for key in fcurve.keyframe_points:
                key.interpolation = "LINEAR"
