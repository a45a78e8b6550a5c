"""A mirror sphere lit by a world texture through scene/lighting.py's
set_world_environment, rendered by the real Cycles (issue 21), driven by
tests/python/test_environment.py:

    blender -b --factory-startup --python tests/blender/environment_sphere.py \\
        -- --env MAP.hdr --out FOLDER

An orthographic camera looks along +Y at a 0.5 m sharp-glossy white sphere
(64 x 64 pixels, transparent film): each pixel of the sphere shows the
world in the mirrored direction, which is computed here analytically and
looked up in the map with Blender's equirectangular convention. Prints one
JSON line {"pixels", "correlation", "mirrored_correlation", "median_ratio",
"mean_abs_rel_error"} (luminance of the render vs the map times the world's
strength) and writes FOLDER/sphere.exr. Exits 1 on an error.
"""

import argparse
import json
import math
import os
import sys

import bpy
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "addon"))
from vanelia_blender.scene import lighting  # noqa: E402

SIZE = 64
RADIUS = 0.5


def _lookup(env, d, mirrored=False):
    """Map texels (rows bottom first, as Blender stores them) at unit
    directions d [N, 3], nearest texel."""
    h, w = env.shape[:2]
    u = 0.5 - np.arctan2(d[:, 1], d[:, 0]) / (2.0 * math.pi)
    if mirrored:
        u = 1.0 - u
    v = 0.5 + np.arcsin(np.clip(d[:, 2], -1.0, 1.0)) / math.pi  # from the bottom
    x = np.clip((u * w).astype(int) % w, 0, w - 1)
    y = np.clip((v * h).astype(int), 0, h - 1)
    return env[y, x]


def main():
    argv = sys.argv[sys.argv.index("--") + 1 :]
    p = argparse.ArgumentParser()
    p.add_argument("--env", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    world = lighting.ensure_world(scene, 0.6)
    node = lighting.set_world_environment(world, os.path.abspath(args.env))
    strength = world.node_tree.nodes["Background"].inputs["Strength"].default_value

    bpy.ops.mesh.primitive_uv_sphere_add(radius=RADIUS, segments=96, ring_count=48)
    sphere = bpy.context.object
    bpy.ops.object.shade_smooth()
    mat = bpy.data.materials.new("mirror")
    mat.use_nodes = True
    nodes = mat.node_tree.nodes
    nodes.remove(nodes["Principled BSDF"])
    glossy = nodes.new("ShaderNodeBsdfGlossy")
    glossy.distribution = "SHARP"
    glossy.inputs["Color"].default_value = (1.0, 1.0, 1.0, 1.0)
    mat.node_tree.links.new(glossy.outputs[0], nodes["Material Output"].inputs["Surface"])
    sphere.data.materials.append(mat)

    cam_data = bpy.data.cameras.new("cam")
    cam_data.type = "ORTHO"
    cam_data.ortho_scale = 2.2 * RADIUS
    cam = bpy.data.objects.new("cam", cam_data)
    scene.collection.objects.link(cam)
    cam.location = (0.0, -3.0, 0.0)
    cam.rotation_euler = (math.pi / 2.0, 0.0, 0.0)  # looks along +Y, Z up
    scene.camera = cam
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 8
    scene.cycles.use_denoising = False
    scene.render.resolution_x = scene.render.resolution_y = SIZE
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = True
    scene.render.image_settings.file_format = "OPEN_EXR"
    scene.render.image_settings.color_depth = "32"
    scene.render.filepath = os.path.join(args.out, "sphere.exr")
    bpy.ops.render.render(write_still=True)

    shot = bpy.data.images.load(scene.render.filepath)
    px = np.empty(SIZE * SIZE * 4, dtype=np.float32)
    shot.pixels.foreach_get(px)
    px = px.reshape(SIZE, SIZE, 4)  # rows bottom first
    w, h = node.image.size
    env = np.empty(w * h * 4, dtype=np.float32)
    node.image.pixels.foreach_get(env)
    env = env.reshape(h, w, 4)[:, :, :3]

    # Pixel centres in the world: x right = +X, rows bottom first = +Z.
    half = cam_data.ortho_scale / 2.0
    c = (np.arange(SIZE) + 0.5) / SIZE * 2.0 * half - half
    xx, zz = np.meshgrid(c, c)
    r2 = xx**2 + zz**2
    inside = r2 < (0.85 * RADIUS) ** 2
    n = np.stack([xx, -np.sqrt(np.maximum(RADIUS**2 - r2, 0.0)), zz], axis=-1) / RADIUS
    view = np.array([0.0, 1.0, 0.0])
    refl = view - 2.0 * (n @ view)[..., None] * n
    d = refl[inside]
    rendered = px[inside][:, :3].mean(axis=1)
    expected = strength * _lookup(env, d).mean(axis=1)
    mirrored = strength * _lookup(env, d, mirrored=True).mean(axis=1)
    ratio = rendered / np.maximum(expected, 1e-6)
    out = {
        "pixels": int(inside.sum()),
        "strength": float(strength),
        "correlation": float(np.corrcoef(rendered, expected)[0, 1]),
        "mirrored_correlation": float(np.corrcoef(rendered, mirrored)[0, 1]),
        "median_ratio": float(np.median(ratio)),
        "mean_abs_rel_error": float(
            np.mean(np.abs(rendered - expected) / np.maximum(expected, 1e-3))
        ),
    }
    print("ENVIRONMENT_SPHERE " + json.dumps(out), flush=True)


try:
    main()
except Exception:
    import traceback

    traceback.print_exc()
    sys.exit(1)
