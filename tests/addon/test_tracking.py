"""core/tracking.py with a network tracker (bpy-free): which trackers the
panel offers and why not, the cache key of a network track (options and the
weights' content, not their path or the device), the keywords handed to
`_vanelia.track_video`, and one real MUSt3R run (tiny checkpoint) through the
job as the add-on runs it."""

import os
import shutil
import zipfile

import pytest

from vanelia_blender.core import cache, jobs, tracking

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIDEO = os.path.join(ROOT, "tests", "data", "sample", "video.mp4")
TINY = os.path.join(ROOT, "tests", "data", "must3r", "checkpoints", "tiny_kv.pth")


def test_tracker_problem_says_why_a_tracker_is_greyed_out(tmp_path):
    built = ("classical", "must3r")
    assert tracking.tracker_problem("classical", built) == ""
    assert tracking.tracker_problem("must3r", built, TINY) == ""
    assert "MUSt3R: no weights set" in tracking.tracker_problem("must3r", built, "")
    random = tmp_path / "random.pth"
    random.write_bytes(os.urandom(512))
    assert "not a PyTorch zip checkpoint" in tracking.tracker_problem("must3r", built, str(random))
    # The build comes first: weights would not help.
    assert tracking.tracker_problem("must3r", ("classical",), TINY) == (
        "MUSt3R: not in this build of the native module"
    )
    assert "DUSt3R: not in this build" in tracking.tracker_problem("dust3r", built, TINY)
    # No native module to ask: only the weights are judged.
    assert tracking.tracker_problem("must3r", None, TINY) == ""


DUST3R_TINY = os.path.join(ROOT, "tests", "data", "dust3r", "tiny_linear.pth")


def test_dust3r_choice_needs_a_dust3r_checkpoint():
    """The panel's DUSt3R choice is enabled by a DUSt3R checkpoint only; each
    network's checkpoint given to the other greys it out with the reason."""
    built = ("classical", "must3r", "dust3r")
    assert tracking.tracker_problem("dust3r", built, DUST3R_TINY) == ""
    assert tracking.tracker_problem("dust3r", built, "") == (
        "DUSt3R: no weights set (Preferences > Add-ons > Vanelia)"
    )
    problem = tracking.tracker_problem("dust3r", built, TINY)
    assert problem.endswith("is a MUSt3R checkpoint, not DUSt3R") and TINY in problem
    problem = tracking.tracker_problem("must3r", built, DUST3R_TINY)
    assert problem.endswith("is a DUSt3R checkpoint, not MUSt3R") and DUST3R_TINY in problem


def test_built_trackers_of_old_and_new_modules():
    class Old:
        def track_video(self):
            pass

    class New(Old):
        TRACKERS = ("classical", "must3r")

    assert tracking.built_trackers(None) == ()
    assert tracking.built_trackers(object()) == ()
    assert tracking.built_trackers(Old()) == ("classical",)
    assert tracking.built_trackers(New()) == ("classical", "must3r")


def test_classical_cache_key_is_the_pipelines():
    request = tracking.TrackRequest(video=VIDEO, network=tracking.NetworkOptions(weights=TINY))
    # native/src/pipeline/track_stage.cpp (ClassicalCacheOptions) computes
    # exactly this key; the version keeps an upgraded tracker from reusing.
    assert request.options("ignored", "0.1.0") == {
        "start": 0,
        "end": -1,
        "every": 1,
        "version": "0.1.0",
    }
    assert request.options("ignored") == {"start": 0, "end": -1, "every": 1}
    request.focal_px = 500
    assert request.options() == {"start": 0, "end": -1, "every": 1, "focal_px": 500.0}


def test_network_cache_key_is_options_and_weights_content(tmp_path):
    copy = tmp_path / "elsewhere.pth"
    shutil.copy(TINY, copy)
    sha = cache.file_sha256(TINY)
    assert cache.file_sha256(str(copy)) == sha

    def key(**network):
        request = tracking.TrackRequest(
            video=VIDEO, tracker="must3r", network=tracking.NetworkOptions(**network)
        )
        return cache.options_sha256(request.options(cache.file_sha256(request.network.weights)))

    base = key(weights=TINY)
    assert key(weights=str(copy)) == base  # same weights, another path
    assert key(weights=TINY, device="cpu") == base  # the device does not change the track
    for change in (
        dict(image_size=224),
        dict(dtype="bf16"),
        dict(keyframe_every=2),
        dict(local_context=5),
        dict(max_keyframes=10),
        dict(init_frames=2),
        dict(batch_frames=1),
    ):
        assert key(weights=TINY, **change) != base, change
    other = tmp_path / "other.pth"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    assert key(weights=str(other)) != base
    request = tracking.TrackRequest(video=VIDEO, tracker="must3r")
    assert set(request.options("x")) == {
        "start",
        "end",
        "every",
        "image_size",
        "dtype",
        "local_context",
        "max_keyframes",
        "keyframe_every",
        "init_frames",
        "batch_frames",
        "weights_sha256",
    }


def test_network_request_checks():
    with pytest.raises(tracking.TrackRequestError, match="MUSt3R: no weights set"):
        tracking.TrackRequest(video=VIDEO, tracker="must3r").check()
    with pytest.raises(tracking.TrackRequestError, match="known focal -1"):
        tracking.TrackRequest(video=VIDEO, focal_px=-1).check()
    for bad, fragment in (
        (dict(device="tpu"), "device 'tpu'"),
        (dict(image_size=300), "image size 300"),
        (dict(dtype="fp8"), "precision 'fp8'"),
    ):
        network = tracking.NetworkOptions(weights=TINY, **bad)
        with pytest.raises(tracking.TrackRequestError, match=fragment):
            tracking.TrackRequest(video=VIDEO, tracker="must3r", network=network).check()


class FakeNative:
    """Records track_video's keywords; aligning is a copy marked aligned."""

    TRACKERS = ("classical", "must3r")

    def __init__(self):
        self.calls = []

    def track_video(self, path, **kwargs):
        import json

        self.calls.append(kwargs)
        kwargs["progress"](stage="track", done=1, total=1)
        # A valid track document (the cache validates what it reuses).
        with open(os.path.join(ROOT, "docs", "track_example.json")) as f:
            doc = json.load(f)
        identity = [[float(r == c) for c in range(4)] for r in range(4)]
        doc["world"], doc["blender_from_track"] = "track", identity
        doc["scale"] = {"method": "none", "value_m": None}
        doc.pop("ground_plane")
        doc["tracker"]["name"] = kwargs.get("tracker", "classical")
        return doc

    def format_track(self, doc):
        import json

        return json.dumps(doc)

    def align_track_file(self, raw, out, camera_height_m, overwrite, video=""):
        shutil.copy(raw, out)
        return {"aligned": True}


def test_track_work_hands_the_network_options_to_track_video(tmp_path):
    native = FakeNative()
    network = tracking.NetworkOptions(weights=TINY, device="cpu", image_size=0, keyframe_every=2)
    request = tracking.TrackRequest(
        video=VIDEO, tracker="must3r", end=4, cache_folder=str(tmp_path), network=network
    )
    snap = jobs.Job(tracking.track_work(request, native)).run_sync()
    assert snap.state == jobs.DONE, snap.error
    (call,) = native.calls
    assert call["tracker"] == "must3r" and call["weights"] == TINY and call["device"] == "cpu"
    assert (call["image_size"], call["keyframe_every"], call["end"]) == (0, 2, 4)
    assert snap.result.summary["tracker"] == "must3r" and not snap.result.from_cache
    # Again: the cache answers; another device still hits, other weights do not.
    request.network.device = "auto"
    again = jobs.Job(tracking.track_work(request, native)).run_sync()
    assert again.result.from_cache and len(native.calls) == 1
    # The classical tracker gets no network keywords.
    classical = tracking.TrackRequest(video=VIDEO, end=4, cache_folder=str(tmp_path))
    jobs.Job(tracking.track_work(classical, native)).run_sync()
    assert "tracker" not in native.calls[-1] and "weights" not in native.calls[-1]


def test_track_work_refuses_a_tracker_the_build_lacks(tmp_path):
    native = FakeNative()
    native.TRACKERS = ("classical",)
    request = tracking.TrackRequest(
        video=VIDEO,
        tracker="must3r",
        cache_folder=str(tmp_path),
        network=tracking.NetworkOptions(weights=TINY),
    )
    snap = jobs.Job(tracking.track_work(request, native)).run_sync()
    assert snap.state == jobs.FAILED and "not in this build" in str(snap.error)
    assert native.calls == []


def test_real_must3r_track_through_the_job(tmp_path):
    import _vanelia

    network = tracking.NetworkOptions(
        weights=TINY, device="cpu", init_frames=2, batch_frames=2, local_context=4
    )
    # Random weights estimate no focal: a known one, as the panel's "Known focal".
    request = tracking.TrackRequest(
        video=VIDEO,
        tracker="must3r",
        end=5,
        cache_folder=str(tmp_path),
        network=network,
        focal_px=500.0,
    )
    snap = jobs.Job(tracking.track_work(request, _vanelia)).run_sync()
    assert snap.state == jobs.DONE, snap.error
    outcome = snap.result
    assert outcome.summary["tracker"] == "must3r"
    assert outcome.summary["registered"] == outcome.summary["total"] == 5
    raw = _vanelia.read_track_file(outcome.raw_path)
    assert raw["tracker"]["options"]["weights"] == TINY
    assert raw["tracker"]["options"]["focal_px"] == 500.0
    sha = cache.video_sha256(VIDEO)
    assert outcome.raw_path == cache.TrackCache(str(tmp_path)).path_for(
        sha, "must3r", request.options(cache.file_sha256(TINY), _vanelia.__version__)
    )
