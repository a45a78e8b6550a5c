"""The Vanelia scene's contents, built from the sample (no render).

    blender -b --factory-startup --python tests/blender/run_scene_build.py -- \
        --video V --gt gt.json --product P.glb

Checks: footage settings (resolution, rational rate, range, Standard view),
the camera's keys (one per track frame, Blender frame = index + 1), the
shadow catcher, the product (bottom on z = 0, real size, default location,
under one empty, materials untouched, rotation and target height), the
compositing tree; building again updates instead of duplicating; the user's
objects survive; a name clash is an error that changes nothing.
"""

import argparse
import json
import math
import os
import sys

import bpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scene_testing as st  # noqa: E402

sys.path.insert(0, st.ADDON)
from vanelia_blender.core import media, track_file  # noqa: E402
from vanelia_blender.scene import build, collection, product  # noqa: E402


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--video", required=True)
    p.add_argument("--gt", required=True)
    p.add_argument("--product", required=True)
    p.add_argument("--out", default=None)
    return p.parse_args(sys.argv[sys.argv.index("--") + 1 :])


def options(args, track, **kw):
    return build.BuildOptions(
        plate_path=args.video,
        info=media.probe_video(args.video),
        track=track,
        product_path=args.product,
        **kw,
    )


def material_state():
    return {
        m.name: tuple(m.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value)
        for m in bpy.data.materials
        if m.use_nodes and "Principled BSDF" in m.node_tree.nodes
    }


def main():
    args = parse()
    out = args.out or os.path.join(bpy.app.tempdir, "scene_build")
    os.makedirs(out, exist_ok=True)
    gt = json.load(open(args.gt))
    track_path = st.write_json(st.gt_to_track(gt), os.path.join(out, "track.json"))
    track = track_file.load(track_path)
    scene = bpy.context.scene
    user_objects = {o.name for o in bpy.data.objects}  # the factory cube, light, camera
    built = build.build_scene(scene, options(args, track))
    check_footage(scene, gt)
    check_camera(built.camera, gt)
    check_ground(built.ground)
    check_product(built.product, gt)
    first = {o.name for o in bpy.data.objects}
    st.check(user_objects <= first, "the user's objects are still there")
    colours = material_state()

    # Again, with options changed: updated in place, no duplicates.
    built = build.build_scene(
        scene, options(args, track, location=[0.5, -0.25, 0.0], rotation_z_deg=30.0, height_m=0.6)
    )
    st.check({o.name for o in bpy.data.objects} == first, "building again duplicates nothing")
    st.check(material_state() == colours, "the product's materials are untouched")
    empty = built.product
    st.check(
        tuple(round(v, 6) for v in empty.location) == (0.5, -0.25, 0.0),
        "the location option moves the product",
    )
    st.check(abs(empty.rotation_euler.z - math.radians(30)) < 1e-6, "rotation about Z")
    lo, hi = product.world_bounds(empty)
    st.check(abs(hi[2] - lo[2] - 0.6) < 1e-4, f"target height: {hi[2] - lo[2]:.4f} m == 0.6")
    st.check(abs(lo[2]) < 1e-4, "still standing on the floor")

    check_distortion(args, gt, out, scene)

    # A user object with a name we need: an error, and nothing changes.
    bpy.data.collections.remove(bpy.data.collections[collection.COLLECTION_NAME])
    for obj in [o for o in bpy.data.objects if collection.is_owned(o)]:
        bpy.data.objects.remove(obj)
    before = {o.name for o in bpy.data.objects}
    user = bpy.data.objects.new("Vanelia Ground", None)
    scene.collection.objects.link(user)
    try:
        build.build_scene(scene, options(args, track))
        clashed = False
    except collection.NameClashError as e:
        clashed = "Vanelia Ground" in str(e)
    st.check(clashed, "a user object named 'Vanelia Ground' is a name clash error")
    st.check(
        {o.name for o in bpy.data.objects} == before | {"Vanelia Ground"}
        and bpy.data.collections.get(collection.COLLECTION_NAME) is None,
        "the clash changed nothing",
    )
    st.check(not collection.is_owned(bpy.data.objects["Vanelia Ground"]), "the user's object kept")


def check_distortion(args, gt, out, scene):
    """A track with lens distortion distorts the render like the plate."""
    doc = st.gt_to_track(gt)
    doc["lens"] = dict(model="radial_k1k2", k1=-0.05, k2=0.01)
    track = track_file.load(st.write_json(doc, os.path.join(out, "lens_track.json")))
    built = build.build_scene(scene, options(args, track))
    node = scene.node_tree.nodes.get("Vanelia Distortion")
    st.check(
        node is not None and node.distortion_type == "DISTORT" and node.clip == built.clip,
        "lens distortion: a Movie Distortion node distorts the render",
    )
    cam = built.clip.tracking.camera
    k = gt["frames"][0]["K_opencv"]
    principal = (
        cam.principal_point_pixels if hasattr(cam, "principal_point_pixels") else cam.principal
    )
    st.check(
        cam.distortion_model == "POLYNOMIAL"
        and abs(cam.k1 + 0.05) < 1e-6
        and abs(cam.k2 - 0.01) < 1e-6
        and abs(cam.focal_length_pixels - k[0][0]) < 1e-3
        and abs(principal[0] - (k[0][2] + 0.5)) < 1e-3
        and abs(principal[1] - (gt["height"] - k[1][2] - 0.5)) < 1e-3,
        "lens distortion: the clip's camera has k1, k2, focal and principal point",
    )
    built = build.build_scene(
        scene, options(args, track_file.load(os.path.join(out, "track.json")))
    )
    st.check("Vanelia Distortion" not in scene.node_tree.nodes, "no distortion node without lens")


def check_footage(scene, gt):
    r = scene.render
    st.check(
        (r.resolution_x, r.resolution_y, r.resolution_percentage)
        == (gt["width"], gt["height"], 100),
        f"resolution {r.resolution_x}x{r.resolution_y}",
    )
    st.check(abs(r.fps / r.fps_base - gt["fps"]) < 1e-9, f"rate {r.fps}/{r.fps_base}")
    st.check(
        (scene.frame_start, scene.frame_end) == (1, gt["num_frames"]),
        f"frames {scene.frame_start}..{scene.frame_end}",
    )
    st.check(
        scene.view_settings.view_transform == "Standard" and scene.view_settings.look == "None",
        "view transform Standard, look None",
    )
    st.check(
        scene.render.engine == "CYCLES" and scene.render.film_transparent,
        "Cycles, film transparent",
    )
    coll = bpy.data.collections[collection.COLLECTION_NAME]
    names = {o.name for o in coll.all_objects}
    want = {"Vanelia Camera", "Vanelia Ground", "Vanelia Sun", "Vanelia Product"}
    st.check(want <= names, f"the Vanelia collection holds {sorted(want)}")
    tree = scene.node_tree
    st.check(
        {"Vanelia Plate", "Vanelia Over", "Vanelia Render Layers"} <= set(tree.nodes.keys()),
        "compositing: plate, render and alpha over",
    )
    cam = bpy.data.objects["Vanelia Camera"].data
    st.check(
        any(bg.source == "MOVIE_CLIP" and bg.clip for bg in cam.background_images),
        "the footage is the camera background",
    )


def check_camera(camera, gt):
    fcurves = camera.animation_data.action.fcurves
    keys = [int(k.co[0]) for k in fcurves[0].keyframe_points]
    st.check(keys == [f["index"] + 1 for f in gt["frames"]], f"{len(keys)} keys at index + 1")
    for f in (gt["frames"][0], gt["frames"][-1]):
        bpy.context.scene.frame_set(f["index"] + 1)
        m = camera.matrix_world
        err = max(abs(m[r][c] - f["c2w_blender"][r][c]) for r in range(3) for c in range(4))
        st.check(err < 1e-5, f"camera pose at frame {f['index'] + 1} (error {err:.2e})")


def check_ground(ground):
    st.check(ground.is_shadow_catcher, "the ground is a shadow catcher")
    st.check(abs(ground.location.z) < 1e-9 and ground.scale.x >= 10.0, "ground at z = 0, >= 10 m")


def check_product(empty, gt):
    meshes = product.mesh_objects(empty)
    st.check(len(meshes) >= 1, f"{len(meshes)} product meshes under one empty")
    lo, hi = product.world_bounds(empty)
    st.check(abs(lo[2]) < 1e-4, f"product bottom at z = {lo[2]:.2e}")
    st.check(0.05 < hi[2] - lo[2] < 3.0, f"real size: {hi[2] - lo[2]:.3f} m tall")
    f0 = gt["frames"][0]
    from vanelia_blender.render import render_plan

    want = render_plan.default_product_location(
        f0["K_opencv"], f0["c2w_blender"], gt["width"], gt["height"]
    )
    err = math.dist(empty.location, want)
    st.check(err < 1e-6, "default location: the floor point frame 0's image centre looks at")


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
