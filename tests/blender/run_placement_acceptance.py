"""Issue 20's acceptance test of the automatic placement, from rendered masks.

    /usr/bin/python3 tests/blender/run_placement_acceptance.py \
        --vanelia build/bin/vanelia --blender blender \
        --footage ../shared/footage --product tests/data/sample/product.glb \
        [--clips orbit dolly_pan] [--height CLIP=M ...] [--every 4] [--json OUT]

For each clip with ground truth: the gt cameras (`vanelia import-track`)
carry the points of the clip's classical track (`vanelia track --every 2`),
moved into the gt world by the similarity that maps the tracked cameras onto
the gt cameras (rotation from the camera orientations, scale and translation
from the centres), so the placement sees what a real reconstruction sees.
`vanelia run --track T --keep-blend` (no --location: automatic placement,
1 sample, one frame rendered) saves the scene; Blender then renders the
product alone (tests/blender/placement_masks.py: Workbench, transparent
film, half size, every --every-th frame). Checked from those masks, not from
the placement's own report:
  - the product is fully inside the frame (mask not empty, off the border
    pixels) on >= 95 % of the rendered frames;
  - its median mask height is 15-50 % of the frame height;
  - its world footprint (mesh bounding-box corners) intersects no static
    `scene_objects` box or cylinder of gt.json.
`--height CLIP=M` gives a clip the product height M (`vanelia run
--height`); for such a clip the run at real size must say why it is too
small (the placement's fallback reason in the run's log).
Exits 1 when a check fails.
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def sh(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-2000:] + result.stderr[-4000:])
        raise RuntimeError(f"exit {result.returncode}: {' '.join(cmd)}")
    return result.stdout + result.stderr


def c2w(frame):
    return np.array(frame["c2w_blender"], dtype=np.float64)


def gt_from_tracked(gt, tracked):
    """(s, R, t) with x_gt = s R x_tracked + t, from the frames both have."""
    by_index = {f["index"]: c2w(f) for f in gt["frames"]}
    pairs = [(by_index[f["index"]], c2w(f)) for f in tracked["frames"] if f["index"] in by_index]
    m = sum(g[:3, :3] @ k[:3, :3].T for g, k in pairs)
    u, _, vt = np.linalg.svd(m)
    r = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt
    a = np.array([r @ k[:3, 3] for _, k in pairs])
    b = np.array([g[:3, 3] for g, _ in pairs])
    a0, b0 = a - a.mean(0), b - b.mean(0)
    s = float((a0 * b0).sum() / (a0 * a0).sum())
    return s, r, b.mean(0) - s * a.mean(0)


def track_with_points(cli, clip_dir, work):
    gt_track = os.path.join(work, "gt_track.json")
    tracked = os.path.join(work, "classical.json")
    sh([cli, "import-track", os.path.join(clip_dir, "gt.json"), "-o", gt_track, "--quiet"])
    video = os.path.join(clip_dir, "video.mp4")
    sh([cli, "track", video, "-o", tracked, "--every", "2", "--quiet"])
    doc = json.load(open(gt_track))
    tr = json.load(open(tracked))
    s, r, t = gt_from_tracked(doc, tr)
    xyz = np.array(tr["points"]["xyz"], dtype=np.float64)
    doc["points"] = dict(tr["points"], xyz=((s * (r @ xyz.T)).T + t).tolist())
    out = os.path.join(work, "track.json")
    with open(out, "w") as f:
        json.dump(doc, f)
    return out, s


def run_placed(args, clip_dir, track, work, height):
    out = os.path.join(work, "final.mp4")
    cmd = [args.vanelia, "run", os.path.join(clip_dir, "video.mp4"), args.product]
    cmd += ["--track", track, "-o", out, "--samples", "1", "--end", "1", "--keep-blend"]
    cmd += ["--overwrite"] + (["--height", str(height)] if height else [])
    log = sh(cmd)
    lines = [ln for ln in log.splitlines() if "placement:" in ln]
    if not lines:
        raise RuntimeError("vanelia run printed no placement line")
    return os.path.splitext(out)[0] + ".blend", lines[-1]


def render_masks(args, blend, work):
    out = os.path.join(work, "masks.json")
    sh(
        [args.blender, "-b", blend, "--factory-startup", "--python"]
        + [os.path.join(HERE, "placement_masks.py"), "--", "--out", out]
        + ["--every", str(args.every)]
    )
    return json.load(open(out))


def box_polygon(obj):
    cx, cy = obj["location"][:2]
    sx, sy = obj["size"][0] / 2, obj["size"][1] / 2
    a = math.radians(obj.get("rotation_z_deg", 0.0))
    c, s = math.cos(a), math.sin(a)
    return [
        [cx + c * x - s * y, cy + s * x + c * y]
        for x, y in ((-sx, -sy), (sx, -sy), (sx, sy), (-sx, sy))
    ]


def hull(points):
    pts = sorted(map(tuple, points))
    if len(pts) < 3:
        return pts

    def half(seq):
        out = []
        for p in seq:
            while (
                len(out) >= 2
                and np.cross(np.subtract(out[-1], out[-2]), np.subtract(p, out[-2])) <= 0
            ):
                out.pop()
            out.append(p)
        return out

    return half(pts)[:-1] + half(pts[::-1])[:-1]


def polygons_overlap(a, b):
    """Separating-axis test of two convex polygons."""
    for poly in (a, b):
        for i in range(len(poly)):
            edge = np.subtract(poly[(i + 1) % len(poly)], poly[i])
            axis = np.array([-edge[1], edge[0]])
            pa, pb = np.dot(a, axis), np.dot(b, axis)
            if pa.max() < pb.min() or pb.max() < pa.min():
                return False
    return True


def circle_overlaps(poly, centre, radius):
    poly = np.array(poly)
    inside = polygons_overlap(poly.tolist(), [centre] * 3) if len(poly) else False
    if inside:
        return True
    for i in range(len(poly)):
        p, q = poly[i], poly[(i + 1) % len(poly)]
        d = q - p
        u = np.clip(np.dot(np.subtract(centre, p), d) / max(np.dot(d, d), 1e-12), 0, 1)
        if np.linalg.norm(p + u * d - centre) < radius:
            return True
    return False


def intersections(masks, objects):
    foot = hull(masks["footprint_xy"])
    hits = []
    for obj in objects:
        top = obj["location"][2] + obj["size"][-1] / 2
        bottom = obj["location"][2] - obj["size"][-1] / 2
        if masks["z_lo"] >= top or masks["z_hi"] <= bottom:
            continue
        if obj["kind"] == "cyl":
            hit = circle_overlaps(foot, obj["location"][:2], obj["size"][0] / 2)
        else:
            hit = polygons_overlap(foot, box_polygon(obj))
        if hit:
            hits.append(obj["name"])
    return hits


def check_clip(args, name, height):
    clip_dir = os.path.join(args.footage, name)
    gt = json.load(open(os.path.join(clip_dir, "gt.json")))
    with tempfile.TemporaryDirectory(prefix=f"vanelia-place-{name}-") as work:
        track, scale = track_with_points(args.vanelia, clip_dir, work)
        blend, line = run_placed(args, clip_dir, track, work, height)
        masks = render_masks(args, blend, work)
        real_line = None
        if height:
            _, real_line = run_placed(args, clip_dir, track, work, None)
    frames = masks["frames"]
    full = [not f["touches_border"] and f["pixels"] > 0 for f in frames]
    heights = [(f["bottom"] - f["top"] + 1) / f["height"] for f in frames if f["pixels"] > 0]
    result = {
        "clip": name,
        "height_m": height,
        "frames_rendered": len(frames),
        "fully_visible_fraction": sum(full) / len(frames),
        "median_height_fraction": float(np.median(heights)) if heights else 0.0,
        "intersects": intersections(masks, gt["scene_objects"]),
        "location": masks["location"],
        "heading_deg": math.degrees(masks["rotation_z"]),
        "points_scale": scale,
        "placement_line": line,
        "real_size_line": real_line,
    }
    failures = []
    if result["fully_visible_fraction"] < 0.95:
        failures.append("fully visible on < 95 % of the frames")
    if not 0.15 <= result["median_height_fraction"] <= 0.50:
        failures.append("median height outside 15-50 % of the frame")
    if result["intersects"]:
        failures.append(f"intersects {result['intersects']}")
    if real_line is not None and not re.search(r"no free floor spot in view shows", real_line):
        failures.append("the real-size run does not say why the product is small")
    return result, failures


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vanelia", required=True)
    p.add_argument("--blender", default="blender")
    p.add_argument("--footage", required=True)
    p.add_argument("--product", required=True)
    p.add_argument("--clips", nargs="+", default=["orbit", "dolly_pan"])
    p.add_argument("--height", nargs="*", default=[], help="CLIP=METRES")
    p.add_argument("--every", type=int, default=4)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    heights = dict((k, float(v)) for k, v in (h.split("=") for h in args.height))
    results, failed = [], False
    for name in args.clips:
        result, failures = check_clip(args, name, heights.get(name))
        results.append(result)
        print(json.dumps(result), flush=True)
        for f in failures:
            print(f"FAIL {name}: {f}", file=sys.stderr)
        failed = failed or bool(failures)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
