"""The add-on in Debian 13's Blender 4.3.2 (Python 3.13; native/scripts/blender4.sh runs it
from the root that native/scripts/blender4_root.sh makes): the legacy zip from
build_addon.py installed with Blender's installer and enabled; its panel and settings
registered; the native module, built here for Python 3.11, refused with a message that
names both Pythons; then the scene built by the add-on's own builder (the 4.x branches of
core/blender_compat.py that 4.3 takes: actions, compositor tree, Alpha Over) from the
sample's ground-truth track, and two frames rendered by Cycles with the batch's border:
the product's silhouette against the ground-truth projection (IoU >= 0.97) and its shadow
beside it, the same checks as tests/blender/run_render_frames.py in 3.4.

    native/scripts/blender4.sh -b --factory-startup --python tests/blender/run_blender4_scene.py \\
        -- --zip ADDON.zip --video V --gt gt.json --product P.glb --out DIR

The root has no ffprobe (a stock Blender machine need not have it), so the plate's
MediaInfo is made from gt.json here; probing without FFmpeg's executables is issue 19's.
"""

import argparse
import json
import os
import sys

import bpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scene_testing as st  # noqa: E402


def read_png(path, rgba=False):
    """A PNG as uint8 [H,W,3|4], top row first, read by Blender (the root has no FFmpeg
    executables for scene_testing.read_png)."""
    import numpy as np

    image = bpy.data.images.load(path)
    try:
        w, h = image.size
        pixels = np.empty(w * h * 4, np.float32)
        image.pixels.foreach_get(pixels)
    finally:
        bpy.data.images.remove(image)
    out = np.round(pixels.reshape(h, w, 4)[::-1] * 255.0).astype(np.uint8)
    return out if rgba else out[..., :3]


st.read_png = read_png


def parse():
    argv = sys.argv[sys.argv.index("--") + 1 :]
    p = argparse.ArgumentParser()
    for name in ("--zip", "--video", "--gt", "--product", "--out"):
        p.add_argument(name, required=True)
    return p.parse_args(argv)


def install(zip_path):
    result = bpy.ops.preferences.addon_install(filepath=zip_path, overwrite=True)
    st.check(result == {"FINISHED"}, f"Blender {bpy.app.version_string}: zip installed")
    bpy.ops.preferences.addon_enable(module="vanelia_blender")
    st.check("vanelia_blender" in bpy.context.preferences.addons, "add-on enabled")
    st.check(hasattr(bpy.types, "VANELIA_PT_main"), "panel registered")
    st.check(hasattr(bpy.context.scene, "vanelia"), "scene settings registered")
    import vanelia_blender
    from vanelia_blender import native

    where = os.path.dirname(vanelia_blender.__file__)
    st.check(where.startswith(bpy.utils.user_resource("SCRIPTS")), f"the installed copy: {where}")

    try:
        native.module()
        st.check(False, "the Python 3.11 module must not import in Python 3.13")
    except native.NativeMissing as e:
        text = str(e)
        st.check("3.13" in text and "cpython-311" in text, f"native module refused: {text}")


def media_info(gt, video):
    from vanelia_blender.core import media

    return media.MediaInfo(
        path=video,
        width=gt["width"],
        height=gt["height"],
        rotation_deg=0,
        fps_num=int(gt["fps"]),
        fps_den=1,
        frame_count=gt["num_frames"],
        vfr=False,
        has_audio=False,
        pixel_aspect=1.0,
        pts=[f["time_s"] for f in gt["frames"]],
        color_matrix="bt709",
    )


def main():
    args = parse()
    os.makedirs(args.out, exist_ok=True)
    install(args.zip)
    # After the install: these import the add-on, which must be the installed copy.
    from run_render_frames import add_mask_output, check_geometry, check_shadow
    from run_render_frames import product_triangles
    from vanelia_blender.core import track_file
    from vanelia_blender.render import cycles, render_plan, region_render
    from vanelia_blender.scene import build

    gt = json.load(open(args.gt))
    track_path = st.write_json(st.gt_to_track(gt), os.path.join(args.out, "track.json"))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    info = media_info(gt, args.video)
    options = build.BuildOptions(
        plate_path=args.video,
        info=info,
        track=track_file.load(track_path),
        product_path=args.product,
        location=[0.0, 0.0, 0.0],
        samples=4,
        over_plate=False,
    )
    built = build.build_scene(scene, options)
    st.check(bpy.data.collections.get("Vanelia") is not None, "Vanelia collection built")
    scene.view_layers[0].use_pass_object_index = True
    scene.render.filter_size = 0.01
    add_mask_output(scene, args.out)
    tris = product_triangles(built.product)
    points = build.region_points(built)
    w, h = info.width, info.height
    by_index = {f["index"]: f for f in gt["frames"]}
    for k, index in enumerate((0, 30)):
        scene.frame_set(index + 1)
        region = region_render.camera_region(scene, built.camera, w, h, points)
        border = render_plan.border_of_region(region, w, h) if k else None
        cycles.set_border(scene, border)
        scene.render.filepath = os.path.join(args.out, f"render_{index:04d}.png")
        bpy.ops.render.render(write_still=True)
        mask = st.read_png(os.path.join(args.out, f"mask_{index + 1:04d}.png"))[..., 0] > 127
        f = by_index[index]
        truth = st.rasterize(tris, f["K_opencv"], f["w2c_opencv"], w, h)
        check_geometry(index, st.iou(mask, truth), truth, region)
        check_shadow(index, st.read_png(scene.render.filepath, rgba=True), truth, region)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.exit(1)
    sys.exit(0)
