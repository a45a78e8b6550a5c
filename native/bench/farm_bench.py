"""Farm benchmark: one machine (`vanelia run`) against the Slurm farm (`vanelia farm submit
--backend slurm` on a single-node cluster started here, tests/farm/slurm_cluster.py) on the
same clip with the same options, and the per-chunk overhead (Blender start + scene load).

    sudo /usr/bin/python3 native/bench/farm_bench.py [--clips sample 300] [--samples 16]
        [--chunk 24] [--work /tmp/vanelia-farm-bench]

Clips: `sample` (tests/data/sample, 48 frames) and `300` (a 300-frame 640x360 clip made from
../shared/footage/orbit: forward, reversed, forward, reversed, cut at 300). Each case tracks
with a fresh cache on both sides, so both include tracking. Before reporting, the merged video
is checked against the one-machine one (same bytes). The per-chunk overhead is measured on the
farm's job afterwards: chunk 0 rendered again with 1 frame missing (T1) and with all of its n
frames missing (Tn); per frame = (Tn - T1) / (n - 1), overhead = T1 - per frame.
Prints one JSON line per clip. Needs root (slurmd), Blender, ffmpeg.
"""

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "farm"))
from slurm_cluster import SlurmCluster  # noqa: E402

VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample")
PRODUCT = os.path.join(SAMPLE, "product.glb")
ORBIT = os.path.join(os.path.dirname(ROOT), "shared", "footage", "orbit", "video.mp4")


def make_300(path):
    if os.path.exists(path):
        return path
    graph = (
        "[0:v]split=4[a][b][c][d];[b]reverse[br];[d]reverse[dr];"
        "[a][br][c][dr]concat=n=4:v=1:a=0[v]"
    )
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", ORBIT, "-filter_complex", graph,
         "-map", "[v]", "-frames:v", "300", "-c:v", "libx264", "-crf", "18", "-r", "24", path],
        check=True,
    )  # fmt: skip
    return path


def timed(cmd, env=None):
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    return time.monotonic() - start, proc


def one_machine(clip, work, render):
    env = dict(os.environ, VANELIA_CACHE_DIR=os.path.join(work, "one-cache"))
    out = os.path.join(work, "one.mp4")
    seconds, _ = timed([VANELIA, "run", clip, PRODUCT, "-o", out, "--quiet", *render], env)
    return seconds, out


def farm(clip, work, render, chunk):
    shared = os.path.join(work, "shared")
    with SlurmCluster(os.path.join(work, "slurm")) as cluster:
        start = time.monotonic()
        _, submit = timed(
            [VANELIA, "farm", "submit", clip, "--product", PRODUCT, "--backend", "slurm",
             "--shared", shared, "--chunk", str(chunk), "--quiet", *render],
            cluster.env(),
        )  # fmt: skip
        cluster.wait_until_empty(timeout_s=7200, poll_s=0.5)
        seconds = time.monotonic() - start
    name = submit.stdout.split(":")[0]
    job = os.path.join(shared, "jobs", name)
    out = os.path.join(shared, "out", os.path.splitext(os.path.basename(clip))[0] + ".mp4")
    if not os.path.exists(out):
        raise SystemExit(f"the farm wrote no output; logs in {job}/logs")
    return seconds, out, job


def chunk_overhead(job, chunk):
    """Seconds a render step spends outside its frames (see the module docstring)."""
    frames = os.path.join(job, "frames")
    n = min(chunk, len(os.listdir(frames)))
    names = [f"{k:06d}.png" for k in range(n)]
    step = [VANELIA, "farm", "step", "render", "--job", job, "--chunk", "0", "--quiet"]
    os.remove(os.path.join(frames, names[-1]))
    t1, _ = timed(step)
    for name in names:
        os.remove(os.path.join(frames, name))
    tn, _ = timed(step)
    per_frame = (tn - t1) / (n - 1)
    return t1 - per_frame, per_frame


def run_case(label, clip, args):
    work = os.path.join(args.work, label)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    render = ["--samples", str(args.samples)]
    one_s, one_out = one_machine(clip, work, render)
    farm_s, farm_out, job = farm(clip, work, render, args.chunk)
    if not filecmp.cmp(one_out, farm_out, shallow=False):
        raise SystemExit(f"{label}: the farm's video differs from the one-machine video")
    overhead, per_frame = chunk_overhead(job, args.chunk)
    manifest = json.load(open(os.path.join(job, "job.json")))
    return {
        "clip": label,
        "frames": manifest["frames"],
        "chunks": len(manifest["chunks"]),
        "chunk_frames": args.chunk,
        "samples": args.samples,
        "one_machine_s": round(one_s, 1),
        "slurm_s": round(farm_s, 1),
        "slurm_over_one_machine": round(farm_s / one_s, 3),
        "chunk_overhead_s": round(overhead, 2),
        "render_s_per_frame": round(per_frame, 3),
        "same_video": True,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", nargs="+", default=["sample", "300"], choices=["sample", "300"])
    p.add_argument("--samples", type=int, default=16, help="Cycles samples (default 16)")
    p.add_argument("--chunk", type=int, default=24, help="frames per render chunk")
    p.add_argument("--work", default="/tmp/vanelia-farm-bench", help="scratch folder")
    args = p.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    clips = {"sample": os.path.join(SAMPLE, "video.mp4")}
    if "300" in args.clips:
        clips["300"] = make_300(os.path.join(args.work, "orbit300.mp4"))
    for label in args.clips:
        print(json.dumps(run_case(label, clips[label], args)), flush=True)


if __name__ == "__main__":
    main()
