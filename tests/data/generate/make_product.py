"""Build the sample product (a 30 cm bottle) and export it as GLB (run by Blender 3.4 headless).

    blender -b --factory-startup --python tests/data/generate/make_product.py -- \
        --out tests/data/sample/product.glb

Real size in metres, origin at the centre of the base (the bottle stands on z = 0, +Z up in
Blender, +Y up in the glTF file). Four Principled BSDF materials:

- BottleBody: glossy red plastic (base colour 0.6, 0.05, 0.04; roughness 0.25; metallic 0).
- BottleLabel: matte off-white band (0.8, 0.78, 0.7; roughness 0.6).
- MetalCollar: brushed aluminium ring (0.9, 0.9, 0.92; roughness 0.2; metallic 1).
- BlackCap: near-black cap (0.02, 0.02, 0.02; roughness 0.4): "black must stay black".
"""

import argparse
import math
import os
import sys

import numpy as np

# Debian's glTF add-on still uses np.bool, which numpy >= 1.24 removed.
if "bool" not in vars(np):  # hasattr() would itself warn on numpy 1.24
    np.bool = bool

import bpy  # noqa: E402

SEGMENTS = 32
# name, material, [(radius_m, z_m), ...] profile from bottom to top (a closed surface of
# revolution: the first and last rings are capped).
PARTS = [
    ("Body", "BottleBody", [(0.0, 0.0), (0.036, 0.0), (0.04, 0.006), (0.04, 0.07)]),
    ("Label", "BottleLabel", [(0.0405, 0.07), (0.0405, 0.16)]),
    (
        "Shoulder",
        "BottleBody",
        [(0.04, 0.16), (0.04, 0.19), (0.034, 0.215), (0.02, 0.235), (0.014, 0.245)],
    ),
    ("Collar", "MetalCollar", [(0.0, 0.245), (0.017, 0.245), (0.017, 0.255), (0.0, 0.255)]),
    (
        "Cap",
        "BlackCap",
        [(0.0, 0.255), (0.016, 0.255), (0.016, 0.295), (0.014, 0.3), (0.0, 0.3)],
    ),
]
MATERIALS = {
    # name: (base colour linear RGB, roughness, metallic)
    "BottleBody": ((0.6, 0.05, 0.04), 0.25, 0.0),
    "BottleLabel": ((0.8, 0.78, 0.7), 0.6, 0.0),
    "MetalCollar": ((0.9, 0.9, 0.92), 0.2, 1.0),
    "BlackCap": ((0.02, 0.02, 0.02), 0.4, 0.0),
}


def parse_args():
    argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else []
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="output .glb path")
    return p.parse_args(argv)


def lathe(name, profile):
    """Mesh of revolution about +Z from a (radius, z) profile; zero radius = a pole vertex."""
    verts, faces, rings = [], [], []
    for radius, z in profile:
        if radius == 0.0:
            rings.append([len(verts)])
            verts.append((0.0, 0.0, z))
            continue
        ring = []
        for k in range(SEGMENTS):
            a = 2.0 * math.pi * k / SEGMENTS
            ring.append(len(verts))
            verts.append((radius * math.cos(a), radius * math.sin(a), z))
        rings.append(ring)
    for lower, upper in zip(rings[:-1], rings[1:]):
        for k in range(SEGMENTS):
            k1 = (k + 1) % SEGMENTS
            if len(lower) == 1:
                faces.append((lower[0], upper[k1], upper[k]))
            elif len(upper) == 1:
                faces.append((lower[k], lower[k1], upper[0]))
            else:
                faces.append((lower[k], lower[k1], upper[k1], upper[k]))
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    mesh.update()
    for poly in mesh.polygons:
        poly.use_smooth = True
    return mesh


def material(name):
    colour, roughness, metallic = MATERIALS[name]
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*colour, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    bsdf.inputs["Metallic"].default_value = metallic
    return mat


def main():
    args = parse_args()
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj, do_unlink=True)
    mats = {name: material(name) for name in MATERIALS}
    root = bpy.data.objects.new("SampleBottle", None)
    bpy.context.scene.collection.objects.link(root)
    for name, mat_name, profile in PARTS:
        obj = bpy.data.objects.new(name, lathe(name, profile))
        obj.data.materials.append(mats[mat_name])
        obj.parent = root
        bpy.context.scene.collection.objects.link(obj)
    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    bpy.ops.export_scene.gltf(
        filepath=out,
        export_format="GLB",
        export_yup=True,
        export_apply=True,
        export_cameras=False,
        export_lights=False,
    )
    print(f"make_product: wrote {out} ({os.path.getsize(out)} bytes)", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception:  # exit non-zero so the driver sees the failure
        import traceback

        traceback.print_exc()
        sys.exit(1)
