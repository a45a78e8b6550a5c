"""The exposure clip's product and its truth render (run inside `blender -b`; imported by
make_clip.py for `--preset exposure`; issue 21's exposure / white balance item).

The product is a puck (a cylinder PUCK_RADIUS_M wide and PUCK_HEIGHT_M tall, 48 sides) whose
flat top is a matte grey patch, as a grey card (`GreyPatch`: Principled BSDF, base colour
GREY_ALBEDO, specular 0, roughness PATCH_ROUGHNESS; exported with KHR_materials_specular)
and whose side is a matte orange (`PuckSide`). It is exported as OUT/product.glb and, for the
truth, imported by the add-on's own scene/product.py at SPOT (turned 0: a disc's top does not
depend on the turn), so the truth and Vanelia's render use the same imported material.

`render_truth` renders TRUTH_FRAMES (indices of the clip) of the scene WITH the product, with
the plate's camera, sampling seed, Filmic view and camera gain / white balance (the compositor
of make_clip.set_camera_gain): the colour the product's grey patch has in a plate shot with the
product there. For each it writes OUT/truth/NNNN.png (NNNN = frame index, 0-based), an 8-bit
RGB mask: R = 255 on the grey patch (a Workbench flat-colour render by material, no
antialiasing, eroded by ERODE_PX pixels so that no edge pixel counts), G = 255 on the rest of
the product; and records in gt.json `exposure_truth` the patch's mean colour (display sRGB
0..1 and linear) per frame. The plain floor (scene_build "plainfloor": concrete mixed from
0.5 and 0.52 grey) is neutral with albedo FLOOR_ALBEDO, recorded as `floor_albedo`.
"""

import math
import os
import sys

import bpy
import mathutils
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SPOT = (0.0, -0.3, 0.0)  # the product's floor point, metres (in view of the arc's frames)
PUCK_RADIUS_M = 0.3
PUCK_HEIGHT_M = 0.25
SEGMENTS = 48
GREY_ALBEDO = 0.5
# Principled's diffuse (Burley) brightens at grazing views as roughness grows;
# at 0.5 it is closest to a Lambertian grey card (its retro-reflection
# factor averages 1). At roughness 1 the patch under a uniform world is 10 %
# brighter than Lambert at this clip's 25 deg views.
PATCH_ROUGHNESS = 0.5
SIDE_COLOUR = (0.55, 0.25, 0.12)
FLOOR_ALBEDO = 0.51  # scene_build's ConcreteFloor: 0.5 and 0.52 grey mixed by noise
ERODE_PX = 2


def _material(name, colour, roughness, specular=0.5):
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*colour, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    bsdf.inputs["Specular"].default_value = specular
    bsdf.inputs["Metallic"].default_value = 0.0
    return mat


def export_product(path):
    """Writes the puck as a GLB at `path` (origin at the centre of its base, +Z up)."""
    r, h = PUCK_RADIUS_M, PUCK_HEIGHT_M
    ring = [
        (r * math.cos(2 * math.pi * k / SEGMENTS), r * math.sin(2 * math.pi * k / SEGMENTS))
        for k in range(SEGMENTS)
    ]
    verts = [(x, y, 0.0) for x, y in ring] + [(x, y, h) for x, y in ring]
    n = SEGMENTS
    sides = [(k, (k + 1) % n, n + (k + 1) % n, n + k) for k in range(n)]
    top = [tuple(range(n, 2 * n))]
    bottom = [tuple(reversed(range(n)))]
    mesh = bpy.data.meshes.new("Puck")
    mesh.from_pydata(verts, [], sides + top + bottom)
    mesh.materials.append(_material("PuckSide", SIDE_COLOUR, 0.6))
    mesh.materials.append(_material("GreyPatch", (GREY_ALBEDO,) * 3, PATCH_ROUGHNESS, 0.0))
    mesh.update()
    mesh.polygons[len(sides)].material_index = 1  # the top
    for poly in mesh.polygons[: len(sides)]:
        poly.use_smooth = True
    obj = bpy.data.objects.new("Puck", mesh)
    bpy.context.scene.collection.objects.link(obj)
    for other in bpy.context.scene.objects:
        other.select_set(other == obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.export_scene.gltf(
        filepath=path,
        export_format="GLB",
        export_yup=True,
        use_selection=True,
        export_cameras=False,
        export_lights=False,
    )
    mats = list(mesh.materials)
    bpy.data.objects.remove(obj, do_unlink=True)
    bpy.data.meshes.remove(mesh)
    for mat in mats:
        bpy.data.materials.remove(mat)


def _place_product(scene, path):
    sys.path.insert(0, os.path.join(ROOT, "addon"))
    from vanelia_blender.scene import product  # the add-on's own placement

    empty = product.ensure_product(scene.collection, path, SPOT, 0.0, None)
    return product.mesh_objects(empty)


def _read_png(path):
    img = bpy.data.images.load(path)
    w, h = img.size
    px = np.empty(w * h * 4, np.float32)
    img.pixels.foreach_get(px)
    bpy.data.images.remove(img)
    return px.reshape(h, w, 4)[::-1, :, :3]  # top row first


def _linear(srgb):
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


def _erode(mask, px):
    out = mask.copy()
    for _ in range(px):
        m = out.copy()
        m[1:] &= out[:-1]
        m[:-1] &= out[1:]
        m[:, 1:] &= out[:, :-1]
        m[:, :-1] &= out[:, 1:]
        out = m
    return out


def _id_render(scene, path, products):
    """Workbench, flat material colours: the grey patch red, the puck's side green, the rest
    black."""
    saved = (
        scene.render.engine,
        scene.view_settings.view_transform,
        scene.view_settings.look,
        scene.view_settings.exposure,
        scene.render.use_compositing,
    )
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "FLAT"
    scene.display.shading.color_type = "MATERIAL"
    scene.display.render_aa = "OFF"
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.render.use_compositing = False
    ours = {m.name for obj in products for m in obj.data.materials if m is not None}
    colours = {m.name: tuple(m.diffuse_color) for m in bpy.data.materials}
    for mat in bpy.data.materials:
        if mat.name in ours:
            grey = mat.name.startswith("GreyPatch")
            mat.diffuse_color = (1.0, 0.0, 0.0, 1.0) if grey else (0.0, 1.0, 0.0, 1.0)
        else:
            mat.diffuse_color = (0.0, 0.0, 0.0, 1.0)
    world = scene.world.color[:]
    scene.world.color = (0.0, 0.0, 0.0)
    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)
    scene.world.color = world
    for mat in bpy.data.materials:
        mat.diffuse_color = colours[mat.name]
    (
        scene.render.engine,
        scene.view_settings.view_transform,
        scene.view_settings.look,
        scene.view_settings.exposure,
        scene.render.use_compositing,
    ) = saved
    return _read_png(path)


def render_truth(frames, png_dir, out_dir, truth_frames, noise_per_frame):
    """Exports the product, renders the truth of `truth_frames` (see the module's doc) and
    returns the gt.json `exposure_truth` entry."""
    scene = bpy.context.scene
    glb = os.path.join(out_dir, "product.glb")
    export_product(glb)
    truth_dir = os.path.join(out_dir, "truth")
    os.makedirs(truth_dir, exist_ok=True)
    products = _place_product(scene, glb)
    cam = scene.camera
    tmp = os.path.join(png_dir, "truth-tmp")
    os.makedirs(tmp, exist_ok=True)
    stats = []
    for frame in frames:
        i = frame["index"]
        if i not in truth_frames:
            continue
        scene.frame_set(i + 1)
        if noise_per_frame:
            scene.cycles.seed = 7 + i
        cam.matrix_world = mathutils.Matrix(frame["c2w_blender"])
        cam.data.lens = frame["focal_mm"]
        bpy.context.view_layer.update()
        ids = _id_render(scene, os.path.join(tmp, f"id{i:04d}.png"), products)
        patch = _erode((ids[..., 0] > 0.5) & (ids[..., 1] < 0.5), ERODE_PX)
        side = ids[..., 1] > 0.5
        scene.render.filepath = os.path.join(tmp, f"colour{i:04d}.png")
        bpy.ops.render.render(write_still=True)
        colour = _read_png(scene.render.filepath)
        if i == truth_frames[0]:  # one truth frame for people to look at
            os.replace(scene.render.filepath, os.path.join(truth_dir, f"colour_{i:04d}.png"))
        _write_mask(
            os.path.join(truth_dir, f"{i:04d}.png"),
            np.stack([patch, side & ~patch, np.zeros_like(patch)], -1).astype(np.float32),
        )
        srgb = colour[patch].mean(0)
        linear = _linear(colour[patch]).mean(0)
        stats.append(
            {
                "index": i,
                "patch_px": int(patch.sum()),
                "patch_mean_srgb": [float(c) for c in srgb],
                "patch_mean_linear": [float(c) for c in linear],
            }
        )
        print(f"exposure truth: frame {i}: {stats[-1]}", flush=True)
    for name in os.listdir(tmp):
        os.remove(os.path.join(tmp, name))
    os.rmdir(tmp)
    for obj in products:
        obj.hide_render = True
    return {
        "product": "product.glb",
        "location": list(SPOT),
        "rotation_z_deg": 0.0,
        "height_m": PUCK_HEIGHT_M,
        "grey_patch": f"the puck's flat top, Principled base colour {GREY_ALBEDO:g} grey, "
        f"specular 0, roughness {PATCH_ROUGHNESS:g}: a matte grey card (material GreyPatch)",
        "masks": f"truth/NNNN.png (frame index): R the grey patch (eroded {ERODE_PX} px), G the "
        "rest of the product; truth/colour_NNNN.png the first truth frame in colour",
        "means": "patch_mean_srgb: the display values (0..1, 8-bit PNG of the Filmic view with "
        "the camera gain) averaged over R; patch_mean_linear: the same pixels sRGB-decoded "
        "then averaged",
        "frames": stats,
    }
