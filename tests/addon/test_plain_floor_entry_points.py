"""A plain floor's height sweep (issue 17) runs on every path that aligns a track: the plain-
floor clip (tests/data/clips/plainfloor, 480x270, 24 frames) tracked by `vanelia track`, by the
add-on's Track with the native module (`_vanelia.track_video` + `align_track_file`), by the
add-on's Track in worker mode (`vanelia align` on the cached raw track) and by the farm's track
step (the pipeline's align stage, as `vanelia run`) must each say that the floor's height came
from the sweep and give the CLI's world: the same similarity from the tracker's world and the
same cameras. About 10 s: two tracks of the clip (the CLI's, the module's), the rest reuse the
raw track from the shared cache and only align."""

import json
import os
import subprocess

import numpy as np
import pytest

from vanelia_blender.core import jobs, tracking, worker_calls

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
VIDEO = os.path.join(ROOT, "tests", "data", "clips", "plainfloor", "video.mp4")
PRODUCT = os.path.join(ROOT, "tests", "data", "sample", "product.glb")
SWEPT = "height from a plane sweep of the floor"

pytestmark = pytest.mark.skipif(not os.path.isfile(VANELIA), reason="no build/bin/vanelia")


def _load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _addon_track(native, cache_dir):
    request = tracking.TrackRequest(video=VIDEO, cache_folder=cache_dir)
    snap = jobs.Job(tracking.track_work(request, native), "track").run_sync()
    assert snap.state == jobs.DONE, snap.error
    return snap.result


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    native = pytest.importorskip("_vanelia")
    work = tmp_path_factory.mktemp("plainfloor-paths")
    cache_dir = str(work / "shared" / "cache")  # the add-on's and the farm's cache
    cli = str(work / "cli.json")
    subprocess.run([VANELIA, "track", VIDEO, "-o", cli, "--quiet"], check=True)
    module = _addon_track(native, cache_dir)
    assert not module.from_cache
    worker = _addon_track(worker_calls.Worker(VANELIA), cache_dir)
    assert worker.from_cache and worker.raw_path == module.raw_path
    # The farm's track step: a job folder made by `farm submit` (its slurm backend stops at
    # the first sbatch call, which /bin/false refuses), then the step as a node runs it.
    shared = work / "shared"
    submit = subprocess.run(
        [VANELIA, "farm", "submit", VIDEO, "--product", PRODUCT, "--shared", str(shared)]
        + ["--backend", "slurm", "--sbatch", "/bin/false"],
        capture_output=True,
        text=True,
    )
    assert submit.returncode == 2 and "sbatch failed" in submit.stderr, submit.stderr
    (job,) = list((shared / "jobs").iterdir())
    step = subprocess.run(
        [VANELIA, "farm", "step", "track", "--job", str(job)], capture_output=True, text=True
    )
    assert step.returncode == 0, step.stderr
    assert "reusing" in step.stderr, step.stderr  # the add-on's raw track, from the cache
    return {
        "cli": _load(cli),
        "module": _load(module.path),
        "worker": _load(worker.path),
        "farm": _load(job / "aligned.json"),
    }


@pytest.mark.parametrize("path", ["cli", "module", "worker", "farm"])
def test_the_floor_height_is_swept(tracks, path):
    doc = tracks[path]
    assert doc["world"] == "blender"
    assert any(SWEPT in w for w in doc["summary"]["warnings"]), doc["summary"]["warnings"]


@pytest.mark.parametrize("path", ["module", "worker", "farm"])
def test_every_path_gives_the_clis_world(tracks, path):
    cli, doc = tracks["cli"], tracks[path]
    np.testing.assert_allclose(doc["blender_from_track"], cli["blender_from_track"], atol=1e-9)
    for mine, theirs in zip(doc["frames"], cli["frames"]):
        np.testing.assert_allclose(mine["c2w_blender"], theirs["c2w_blender"], atol=1e-9)
    sweep = [w for w in doc["summary"]["warnings"] if SWEPT in w]
    assert sweep == [w for w in cli["summary"]["warnings"] if SWEPT in w]
