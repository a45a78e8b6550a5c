"""The occluder clip's extra boxes and its ground truth with the product (run inside
`blender -b`; imported by make_clip.py for `--preset occluder`).

The product spot SPOT is on the floor of the rich scene. A box (`Occluder`) stands 1 m from it
towards the cameras, which orbit the spot so that it passes between them and the product's
lower part; a second box (`Beside`) stands just north of the spot, where the generator's sun
(scene_build._lights) throws the product's shadow onto its south face.

`render_truth` renders, for every frame of the clip and with the same camera and sampling
seed, the scene WITH the product (tests/data/sample/product.glb scaled to PRODUCT_HEIGHT_M,
placed by the add-on's own scene/product.py at SPOT, turned 0) and writes OUT/truth/NNNN.png
(NNNN = frame index, 0-based), an 8-bit RGB mask image:
  R = 255 where the product is visible (a Workbench flat-colour ID render, no antialiasing);
  G = 255 where the Beside box is visible (and the product is not);
  B = 255 where the product's shadow falls on the visible Beside box: two Cycles renders of the
      sun's direct light alone (every surface white diffuse, no sky, no bounces, the sun's 2 deg
      disc), with and without the product; shadow where the first gets less than
      SHADOW_FRACTION of the second in linear light (more than half the sun's disc hidden; no
      render noise outside the penumbra).
"""

import math
import os
import sys

import bpy
import mathutils
import numpy as np

import scene_build

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
PRODUCT = os.path.join(ROOT, "tests", "data", "sample", "product.glb")
SPOT = (0.0, 0.6, 0.0)  # the product's floor point, metres
PRODUCT_HEIGHT_M = 0.8  # the bottle scaled up to be large in a 320x180 frame
ORBIT_RADIUS_M = 3.2
ORBIT_AZIMUTH_DEG = (-70.0, -30.0)  # from +X towards +Y, around SPOT
SHADOW_FRACTION = 0.5
SUN_SAMPLES = 16
# name, centre, size, rotation about +Z (deg), noise colours
BOXES = [
    (
        "Occluder",
        (
            SPOT[0] + 1.0 * math.cos(math.radians(-50.0)),
            SPOT[1] + 1.0 * math.sin(math.radians(-50.0)),
            0.3,
        ),
        (0.35, 0.35, 0.6),
        40.0,
        ((0.25, 0.45, 0.55), (0.8, 0.85, 0.7)),
    ),
    (
        "Beside",
        (SPOT[0] + 0.1, SPOT[1] + 0.5, 0.35),
        (0.7, 0.3, 0.7),
        0.0,
        ((0.85, 0.8, 0.7), (0.95, 0.92, 0.85)),
    ),
]


def camera_pose(u):
    """Camera-to-world 4x4 at normalised time u: 1.5 m high on a 40-degree arc of radius 3.2 m
    around SPOT (azimuth -70 -> -30 deg), looking at 0.3 m above it."""
    az = math.radians(ORBIT_AZIMUTH_DEG[0] + (ORBIT_AZIMUTH_DEG[1] - ORBIT_AZIMUTH_DEG[0]) * u)
    target = mathutils.Vector((SPOT[0], SPOT[1], 0.3))
    eye = mathutils.Vector(
        (SPOT[0] + ORBIT_RADIUS_M * math.cos(az), SPOT[1] + ORBIT_RADIUS_M * math.sin(az), 1.5)
    )
    f = (target - eye).normalized()
    right = f.cross(mathutils.Vector((0, 0, 1))).normalized()
    up = right.cross(f)
    rot = mathutils.Matrix((right, up, -f)).transposed()
    return mathutils.Matrix.Translation(eye) @ rot.to_4x4()


def add_boxes():
    """Adds the two boxes; returns their gt.json scene_objects entries."""
    objects = []
    for name, loc, size, rot, (ca, cb) in BOXES:
        mat = scene_build._noise_material(name + "Mat", ca, cb, 4.0, 1.0)
        scene_build._add_object(name, scene_build._box_mesh(name, size), loc, rot, mat)
        objects.append(
            {
                "name": name,
                "kind": "box",
                "location": list(loc),
                "size": list(size),
                "rotation_z_deg": rot,
            }
        )
    return objects


SLIDER_SIZE = (0.35, 0.35, 0.6)
SLIDER_DISTANCE_M = 1.0  # from SPOT towards the middle of the camera arc
SLIDER_SPAN_M = (-0.9, 0.9)  # sideways travel across the line of sight over the clip


def add_slider(num_frames):
    """The slider clip's moving occluder: a box (`Slider`) sliding sideways between the camera
    arc and SPOT, 1 m from SPOT, across the line of sight (keyframed per frame, linear).
    Returns its gt.json scene_objects entry (kind "moving box", as the walker's)."""
    az = math.radians(0.5 * (ORBIT_AZIMUTH_DEG[0] + ORBIT_AZIMUTH_DEG[1]))
    centre = (
        SPOT[0] + SLIDER_DISTANCE_M * math.cos(az),
        SPOT[1] + SLIDER_DISTANCE_M * math.sin(az),
    )
    side = (-math.sin(az), math.cos(az))
    path = []
    for i in range(num_frames):
        u = i / max(1, num_frames - 1)
        s = SLIDER_SPAN_M[0] + (SLIDER_SPAN_M[1] - SLIDER_SPAN_M[0]) * u
        path.append([centre[0] + s * side[0], centre[1] + s * side[1], SLIDER_SIZE[2] / 2])
    mat = scene_build._noise_material("SliderMat", (0.25, 0.45, 0.55), (0.8, 0.85, 0.7), 4.0, 1.0)
    obj = scene_build._add_object(
        "Slider", scene_build._box_mesh("Slider", SLIDER_SIZE), path[0], 20.0, mat
    )
    for i, loc in enumerate(path):
        obj.location = loc
        obj.keyframe_insert("location", frame=i + 1)
    scene_build.make_keys_linear(obj)
    return {
        "name": "Slider",
        "kind": "moving box",
        "size": list(SLIDER_SIZE),
        "rotation_z_deg": 20.0,
        "location_per_frame": path,
        "note": "slides between the cameras and the product spot: not part of the static world",
    }


def sun_direction():
    """(azimuth_deg, elevation_deg) of the direction towards the scene's sun."""
    sun = bpy.data.objects["Sun"]
    towards = sun.matrix_world.to_3x3() @ mathutils.Vector((0.0, 0.0, 1.0))
    return (
        math.degrees(math.atan2(towards.y, towards.x)),
        math.degrees(math.asin(max(-1.0, min(1.0, towards.z)))),
    )


def _place_product(scene):
    sys.path.insert(0, os.path.join(ROOT, "addon"))
    from vanelia_blender.scene import product  # the add-on's own placement

    empty = product.ensure_product(scene.collection, PRODUCT, SPOT, 0.0, PRODUCT_HEIGHT_M)
    return empty, product.mesh_objects(empty)


def _read_png(path):
    img = bpy.data.images.load(path)
    w, h = img.size
    px = np.empty(w * h * 4, np.float32)
    img.pixels.foreach_get(px)
    bpy.data.images.remove(img)
    return px.reshape(h, w, 4)[::-1, :, :3]  # top row first


def _linear(srgb):
    """Display (sRGB-encoded, Standard view) values back to linear light."""
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _write_mask(path, rgb):
    h, w, _ = rgb.shape
    img = bpy.data.images.new("truth", w, h, alpha=False)
    rgba = np.ones((h, w, 4), np.float32)
    rgba[..., :3] = rgb[::-1]
    img.pixels.foreach_set(rgba.ravel())
    img.filepath_raw = path
    img.file_format = "PNG"
    img.save()
    bpy.data.images.remove(img)


def _id_render(scene, path, products, beside):
    """Workbench, flat object colours: product red, Beside green, the rest black."""
    engine = scene.render.engine
    view = scene.view_settings.view_transform, scene.view_settings.look
    scene.render.engine = "BLENDER_WORKBENCH"
    shading = scene.display.shading
    shading.light = "FLAT"
    shading.color_type = "OBJECT"
    scene.display.render_aa = "OFF"
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    colours = {}
    for obj in scene.objects:
        colours[obj.name] = tuple(obj.color)
        obj.color = (0.0, 0.0, 0.0, 1.0)
    for obj in products:
        obj.color = (1.0, 0.0, 0.0, 1.0)
    if beside is not None:
        beside.color = (0.0, 1.0, 0.0, 1.0)
    world = scene.world.color[:]
    scene.world.color = (0.0, 0.0, 0.0)
    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)
    scene.world.color = world
    for obj in scene.objects:
        obj.color = colours[obj.name]
    scene.render.engine = engine
    scene.view_settings.view_transform, scene.view_settings.look = view
    return _read_png(path)


def _white_material():
    mat = bpy.data.materials.get("TruthWhite") or bpy.data.materials.new("TruthWhite")
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (0.8, 0.8, 0.8, 1.0)
    bsdf.inputs["Specular"].default_value = 0.0
    bsdf.inputs["Roughness"].default_value = 1.0
    return mat


def _sun_render(scene, path, products, with_product):
    """The sun's direct light on white diffuse surfaces (linear, Standard view)."""
    layer = bpy.context.view_layer
    saved = (
        scene.cycles.samples,
        scene.cycles.max_bounces,
        scene.view_settings.view_transform,
        scene.view_settings.look,
        scene.view_settings.exposure,
        scene.world,
    )
    scene.cycles.samples = SUN_SAMPLES
    scene.cycles.max_bounces = 0
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.world = None
    layer.material_override = _white_material()
    for obj in products:
        obj.hide_render = not with_product
    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)
    for obj in products:
        obj.hide_render = False
    layer.material_override = None
    (
        scene.cycles.samples,
        scene.cycles.max_bounces,
        scene.view_settings.view_transform,
        scene.view_settings.look,
        scene.view_settings.exposure,
        scene.world,
    ) = saved
    return _read_png(path)


def render_truth(frames, png_dir, out_dir, noise_per_frame):
    """Renders the truth masks of every frame (see the module's doc) into out_dir/truth, with
    scratch renders in png_dir. Returns the gt.json `product_truth` entry."""
    scene = bpy.context.scene
    truth_dir = os.path.join(out_dir, "truth")
    os.makedirs(truth_dir, exist_ok=True)
    empty, products = _place_product(scene)
    beside = bpy.data.objects.get("Beside")  # None in the slider clip (no shadow truth)
    cam = scene.camera
    tmp = os.path.join(png_dir, "truth-tmp")
    os.makedirs(tmp, exist_ok=True)
    stats = []
    for frame in frames:
        i = frame["index"]
        scene.frame_set(i + 1)
        if noise_per_frame:
            scene.cycles.seed = 7 + i
        cam.matrix_world = mathutils.Matrix(frame["c2w_blender"])
        cam.data.lens = frame["focal_mm"]
        bpy.context.view_layer.update()
        ids = _id_render(scene, os.path.join(tmp, f"id{i:04d}.png"), products, beside)
        visible = (ids[..., 0] > 0.5) & (ids[..., 1] < 0.5)
        box = (ids[..., 1] > 0.5) & ~visible
        shadow = np.zeros_like(box)
        if beside is not None:
            with_sun = _sun_render(scene, os.path.join(tmp, f"with{i:04d}.png"), products, True)
            without_sun = _sun_render(
                scene, os.path.join(tmp, f"without{i:04d}.png"), products, False
            )
            darker = _linear(with_sun[..., 0]) < SHADOW_FRACTION * _linear(without_sun[..., 0])
            shadow = box & darker
        _write_mask(
            os.path.join(truth_dir, f"{i:04d}.png"),
            np.stack([visible, box, shadow], -1).astype(np.float32),
        )
        stats.append(
            {
                "index": i,
                "product_px": int(visible.sum()),
                "beside_px": int(box.sum()),
                "shadow_px": int(shadow.sum()),
            }
        )
        print(f"occluder truth: frame {i}: {stats[-1]}", flush=True)
    for name in os.listdir(tmp):
        os.remove(os.path.join(tmp, name))
    os.rmdir(tmp)
    azimuth, elevation = sun_direction()
    for obj in products:
        obj.hide_render = True  # the depth sidecar (depth_sidecar.py) sees the scene without it
    return {
        "product": "tests/data/sample/product.glb",
        "location": list(SPOT),
        "height_m": PRODUCT_HEIGHT_M,
        "rotation_z_deg": 0.0,
        "masks": "truth/NNNN.png (frame index): R product visible, G Beside box visible, B the "
        "product's shadow on it (the sun's direct light on white diffuse surfaces, no sky, no "
        f"bounces, {SUN_SAMPLES} spp: with the product < {SHADOW_FRACTION:g} x without, linear)",
        "sun": {
            "azimuth_deg": azimuth,
            "elevation_deg": elevation,
            "strength": bpy.data.lights["Sun"].energy,
            "angle_deg": math.degrees(bpy.data.lights["Sun"].angle),
        },
        "frames": stats,
    }
