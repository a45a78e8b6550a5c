"""`vanelia farm` on this machine (--backend local), with the real Blender: the
merged video equals the one-machine `vanelia run` byte for byte (frames and
MP4), a merge with a chunk missing names it and writes nothing, running submit
again renders only what is missing, status reads the job folder, and bad
requests are refused with one line."""

import filecmp
import json
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample")
VIDEO = os.path.join(SAMPLE, "video.mp4")
PRODUCT = os.path.join(SAMPLE, "product.glb")
RENDER = ["--samples", "2", "--end", "12"]


def _run(*args, env=None, cwd=None):
    return subprocess.run(
        [VANELIA, *args], capture_output=True, text=True, timeout=600, env=env, cwd=cwd
    )


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    """The sample through the local farm (3 chunks of 4 frames, 2 at once)
    and through `vanelia run` with the same options and track cache."""
    work = tmp_path_factory.mktemp("farm")
    shared = work / "shared"
    submit = _run(
        "farm", "submit", VIDEO, "--product", PRODUCT, "--shared", str(shared),
        "--chunk", "4", "-j", "2", *RENDER,
    )  # fmt: skip
    assert submit.returncode == 0, submit.stderr
    env = dict(os.environ, VANELIA_CACHE_DIR=str(shared / "cache"))
    one = _run(
        "run", VIDEO, PRODUCT, "-o", str(work / "one.mp4"), "--keep-frames",
        str(work / "one_frames"), *RENDER, env=env,
    )  # fmt: skip
    assert one.returncode == 0, one.stderr
    (job,) = list((shared / "jobs").iterdir())
    return {"work": work, "shared": shared, "job": job, "submit": submit}


def test_the_farm_gives_the_one_machine_video(farm):
    work, job = farm["work"], farm["job"]
    assert "6 steps to run, 2 at a time" in farm["submit"].stderr
    frames = sorted(os.listdir(job / "frames"))
    assert frames == [f"{k:06d}.png" for k in range(12)]
    for name in frames:
        assert filecmp.cmp(job / "frames" / name, work / "one_frames" / name, shallow=False), name
    out = farm["shared"] / "out" / "video.mp4"
    assert filecmp.cmp(out, work / "one.mp4", shallow=False)
    manifest = json.loads((job / "job.json").read_text())
    assert manifest["format"] == "vanelia-farm-job/1"
    assert manifest["chunks"] == [[0, 4], [4, 8], [8, 12]]


def test_merge_with_a_chunk_missing_names_it_and_writes_nothing(farm, tmp_path):
    # A copy of the finished farm with two frames of chunk 1 lost and no
    # output yet (the paths of its manifest moved with it).
    shared = tmp_path / "shared"
    shutil.copytree(farm["shared"], shared)
    job = shared / "jobs" / farm["job"].name
    manifest = json.loads((job / "job.json").read_text())
    manifest["output"] = str(shared / "out" / "video.mp4")
    manifest["cache_folder"] = str(shared / "cache")
    (job / "job.json").write_text(json.dumps(manifest))
    (job / "merged").unlink()
    (shared / "out" / "video.mp4").unlink()
    for k in (4, 6):
        (job / "frames" / f"{k:06d}.png").unlink()
    merge = _run("farm", "step", "merge", "--job", str(job))
    assert merge.returncode == 2
    assert merge.stderr.strip().splitlines()[-1] == (
        f"vanelia: error: job '{job}': render chunk 1 (frames 4-7) not finished; nothing written"
    )
    assert not (shared / "out" / "video.mp4").exists()
    status = _run("farm", "status", "--shared", str(shared))
    assert status.returncode == 0
    assert "rendering; track done, scene done, frames 10/12, chunks to render: 1" in status.stdout

    # Submit again: only chunk 1 and the merge run, and only its 2 missing
    # frames are rendered (the others keep their files).
    kept = (job / "frames" / "000005.png").stat().st_mtime_ns
    again = _run(
        "farm", "submit", VIDEO, "--product", PRODUCT, "--shared", str(shared),
        "--chunk", "4", *RENDER,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "2 steps to run" in again.stderr
    assert "render 1: done" in again.stderr and "merge: done" in again.stderr
    assert (job / "frames" / "000005.png").stat().st_mtime_ns == kept
    assert filecmp.cmp(shared / "out" / "video.mp4", farm["work"] / "one.mp4", shallow=False)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--samples", "3", "--end", "12", "--chunk", "4"], "exists with another samples"),
        (["--samples", "2", "--end", "12", "--chunk", "0"], "--chunk 0: must be >= 1"),
        (["--samples", "2", "--end", "99", "--chunk", "4"], "--end 99: past the end"),
        (["--samples", "2", "--backend", "pbs"], "--backend pbs: must be slurm or local"),
    ],
)
def test_bad_requests_are_refused_with_one_line(farm, args, message):
    before = sorted(p.name for p in (farm["shared"] / "jobs").iterdir())
    run = _run(
        "farm", "submit", VIDEO, "--product", PRODUCT, "--shared", str(farm["shared"]), *args
    )
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and message in run.stderr, run.stderr
    assert sorted(p.name for p in (farm["shared"] / "jobs").iterdir()) == before


def test_step_options_are_checked(farm):
    job = str(farm["job"])
    run = _run("farm", "step", "render", "--job", job, "--chunk", "3")
    assert run.returncode == 2 and "--chunk 3: job 'video-" in run.stderr
    assert "has chunks 0 to 2" in run.stderr
    run = _run("farm", "step", "paint", "--job", job)
    assert run.returncode == 2 and "step 'paint'" in run.stderr
    run = _run("farm", "step", "merge", "--job", str(farm["work"]))
    assert run.returncode == 2 and "no job.json" in run.stderr
    # A finished job's steps are skipped.
    run = _run("farm", "step", "merge", "--job", job)
    assert run.returncode == 0 and "done already" in run.stderr


def test_farm_passes_are_the_one_machine_passes(tmp_path):
    """`farm submit --passes DIR`: every chunk writes its frames' passes into
    DIR/<clip name>, the same files as `vanelia run --passes` (whole frames,
    both runs from the same track cache)."""
    shared, render = tmp_path / "shared", ["--samples", "2", "--end", "6"]
    passes = ["--passes-format", "png16"]
    submit = _run(
        "farm", "submit", VIDEO, "--product", PRODUCT, "--shared", str(shared),
        "--chunk", "3", "--passes", str(tmp_path / "farm_passes"), *passes, *render,
    )  # fmt: skip
    assert submit.returncode == 0, submit.stderr
    env = dict(os.environ, VANELIA_CACHE_DIR=str(shared / "cache"))
    one = _run(
        "run", VIDEO, PRODUCT, "-o", str(tmp_path / "one.mp4"),
        "--passes", str(tmp_path / "one_passes"), *passes, *render, env=env,
    )  # fmt: skip
    assert one.returncode == 0, one.stderr
    farm_dir, one_dir = tmp_path / "farm_passes" / "video", tmp_path / "one_passes"
    for name in ("product", "shadow", "holdout", "plate", "composite"):
        files = sorted(os.listdir(farm_dir / name))
        assert files == [f"{name}.{frame:04d}.png" for frame in range(1, 7)], name
        assert files == sorted(os.listdir(one_dir / name)), name
        for f in files:
            assert filecmp.cmp(farm_dir / name / f, one_dir / name / f, shallow=False), f
    (job,) = list((shared / "jobs").iterdir())
    manifest = json.loads((job / "job.json").read_text())
    assert manifest["passes"] == str(farm_dir)
    assert manifest["passes_format"] == "png16"
    # A second submit with other passes is another job: refused, nothing written.
    again = _run(
        "farm", "submit", VIDEO, "--product", PRODUCT, "--shared", str(shared),
        "--chunk", "3", *render,
    )  # fmt: skip
    assert again.returncode == 2
    assert "exists with another passes" in again.stderr
