"""Real Cycles renders of a few frames of a clip with ground truth.

    blender -b --factory-startup --python tests/blender/run_render_frames.py -- \
        --video V --gt gt.json --product P.glb --out DIR [--frames 0,40]

Checks, on each tested frame:
- geometry: the product's object-index silhouette (rendered through the
  camera built from the track, with the batch's render border) against the
  ground-truth camera's projection of the product mesh: IoU >= 0.97;
- shadow: the shadow catcher's alpha darkens the floor beside the product
  and nowhere far from it;
- plate: Blender frame N of the compositor's plate is decoded frame N - 1.
"""

import argparse
import os
import sys

import bpy
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scene_testing as st  # noqa: E402

sys.path.insert(0, st.ADDON)
from vanelia_blender.batch import _region  # noqa: E402
from vanelia_blender.core import media  # noqa: E402
from vanelia_blender.render import render_plan  # noqa: E402
from vanelia_blender.core import track_file  # noqa: E402
from vanelia_blender.render import cycles  # noqa: E402
from vanelia_blender.scene import build, compositing  # noqa: E402


def parse():
    argv = sys.argv[sys.argv.index("--") + 1 :]
    p = argparse.ArgumentParser()
    p.add_argument("--video", required=True)
    p.add_argument("--gt", required=True)
    p.add_argument("--product", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--frames", default="0,40")
    p.add_argument("--samples", type=int, default=4)
    return p.parse_args(argv)


def add_mask_output(scene, folder):
    """Object index 1 -> binary PNG via a File Output node."""
    tree = scene.node_tree
    layers = tree.nodes["Vanelia Render Layers"]
    mask = tree.nodes.new("CompositorNodeIDMask")
    mask.index = 1
    mask.use_antialiasing = False
    out = tree.nodes.new("CompositorNodeOutputFile")
    out.base_path = folder
    out.format.file_format = "PNG"
    out.format.color_mode = "BW"
    out.file_slots[0].path = "mask_"
    tree.links.new(layers.outputs["IndexOB"], mask.inputs[0])
    tree.links.new(mask.outputs[0], out.inputs[0])


def product_triangles(empty):
    deps = bpy.context.evaluated_depsgraph_get()
    tris = []
    for obj in build.product.mesh_objects(empty):
        ev = obj.evaluated_get(deps)
        mesh = ev.to_mesh()
        mesh.calc_loop_triangles()
        m = np.array(obj.matrix_world)
        co = np.array([v.co[:] for v in mesh.vertices])
        co = co @ m[:3, :3].T + m[:3, 3]
        idx = np.array([t.vertices[:] for t in mesh.loop_triangles])
        tris.append(co[idx])
        ev.to_mesh_clear()
    return np.concatenate(tris)


def main():
    args = parse()
    import json

    os.makedirs(args.out, exist_ok=True)
    gt = json.load(open(args.gt))
    frames = [int(x) for x in args.frames.split(",")]
    track_path = st.write_json(st.gt_to_track(gt), os.path.join(args.out, "track.json"))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    info = media.probe_video(args.video)
    options = build.BuildOptions(
        plate_path=args.video,
        info=info,
        track=track_file.load(track_path),
        product_path=args.product,
        samples=args.samples,
        over_plate=False,
    )
    built = build.build_scene(scene, options)
    scene.view_layers[0].use_pass_object_index = True
    scene.render.filter_size = 0.01  # index pass sampled at pixel centres
    add_mask_output(scene, args.out)
    tris = product_triangles(built.product)
    points = build.region_points(built)
    w, h = info.width, info.height
    gt_by_index = {f["index"]: f for f in gt["frames"]}
    for k, index in enumerate(frames):
        scene.frame_set(index + 1)
        region = _region(scene, built.camera, w, h, points)
        # The first frame renders whole (the shadow must stay in the region
        # the border would keep), the others with the batch's border.
        border = render_plan.border_of_region(region, w, h) if k else None
        cycles.set_border(scene, border)
        scene.render.filepath = os.path.join(args.out, f"render_{index:04d}.png")
        bpy.ops.render.render(write_still=True)
        mask = st.read_png(os.path.join(args.out, f"mask_{index + 1:04d}.png"))[..., 0] > 127
        f = gt_by_index[index]
        truth = st.rasterize(tris, f["K_opencv"], f["w2c_opencv"], w, h)
        score = st.iou(mask, truth)
        check_geometry(index, score, truth, region)
        rgba = st.read_png(scene.render.filepath, rgba=True)
        check_shadow(index, rgba, truth, region)
    check_plate_frames(scene, built, info, args)


def check_geometry(index, score, truth, region):
    st.check(truth.sum() > 200, f"frame {index}: product covers {truth.sum()} px")
    st.check(score >= 0.97, f"frame {index}: silhouette IoU {score:.4f} >= 0.97")
    ys, xs = np.nonzero(truth)
    x0, y0, x1, y1 = region
    st.check(
        xs.min() >= x0 and xs.max() <= x1 and ys.min() >= y0 and ys.max() <= y1,
        f"frame {index}: product inside the render region {region}",
    )


def check_shadow(index, rgba, product_mask, region):
    """Alpha of the floor (not the product): the shadow catcher's darkening."""
    alpha = rgba[..., 3].astype(float) / 255.0
    # Visible darkening (> 0.12) must lie in the region. Fainter specks far
    # away are the sky that the product hides from the floor, sampled with
    # few samples: tiny in expectation (the mean is checked below).
    ys, xs = np.nonzero(alpha > 0.12)
    x0, y0, x1, y1 = region
    st.check(
        xs.min() >= x0 and xs.max() <= x1 and ys.min() >= y0 and ys.max() <= y1,
        f"frame {index}: product and shadow inside the render region {region}",
    )
    ys, xs = np.nonzero(product_mask)
    size = max(xs.max() - xs.min(), ys.max() - ys.min())
    yy, xx = np.mgrid[: alpha.shape[0], : alpha.shape[1]]
    # Distance (in product sizes) from the product's bounding box.
    dx = np.maximum(np.maximum(xs.min() - xx, xx - xs.max()), 0)
    dy = np.maximum(np.maximum(ys.min() - yy, yy - ys.max()), 0)
    dist = np.hypot(dx, dy) / size
    dilated = dist < 0.02
    beside = (dist < 1.0) & ~dilated
    far = dist > 3.0
    dark_beside = (alpha[beside] > 0.15).sum()
    st.check(dark_beside > 50, f"frame {index}: {dark_beside} floor px beside darkened")
    st.check(
        alpha[far].max() < 0.12 and alpha[far].mean() < 0.002,
        f"frame {index}: no shadow far away (max alpha {alpha[far].max():.3f}, "
        f"mean {alpha[far].mean():.5f})",
    )


def check_plate_frames(scene, built, info, args):
    """Compositor plate at Blender frame N == decoded frame N - 1."""
    compositing.build_compositing(scene, built.clip, False, over_plate=True)
    cycles.set_border(scene, None)
    built.product.hide_render = True
    for obj in built.product.children_recursive:
        obj.hide_render = True
    scene.render.image_settings.color_mode = "RGB"
    scene.cycles.samples = 1
    decoded = st.decode_frames(args.video)
    for n in (1, 2, 7, 24):
        scene.frame_set(n)
        scene.render.filepath = os.path.join(args.out, f"plate_{n:04d}.png")
        bpy.ops.render.render(write_still=True)
        plate = st.read_png(scene.render.filepath)
        scores = {k: st.psnr(plate, decoded[k]) for k in (n - 2, n - 1, n) if k >= 0}
        best = max(scores, key=scores.get)
        st.check(
            best == n - 1 and scores[n - 1] >= 35.0,
            f"Blender frame {n} shows decoded frame {best} "
            f"(PSNR {', '.join(f'{k}: {v:.1f}' for k, v in scores.items())})",
        )


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
