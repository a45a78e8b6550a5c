#!/usr/bin/env python3
"""Peak memory of `vanelia track` on long 4K footage, and its slope per minute.

    /usr/bin/python3 native/bench/track_memory.py [--minutes 1 2 4] [--vanelia PATH]
        [--source CLIP.mp4] [--cache DIR] [--run PRODUCT.glb]

The clips: a rendered clip (default ../shared/footage/orbit/video.mp4) played
forward then backward (a ping-pong: frames 0..n-1 then n-2..1, so the camera
never jumps), upscaled to 3840x2160 (bicubic) and H.264-encoded once with the
ffmpeg CLI (libx264 --preset/--crf); each length is that 4K cycle repeated with
ffmpeg's concat demuxer and `-c copy` (no re-encode). n is the largest span of
the source whose cycle, 2(n-1) frames, divides one minute (91 frames at 24 fps:
a 7.5 s cycle), so each length is a whole number of cycles; a length that is
not is rounded to whole cycles and the JSON gives the true minutes. A synthetic
pattern does not track, and a cut between two clips is not tracked across
(the frames after it stay unregistered), hence one source. Clips are cached in
--cache and reused.

Each case runs `vanelia track CLIP -o TRACK.json` (classical tracker, defaults)
in a fresh child process. The peak RSS (`peak_rss_mib`) is the child's
ru_maxrss from wait4() (exact, the kernel's high-water mark). A sampler also
reads the child's VmHWM every --interval seconds; the progress lines on stderr
name the phase (`track` while frames are decoded, tracked and keyframes
mapped; `after_track` = the solve: every frame registered, global bundle
adjustment; `after_solve`: alignment and writing), so `stage_hwm_mib` is the
high-water mark at the end of each phase and `phase_s` its wall seconds
(`stage_s`: vanelia's own elapsed per stage). The case is checked before it is
reported: the track file exists, is "vanelia-track", has as many frames in
total as the clip, and at least --min-registered of them registered. One JSON
line per case, then one with the least-squares line peak = intercept + slope *
minutes and its value at --extrapolate minutes against --limit-mib.

--run PRODUCT.glb also measures `vanelia run CLIP PRODUCT --track TRACK.json
--samples 1 --every 10` on the shortest clip (checked: the final video exists
with the clip's size and every 10th frame). ru_maxrss from wait4 covers the
descendants: it is the largest of vanelia's and Blender's own peaks (each
process's high-water mark, not their sum); the sampler adds the sampled peak of
their sum (VmRSS over the process tree, `tree_sampled_peak_mib`) and each
process name's high-water mark (`process_hwm_mib`).

Exit status: 0 all cases measured and the extrapolation under --limit-mib,
2 measured but over it, 1 a case failed (its JSON line says why).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FOOTAGE = os.path.join(ROOT, "..", "shared", "footage")
MIB = 1024.0
RUN_EVERY = 10  # --run measures `vanelia run --samples 1 --every 10`
STAGE_LINE = re.compile(r"^([a-z][\w-]*)\s+(\d+)/(\d+)\s")
# core/progress.cpp's FormatDuration: "12.3s", "1:05" or "1:02:03".
ELAPSED = re.compile(r"elapsed ([0-9.]+)s|elapsed ((?:\d+:)?\d+:\d+)")


class BenchError(Exception):
    """A clip could not be built or a case failed its sanity check; `line` is
    the JSON line that says so."""

    def __init__(self, message, case="setup", measured=None):
        super().__init__(message)
        self.line = {"bench": "track_memory", "case": case, "error": message}
        if measured is not None:
            self.line.update({k: measured[k] for k in ("rc", "wall_s", "peak_rss_mib")})
            self.line["stderr_tail"] = measured["stderr_tail"][-1500:]


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Details: the module docstring (head -50 native/bench/track_memory.py).",
    )
    parser.add_argument(
        "--minutes", nargs="+", type=float, default=[1.0, 2.0, 4.0], help="clip lengths"
    )
    parser.add_argument(
        "--vanelia", default=os.path.join(ROOT, "build", "bin", "vanelia"), help="the CLI"
    )
    parser.add_argument(
        "--source",
        default=os.path.join(FOOTAGE, "orbit", "video.mp4"),
        help="rendered clip to ping-pong (also ../shared/footage/dolly_pan/video.mp4 or "
        "tests/data/clips/*/video.mp4)",
    )
    parser.add_argument("--cache", default="/tmp/vanelia-membench", help="clips and outputs")
    parser.add_argument("--size", default="3840x2160", help="WxH of the clips")
    parser.add_argument("--preset", default="veryfast", help="x264 preset")
    parser.add_argument("--crf", type=int, default=23, help="x264 CRF")
    parser.add_argument("--run", metavar="PRODUCT.glb", help="also measure `vanelia run`")
    parser.add_argument("--blender", help="Blender for --run (default: vanelia's own lookup)")
    parser.add_argument(
        "--min-registered", type=float, default=0.9, help="sanity: fraction registered"
    )
    parser.add_argument("--extrapolate", type=float, default=10.0, help="minutes")
    parser.add_argument("--limit-mib", type=float, default=4096.0)
    parser.add_argument("--interval", type=float, default=0.25, help="sampler period, s")
    args = parser.parse_args()
    match = re.fullmatch(r"(\d+)x(\d+)", args.size)
    if not match:
        parser.error("--size %r; must be WxH, e.g. 3840x2160" % args.size)
    args.width, args.height = int(match.group(1)), int(match.group(2))
    if any(m <= 0 for m in args.minutes):
        parser.error("--minutes %s; each must be > 0" % args.minutes)
    return args


# ---------------------------------------------------------------- clips


def ffprobe_video(path, count=False):
    """(packets or None, fps as a fraction string, fps, width, height) of the
    first video stream; packets are counted (no decoding) when `count`."""
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0"]
    cmd += ["-count_packets"] if count else []
    cmd += ["-show_entries", "stream=width,height,r_frame_rate,nb_read_packets"]
    cmd += ["-of", "json", path]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise BenchError("ffprobe %s: %s" % (path, run.stderr.strip()))
    stream = json.loads(run.stdout)["streams"][0]
    num, den = stream["r_frame_rate"].split("/")
    packets = int(stream["nb_read_packets"]) if count else None
    fps = float(num) / float(den)
    return packets, stream["r_frame_rate"], fps, int(stream["width"]), int(stream["height"])


def cycle_span(frames, fps):
    """Source frames n of the ping-pong: the largest n <= frames whose cycle
    2(n-1) divides one minute; all frames when none does (or fps is not whole)."""
    per_minute = fps * 60.0
    if abs(per_minute - round(per_minute)) < 1e-6:
        for n in range(frames, 2, -1):
            if round(per_minute) % (2 * (n - 1)) == 0 and n >= frames // 2:
                return n
    return frames


def run_ffmpeg(cmd, out):
    """Runs ffmpeg into `out` through a temporary name (an interrupted build is
    never reused)."""
    tmp = out + ".part.mp4"
    run = subprocess.run(["ffmpeg", "-v", "error", "-y"] + cmd + [tmp], capture_output=True)
    if run.returncode != 0:
        raise BenchError("ffmpeg for %s: %s" % (out, run.stderr.decode(errors="replace")))
    os.replace(tmp, out)


def build_cycle(args, source):
    """The 4K ping-pong cycle of `source` (cached): (path, frames, fps text, fps)."""
    frames, rate, fps, _, _ = ffprobe_video(source, count=True)
    n = cycle_span(frames, fps)
    stem = os.path.basename(os.path.dirname(os.path.abspath(source)))
    name = "%s_%df_cycle_%dx%d_%s_crf%d.mp4" % (
        stem,
        n,
        args.width,
        args.height,
        args.preset,
        args.crf,
    )
    out = os.path.join(args.cache, name)
    if not os.path.exists(out):
        graph = (
            "[0:v]trim=end_frame={n},setpts=PTS-STARTPTS,split[a][b];"
            "[b]reverse,trim=start_frame=1:end_frame={m},setpts=PTS-STARTPTS[r];"
            "[a][r]concat=n=2:v=1,setpts=N/({rate}*TB),"
            "scale={w}:{h}:flags=bicubic,format=yuv420p[v]"
        ).format(n=n, m=n - 1, rate=rate, w=args.width, h=args.height)
        cmd = ["-i", source, "-filter_complex", graph, "-map", "[v]", "-r", rate, "-an"]
        cmd += ["-c:v", "libx264", "-preset", args.preset, "-crf", str(args.crf)]
        print("building %s (%d frames) ..." % (out, 2 * (n - 1)), file=sys.stderr)
        run_ffmpeg(cmd, out)
    cycle_frames = 2 * (n - 1)
    packets = ffprobe_video(out, count=True)[0]
    if packets != cycle_frames:
        raise BenchError("%s: %d frames, expected %d" % (out, packets, cycle_frames))
    return out, cycle_frames, rate, fps


def build_clip(args, cycle, cycle_frames, fps, minutes):
    """The clip of about `minutes` (whole cycles, cached): (path, frames)."""
    repeats = max(1, int(round(minutes * 60.0 * fps / cycle_frames)))
    frames = repeats * cycle_frames
    out = cycle.replace("_cycle_", "_x%d_" % repeats)
    if not os.path.exists(out):
        listing = out + ".txt"
        with open(listing, "w") as fh:
            fh.write(("file '%s'\n" % os.path.abspath(cycle).replace("'", "'\\''")) * repeats)
        print("building %s (%d frames) ..." % (out, frames), file=sys.stderr)
        run_ffmpeg(["-f", "concat", "-safe", "0", "-i", listing, "-c", "copy", "-an"], out)
        os.remove(listing)
    packets, _, _, width, height = ffprobe_video(out, count=True)
    if packets != frames or (width, height) != (args.width, args.height):
        raise BenchError(
            "%s: %d frames %dx%d, expected %d %dx%d"
            % (out, packets, width, height, frames, args.width, args.height)
        )
    return out, frames


# ---------------------------------------------------------------- measuring


def proc_status(pid):
    """{field: value} of /proc/PID/status: Name, PPid and the Vm* lines (kB),
    or None when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as fh:
            text = fh.read()
    except OSError:
        return None
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "Name":
            fields[key] = value.strip()
        elif key.startswith("Vm") or key == "PPid":
            fields[key] = int(value.split()[0])
    return fields


def tree_status(root):
    """proc_status of `root` and of each of its descendants."""
    statuses = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            status = proc_status(int(entry))
            if status is not None:
                statuses[int(entry)] = status
    members = {root}
    grew = True
    while grew:
        grew = False
        for pid, status in statuses.items():
            if status.get("PPid") in members and pid not in members:
                members.add(pid)
                grew = True
    return [statuses[pid] for pid in members if pid in statuses]


class StageLog(threading.Thread):
    """Reads the child's stderr (progress lines `NAME done/total ... elapsed
    Xs`, split on CR or LF): the phase it is in now (NAME until done ==
    total, then after_NAME: a stage may print nothing until it ends, as
    track's solve does), each stage's last `elapsed`, and the tail of the
    text."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.current = "start"
        self.elapsed = {}
        self.tail = ""
        self.phases = [("start", time.monotonic())]  # (phase, when it began)

    def run(self):
        pending = b""
        for chunk in iter(lambda: self.stream.read1(65536), b""):
            pending += chunk
            lines = re.split(rb"[\r\n]", pending)
            pending = lines.pop()
            for raw in lines:
                self.feed(raw.decode(errors="replace"))
        self.feed(pending.decode(errors="replace"))

    def phase_seconds(self, end):
        """Wall seconds of each phase, the last one ending at `end`."""
        ends = [t for _, t in self.phases[1:]] + [end]
        return {name: round(stop - t, 1) for (name, t), stop in zip(self.phases, ends)}

    def feed(self, line):
        if not line.strip():
            return
        self.tail = (self.tail + line + "\n")[-4000:]
        match = STAGE_LINE.match(line)
        if match:
            name, done, total = match.group(1), int(match.group(2)), int(match.group(3))
            self.current = name if done < total else "after_" + name
            if self.current != self.phases[-1][0]:
                self.phases.append((self.current, time.monotonic()))
            elapsed = ELAPSED.search(line)
            if elapsed and elapsed.group(1):
                self.elapsed[name] = float(elapsed.group(1))
            elif elapsed:
                parts = [int(p) for p in elapsed.group(2).split(":")]
                self.elapsed[name] = float(sum(p * 60**i for i, p in enumerate(reversed(parts))))


class Sampler(threading.Thread):
    """Polls the child: its VmHWM at the last sample of each phase (the
    high-water mark up to its end, within one period), the peak VmRSS summed
    over its process tree, and the largest VmHWM seen per process name in the
    tree (a child that lives less than a period may be missed)."""

    def __init__(self, pid, stages, interval_s):
        super().__init__(daemon=True)
        self.pid = pid
        self.stages = stages
        self.interval_s = interval_s
        self.stop = threading.Event()
        self.hwm_kb = {}
        self.tree_peak_kb = 0
        self.name_hwm_kb = {}

    def run(self):
        while not self.stop.is_set():
            status = proc_status(self.pid)
            if status is not None and "VmHWM" in status:
                self.hwm_kb[self.stages.current] = status["VmHWM"]
                tree = tree_status(self.pid)
                rss = sum(member.get("VmRSS", 0) for member in tree)
                self.tree_peak_kb = max(self.tree_peak_kb, rss)
                for member in tree:
                    name = member.get("Name", "?")
                    hwm = max(self.name_hwm_kb.get(name, 0), member.get("VmHWM", 0))
                    self.name_hwm_kb[name] = hwm
            self.stop.wait(self.interval_s)


def measure(cmd, interval_s):
    """Runs `cmd` as a fresh child; its exit code, wall time, wait4 rusage
    peak, the per-stage high-water marks and the sampled tree peak."""
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    stages = StageLog(proc.stderr)
    sampler = Sampler(proc.pid, stages, interval_s)
    stages.start()
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall_s = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.stop.set()
    sampler.join()
    stages.join()
    proc.stderr.close()
    return {
        "rc": proc.returncode,
        "wall_s": round(wall_s, 1),
        "peak_rss_mib": round(usage.ru_maxrss / MIB, 1),
        "stage_hwm_mib": {k: round(v / MIB, 1) for k, v in sampler.hwm_kb.items()},
        "tree_sampled_peak_mib": round(sampler.tree_peak_kb / MIB, 1),
        "process_hwm_mib": {k: round(v / MIB, 1) for k, v in sampler.name_hwm_kb.items()},
        "stage_s": stages.elapsed,
        "phase_s": stages.phase_seconds(start + wall_s),
        "stderr_tail": stages.tail,
    }


def check_track(path, frames, min_registered):
    """(total, registered) of the track file; BenchError unless it is sane."""
    if not os.path.exists(path):
        raise BenchError("no track file %s" % path)
    with open(path) as fh:
        track = json.load(fh)
    if track.get("format") != "vanelia-track" or not isinstance(track.get("frames"), list):
        raise BenchError("%s: not a vanelia-track file" % path)
    total = track.get("summary", {}).get("total")
    registered = len(track["frames"])
    if total != frames:
        raise BenchError("%s: %s frames tracked, the clip has %d" % (path, total, frames))
    if registered < min_registered * frames:
        raise BenchError(
            "%s: %d of %d frames registered (< %.0f %%)"
            % (path, registered, frames, 100 * min_registered)
        )
    return total, registered


def track_case(args, clip, frames, fps):
    """One `vanelia track` case: its JSON line (raises BenchError when it fails)."""
    out = os.path.splitext(clip)[0] + "_track.json"
    if os.path.exists(out):
        os.remove(out)
    cmd = [args.vanelia, "track", clip, "-o", out]
    print("measuring: %s" % " ".join(cmd), file=sys.stderr)
    measured = measure(cmd, args.interval)
    if measured["rc"] != 0:
        raise BenchError("exit %d" % measured["rc"], "track", measured)
    try:
        _, registered = check_track(out, frames, args.min_registered)
    except (BenchError, ValueError) as e:
        raise BenchError(str(e), "track", measured)
    line = {
        "bench": "track_memory",
        "case": "track",
        "minutes": round(frames / fps / 60.0, 4),
        "frames": frames,
        "registered": registered,
        "size": "%dx%d" % (args.width, args.height),
    }
    line.update({k: v for k, v in measured.items() if k not in ("rc", "stderr_tail")})
    line["clip"] = clip
    line["track"] = out
    return line


def run_case(args, clip, frames, track):
    """`vanelia run` with the case's track, 1 sample, every 10th frame."""
    final = os.path.splitext(clip)[0] + "_final.mp4"
    cmd = [args.vanelia, "run", clip, args.run, "--track", track, "--samples", "1"]
    cmd += ["--every", str(RUN_EVERY), "-o", final, "--overwrite"]
    cmd += ["--blender", args.blender] if args.blender else []
    print("measuring: %s" % " ".join(cmd), file=sys.stderr)
    measured = measure(cmd, args.interval)
    if measured["rc"] != 0:
        raise BenchError("exit %d" % measured["rc"], "run", measured)
    try:
        packets, _, _, width, height = ffprobe_video(final, count=True)
    except BenchError as e:
        raise BenchError(str(e), "run", measured)
    expected = len(range(0, frames, RUN_EVERY))  # run writes every K-th frame
    if packets != expected or (width, height) != (args.width, args.height):
        error = "%s: %d frames %dx%d, expected %d %dx%d" % (
            final,
            packets,
            width,
            height,
            expected,
            args.width,
            args.height,
        )
        raise BenchError(error, "run", measured)
    line = {"bench": "track_memory", "case": "run", "frames": frames, "frames_written": expected}
    line.update({"every": RUN_EVERY, "samples": 1})
    line.update({k: v for k, v in measured.items() if k not in ("rc", "stderr_tail")})
    line["peak_rss_note"] = (
        "peak_rss_mib: wait4 ru_maxrss, the largest single process of vanelia and its "
        "children (Blender, ffmpeg); tree_sampled_peak_mib: their summed VmRSS, sampled"
    )
    line["final"] = final
    return line


def fit_line(args, cases):
    """Least squares peak = intercept + slope * minutes over the cases."""
    xs = [c["minutes"] for c in cases]
    ys = [c["peak_rss_mib"] for c in cases]
    line = {"bench": "track_memory", "fit": "peak_rss_mib = intercept + slope * minutes"}
    if len(set(xs)) < 2:
        line["error"] = "a slope needs two lengths or more"
        return line
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    intercept = my - slope * mx
    at = intercept + slope * args.extrapolate
    line.update(
        {
            "slope_mib_per_min": round(slope, 1),
            "intercept_mib": round(intercept, 1),
            "extrapolated_minutes": args.extrapolate,
            "extrapolated_mib": round(at, 1),
            "limit_mib": args.limit_mib,
            "under_limit": at < args.limit_mib,
        }
    )
    return line


def main():
    args = parse_args()
    os.makedirs(args.cache, exist_ok=True)
    cases = []
    try:
        cycle, cycle_frames, _, fps = build_cycle(args, args.source)
        clips = [build_clip(args, cycle, cycle_frames, fps, m) for m in sorted(args.minutes)]
        for clip, frames in clips:
            cases.append(track_case(args, clip, frames, fps))
            print(json.dumps(cases[-1]), flush=True)
        fit = fit_line(args, cases)
        print(json.dumps(fit), flush=True)
        if args.run:
            print(json.dumps(run_case(args, clips[0][0], clips[0][1], cases[0]["track"])))
    except BenchError as e:
        print(json.dumps(e.line), flush=True)
        return 1
    return 0 if fit.get("under_limit", True) else 2


if __name__ == "__main__":
    sys.exit(main())
