"""Renders the product alone from a saved Vanelia scene and measures it.

    blender -b OUT.blend --factory-startup --python tests/blender/placement_masks.py -- \
        --out masks.json [--every 4] [--percent 50]

Run by run_placement_acceptance.py on the .blend that `vanelia run
--keep-blend` saved. Everything but the product's meshes is hidden from the
render; Workbench renders them with a transparent film at `--percent` of the
frame size, every `--every`-th frame of the camera's track; the alpha is the
product's mask. Writes, per frame: mask pixel count, top and bottom rows,
whether it touches the frame's border; and the product's world footprint
(the XY corners of its meshes' bounding box in world space) and height.
Exits 1 on any error.
"""

import argparse
import json
import os
import sys
import tempfile
import traceback

import bpy
import numpy as np
from mathutils import Vector


def product_meshes():
    empty = bpy.data.objects.get("Vanelia Product")
    if empty is None:
        raise RuntimeError("no 'Vanelia Product' in the scene")
    out, stack = [], list(empty.children)
    while stack:
        obj = stack.pop()
        stack.extend(obj.children)
        if obj.type == "MESH":
            out.append(obj)
    if not out:
        raise RuntimeError("the product has no mesh")
    return empty, out


def footprint(meshes):
    """World XY of every bounding-box corner of the product's meshes, and
    the z range."""
    xy, zs = [], []
    for obj in meshes:
        for corner in obj.bound_box:
            p = obj.matrix_world @ Vector(corner)
            xy.append([p.x, p.y])
            zs.append(p.z)
    return xy, min(zs), max(zs)


def configure(scene, meshes, percent):
    keep = set(meshes)
    for obj in scene.objects:
        obj.hide_render = obj not in keep and obj.type != "CAMERA"
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "FLAT"
    scene.display.shading.color_type = "SINGLE"
    scene.render.film_transparent = True
    scene.render.resolution_percentage = percent
    scene.render.use_border = False
    scene.render.use_compositing = False
    scene.render.use_sequencer = False
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.display_settings.display_device = "sRGB"
    scene.view_settings.view_transform = "Standard"


def measure(path):
    image = bpy.data.images.load(path)
    w, h = image.size
    pixels = np.empty(w * h * 4, dtype=np.float32)
    image.pixels.foreach_get(pixels)
    bpy.data.images.remove(image)
    alpha = pixels.reshape(h, w, 4)[::-1, :, 3] > 0.5  # row 0 = top
    rows = np.nonzero(alpha.any(axis=1))[0]
    border = bool(alpha[0].any() or alpha[-1].any() or alpha[:, 0].any() or alpha[:, -1].any())
    return {
        "pixels": int(alpha.sum()),
        "top": int(rows[0]) if rows.size else -1,
        "bottom": int(rows[-1]) if rows.size else -1,
        "touches_border": border,
        "width": w,
        "height": h,
    }


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--every", type=int, default=4)
    p.add_argument("--percent", type=int, default=50)
    args = p.parse_args(argv)
    scene = bpy.context.scene
    empty, meshes = product_meshes()
    configure(scene, meshes, args.percent)
    cam = scene.camera
    keys = sorted(
        {int(k.co[0]) for fc in cam.animation_data.action.fcurves for k in fc.keyframe_points}
    )
    frames = keys[:: args.every]
    result = {"frames": []}
    with tempfile.TemporaryDirectory() as tmp:
        for f in frames:
            scene.frame_set(f)
            scene.render.filepath = os.path.join(tmp, f"{f:06d}.png")
            bpy.ops.render.render(write_still=True)
            entry = measure(scene.render.filepath)
            entry["blender_frame"] = f
            result["frames"].append(entry)
    xy, z_lo, z_hi = footprint(meshes)
    result.update(
        footprint_xy=xy,
        z_lo=z_lo,
        z_hi=z_hi,
        location=list(empty.location),
        rotation_z=empty.rotation_euler[2],
    )
    with open(args.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    try:
        main(sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else [])
    except Exception:  # noqa: BLE001 - the process boundary
        traceback.print_exc()
        sys.exit(1)
