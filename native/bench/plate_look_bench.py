"""Before/after of the plate matching of issue 21 (light, exposure and white
balance, grain, motion blur, environment) and its render cost, in one
command (real `vanelia run`, real Blender):

    /usr/bin/python3 native/bench/plate_look_bench.py [--clip DIR] [--frames 6]
        [--samples 64] [--frame K] [--docs PREFIX] [--split]

Runs `vanelia run` on the clip (tests/data/sample by default) with its own
classical track (`--track-from classical`: tracked once, then from the
cache) or its gt.json imported as the track (`--track-from gt`: exact
cameras, but no points, so no light estimate) twice, alternating
over `--repeat` rounds:
- before: `--light fixed --grain off --motion-blur off --environment off`
  (the look of the product before these features existed);
- after: the defaults (`--light auto --grain auto --motion-blur auto
  --environment auto`).
With --split, also the "after" run with each feature alone turned off
(after-without-light, ...), so that each feature's cost is the ratio of the
after run to the run without it. Both with the same automatic spot, proxies and
samples. It reads the batch's
own s/frame ("render: frame N of N, X s/frame"), checks both runs wrote
their output, and prints one JSON line: the medians per frame, their ratio
(after / before) and the run's whole wall time for each. With --docs PREFIX
the composited frame K of each run is saved as PREFIX_before.png and
PREFIX_after.png (through the `ffmpeg` executable).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
PRODUCT = os.path.join(ROOT, "tests", "data", "sample", "product.glb")
BEFORE = ["--light", "fixed", "--grain", "off", "--motion-blur", "off", "--environment", "off"]
# --split: each feature turned off alone in the "after" run; its cost is
# after / (after without it).
FEATURES = {
    "light": ["--light", "fixed"],
    "grain": ["--grain", "off"],
    "motion-blur": ["--motion-blur", "off"],
    "environment": ["--environment", "off"],
}


def _video(clip):
    for name in ("video.mp4", "video.mov", "video.mkv"):
        if os.path.exists(os.path.join(clip, name)):
            return os.path.join(clip, name)
    sys.exit(f"plate_look_bench: no video.mp4 in {clip}")


def _track(clip, work):
    """The clip's gt.json as a track when it has one, else None (vanelia run tracks it)."""
    gt = os.path.join(clip, "gt.json")
    if not os.path.exists(gt):
        return None
    out = os.path.join(work, "gt_track.json")
    done = subprocess.run([VANELIA, "import-track", gt, "-o", out], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"plate_look_bench: import-track failed:\n{done.stderr[-2000:]}")
    return out


def _run(video, track, out, flags, args):
    cmd = [VANELIA, "run", video, PRODUCT, "-o", out, "--overwrite",
           "--samples", str(args.samples), "--end", str(args.frames)] + flags  # fmt: skip
    if track:
        cmd += ["--track", track]
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0 or not os.path.exists(out) or not os.path.getsize(out):
        sys.exit(f"plate_look_bench: vanelia run failed:\n{done.stderr[-3000:]}")
    rates = re.findall(r"render: frame \d+ of \d+, ([\d.]+) s/frame", done.stderr)
    if not rates:
        sys.exit("plate_look_bench: no s/frame in the run's log")
    kinds = ("light", "grain", "motion blur", "environment")
    looks = [line for line in done.stderr.splitlines() if line.split(":")[0].strip() in kinds]
    return float(rates[-1]), wall, looks


def _frame(video, k, png):
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", video, "-vf", f"select=eq(n\\,{k})",
         "-frames:v", "1", png],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0 or not os.path.exists(png):
        sys.exit(f"plate_look_bench: could not extract frame {k}:\n{done.stderr}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clip", default=os.path.join(ROOT, "tests", "data", "sample"))
    p.add_argument("--frames", type=int, default=6, help="frames rendered per run")
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--frame", type=int, default=3, help="the frame --docs saves")
    p.add_argument("--track-from", choices=("classical", "gt"), default="classical")
    p.add_argument("--docs", default="", help="save the frame as PREFIX_{before,after}.png")
    p.add_argument("--split", action="store_true", help="also each feature alone off")
    args = p.parse_args()
    if args.frame >= args.frames:
        sys.exit("plate_look_bench: --frame must be below --frames")
    video = _video(args.clip)
    with tempfile.TemporaryDirectory(prefix="plate_look_") as work:
        track = _track(args.clip, work) if args.track_from == "gt" else None
        configs = [("before", BEFORE), ("after", [])]
        if args.split:
            configs += [(f"after-without-{f}", flags) for f, flags in FEATURES.items()]
        rates = {name: [] for name, _ in configs}
        walls = {name: [] for name, _ in configs}
        logs = {}
        for r in range(args.repeat):
            for name, flags in configs:
                out = os.path.join(work, f"{name}.mp4")
                rate, wall, looks = _run(video, track, out, flags, args)
                rates[name].append(rate)
                walls[name].append(wall)
                logs[name] = looks
                if args.docs and r == 0:
                    _frame(out, args.frame, f"{args.docs}_{name}.png")
    before = statistics.median(rates["before"])
    after = statistics.median(rates["after"])
    split = {}
    for f in FEATURES if args.split else ():
        without = statistics.median(rates[f"after-without-{f}"])
        split[f] = {"s_per_frame_without": without, "cost_ratio": after / without}
    print(json.dumps({
        "bench": "plate_look", "clip": os.path.relpath(args.clip, ROOT),
        "frames": args.frames, "samples": args.samples, "repeat": args.repeat,
        "s_per_frame_before": before, "s_per_frame_after": after,
        "ratio_after_over_before": after / before,
        "wall_s_before": statistics.median(walls["before"]),
        "wall_s_after": statistics.median(walls["after"]),
        "per_feature": split,
        "after_log": logs.get("after", []), "before_log": logs.get("before", []),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
