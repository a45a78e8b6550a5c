"""core/jobs.py, core/cache.py, core/weights.py, core/tracking.py (bpy-free);
the job machinery also against a real native long call (VideoReader)."""

import json
import os
import threading
import time
import zipfile

import pytest

from vanelia_blender.core import cache, jobs, tracking, weights

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, "tests", "data", "sample")


def counting(n, delay=0.0, fail_at=None):
    def run(progress):
        for k in range(n):
            if fail_at == k:
                raise ValueError(f"boom at {k}")
            if not progress(stage="track", done=k, total=n):
                raise jobs.JobCancelled()
            time.sleep(delay)
        progress(stage="track", done=n, total=n)
        return n

    return run


def test_sync_job_returns_result_and_progress():
    job = jobs.Job(counting(5))
    snap = job.run_sync()
    assert snap.state == jobs.DONE and snap.result == 5
    assert snap.done == 5 and snap.total == 5 and snap.fraction == 1.0


def test_thread_job_reports_rate_and_eta_while_running():
    job = jobs.Job(counting(40, delay=0.01)).start()
    time.sleep(0.15)
    snap = job.snapshot()
    assert snap.state == jobs.RUNNING
    assert 0 < snap.done < 40 and snap.rate_per_s > 10 and snap.eta_s > 0
    text = jobs.describe(snap)
    assert "%" in text and "frames/s" in text and "ETA" in text
    assert job.wait(5) and job.snapshot().state == jobs.DONE


def test_cancel_ends_cancelled_and_discards_result():
    job = jobs.Job(counting(1000, delay=0.01)).start()
    time.sleep(0.05)
    job.cancel()
    assert job.wait(2)
    snap = job.snapshot()
    assert snap.state == jobs.CANCELLED and snap.result is None
    assert snap.cancelled_after_s < 0.5


def test_result_after_cancel_is_discarded():
    gate = threading.Event()

    def run(progress):
        gate.wait(2)
        return "late"  # ignores the cancel

    job = jobs.Job(run).start()
    job.cancel()
    gate.set()
    job.wait(2)
    assert job.snapshot().state == jobs.CANCELLED
    assert job.snapshot().result is None


def test_settled_reports_cancel_while_worker_is_busy():
    gate = threading.Event()

    def run(progress):
        gate.wait(5)  # a long native step without progress calls
        progress(stage="x", done=1, total=1)
        return "late"

    job = jobs.Job(run).start()
    job.cancel()
    assert job.settled(grace_s=0.2).state == jobs.RUNNING
    time.sleep(0.25)
    snap = job.settled(grace_s=0.2)
    assert snap.state == jobs.CANCELLED and snap.worker_running and snap.result is None
    gate.set()
    assert job.wait(2)
    snap = job.settled(grace_s=0.2)
    assert snap.state == jobs.CANCELLED and not snap.worker_running and snap.result is None


def test_failure_keeps_exception():
    snap = jobs.Job(counting(5, fail_at=2)).run_sync()
    assert snap.state == jobs.FAILED and "boom at 2" in str(snap.error)


def test_cancel_error_predicate():
    def run(progress):
        raise KeyError("native says cancelled")

    job = jobs.Job(run, is_cancel_error=lambda e: isinstance(e, KeyError))
    assert job.run_sync().state == jobs.CANCELLED


def test_job_cannot_start_twice():
    job = jobs.Job(counting(1))
    job.run_sync()
    with pytest.raises(RuntimeError, match="already started"):
        job.start()


def test_rate_only_for_frame_stages():
    snap = jobs.Snapshot(state=jobs.RUNNING, stage="solve", done=1, total=4, rate_per_s=9.0)
    assert "/s" not in jobs.describe(snap) and "25% (1/4)" in jobs.describe(snap)
    snap.stage = "track"
    assert "9.0 frames/s" in jobs.describe(snap)


def test_format_duration():
    assert jobs.format_duration(4.24) == "4.2s"
    assert jobs.format_duration(123) == "2:03"
    assert jobs.format_duration(3723) == "1:02:03"


def test_native_decode_job_cancels_within_a_frame():
    import _vanelia as vanelia

    video = os.path.join(SAMPLE, "video.mp4")

    def decode(progress):
        reader = vanelia.VideoReader(video)
        n = len(reader)
        for k, _ in enumerate(reader):
            if not progress(stage="decode", done=k + 1, total=n):
                raise jobs.JobCancelled()
            time.sleep(0.01)
        return n

    assert jobs.Job(decode).run_sync().result == 48
    job = jobs.Job(decode).start()
    while job.snapshot().done < 3:
        time.sleep(0.005)
    job.cancel()
    assert job.wait(1)
    snap = job.snapshot()
    assert snap.state == jobs.CANCELLED and snap.done < 48


def test_cache_key_is_content_and_options(tmp_path):
    a = tmp_path / "a.mp4"
    a.write_bytes(b"same bytes")
    b = tmp_path / "b.mp4"
    b.write_bytes(b"same bytes")
    store = cache.TrackCache(str(tmp_path / "cache"))
    sha_a, sha_b = cache.video_sha256(str(a)), cache.video_sha256(str(b))
    assert sha_a == sha_b
    opts = {"start": 0, "end": -1, "every": 1}
    assert cache.canonical_options(opts) == '{"end":-1,"every":1,"start":0}'
    path = store.path_for(sha_a, "classical", opts)
    assert path.startswith(os.path.join(store.folder, sha_a, "classical-"))
    assert store.lookup(sha_a, "classical", opts) is None
    store.store_text(sha_a, "classical", opts, "{}")
    assert store.lookup(sha_b, "classical", opts) == path
    assert store.lookup(sha_a, "classical", dict(opts, every=2)) is None
    assert store.lookup(sha_a, "must3r", opts) is None


def test_cache_folder_from_environment():
    assert cache.default_folder({"VANELIA_CACHE_DIR": "/x"}) == "/x"
    assert cache.default_folder({"XDG_CACHE_HOME": "/c"}) == "/c/vanelia/tracks"


def test_checkpoint_check(tmp_path):
    good = tmp_path / "model.pth"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        z.writestr("archive/data/0", b"\0" * 8)
    assert weights.check_checkpoint(str(good)) is None
    random = tmp_path / "random.pth"
    random.write_bytes(os.urandom(256))
    with pytest.raises(weights.WeightsError, match="not a PyTorch zip checkpoint"):
        weights.check_checkpoint(str(random))
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("folder/readme.txt", "hi")
    with pytest.raises(weights.WeightsError, match="data.pkl"):
        weights.check_checkpoint(str(other))
    with pytest.raises(weights.WeightsError, match="no such file"):
        weights.check_checkpoint(str(tmp_path / "missing.pth"))


def test_track_request_checks():
    with pytest.raises(tracking.TrackRequestError, match="no video chosen"):
        tracking.TrackRequest(video="").check()
    with pytest.raises(tracking.TrackRequestError, match="no such file"):
        tracking.TrackRequest(video="/nonexistent.mp4").check()
    video = os.path.join(SAMPLE, "video.mp4")
    with pytest.raises(tracking.TrackRequestError, match="every=0"):
        tracking.TrackRequest(video=video, every=0).check()
    with pytest.raises(tracking.TrackRequestError, match="camera height"):
        tracking.TrackRequest(video=video, camera_height_m=0).check()


def test_summarize_reads_solve_fields():
    doc = {
        "world": "blender",
        "frames": [{}, {}],
        "summary": {
            "registered": 2,
            "total": 3,
            "reproj_err_px": 0.4,
            "focal_px": 500.0,
            "warnings": ["w"],
        },
        "ground_plane": {"confidence": 0.9, "method": "ransac"},
    }
    s = tracking.summarize(json.loads(json.dumps(doc)))
    assert (s["registered"], s["total"], s["focal_px"], s["ground_confidence"]) == (
        2,
        3,
        500.0,
        0.9,
    )
