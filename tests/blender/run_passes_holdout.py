"""The passes' holdout mask and their recombination with a real object in
front of the product, rendered by Cycles.

    blender -b --factory-startup --python tests/blender/run_passes_holdout.py -- \
        --video V --gt gt.json --product P.glb --out DIR

A box standing between the camera and the product, in the Vanelia
collection, marked holdout (as the proxies of real objects are), and a
second one beside the product as a shadow catcher. Checks on one frame:
- the holdout mask covers the projection of both boxes (IoU >= 0.95 with
  the ground-truth camera's rasterisation of their triangles) and nothing
  else;
- the product pass is transparent where the front box hides it, and the
  product shows beside it;
- plate x shadow + product (premultiplied over) = composite within 1/255.
"""

import argparse
import json
import os
import subprocess
import sys

import bpy
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scene_testing as st  # noqa: E402

sys.path.insert(0, st.ADDON)
from vanelia_blender.core import media, track_file  # noqa: E402
from vanelia_blender.render import passes, region_render  # noqa: E402
from vanelia_blender.scene import build  # noqa: E402
from vanelia_blender.scene.collection import COLLECTION_NAME  # noqa: E402
from run_render_frames import product_triangles  # noqa: E402

INDEX = 20  # decoded frame; Blender frame 21


def parse():
    argv = sys.argv[sys.argv.index("--") + 1 :]
    p = argparse.ArgumentParser()
    p.add_argument("--video", required=True)
    p.add_argument("--gt", required=True)
    p.add_argument("--product", required=True)
    p.add_argument("--out", required=True)
    return p.parse_args(argv)


def read_exr(path, channels):
    """An EXR as float32 [H,W,channels] (RGB or RGBA), decoded by FFmpeg."""
    fmt = "gbrapf32le" if channels == 4 else "gbrpf32le"
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "json", path],
        capture_output=True,
        text=True,
        check=True,
    )
    size = json.loads(probe.stdout)["streams"][0]
    w, h = size["width"], size["height"]
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", fmt, "-"],
        capture_output=True,
        check=True,
    ).stdout
    planes = np.frombuffer(raw, np.float32).reshape(channels, h, w)
    order = [2, 0, 1, 3][:channels]  # g, b, r(, a) -> r, g, b(, a)
    return np.stack([planes[i] for i in order], -1)


def add_box(name, centre, size, coll):
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=centre)
    box = bpy.context.active_object
    box.name = name
    box.scale = size
    for c in box.users_collection:
        c.objects.unlink(box)
    coll.objects.link(box)
    return box


def box_triangles(box):
    bpy.context.view_layer.update()
    mesh = box.data
    mesh.calc_loop_triangles()
    m = np.array(box.matrix_world)
    co = np.array([v.co[:] for v in mesh.vertices]) @ m[:3, :3].T + m[:3, 3]
    return co[np.array([t.vertices[:] for t in mesh.loop_triangles])]


def main():
    args = parse()
    os.makedirs(args.out, exist_ok=True)
    gt = json.load(open(args.gt))
    track_path = st.write_json(st.gt_to_track(gt), os.path.join(args.out, "track.json"))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    info = media.probe_video(args.video)
    options = build.BuildOptions(
        plate_path=args.video,
        info=info,
        track=track_file.load(track_path),
        product_path=args.product,
        samples=16,
        over_plate=False,
    )
    built = build.build_scene(scene, options)
    frame = next(f for f in gt["frames"] if f["index"] == INDEX)
    cam = np.array(frame["c2w_blender"])[:3, 3]
    bpy.context.view_layer.update()
    spot = np.array(built.product.matrix_world.translation)
    lo, hi = build.product.world_bounds(built.product)
    height = hi[2] - lo[2]
    coll = bpy.data.collections[COLLECTION_NAME]
    # In front: 20 % of the way to the camera, offset sideways so it hides
    # one side of the product, as tall as the sight line to the product's top.
    towards = cam[:2] - spot[:2]
    side = np.array([-towards[1], towards[0]]) / np.linalg.norm(towards)
    front_xy = spot[:2] + 0.2 * towards + side * 0.1 * height
    top = height + 0.2 * (cam[2] - height)
    front = add_box("Front Box", (*front_xy, top / 2), (0.16 * height, 0.16 * height, top), coll)
    front.is_holdout = True
    beside_xy = spot[:2] - side * 1.2 * height
    beside = add_box("Beside Box", (*beside_xy, 0.4 * height), (0.8 * height,) * 3, coll)
    beside.is_shadow_catcher = True
    folder = os.path.join(args.out, "passes")
    passes.check_passes(folder, "exr", [INDEX + 1], overwrite=True)
    passes.configure_passes(scene, built, folder, "exr")
    png = os.path.join(args.out, "frame.png")
    region_render.render_frame(scene, built.camera, INDEX, [], 0, True, png)
    silhouette = st.rasterize(
        product_triangles(built.product),
        frame["K_opencv"],
        frame["w2c_opencv"],
        info.width,
        info.height,
    )
    check_passes(folder, frame, [front, beside], silhouette, info)


def check_passes(folder, frame, boxes, silhouette, info):
    w, h = info.width, info.height
    path = {n: passes.pass_path(folder, n, INDEX + 1, "exr") for n in passes.NAMES}
    for name, p in path.items():
        st.check(os.path.isfile(p), f"{name} pass written: {os.path.basename(p)}")
    product = read_exr(path["product"], 4)
    shadow = read_exr(path["shadow"], 3)
    holdout = read_exr(path["holdout"], 3)[..., 0]
    plate = read_exr(path["plate"], 4)[..., :3]
    composite = read_exr(path["composite"], 4)[..., :3]
    truth = {
        b.name: st.rasterize(box_triangles(b), frame["K_opencv"], frame["w2c_opencv"], w, h)
        for b in boxes
    }
    both = truth["Front Box"] | truth["Beside Box"]
    st.check(truth["Front Box"].sum() > 300, f"front box covers {truth['Front Box'].sum()} px")
    score = st.iou(holdout > 0.5, both)
    st.check(score >= 0.95, f"holdout mask IoU with the boxes' projection {score:.4f} >= 0.95")
    st.check(
        holdout.min() >= -0.05 and holdout.max() <= 1.05,
        f"holdout mask within [0, 1] up to the pixel filter's overshoot "
        f"({holdout.min():.3f}..{holdout.max():.3f})",
    )
    far = ~np.zeros_like(both)
    ys, xs = np.nonzero(both)
    far[max(ys.min() - 3, 0) : ys.max() + 4, max(xs.min() - 3, 0) : xs.max() + 4] = False
    st.check(
        holdout[far].max() < 0.01, f"no holdout away from the boxes (max {holdout[far].max():.4f})"
    )
    alpha = product[..., 3]
    # The box's silhouette shrunk by a pixel: its antialiased edge may let
    # a little of the product through.
    inner = truth["Front Box"].copy()
    inner[1:-1, 1:-1] &= (
        truth["Front Box"][:-2, 1:-1]
        & truth["Front Box"][2:, 1:-1]
        & truth["Front Box"][1:-1, :-2]
        & truth["Front Box"][1:-1, 2:]
    )
    hidden = silhouette & inner
    st.check(hidden.sum() >= 30, f"the front box covers {hidden.sum()} px of the product")
    st.check(
        alpha[hidden].max() < 0.01,
        f"product hidden behind the front box (max alpha {alpha[hidden].max():.4f})",
    )
    shown = ((alpha > 0.5) & silhouette & ~both).sum()
    st.check(shown > 30, f"the rest of the product visible: {shown} px")
    recombined = product[..., :3] + (1 - alpha[..., None]) * plate * shadow
    err = np.abs(recombined - composite).max()
    st.check(err <= 1 / 255, f"plate x shadow + product = composite: max error {err * 255:.3f}/255")


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
