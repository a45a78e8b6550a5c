#!/usr/bin/env python3
"""Scores `vanelia track` on the real clips of tests/data/real against their COLMAP references.

    /usr/bin/python3 native/bench/real_footage.py [--names tum_office ...] [--no-colmap]
        [--json OUT.jsonl] [--root tests/data/real] [--nice 10]

For each clip folder (frames/ of JPEGs or video.mp4, plus reference/track.json made by
tests/data/real/make_references.sh; a clip without one, where COLMAP made no model, is tracked
and timed but not scored) it

1. runs `vanelia track CLIP` with the defaults (classical tracker, focal unknown) and times it
   (wall clock, frames of the clip / seconds = "our fps"; also the CPU seconds, user + system);
2. writes the reference as a gt.json for eval_track.py (the reference's registered frames,
   their cameras and focal) and scores the track's frames that the reference has: ATE as a %
   of the reference's path after a Sim(3) alignment, rotation error after the best global
   rotation, focal error; frames that we register and COLMAP does not are counted apart
   ("ours only"), since eval_track.py refuses frames its ground truth lacks. The floor: the
   reference has none of its own, so `vanelia align --no-scale` finds one in the reference's
   COLMAP points (our RANSAC on COLMAP's points: a check of our floor against COLMAP's
   geometry, not an independent truth; its inliers and confidence are reported) and
   eval_track.py compares our floor with it (plane_normal_err_cam_deg, product slip);
3. unless --no-colmap, times COLMAP 3.8 on the same frames with the pinned protocol of issue 17:
   feature_extractor --SiftExtraction.use_gpu 0 --SiftExtraction.num_threads 2,
   sequential_matcher --SequentialMatching.overlap 10 --SequentialMatching.loop_detection 0,
   mapper (one shared SIMPLE_RADIAL camera, as the reference). A video is decoded to PNG by
   ffmpeg first, outside the timed part (which flatters COLMAP, not us). A mapper that finds no
   initial pair is a result (0 registered), timed like any other.

Both commands run under the same `nice -n N` (default 10: the machine is shared); the speed
ratio is given on wall time and on CPU time, the latter less sensitive to other users' load.
Prints the vanelia binary's SHA-256, then one JSON line per clip (every number checked finite
before it is reported), then a table. Exit 0 when every clip was scored, 1 when a clip could
not be (a failed track is a score, not an error: registered 0, metrics null).
"""

import argparse
import hashlib
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIPS = ["tum_office", "cyprus_arch", "sam2_dog", "sam2_bedroom"]
METRICS = [
    "ate_pct",
    "rot_err_mean_deg",
    "rot_err_max_deg",
    "focal_err_pct_mean",
    "plane_normal_err_cam_deg",
    "slip_px_mean",
    "slip_px_max",
]


LEGEND = (
    "ours reg: frames with a pose (+N: of them, frames the reference lacks, not scored); "
    "ATE: % of the reference path after Sim(3); rot: after the best global rotation; "
    "floor deg / slip px: our floor against the one vanelia align finds in the reference's "
    "points (plane_normal_err_cam_deg, product slip mean); our fps and COLMAP fps: clip "
    "frames / wall seconds (COLMAP: the pinned sequential protocol); COLMAP reg*: frames "
    "registered by that pinned run; speed: COLMAP wall s / ours; speed cpu: the same with "
    "user+system CPU seconds (less sensitive to the load of a shared machine); no speed "
    "when either side registered nothing"
)


class ScoreError(Exception):
    pass


def clip_source(folder):
    """The footage of a clip folder: its frames/ folder or its video.mp4."""
    frames = os.path.join(folder, "frames")
    if os.path.isdir(frames):
        return frames
    video = os.path.join(folder, "video.mp4")
    if os.path.isfile(video):
        return video
    raise ScoreError("%s: neither frames/ nor video.mp4" % folder)


def clip_info(vanelia, source):
    run = subprocess.run([vanelia, "info", source, "--json"], capture_output=True, text=True)
    if run.returncode != 0:
        raise ScoreError("vanelia info %s: %s" % (source, run.stderr.strip()))
    return json.loads(run.stdout)


def reference_floor(args, folder, tmp):
    """The reference aligned to a floor found in its COLMAP points, or None."""
    out = os.path.join(tmp, "reference_aligned.json")
    ref = os.path.join(folder, "reference", "track.json")
    run = subprocess.run(
        [args.vanelia, "align", ref, "-o", out, "--no-scale", "--quiet"],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        return None
    with open(out) as fh:
        doc = json.load(fh)
    return doc if doc.get("ground_plane") else None


def gt_from_reference(ref, name, frame_count):
    """A gt.json (eval_track.py's format) holding the reference track's registered frames."""
    frames = []
    for f in ref["frames"]:
        frame = {"index": int(f["index"]), "c2w_blender": f["c2w_blender"]}
        if f.get("focal_px") is not None:
            frame["focal_px"] = f["focal_px"]
        if f.get("K") is not None:
            frame["K_opencv"] = f["K"]
        frames.append(frame)
    gt = {
        "format": "vanelia-gt-track/1",
        "name": name,
        "width": ref["width"],
        "height": ref["height"],
        "num_frames": frame_count,
        "frames": frames,
    }
    if ref.get("ground_plane"):
        plane = ref["ground_plane"]
        gt["ground_plane"] = {"normal": plane["normal"], "offset": plane["offset"]}
    return gt


class Clock:
    """Wall seconds and the CPU seconds (user + system) of the children run meanwhile: on a
    shared machine the wall time depends on the load, the CPU time much less."""

    def __init__(self):
        self.wall_s = 0.0
        self.cpu_s = 0.0

    def run(self, cmd, nice):
        full = (["nice", "-n", str(nice)] if nice else []) + cmd
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        run = subprocess.run(full, capture_output=True, text=True)
        self.wall_s += time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu_s += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return run


def track_clip(args, source, tmp):
    """`vanelia track` with the defaults: (track dict or None, Clock, stderr tail)."""
    out = os.path.join(tmp, "track.json")
    clock = Clock()
    run = clock.run([args.vanelia, "track", source, "-o", out, "--overwrite", "--quiet"], args.nice)
    if run.returncode != 0 or not os.path.isfile(out):
        return None, clock, run.stderr.strip()[-400:]
    with open(out) as fh:
        return json.load(fh), clock, ""


def score(args, gt, track, tmp):
    """eval_track.py on the track's frames that the reference has."""
    ref_index = {f["index"] for f in gt["frames"]}
    est = dict(track)
    est["frames"] = [f for f in track["frames"] if int(f["index"]) in ref_index]
    est.pop("points", None)
    gt_path, est_path = os.path.join(tmp, "gt.json"), os.path.join(tmp, "est.json")
    with open(gt_path, "w") as fh:
        json.dump(gt, fh)
    with open(est_path, "w") as fh:
        json.dump(est, fh)
    run = subprocess.run(
        [sys.executable, args.eval, gt_path, est_path, "--quiet"], capture_output=True, text=True
    )
    if run.returncode != 0:
        raise ScoreError("eval_track.py: %s" % run.stderr.strip())
    return json.loads(run.stdout)


def colmap_pinned(args, source, tmp):
    """COLMAP 3.8 with issue 17's pinned protocol, timed: (Clock, registered, reproj px)."""
    images = os.path.join(tmp, "colmap_images")
    os.makedirs(images)
    if os.path.isdir(source):
        for name in sorted(os.listdir(source)):
            shutil.copy(os.path.join(source, name), images)
    else:
        subprocess.run(
            ["ffmpeg", "-v", "error", "-i", source, "-start_number", "0", images + "/%04d.png"],
            check=True,
        )
    db, sparse = os.path.join(tmp, "colmap.db"), os.path.join(tmp, "sparse")
    os.makedirs(sparse)
    steps = [
        ["colmap", "feature_extractor", "--database_path", db, "--image_path", images,
         "--ImageReader.single_camera", "1", "--ImageReader.camera_model", "SIMPLE_RADIAL",
         "--SiftExtraction.use_gpu", "0", "--SiftExtraction.num_threads", "2"],
        ["colmap", "sequential_matcher", "--database_path", db,
         "--SiftMatching.use_gpu", "0", "--SiftMatching.num_threads", "2",
         "--SequentialMatching.overlap", "10", "--SequentialMatching.loop_detection", "0"],
        ["colmap", "mapper", "--database_path", db, "--image_path", images,
         "--output_path", sparse, "--Mapper.num_threads", "2"],
    ]  # fmt: skip
    clock = Clock()
    for cmd in steps:
        run = clock.run(cmd, args.nice)
        if (
            "mapper" in cmd
            and run.returncode != 0
            and "No good initial image pair" in run.stdout + run.stderr
        ):
            return clock, 0, None  # no model: a result, timed like any other
        if run.returncode != 0:
            raise ScoreError("%s failed: %s" % (" ".join(cmd[:2]), run.stderr.strip()[-400:]))
    best = (0, None)
    for model in sorted(os.listdir(sparse)):
        run = subprocess.run(
            ["colmap", "model_analyzer", "--path", os.path.join(sparse, model)],
            capture_output=True,
            text=True,
        )
        text = run.stdout + run.stderr
        reg = re.search(r"Registered images: *(\d+)", text)
        err = re.search(r"Mean reprojection error: *([0-9.]+)px", text)
        if reg and int(reg.group(1)) > best[0]:
            best = (int(reg.group(1)), float(err.group(1)) if err else None)
    return clock, best[0], best[1]


def check_finite(row):
    """Every number of a row is finite (a bench checks its output before it reports)."""
    for key, value in row.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ScoreError("%s: %s = %r is not finite" % (row["clip"], key, value))


def load_reference(args, folder, name, frames, tmp):
    """(gt dict or None, reference summary fields). No reference/track.json: COLMAP made no
    model of the clip (reference/colmap.txt says why); the clip is tracked and timed, not
    scored."""
    path = os.path.join(folder, "reference", "track.json")
    if not os.path.isfile(path):
        return None, {"colmap_registered": 0, "colmap_reproj_px": None}
    with open(path) as fh:
        ref = json.load(fh)
    aligned = reference_floor(args, folder, tmp)
    plane = aligned["ground_plane"] if aligned else {}
    return gt_from_reference(aligned or ref, name, frames), {
        "colmap_registered": len(ref["frames"]),
        "colmap_reproj_px": ref["summary"].get("reproj_err_px"),
        "ref_floor_inliers": plane.get("inliers"),
        "ref_floor_confidence": plane.get("confidence"),
    }


def add_track_metrics(args, row, gt, track, tmp):
    ours = {int(f["index"]) for f in track["frames"]}
    ref_index = {f["index"] for f in gt["frames"]} if gt else set()
    row["ours_registered"] = len(ours)
    row["ours_only"] = len(ours - ref_index)
    row["ours_reproj_px"] = track["summary"].get("reproj_err_px")
    row["ours_focal_px"] = track["summary"].get("focal_px")
    row["ours_warnings"] = track["summary"].get("warnings", [])
    row["ours_floor_confidence"] = (track.get("ground_plane") or {}).get("confidence")
    row["both_registered"] = len(ours & ref_index)
    row.update({k: None for k in METRICS})
    if gt is not None and row["both_registered"] > 0:
        m = score(args, gt, track, tmp)
        row.update({k: m.get(k) for k in METRICS})
        row["alignment"] = m.get("alignment")


def score_clip(args, name):
    folder = os.path.join(args.root, name)
    source = clip_source(folder)
    info = clip_info(args.vanelia, source)
    frames = int(info["frame_count"])
    row = {"clip": name, "frames": frames, "width": info["width"], "height": info["height"]}
    row["loadavg_1m_before"] = os.getloadavg()[0]  # the machine is shared: say how busy
    with tempfile.TemporaryDirectory(prefix="real_footage_") as tmp:
        gt, ref_fields = load_reference(args, folder, name, frames, tmp)
        row.update(ref_fields)
        track, ours, error = track_clip(args, source, tmp)
        row.update(our_s=ours.wall_s, our_cpu_s=ours.cpu_s, our_fps=frames / ours.wall_s)
        if track is None:
            row.update(ours_registered=0, ours_only=0, both_registered=0, track_error=error)
            row.update({k: None for k in METRICS})
        else:
            add_track_metrics(args, row, gt, track, tmp)
        if not args.no_colmap:
            theirs, c_reg, c_err = colmap_pinned(args, source, tmp)
            row.update(
                colmap_pinned_s=theirs.wall_s,
                colmap_pinned_cpu_s=theirs.cpu_s,
                colmap_fps=frames / theirs.wall_s,
                colmap_pinned_registered=c_reg,
                colmap_pinned_reproj_px=c_err,
            )
    check_finite(row)
    return row


def speedups(row):
    """(wall, CPU) ratios COLMAP / ours, or (None, None) when either made no track at all (a
    speed of nothing is not a speed)."""
    if not row.get("colmap_pinned_registered") or not row.get("ours_registered"):
        return None, None
    return (
        row["colmap_pinned_s"] / row["our_s"],
        row["colmap_pinned_cpu_s"] / row["our_cpu_s"],
    )


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def table(rows):
    cols = [
        ("clip", "%-13s", lambda r: r["clip"]),
        ("frames", "%6s", lambda r: "%d" % r["frames"]),
        ("COLMAP reg", "%10s", lambda r: "%d" % r["colmap_registered"]),
        ("ours reg", "%8s", ours_registered),
        ("ATE %", "%6s", lambda r: fmt(r["ate_pct"], ".2f")),
        ("rot deg", "%7s", lambda r: fmt(r["rot_err_mean_deg"], ".2f")),
        ("focal %", "%7s", lambda r: fmt(r["focal_err_pct_mean"], ".1f")),
        ("floor deg", "%9s", lambda r: fmt(r["plane_normal_err_cam_deg"], ".1f")),
        ("slip px", "%7s", lambda r: fmt(r["slip_px_mean"], ".1f")),
        ("our fps", "%7s", lambda r: fmt(r["our_fps"], ".2f")),
        ("COLMAP fps", "%10s", lambda r: fmt(r.get("colmap_fps"), ".3f")),
        ("COLMAP reg*", "%11s", lambda r: fmt(r.get("colmap_pinned_registered"), "d")),
        ("speed", "%6s", lambda r: fmt(speedups(r)[0], ".1f")),
        ("speed cpu", "%9s", lambda r: fmt(speedups(r)[1], ".1f")),
    ]
    lines = [" ".join(spec % name for name, spec, _ in cols)]
    for r in rows:
        lines.append(" ".join(spec % get(r) for _, spec, get in cols))
    return "\n".join(lines)


def ours_registered(row):
    extra = " +%d" % row["ours_only"] if row["ours_only"] else ""
    return "%d%s" % (row["ours_registered"], extra)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.path.join(ROOT, "tests", "data", "real"))
    parser.add_argument("--names", nargs="*", default=CLIPS)
    parser.add_argument("--vanelia", default=os.path.join(ROOT, "build", "bin", "vanelia"))
    parser.add_argument(
        "--eval", default=os.path.join(ROOT, "tests", "data", "tools", "eval_track.py")
    )
    parser.add_argument("--no-colmap", action="store_true", help="skip the timed COLMAP run")
    parser.add_argument("--nice", type=int, default=10, help="niceness of both solvers")
    parser.add_argument("--json", help="also write the JSON lines to this file")
    parser.add_argument("--from-json", help="only print the table of the JSON lines of a run")
    args = parser.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as fh:
            print(table([json.loads(line) for line in fh if line.strip()]))
        print(LEGEND)
        return 0
    rows, status = [], 0
    with open(args.vanelia, "rb") as fh:
        binary = hashlib.sha256(fh.read()).hexdigest()
    print(json.dumps({"vanelia": args.vanelia, "vanelia_sha256": binary}), flush=True)
    for name in args.names:
        try:
            row = score_clip(args, name)
        except (ScoreError, OSError, ValueError, KeyError, subprocess.CalledProcessError) as exc:
            print("real_footage: %s: %s" % (name, exc), file=sys.stderr)
            status = 1
            continue
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write("".join(json.dumps(r) + "\n" for r in rows))
    print(table(rows))
    print(LEGEND)
    return status


if __name__ == "__main__":
    sys.exit(main())
