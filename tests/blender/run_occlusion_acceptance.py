"""Issue 20's occlusion and contact-shadow acceptance test: the proxies of the
reconstruction hide the product behind a real box and catch its shadow on
another, checked against the generator's ground truth rendered WITH the
product.

    blender -b --factory-startup --python tests/blender/run_occlusion_acceptance.py -- \
        --vanelia build/bin/vanelia --clip tests/data/clips/occluder \
        --product tests/data/sample/product.glb --out DIR [--samples 16] \
        [--native build/python]

The clip (tests/data/generate/make_clip.py --preset occluder, committed): the
camera orbits the product's spot while a box (Occluder) passes between them;
a box beside the spot (Beside) receives the product's shadow from the
generator's sun. Its truth/NNNN.png masks: R product visible, G Beside
visible, B the product's shadow on Beside.

The track: the gt cameras (the clip's gt.json) carrying the points below;
the proxies come from those points alone (native build_proxies).
The scene is built by the add-on (scene/build.py: the product at the truth's
spot and height, turned 0; the sun at the generator's sun direction; the
proxies), the passes (render/passes.py, EXR) rendered for every frame:
- product visible mask (product pass alpha > 0.5) vs truth R: IoU >= 0.90 on
  every frame where the truth shows >= 200 product pixels;
- the shadow on the Beside box (shadow pass below the midpoint between 1 and
  its umbra level, within truth G | B) vs truth B on every frame where the
  truth shows >= 100 shadow pixels: IoU >= 0.80 (issue 20; measured min
  0.825, median 0.944; with the gt boxes themselves as proxies 0.851 /
  0.947, the rest being render noise and antialiasing on a 10-15 px wide
  region).
The points: by default (--points gt) a reconstruction-like cloud sampled
from gt.json's boxes (the faces a camera sees, 1 cm noise, 2 % outliers in
the air, floor points) carried by the gt cameras. --points classical runs
the classical tracker (`vanelia track`) and uses its own track, cameras and
points together (its cameras are 1-1.6 degrees off the gt cameras, so its
points under the gt cameras land up to 8 px off the boxes): the product's
base and top are triangulated with the tracked cameras from where the truth
shows them, the sun turned by the rotation that maps the tracked cameras
onto the gt cameras. Its points are noisy (~8 cm along the view rays on this
320x180 24-frame orbit, its floor 3-3.5 degrees off the cameras' up):
floor/proxies.cpp fits the floor they show and splits clusters at density
valleys, and the occluder comes out separate, but its box is still a few cm
too large/near (product IoU min 0.55 on the occluded frames) and the box
beside merges with the one behind it (shadow IoU ~0.06): not gated yet.
Writes DIR/report.json (IoU per frame) and DIR/view_NNNN.png (plate | truth
| render masks) for a few frames. Exits 1 when a check fails.
"""

import argparse
import json
import os
import subprocess
import sys

import bpy
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scene_testing as st  # noqa: E402
from run_passes_holdout import read_exr  # noqa: E402
from run_placement_acceptance import gt_from_tracked  # noqa: E402

sys.path.insert(0, st.ADDON)
from vanelia_blender.core import media, track_file  # noqa: E402
from vanelia_blender.render import passes  # noqa: E402
from vanelia_blender.scene import build  # noqa: E402

MIN_PRODUCT_PX = 200
MIN_SHADOW_PX = 100
PRODUCT_IOU = 0.90
# The shadow regions are thin (10-15 px wide, 110-340 px): a proxy face 1.5
# cm off the real one moves the shadow by ~1 px and costs ~0.25 of IoU (the
# proxies' trimmed extents did, min 0.55, before floor/proxies.cpp put the
# seen faces on their points' median).
SHADOW_IOU = 0.80


def parse():
    argv = sys.argv[sys.argv.index("--") + 1 :]
    p = argparse.ArgumentParser()
    p.add_argument("--vanelia", required=True, help="the vanelia CLI (classical tracker)")
    p.add_argument("--clip", required=True, help="folder with video.mp4, gt.json, truth/")
    p.add_argument("--product", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--samples", type=int, default=16)
    p.add_argument(
        "--points",
        choices=("gt", "classical"),
        default="gt",
        help="the reconstruction the proxies come from: sampled from gt.json's boxes (noise, "
        "outliers) or the classical tracker's (not accurate enough on this clip, see the doc)",
    )
    p.add_argument(
        "--native",
        default=os.path.join(st.REPO, "build", "python"),
        help="folder of the built _vanelia module (the proxies are native)",
    )
    return p.parse_args(argv)


def project(frame, xyz):
    """Pixels (OpenCV) of the world points `xyz` [N, 3] in a track/gt frame."""
    w2c = np.linalg.inv(np.array(frame["c2w_blender"], dtype=np.float64))
    cam = (w2c[:3, :3] @ np.asarray(xyz, dtype=np.float64).T).T + w2c[:3, 3]
    cam *= np.array([1.0, -1.0, -1.0])  # Blender camera -> OpenCV
    uv = (np.array(frame.get("K", frame.get("K_opencv")), dtype=np.float64) @ cam.T).T
    return uv[:, :2] / uv[:, 2:3]


def triangulate(frames, pixels):
    """The world point whose rays through `pixels` (one per frame) pass
    closest to it (least squares over the rays)."""
    a, b = np.zeros((3, 3)), np.zeros(3)
    for f, px in zip(frames, pixels):
        c2w = np.array(f["c2w_blender"], dtype=np.float64)
        k = np.array(f["K"], dtype=np.float64)
        ray = np.linalg.solve(k, np.array([px[0], px[1], 1.0])) * np.array([1.0, -1.0, -1.0])
        d = c2w[:3, :3] @ ray
        d /= np.linalg.norm(d)
        m = np.eye(3) - np.outer(d, d)
        a += m
        b += m @ c2w[:3, 3]
    return np.linalg.solve(a, b)


def classical_track(args, gt, video):
    """The classical tracker's own track (`vanelia track`, every frame):
    its cameras and its points, so the proxies and the cameras that render
    them agree the way they do in a real run. The truth's product and sun
    are moved into its world: the product's base and top where the truth
    shows them (triangulated from their gt pixels with the tracked cameras,
    the spot an artist picks in the image), the sun turned by the rotation
    that maps the tracked cameras onto the gt cameras."""
    tracked = os.path.join(args.out, "classical.json")
    subprocess.run(
        [args.vanelia, "track", video, "-o", tracked, "--overwrite", "--quiet"],
        check=True,
    )
    tr = json.load(open(tracked))
    print(f"classical track: {len(tr['frames'])} frames, {len(tr['points']['xyz'])} points")
    truth = gt["product_truth"]
    base = np.array(truth["location"], dtype=np.float64)
    top = base + np.array([0.0, 0.0, truth["height_m"]])
    by_index = {f["index"]: f for f in gt["frames"]}
    frames = [f for f in tr["frames"] if f["index"] in by_index]
    ends = [
        triangulate(frames, [project(by_index[f["index"]], [p])[0] for f in frames])
        for p in (base, top)
    ]
    _, r, _ = gt_from_tracked(st.gt_to_track(gt), tr)
    az, el = np.radians(truth["sun"]["azimuth_deg"]), np.radians(truth["sun"]["elevation_deg"])
    sun = r.T @ np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    placed = {
        "location": ends[0].tolist(),
        "rotation_z_deg": truth["rotation_z_deg"] - float(np.degrees(np.arctan2(r[1, 0], r[0, 0]))),
        "height_m": float(np.linalg.norm(ends[1] - ends[0])),
        "sun_azimuth_deg": float(np.degrees(np.arctan2(sun[1], sun[0]))),
        "sun_elevation_deg": float(np.degrees(np.arcsin(np.clip(sun[2], -1.0, 1.0)))),
    }
    print(f"classical placement: {placed}", flush=True)
    return tracked, placed


def track_with_points(args, gt, video):
    """The track file and the product's and sun's placement in its world:
    the gt cameras carrying points sampled from gt.json's boxes (--points gt)
    or the classical tracker's own track (--points classical)."""
    if args.points == "classical":
        return classical_track(args, gt, video)
    doc = st.gt_to_track(gt)
    xyz = st.gt_points(gt)
    doc["points"] = {
        "xyz": xyz,
        "rgb": [[128, 128, 128]] * len(xyz),
        "confidence": [1.0] * len(xyz),
    }
    truth = gt["product_truth"]
    placed = {
        "location": truth["location"],
        "rotation_z_deg": truth["rotation_z_deg"],
        "height_m": truth["height_m"],
        "sun_azimuth_deg": truth["sun"]["azimuth_deg"],
        "sun_elevation_deg": truth["sun"]["elevation_deg"],
    }
    return st.write_json(doc, os.path.join(args.out, "track.json")), placed


def read_mask_png(path):
    img = bpy.data.images.load(path)
    w, h = img.size
    px = np.empty(w * h * 4, np.float32)
    img.pixels.foreach_get(px)
    bpy.data.images.remove(img)
    return px.reshape(h, w, 4)[::-1, :, :3] > 0.5


def build_and_render(args, gt, video, track_path, placed):
    truth = gt["product_truth"]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    options = build.BuildOptions(
        plate_path=video,
        info=media.probe_video(video),
        track=track_file.load(track_path),
        product_path=args.product,
        location=placed["location"],
        rotation_z_deg=placed["rotation_z_deg"],
        height_m=placed["height_m"],
        sun_azimuth_deg=placed["sun_azimuth_deg"],
        sun_elevation_deg=placed["sun_elevation_deg"],
        samples=args.samples,
        over_plate=False,
    )
    built = build.build_scene(scene, options)
    # The generator's sun disc too (the add-on's key light is 1.5 deg).
    built.sun.data.angle = np.radians(truth["sun"]["angle_deg"])
    print(f"proxies: {built.proxies_report}", flush=True)
    st.check(len(built.proxies) >= 2, f"{len(built.proxies)} proxies built (>= 2)")
    for obj in built.proxies:
        st.check(obj.is_shadow_catcher, f"{obj.name} catches shadows")
        st.check(obj.display_type == "WIRE", f"{obj.name} drawn as a wireframe")
    folder = os.path.join(args.out, "passes")
    frames = [f["index"] + 1 for f in gt["frames"]]
    passes.check_passes(folder, "exr", frames, overwrite=True)
    passes.configure_passes(scene, built, folder, "exr")
    for frame in frames:
        scene.frame_set(frame)
        scene.render.filepath = os.path.join(args.out, "render", f"{frame:04d}.png")
        bpy.ops.render.render(write_still=True)
    return folder, built


def shadow_threshold(shadow, region):
    """Midpoint between 1 (no shadow) and the umbra's multiplier."""
    values = shadow[region]
    dark = values[values < 0.9]
    umbra = np.percentile(dark, 5) if dark.size else 0.0
    return 0.5 * (1.0 + umbra)


def save_view(args, gt, index, truth, visible, shadow_mask):
    plate_path = os.path.join(args.out, "render", f"{index + 1:04d}.png")
    h, w = visible.shape
    rows = np.zeros((h, 2 * w, 3), np.float32)
    rows[:, :w] = truth.astype(np.float32)
    rows[:, w:, 0] = visible
    rows[:, w:, 2] = shadow_mask
    img = bpy.data.images.new("view", 2 * w, h, alpha=False)
    rgba = np.ones((h, 2 * w, 4), np.float32)
    rgba[..., :3] = rows[::-1]
    img.pixels.foreach_set(rgba.ravel())
    img.filepath_raw = os.path.join(args.out, f"view_{index:04d}.png")
    img.file_format = "PNG"
    img.save()
    bpy.data.images.remove(img)
    return plate_path


def compare(args, gt, folder):
    rows = []
    for f in gt["frames"]:
        i = f["index"]
        truth = read_mask_png(os.path.join(args.clip, "truth", f"{i:04d}.png"))
        product = read_exr(passes.pass_path(folder, "product", i + 1, "exr"), 4)
        shadow = read_exr(passes.pass_path(folder, "shadow", i + 1, "exr"), 3).mean(-1)
        visible = product[..., 3] > 0.5
        box = truth[..., 1] | truth[..., 2]
        shadow_mask = box & (shadow < shadow_threshold(shadow, box)) & ~visible
        row = {
            "index": i,
            "truth_product_px": int(truth[..., 0].sum()),
            "render_product_px": int(visible.sum()),
            "product_iou": st.iou(visible, truth[..., 0]),
            "truth_shadow_px": int(truth[..., 2].sum()),
            "render_shadow_px": int(shadow_mask.sum()),
            "shadow_iou": st.iou(shadow_mask, truth[..., 2]),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
        if i % 6 == 0:
            save_view(args, gt, i, truth, visible, shadow_mask)
    return rows


def summary(rows, key, count_key, minimum):
    values = [r[key] for r in rows if r[count_key] >= minimum]
    if not values:
        return {"frames": 0}
    return {
        "frames": len(values),
        "min": float(np.min(values)),
        "median": float(np.median(values)),
        "worst_frame": min((r for r in rows if r[count_key] >= minimum), key=lambda r: r[key])[
            "index"
        ],
    }


def main():
    args = parse()
    sys.path.insert(0, os.path.abspath(args.native))
    os.makedirs(args.out, exist_ok=True)
    gt = json.load(open(os.path.join(args.clip, "gt.json")))
    video = os.path.join(args.clip, "video.mp4")
    track_path, placed = track_with_points(args, gt, video)
    folder, built = build_and_render(args, gt, video, track_path, placed)
    rows = compare(args, gt, folder)
    report = {
        "proxies": built.proxies_report,
        "product_iou": summary(rows, "product_iou", "truth_product_px", MIN_PRODUCT_PX),
        "shadow_iou": summary(rows, "shadow_iou", "truth_shadow_px", MIN_SHADOW_PX),
        "frames": rows,
    }
    st.write_json(report, os.path.join(args.out, "report.json"))
    print(json.dumps({k: report[k] for k in ("proxies", "product_iou", "shadow_iou")}), flush=True)
    p, s = report["product_iou"], report["shadow_iou"]
    st.check(p["frames"] >= 12, f"{p['frames']} frames show >= {MIN_PRODUCT_PX} product px")
    st.check(s["frames"] >= 6, f"{s['frames']} frames show >= {MIN_SHADOW_PX} shadow px")
    st.check(
        p["min"] >= PRODUCT_IOU,
        f"product visible mask IoU min {p['min']:.3f} (frame {p['worst_frame']}), "
        f"median {p['median']:.3f} >= {PRODUCT_IOU}",
    )
    st.check(
        s["min"] >= SHADOW_IOU,
        f"shadow on the box beside IoU min {s['min']:.3f} (frame {s['worst_frame']}), "
        f"median {s['median']:.3f} >= {SHADOW_IOU}",
    )
    occluded = [
        r for r in rows if r["truth_product_px"] < 0.7 * max(x["truth_product_px"] for x in rows)
    ]
    st.check(
        len(occluded) >= 4, f"the occluder hides part of the product on {len(occluded)} frames"
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
