"""Issue 20's depth-holdout acceptance test: with a track's depth sidecar, a MOVING real box
hides the product per frame (the proxies are static and cannot), checked against the
generator's ground truth rendered WITH the product.

    blender -b --factory-startup --python tests/blender/run_depth_holdout_acceptance.py -- \
        --clip tests/data/clips/slider --product tests/data/sample/product.glb --out DIR \
        [--samples 4]

The clip (tests/data/generate/make_clip.py --preset slider --depth-sidecar 4, committed): the
occluder clip's camera arc while a box (Slider) slides sideways between the camera and the
product spot; truth/NNNN.png R = the product visible (the scene rendered with the product);
depth/ = the gt-derived depth sidecar (Cycles' Z pass of the scene without the product at
80x45, a quarter of the clip's 320x180; confidence 1 where the ray hits the scene).
The track: the gt cameras (gt.json) with a `depth` object naming the clip's depth/ folder,
written and read back through core/track_file (the C++ reader's twin) and core/depth_sidecar.
The scene is built by the add-on (scene/build.py with depth_folder: the product at the truth's
spot, height and heading; no proxies, so the depth test alone hides it) and the passes
(render/passes.py) rendered for every frame:
- the build reports occlusion "depth";
- product visible mask (product pass alpha > 0.5) vs truth R: IoU >= 0.90 on every frame
  where the truth shows >= 200 product pixels;
- the slider hides part of the product (truth < 0.8 x its largest count) on >= 4 frames, so
  a render without the holdout would fail the IoU there;
- the farm: the built scene saved as a farm job (render/farm_steps.save_job, as `--step build`)
  and a chunk of FARM_FRAMES frames from the first hidden one rendered by `batch.py --step
  render` in another Blender process: each frame's RGBA equals this process's render within
  2.5/255 (its depth holdout armed again from the saved scene; without the re-arm the product
  shows there and the frame differs by up to 1.0).
Writes DIR/report.json (IoU per frame). Exits 1 when a check fails.
"""

import argparse
import json
import os
import subprocess
import sys
import types

import bpy
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scene_testing as st  # noqa: E402
from run_occlusion_acceptance import read_mask_png, summary  # noqa: E402
from run_passes_holdout import read_exr  # noqa: E402

sys.path.insert(0, st.ADDON)
from vanelia_blender.core import depth_sidecar, media, track_file  # noqa: E402
from vanelia_blender.render import farm_steps, passes, region_render  # noqa: E402
from vanelia_blender.scene import build  # noqa: E402

MIN_PRODUCT_PX = 200
PRODUCT_IOU = 0.90
FARM_FRAMES = 3


def parse():
    argv = sys.argv[sys.argv.index("--") + 1 :]
    p = argparse.ArgumentParser()
    p.add_argument("--clip", required=True, help="folder with video.mp4, gt.json, truth/, depth/")
    p.add_argument("--product", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--samples", type=int, default=4)
    return p.parse_args(argv)


def track_with_depth(args, gt):
    """The gt track naming the clip's depth sidecar (absolute path), written and read back."""
    doc = st.gt_to_track(gt)
    doc["depth"] = dict(gt["depth_sidecar"])
    doc["depth"]["path"] = os.path.abspath(os.path.join(args.clip, gt["depth_sidecar"]["path"]))
    path = os.path.join(args.out, "track.json")
    track_file.dump(doc, path, overwrite=True)
    return path


def build_and_render(args, gt, video, track_path):
    truth = gt["product_truth"]
    track = track_file.load(track_path)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    options = build.BuildOptions(
        plate_path=video,
        info=media.probe_video(video),
        track=track,
        product_path=args.product,
        location=truth["location"],
        rotation_z_deg=truth["rotation_z_deg"],
        height_m=truth["height_m"],
        samples=args.samples,
        over_plate=False,
        proxies=False,
        depth_folder=depth_sidecar.folder_of(track, track_path),
    )
    built = build.build_scene(scene, options)
    st.check(built.occlusion == "depth", f"occlusion path {built.occlusion!r} is 'depth'")
    folder = os.path.join(args.out, "passes")
    frames = [f["index"] + 1 for f in gt["frames"]]
    passes.check_passes(folder, "exr", frames, overwrite=True)
    passes.configure_passes(scene, built, folder, "exr")
    for frame in frames:
        scene.frame_set(frame)
        scene.render.filepath = os.path.join(args.out, "render", f"{frame:04d}.png")
        bpy.ops.render.render(write_still=True)
    save_farm_job(args, gt, video, scene, built)
    return folder


def save_farm_job(args, gt, video, scene, built):
    """The built scene as a farm job folder, saved by the farm's build step's own code."""
    job_dir = os.path.join(args.out, "job")
    os.makedirs(job_dir, exist_ok=True)
    for name in os.listdir(job_dir):
        if name.endswith(".png") or name.endswith(".json") or name.endswith(".blend"):
            os.remove(os.path.join(job_dir, name))
    frames_dir = os.path.join(job_dir, farm_steps.FRAMES_DIR)
    if os.path.isdir(frames_dir):
        for name in os.listdir(frames_dir):
            os.remove(os.path.join(frames_dir, name))
    job_args = types.SimpleNamespace(
        job_dir=job_dir,
        output=os.path.join(args.out, "farm.mp4"),
        overwrite=True,
        every=1,
        full_frame=True,
        codec="h264",
        passes="",
        passes_format="",
    )
    prepared = types.SimpleNamespace(
        info=types.SimpleNamespace(path=video),
        plate_path=video,
        indices=[f["index"] for f in gt["frames"]],
    )
    farm_steps.save_job(job_args, prepared, scene, built, types.SimpleNamespace(say=print))


def farm_render(args, rows):
    """Frames the slider hides, rendered by the farm's render step (another Blender process),
    against this process's render."""
    most = max(r["truth_product_px"] for r in rows)
    hidden = [r["index"] for r in rows if MIN_PRODUCT_PX <= r["truth_product_px"] < 0.8 * most]
    st.check(len(hidden) >= FARM_FRAMES, f"{len(hidden)} partly hidden frames for the farm")
    job_dir = os.path.join(args.out, "job")
    batch = os.path.join(st.ADDON, "vanelia_blender", "batch.py")
    # one chunk of FARM_FRAMES frames from the first hidden one, as a farm node renders it
    first = min(hidden[0], len(rows) - FARM_FRAMES)
    cmd = [bpy.app.binary_path, "-b", "--factory-startup", "--python", batch, "--"]
    cmd += ["--step", "render", "--job-dir", job_dir, "--start", str(first)]
    cmd += ["--end", str(first + FARM_FRAMES)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    tail = run.stderr[-2000:] if run.returncode else ""
    st.check(run.returncode == 0, f"farm render step: exit {run.returncode} {tail}")
    for index in range(first, first + FARM_FRAMES):
        k = index  # the job renders decoded frames 0..N-1: position == index
        farm = read_rgba(os.path.join(job_dir, farm_steps.FRAMES_DIR, region_render.frame_name(k)))
        one = read_rgba(os.path.join(args.out, "render", f"{index + 1:04d}.png"))
        diff = float(np.abs(farm - one).max())
        st.check(diff <= 2.5 / 255.0, f"farm frame {index}: RGBA within {diff:.4f} of the one run")


def read_rgba(path):
    img = bpy.data.images.load(path)
    w, h = img.size
    px = np.empty(w * h * 4, np.float32)
    img.pixels.foreach_get(px)
    bpy.data.images.remove(img)
    return px.reshape(h, w, 4)


def compare(args, gt, folder):
    rows = []
    for f in gt["frames"]:
        i = f["index"]
        truth = read_mask_png(os.path.join(args.clip, "truth", f"{i:04d}.png"))[..., 0]
        product = read_exr(passes.pass_path(folder, "product", i + 1, "exr"), 4)
        visible = product[..., 3] > 0.5
        row = {
            "index": i,
            "truth_product_px": int(truth.sum()),
            "render_product_px": int(visible.sum()),
            "product_iou": st.iou(visible, truth),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main():
    args = parse()
    os.makedirs(args.out, exist_ok=True)
    gt = json.load(open(os.path.join(args.clip, "gt.json")))
    video = os.path.join(args.clip, "video.mp4")
    folder = build_and_render(args, gt, video, track_with_depth(args, gt))
    rows = compare(args, gt, folder)
    report = {
        "occlusion": "depth",
        "product_iou": summary(rows, "product_iou", "truth_product_px", MIN_PRODUCT_PX),
        "frames": rows,
    }
    st.write_json(report, os.path.join(args.out, "report.json"))
    print(json.dumps(report["product_iou"]), flush=True)
    p = report["product_iou"]
    st.check(p["frames"] >= 10, f"{p['frames']} frames show >= {MIN_PRODUCT_PX} product px")
    st.check(
        p["min"] >= PRODUCT_IOU,
        f"product visible mask IoU min {p['min']:.3f} (frame {p['worst_frame']}), "
        f"median {p['median']:.3f} >= {PRODUCT_IOU}",
    )
    most = max(r["truth_product_px"] for r in rows)
    hidden = [r for r in rows if r["truth_product_px"] < 0.8 * most]
    st.check(len(hidden) >= 4, f"the slider hides part of the product on {len(hidden)} frames")
    farm_render(args, rows)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.exit(1)
