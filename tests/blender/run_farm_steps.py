"""The batch's render-farm steps against the one-process run (real Blender
headless, real Cycles renders at 4 samples, 24 frames of the sample).

    /usr/bin/python3 tests/blender/run_farm_steps.py --blender blender --addon-dir addon \
        --video V --product P.glb --gt gt.json --vanelia build/bin/vanelia [--keep DIR]

Runs batch.py once as one process (--keep-frames F1), then as farm steps:
build into a job folder D, render in 3 chunks (decoded frames 0-7, 8-15,
16-23) as separate Blender processes, merge. Checks: every chunk frame's
decoded RGBA pixels equal F1's (and whether the PNG files are byte-identical);
the merged MP4 has the one-process output's frame count, size, rate and
audio stream and its frames are within PSNR >= 50 dB of it; a merge with
chunk 2's frames missing exits 2 naming 16-23 and writes nothing; a rerun of
chunk 2 with one frame missing renders only that frame; an empty chunk
exits 2 naming --start/--end. Exits 1 on the first failed check.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scene_testing as st  # noqa: E402

FRAMES = 24
CHUNKS = [(0, 8), (8, 16), (16, 24)]
SAMPLES = 4


class Batch:
    """Runs addon/vanelia_blender/batch.py under `blender -b`."""

    def __init__(self, blender, addon_dir, work):
        self.blender = blender
        self.script = os.path.join(os.path.abspath(addon_dir), "vanelia_blender", "batch.py")
        self.logs = os.path.join(work, "logs")
        self.runs = 0
        os.makedirs(self.logs, exist_ok=True)

    def __call__(self, label, *args):
        cmd = [self.blender, "-b", "--factory-startup", "--python", self.script, "--"]
        cmd += [str(a) for a in args]
        t0 = time.monotonic()
        result = subprocess.run(cmd, capture_output=True, text=True)
        self.runs += 1
        log = os.path.join(self.logs, f"{self.runs:02d}-{label}.log")
        with open(log, "w") as f:
            f.write(result.stdout + result.stderr)
        print(f"   {label}: exit {result.returncode} in {time.monotonic() - t0:.1f} s", flush=True)
        if result.returncode not in (0, 2):
            sys.stderr.write(result.stderr[-3000:])
        return result


def rgba(path):
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgba", "-"],
        capture_output=True,
        check=True,
    ).stdout


def frame(folder, k):
    return os.path.join(folder, f"{k:06d}.png")


def streams(path):
    cmd = ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", path]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    by_type = {}
    for s in json.loads(out)["streams"]:
        by_type.setdefault(s["codec_type"], s)
    return by_type


def psnr(a, b):
    cmd = ["ffmpeg", "-v", "info", "-i", a, "-i", b, "-lavfi", "psnr", "-f", "null", "-"]
    err = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    found = re.findall(r"PSNR .* average:(\S+)", err)
    st.check(len(found) == 1, f"ffmpeg psnr printed its average ({found})")
    return float(found[0])


def check_job(job_dir, video, out):
    st.check(os.path.isfile(os.path.join(job_dir, "scene.blend")), "build: wrote scene.blend")
    job = json.load(open(os.path.join(job_dir, "scene.json")))
    st.check(job["format"] == "vanelia-farm-scene/1", f"build: scene.json format {job['format']}")
    st.check(job["indices"] == list(range(FRAMES)), "build: scene.json indices 0-23")
    st.check(job["video"] == os.path.abspath(video), "build: scene.json video is absolute")
    st.check(job["plate"] == os.path.abspath(video), "build: plate is the source (no proxy)")
    st.check(job["output"] == os.path.abspath(out), "build: scene.json output")
    st.check(len(job["region_points"]) > 8, f"build: {len(job['region_points'])} region points")
    left = [n for n in os.listdir(job_dir) if n.startswith(".tmp")]
    st.check(not left, f"build: no temporary files left ({left})")
    return job


def compare_frames(f1, frames_dir):
    identical = 0
    for k in range(FRAMES):
        a, b = frame(f1, k), frame(frames_dir, k)
        st.check(rgba(a) == rgba(b), f"frame {k}: chunk RGBA pixels == one-process pixels")
        identical += open(a, "rb").read() == open(b, "rb").read()
    print(f"   {identical} of {FRAMES} chunk PNG files byte-identical to F1's", flush=True)
    return identical


def compare_outputs(one, two):
    a, b = streams(one), streams(two)
    va, vb = a["video"], b["video"]
    for key in ("nb_read_frames", "width", "height", "r_frame_rate", "avg_frame_rate"):
        st.check(va[key] == vb[key], f"merged {key} {vb[key]} == one-process {va[key]}")
    st.check(int(vb["nb_read_frames"]) == FRAMES, f"merged has {FRAMES} frames")
    st.check(("audio" in a) == ("audio" in b), "merged has an audio stream like the one-process")
    if "audio" in a:
        for key in ("codec_name", "sample_rate", "channels", "nb_read_frames"):
            got, want = b["audio"].get(key), a["audio"].get(key)
            st.check(got == want, f"merged audio {key} {got} == {want}")
    value = psnr(two, one)
    st.check(value >= 50.0, f"merged frames PSNR {value} dB >= 50 against one-process")
    same = open(one, "rb").read() == open(two, "rb").read()
    print(f"   merged MP4 {'is' if same else 'is not'} byte-identical to the one-process MP4")


def check_missing_merge(batch, job_dir, out):
    """Chunk 2's frames moved aside: the merge refuses, naming 16-23."""
    frames_dir = os.path.join(job_dir, "frames")
    aside = os.path.join(job_dir, "aside")
    os.makedirs(aside)
    for k in range(*CHUNKS[2]):
        os.replace(frame(frames_dir, k), frame(aside, k))
    before = sorted(os.listdir(os.path.dirname(out)))
    r = batch("merge-missing", "--step", "merge", "--job-dir", job_dir)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("vanelia: error:")]
    st.check(r.returncode == 2, f"merge with chunk 2 missing: exit {r.returncode} == 2")
    st.check(len(lines) == 1, f"merge with chunk 2 missing: one error line ({lines})")
    st.check(
        "decoded frames 16-23" in lines[0] and "--start 16 --end 24" in lines[0],
        f"merge names decoded frames 16-23: {lines[0]}",
    )
    after = sorted(os.listdir(os.path.dirname(out)))
    st.check(after == before and not os.path.exists(out), "merge with frames missing wrote nothing")
    return aside


def check_rerun(batch, job_dir, aside, f1):
    """Chunk 2 back but for one frame: its rerun renders only that one."""
    frames_dir = os.path.join(job_dir, "frames")
    lost = 19
    for k in range(*CHUNKS[2]):
        if k != lost:
            os.replace(frame(aside, k), frame(frames_dir, k))
    shutil.rmtree(aside)
    kept = {k: os.stat(frame(frames_dir, k)).st_mtime_ns for k in range(FRAMES) if k != lost}
    start, end = CHUNKS[2]
    r = batch(
        "render-rerun", "--step", "render", "--job-dir", job_dir, "--start", start, "--end", end
    )
    st.check(r.returncode == 0, f"rerun of chunk 2: exit {r.returncode}")
    progress = [ln for ln in r.stderr.splitlines() if "render: frame" in ln]
    st.check(len(progress) == 1 and "frame 1 of 1" in progress[0], f"rerun: {progress}")
    st.check("7 of 8 frames already rendered" in r.stderr, "rerun says 7 of 8 were rendered")
    now = {k: os.stat(frame(frames_dir, k)).st_mtime_ns for k in kept}
    st.check(now == kept, "rerun: the other frames are untouched (mtimes)")
    st.check(rgba(frame(frames_dir, lost)) == rgba(frame(f1, lost)), "rerun: frame 19 re-rendered")
    left = [n for n in os.listdir(frames_dir) if not re.fullmatch(r"\d{6}\.png", n)]
    st.check(not left, f"render: no temporary files left ({left})")


def farm_steps(args, batch, work, common, f1, one):
    job_dir, two = os.path.join(work, "D"), os.path.join(work, "two.mp4")
    os.makedirs(job_dir)
    r = batch("build", "--step", "build", "--job-dir", job_dir, *common, "-o", two)
    st.check(r.returncode == 0, f"build: exit {r.returncode}")
    check_job(job_dir, args.video, two)
    for n, (start, end) in enumerate(CHUNKS):
        step = ("--step", "render", "--job-dir", job_dir, "--start", start, "--end", end)
        r = batch(f"render-{n}", *step)
        st.check(r.returncode == 0, f"render chunk {n} ({start}-{end - 1}): exit {r.returncode}")
        st.check(f"frame {end - start} of {end - start}" in r.stderr, f"chunk {n}: progress")
    compare_frames(f1, os.path.join(job_dir, "frames"))
    r = batch("render-empty", "--step", "render", "--job-dir", job_dir, "--start", 30, "--end", 40)
    st.check(r.returncode == 2, f"empty chunk 30-39: exit {r.returncode} == 2")
    st.check("--start 30 --end 40" in r.stderr, "empty chunk: the error names --start/--end")
    aside = check_missing_merge(batch, job_dir, two)
    check_rerun(batch, job_dir, aside, f1)
    r = batch("merge", "--step", "merge", "--job-dir", job_dir)
    st.check(r.returncode == 0 and os.path.isfile(two), f"merge: exit {r.returncode}, wrote it")
    compare_outputs(one, two)


def run(args, work):
    track = os.path.join(work, "T.json")
    cmd = [args.vanelia, "import-track", args.gt, "-o", track, "--quiet"]
    st.check(subprocess.run(cmd).returncode == 0, "vanelia import-track gt.json")
    batch = Batch(args.blender, args.addon_dir, work)
    common = ["--video", args.video, "--product", args.product, "--track", track]
    common += ["--samples", SAMPLES, "--end", FRAMES]
    f1, one = os.path.join(work, "F1"), os.path.join(work, "one.mp4")
    r = batch("one-process", *common, "-o", one, "--keep-frames", f1)
    st.check(r.returncode == 0 and os.path.isfile(one), f"one-process run: exit {r.returncode}")
    kept = sorted(os.listdir(f1)) if os.path.isdir(f1) else []
    want = [os.path.basename(frame(f1, k)) for k in range(FRAMES)]
    st.check(kept == want, f"--keep-frames kept the {FRAMES} PNGs ({len(kept)})")
    farm_steps(args, batch, work, common, f1, one)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--blender", default="blender")
    p.add_argument("--addon-dir", default=st.ADDON)
    p.add_argument("--vanelia", required=True)
    p.add_argument("--video", required=True)
    p.add_argument("--product", required=True)
    p.add_argument("--gt", required=True)
    p.add_argument("--keep", default=None, help="work folder to keep (emptied first)")
    args = p.parse_args()
    work = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix="vanelia-farm-")
    if args.keep:
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
    t0 = time.monotonic()
    try:
        run(args, work)
    except (SystemExit, Exception) as e:
        if not isinstance(e, SystemExit):
            traceback.print_exc()
        print(f"run_farm_steps: FAILED after {time.monotonic() - t0:.1f} s (logs in {work})")
        sys.exit(1)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(f"run_farm_steps: all checks passed in {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    main()
