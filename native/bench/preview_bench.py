"""Preview benchmark: wall time of `vanelia run` with the default settings against the same
run with `--preview`, in the same command, on the sample (tests/data/sample).

    /usr/bin/python3 native/bench/preview_bench.py [--end 24] [--repetitions 1]
        [--work /tmp/vanelia-preview-bench]

Each repetition runs the full render, then the preview (the sample's ground-truth track
imported with `vanelia import-track`, so no tracking), each with `--progress json`, whose
events give the stages inside the run: Blender's start up to the built scene, the frames,
the encode. Before reporting, both outputs are checked (OpenCV's SANITY_CHECK idea): they
decode with the expected frame count; the full one at the sample's size, the preview at half
of it; the preview's frame matches the full one scaled down away from the product. Prints one
JSON line: min/median/max wall seconds of each and the ratio preview/full of the medians
(target < 0.10), with the preview's stage times. Needs Blender and ffmpeg.

With --live, also the add-on's Preview button on a built scene (the preview rendered in the
Blender the artist already runs: no Blender or vanelia start; native/bench/
live_preview_blender.py times the operator inside Blender) and its ratio to the full run.
"""
import shutil

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample")
VIDEO = os.path.join(SAMPLE, "video.mp4")
PRODUCT = os.path.join(SAMPLE, "product.glb")


def timed_run(track, out, end, extra):
    """Wall seconds of one `vanelia run` and its JSON events."""
    cmd = [VANELIA, "run", VIDEO, PRODUCT, "--track", track, "-o", out, "--end", str(end)]
    cmd += ["--overwrite", "--progress", "json", *extra]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    events = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    return seconds, events


def stage_times(events):
    """Seconds from the render stage's start to the built scene, the frames, the encode and
    Blender's exit, from the events' elapsed_s."""
    marks = {"start": None, "built": None, "encode": None, "wrote": None, "done": None}
    for e in events:
        text = e.get("text", "")
        if e["type"] == "stage" and e.get("stage") == "render":
            marks["start"] = e["elapsed_s"]
        elif e["type"] == "message" and text.startswith("scene built"):
            marks["built"] = e["elapsed_s"]
        elif e["type"] == "message" and text.startswith("encode:"):
            marks["encode"] = e["elapsed_s"]
        elif e["type"] == "message" and text.startswith("wrote "):
            marks["wrote"] = e["elapsed_s"]
        elif e["type"] == "done":
            marks["done"] = e["elapsed_s"]
    if None in marks.values():
        raise SystemExit(f"missing events: {marks}")
    return {
        "blender_start_prepare_build_s": round(marks["built"] - marks["start"], 3),
        "render_frames_s": round(marks["encode"] - marks["built"], 3),
        "encode_s": round(marks["wrote"] - marks["encode"], 3),
        "blender_exit_s": round(marks["done"] - marks["wrote"], 3),
        "run_elapsed_s": round(marks["done"], 3),
    }


def probe(path):
    cmd = ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0"]
    cmd += ["-show_entries", "stream=width,height,nb_read_frames", "-of", "json", path]
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)[
        "streams"
    ][0]


def gray_frame(path, index, width, height):
    """Frame `index` of `path` as 8-bit grey bytes at width x height."""
    cmd = ["ffmpeg", "-v", "error", "-i", path, "-vf", f"select=eq(n\\,{index}),scale={width}:"]
    cmd[-1] += f"{height},format=gray"
    cmd += ["-frames:v", "1", "-f", "rawvideo", "-"]
    return subprocess.run(cmd, capture_output=True, check=True).stdout


def sanity_check(full, preview, end):
    """Both outputs decode with `end` frames; the preview is half size and, in the
    top-left quarter (no product there), within 4/255 of the full render scaled down."""
    f, p = probe(full), probe(preview)
    if int(f["nb_read_frames"]) != end or int(p["nb_read_frames"]) != end:
        raise SystemExit(f"frame counts {f['nb_read_frames']}, {p['nb_read_frames']}; want {end}")
    if (int(p["width"]), int(p["height"])) != (f["width"] // 4 * 2, f["height"] // 4 * 2):
        raise SystemExit(f"preview {p['width']}x{p['height']}: not half of {f['width']}")
    w, h = int(p["width"]), int(p["height"])
    a, b = gray_frame(full, end - 1, w, h), gray_frame(preview, end - 1, w, h)
    diffs = [abs(a[y * w + x] - b[y * w + x]) for y in range(h // 4) for x in range(w // 4)]
    mean = sum(diffs) / len(diffs)
    if mean > 4.0:
        raise SystemExit(f"preview's plate differs from the full render's by {mean:.2f}/255")
    return mean


def timed_live(video, track, end):
    """Seconds of the add-on's Preview operator on the built scene, inside Blender."""
    script = os.path.join(ROOT, "native", "bench", "live_preview_blender.py")
    cmd = ["blender", "-b", "--factory-startup", "--python", script, "--"]
    cmd += [video, PRODUCT, track, str(end)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("LIVE ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"live preview failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return json.loads(lines[0][5:])["seconds"]


def live_record(live_s, full_s):
    if not live_s:
        return {}
    median = statistics.median(live_s)
    return {
        "live_preview_s": {"min": round(min(live_s), 2), "median": round(median, 2)},
        "live_ratio": round(median / statistics.median(full_s), 4),
    }


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--end", type=int, default=24, help="frames rendered (--end)")
    p.add_argument("--repetitions", type=int, default=1)
    p.add_argument("--work", default="/tmp/vanelia-preview-bench")
    p.add_argument("--live", action="store_true", help="also time the add-on's live preview")
    args = p.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    track = os.path.join(args.work, "track.json")
    gt = os.path.join(SAMPLE, "gt.json")
    cmd = [VANELIA, "import-track", gt, "-o", track, "--overwrite", "--quiet"]
    subprocess.run(cmd, check=True)
    full_out = os.path.join(args.work, "full.mp4")
    preview_out = os.path.join(args.work, "preview.mp4")
    full_s, preview_s, stages, live_s = [], [], [], []
    video = os.path.join(args.work, "clip.mp4")  # the live preview is written beside it
    shutil.copy(VIDEO, video)
    for _ in range(args.repetitions):
        if args.live:
            live_s.append(timed_live(video, track, args.end))
        seconds, _events = timed_run(track, full_out, args.end, [])
        full_s.append(seconds)
        seconds, events = timed_run(track, preview_out, args.end, ["--preview"])
        preview_s.append(seconds)
        stages.append(stage_times(events))
    plate_diff = sanity_check(full_out, preview_out, args.end)
    if args.live:
        sanity_check(full_out, os.path.join(args.work, "clip_vanelia_preview.mp4"), args.end)

    def summary(values):
        return {
            "min": round(min(values), 2),
            "median": round(statistics.median(values), 2),
            "max": round(max(values), 2),
        }

    ratio = statistics.median(preview_s) / statistics.median(full_s)
    record = {
        "bench": "preview",
        "frames": args.end,
        "full_s": summary(full_s),
        "preview_s": summary(preview_s),
        "ratio": round(ratio, 4),
        "target": 0.10,
        "preview_stages": stages[
            sorted(range(len(stages)), key=preview_s.__getitem__)[len(stages) // 2]
        ],
        "preview_plate_diff_8bit": round(plate_diff, 3),
        "load_average": round(os.getloadavg()[0], 2),
        **live_record(live_s, full_s),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
