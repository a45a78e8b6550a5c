#!/usr/bin/env python3
"""Cancel latency of the add-on's track job (core/jobs.py + the native
classical tracker): the time from Job.cancel() (what Esc calls) to the
worker thread's end, and to when Job.settled() (what the modal operator
polls) reports CANCELLED (at most CANCEL_GRACE_S while the worker is inside a
step without progress calls), cancelling at several points of a track of the sample
(decode/track stage and the solve stage). Target: < 1 s.

    PYTHONPATH=build/python:addon /usr/bin/python3 native/bench/addon_cancel_bench.py \
        [--video tests/data/sample/video.mp4] [--points 0.3,0.8,1.5,2.5,3.2]

Prints one JSON line (min/median/max latency over the points). Each run is
checked: the job must end CANCELLED with no result (a raw track that was
complete before the cancel may stay in the cache: it is a valid entry).
The main-thread side (Blender delivering Esc to the modal operator, a 0.1 s
timer) comes on top:
tests/blender/run_addon_ui.py prints it.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import _vanelia

from vanelia_blender.core import jobs, tracking

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def one(video, after_s, cache_dir):
    request = tracking.TrackRequest(video=video, cache_folder=cache_dir, use_cache=False)
    job = jobs.Job(
        tracking.track_work(request, _vanelia),
        is_cancel_error=lambda e: isinstance(e, _vanelia.Cancelled),
    ).start()
    time.sleep(after_s)
    before = job.snapshot()
    job.cancel()
    t0 = time.monotonic()
    while not job.settled().finished:  # what the modal operator polls
        time.sleep(0.005)
    reported = time.monotonic() - t0
    job.wait(10)
    snap = job.snapshot()
    if before.finished:
        return None  # this run was faster than the point
    if snap.state != jobs.CANCELLED or snap.result is not None:
        raise SystemExit(f"cancel at {after_s} s: state {snap.state}")
    return before.stage, snap.cancelled_after_s, reported


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--video", default=os.path.join(ROOT, "tests/data/sample/video.mp4"))
    p.add_argument("--points", default="0.3,0.8,1.5,2.5,3.2,3.6,4.0")
    args = p.parse_args(argv)
    t0 = time.monotonic()
    full = jobs.Job(
        tracking.track_work(
            tracking.TrackRequest(
                video=args.video, cache_folder=tempfile.mkdtemp(), use_cache=False
            ),
            _vanelia,
        )
    ).run_sync()
    full_s = time.monotonic() - t0
    assert full.state == jobs.DONE, full.error
    rows = []
    for point in (float(x) for x in args.points.split(",")):
        if point >= full_s * 0.95:
            continue
        got = one(args.video, point, tempfile.mkdtemp())
        if got is None:
            continue
        stage, latency, reported = got
        rows.append(
            {
                "cancel_at_s": point,
                "stage": stage,
                "worker_s": round(latency, 4),
                "reported_s": round(reported, 4),
            }
        )
        print(
            f"cancel at {point:.1f} s ({stage}): worker stopped after {latency * 1000:.0f} ms, "
            f"cancel reported after {reported * 1000:.0f} ms",
            file=sys.stderr,
        )
    lat = [r["worker_s"] for r in rows]
    rep = [r["reported_s"] for r in rows]
    print(
        json.dumps(
            {
                "bench": "addon_cancel",
                "full_track_s": round(full_s, 3),
                "runs": len(rows),
                "worker_min_s": min(lat),
                "worker_median_s": statistics.median(lat),
                "worker_max_s": max(lat),
                "reported_median_s": statistics.median(rep),
                "reported_max_s": max(rep),
                "points": rows,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
