"""core/worker_calls.py (worker mode's stand-in for the module) with the real
CLI: the track job through `vanelia track --progress json` (stages reach the
job, the aligned track, the cache answers the second time, a cancel stops
the CLI with nothing cached), and `vanelia call` giving the same dicts as
the in-process module (probe, placement, proxies, light); bad input is the
CLI's own error line with exit code 2."""

import os

import pytest

from vanelia_blender.core import jobs, track_file, tracking, worker, worker_calls

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
VIDEO = os.path.join(ROOT, "tests", "data", "sample", "video.mp4")
FRAMES = 12

pytestmark = pytest.mark.skipif(not os.path.isfile(VANELIA), reason="no build/bin/vanelia")


@pytest.fixture(scope="module")
def runner():
    return worker_calls.Worker(VANELIA)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("worker-cache"))


def _track(runner, cache_dir, use_cache=True, cancel_at=None):
    request = tracking.TrackRequest(
        video=VIDEO, end=FRAMES, cache_folder=cache_dir, use_cache=use_cache
    )
    seen = []

    def work(progress):
        def spy(record=None, **fields):
            seen.append(fields.get("stage"))
            if cancel_at and fields.get("stage") == cancel_at:
                job.cancel()
            return progress(record, **fields)

        return tracking.track_work(request, runner)(spy)

    job = jobs.Job(work, "track")
    return job.run_sync(), [s for s in seen if s]


@pytest.fixture(scope="module")
def tracked(runner, cache_dir):
    snap, seen = _track(runner, cache_dir)
    assert snap.state == jobs.DONE, snap.error
    return snap.result, seen


def test_track_job_through_the_cli(runner, cache_dir, tracked):
    outcome, seen = tracked
    assert {"hash video", "track", "align"} <= set(seen), seen
    assert not outcome.from_cache and outcome.aligned
    assert outcome.summary["registered"] == outcome.summary["total"] == FRAMES
    doc = track_file.load(outcome.path)
    assert doc["world"] == "blender" and len(doc["frames"]) == FRAMES
    again, _ = _track(runner, cache_dir)
    assert again.state == jobs.DONE and again.result.from_cache
    assert again.result.raw_path == outcome.raw_path


def test_track_cancel_stops_the_cli(runner, tmp_path):
    snap, seen = _track(runner, str(tmp_path), use_cache=False, cancel_at="track")
    assert snap.state == jobs.CANCELLED, (snap.state, snap.error)
    assert snap.cancelled_after_s < 1.0, snap.cancelled_after_s
    cached = [n for _, _, names in os.walk(tmp_path) for n in names if n.endswith(".json")]
    assert cached == [], cached


def test_calls_match_the_module(runner, tracked):
    native = pytest.importorskip("_vanelia")
    outcome, _ = tracked
    doc = track_file.load(outcome.path)
    assert runner.probe_media(VIDEO) == native.probe_media(VIDEO)
    size = [0.2, 0.15, 0.3]
    ours, theirs = runner.place_product(doc, size), native.place_product(doc, size)
    assert ours["summary"] == theirs["summary"]
    assert ours["location"] == pytest.approx(theirs["location"], abs=1e-9)
    given = runner.place_product(doc, size, location=[0.1, -2.0, 0.0], heading_deg=30.0)
    assert not given["automatic"] and given["location"] == [0.1, -2.0, 0.0]
    assert runner.build_proxies(doc)["summary"] == native.build_proxies(doc)["summary"]
    light = runner.estimate_light(VIDEO, outcome.path, max_frames=4)
    assert light == native.estimate_light(VIDEO, outcome.path, max_frames=4)
    light = runner.estimate_light(VIDEO, outcome.path, max_frames=4, floor_albedo=0.5)
    assert light == native.estimate_light(VIDEO, outcome.path, max_frames=4, floor_albedo=0.5)
    assert "at floor albedo 0.50" in light["summary"], light["summary"]
    assert runner.have_overlay_encoder("h264") is True
    assert runner.source_content_sha256(VIDEO) == native.source_content_sha256(VIDEO)
    assert "classical" in runner.TRACKERS
    assert runner.__version__ == native.__version__  # one track cache for both modes


def test_bad_input_is_the_clis_error_line(runner, tracked):
    outcome, _ = tracked
    raw = track_file.load(outcome.raw_path)
    with pytest.raises(worker.WorkerError) as e:
        runner.place_product(raw, [0.2, 0.2, 0.3])
    assert e.value.exit_code == 2 and "align it to the floor first" in str(e.value)
    with pytest.raises(worker.WorkerError) as e:
        runner.call("no_such_function")
    assert e.value.exit_code == 2 and "FUNCTION 'no_such_function'" in str(e.value)
    with pytest.raises(worker.WorkerError) as e:
        runner.probe_media(os.path.join(ROOT, "README.md"))
    assert e.value.exit_code == 2


def test_must3r_track_through_the_cli(runner, tmp_path):
    """A network's options become `vanelia track` flags (the tiny random
    MUSt3R checkpoint of tests/data/must3r; a known focal, as random weights
    estimate none)."""
    tiny = os.path.join(ROOT, "tests", "data", "must3r", "checkpoints", "tiny_kv.pth")
    if "must3r" not in runner.TRACKERS:
        pytest.skip("this CLI has no MUSt3R")
    network = tracking.NetworkOptions(
        weights=tiny, device="cpu", init_frames=2, batch_frames=2, local_context=4
    )
    request = tracking.TrackRequest(
        video=VIDEO,
        tracker="must3r",
        end=4,
        cache_folder=str(tmp_path),
        network=network,
        focal_px=500.0,
    )
    snap = jobs.Job(tracking.track_work(request, runner), "track").run_sync()
    assert snap.state == jobs.DONE, snap.error
    assert snap.result.summary["tracker"] == "must3r"
    assert snap.result.summary["registered"] == snap.result.summary["total"] == 4
    assert snap.result.raw_path.startswith(str(tmp_path))
    options = track_file.load(snap.result.raw_path)["tracker"]["options"]
    assert options["weights"] == tiny and options["device"] == "cpu", options
