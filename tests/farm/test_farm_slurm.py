"""`vanelia farm submit --backend slurm` on a real single-node Slurm cluster
(slurm_cluster.py: munged, slurmctld and slurmd on this machine, started and
stopped by the test). The sample clip in 4 chunks: the merged video equals
the one-machine `vanelia run` (chunk frames byte-identical, same frames,
rate, size and audio, decoded frames PSNR >= 50 dB; here even the same
bytes); one render chunk killed mid-way leaves its job unmergeable (the
merge names it and writes nothing), and submitting again runs only that
chunk and the merge, giving the same video."""

import filecmp
import os
import re
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from slurm_cluster import SlurmCluster  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample")
VIDEO = os.path.join(SAMPLE, "video.mp4")
PRODUCT = os.path.join(SAMPLE, "product.glb")
# 12 frames in 4 chunks of 3; enough samples that a chunk takes seconds, so
# it can be killed mid-way.
RENDER = ["--samples", "48", "--end", "12"]


def _run(*args, env=None, timeout=600):
    return subprocess.run(
        [VANELIA, *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def _probe(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_type,width,height,r_frame_rate,nb_read_frames", "-of", "csv", path],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return sorted(out.split())


def _psnr(a, b):
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-i", a, "-i", b, "-lavfi", "psnr", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    value = re.search(r"average:(\S+)", out).group(1)
    return float("inf") if value == "inf" else float(value)


def _wait_for(condition, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def one_machine(tmp_path_factory):
    work = tmp_path_factory.mktemp("one")
    env = dict(os.environ, VANELIA_CACHE_DIR=str(work / "cache"))
    run = _run(
        "run", VIDEO, PRODUCT, "-o", str(work / "one.mp4"), "--keep-frames",
        str(work / "frames"), *RENDER, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return work


def test_slurm_farm_kill_and_resubmit_gives_the_one_machine_video(tmp_path, one_machine):
    shared = tmp_path / "shared"
    with SlurmCluster(tmp_path / "slurm") as cluster:
        env = cluster.env()
        submit = _run(
            "farm", "submit", VIDEO, "--product", PRODUCT, "--backend", "slurm",
            "--shared", str(shared), "--chunk", "3", *RENDER, env=env,
        )  # fmt: skip
        assert submit.returncode == 0, submit.stderr
        line = submit.stdout.strip()
        m = re.fullmatch(
            r"(video-[0-9a-f]{8}): submitted track (\d+), build (\d+), "
            r"render \(4 chunks\) (\d+), merge (\d+)",
            line,
        )
        assert m, line
        name, render_id, merge_id = m.group(1), m.group(4), m.group(5)
        job = shared / "jobs" / name
        frames = job / "frames"

        # Kill chunk 1 once it has written its first frame (3), before its last (5).
        _wait_for(lambda: (frames / "000003.png").exists(), 300, "chunk 1's first frame")
        cluster.run("scancel", f"{render_id}_1")
        _wait_for(
            lambda: not [q for q in cluster.queue() if q.startswith(f"{render_id}_")],
            300, "the other chunks",
        )  # fmt: skip
        assert not (frames / "000005.png").exists(), "chunk 1 finished before it was killed"
        # The merge waited for a chunk that will never succeed: Slurm cancels
        # it (--kill-on-invalid-dep), nothing stays pending.
        cluster.wait_until_empty(timeout_s=60)
        assert cluster.job_states(merge_id)[merge_id].startswith("CANCELLED"), cluster.job_states(
            merge_id
        )

        status = _run("farm", "status", "--shared", str(shared))
        assert "rendering; track done, scene done" in status.stdout, status.stdout
        assert status.stdout.rstrip().endswith("chunks to render: 1"), status.stdout
        merge = _run("farm", "step", "merge", "--job", str(job))
        assert merge.returncode == 2
        assert "render chunk 1 (frames 3-5) not finished; nothing written" in merge.stderr
        assert not (shared / "out" / "video.mp4").exists()

        again = _run(
            "farm", "submit", VIDEO, "--product", PRODUCT, "--backend", "slurm",
            "--shared", str(shared), "--chunk", "3", *RENDER, env=env,
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert re.fullmatch(
            rf"{name}: submitted render \(1 chunks\) \d+, merge \d+", again.stdout.strip()
        ), again.stdout
        cluster.wait_until_empty(timeout_s=300)

    out = shared / "out" / "video.mp4"
    assert out.exists(), (job / "logs").iterdir()
    one = one_machine / "one.mp4"
    for k in range(12):
        name_k = f"{k:06d}.png"
        assert filecmp.cmp(frames / name_k, one_machine / "frames" / name_k, shallow=False), k
    assert _probe(str(out)) == _probe(str(one))
    assert _psnr(str(out), str(one)) >= 50.0
    assert filecmp.cmp(out, one, shallow=False)
    assert not [n for n in os.listdir(frames) if n.startswith(".tmp-")]
