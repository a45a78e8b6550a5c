"""core/worker.py (worker mode) with the real CLI and the real Blender: a
`vanelia run` of 4 frames of the sample reports its stages and frames to a
jobs.Job; a cancel is reported within a second (as in-process jobs are,
jobs.Job.settled) and the CLI then stops with nothing written; bad input
comes back as the CLI's own error line with exit code 2."""

import os
import subprocess
import time

import pytest

from vanelia_blender.core import jobs, worker

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample")
VIDEO = os.path.join(SAMPLE, "video.mp4")
PRODUCT = os.path.join(SAMPLE, "product.glb")


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("worker") / "sample.track.json")
    subprocess.run(
        [VANELIA, "import-track", os.path.join(SAMPLE, "gt.json"), "-o", path, "--quiet"],
        check=True,
    )
    return path


def _run_args(track, out, frames=4):
    return ["run", VIDEO, PRODUCT, "--track", track, "-o", out, "--samples", "1"] + (
        ["--end", str(frames)] if frames else []
    )


def test_find_cli_prefers_the_bundled_one(tmp_path, monkeypatch):
    monkeypatch.setenv("VANELIA_CLI", VANELIA)
    assert worker.find_cli(str(tmp_path)) == VANELIA
    (tmp_path / "bin").mkdir()
    bundled = tmp_path / "bin" / "vanelia"
    bundled.write_text("#!/bin/sh\n")
    bundled.chmod(0o755)
    assert worker.find_cli(str(tmp_path)) == str(bundled)


def test_a_run_reports_its_stages_and_frames(track, tmp_path):
    out = str(tmp_path / "final.mp4")
    seen = []

    def work(progress):
        def spy(**fields):
            seen.append(dict(fields))
            return progress(**fields)

        return worker.run_cli(_run_args(track, out), spy, cli=VANELIA)

    job = jobs.Job(work, "render")
    snap = job.run_sync()
    assert snap.state == jobs.DONE, snap.error
    assert snap.result == out and os.path.isfile(out)
    renders = [f for f in seen if f.get("stage") == "render" and f.get("total")]
    assert renders and renders[-1]["done"] == renders[-1]["total"] == 4
    assert any(f.get("eta_s", -1) >= 0 for f in renders)
    assert snap.stage == "render"


def test_cancel_stops_within_a_second_and_writes_nothing(track, tmp_path):
    out = str(tmp_path / "final.mp4")
    job = jobs.Job(lambda p: worker.run_cli(_run_args(track, out, 0), p, cli=VANELIA), "render")
    job.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        snap = job.snapshot()
        if snap.stage == "render" and snap.done >= 1 or snap.finished:
            break
        time.sleep(0.05)
    assert not job.snapshot().finished, "the run ended before it could be cancelled"
    job.cancel()
    cancelled_at = time.monotonic()
    while job.settled().state != jobs.CANCELLED and time.monotonic() - cancelled_at < 5.0:
        time.sleep(0.02)
    reported_after = time.monotonic() - cancelled_at
    # The panel reports the cancel (jobs.Job.settled) within a second; the CLI
    # then finishes stopping Blender and removing its output on its own.
    assert job.settled().state == jobs.CANCELLED
    assert reported_after < 1.0, f"cancel reported {reported_after:.2f} s after Esc"
    assert job.wait(30.0)
    print(
        f"cancel: reported after {reported_after:.2f} s, CLI stopped after "
        f"{time.monotonic() - cancelled_at:.2f} s"
    )
    assert job.snapshot().state == jobs.CANCELLED
    assert not os.path.exists(out)
    assert not [n for n in os.listdir(tmp_path) if n != "final.mp4"]


def test_bad_input_is_the_clis_error_line(track, tmp_path):
    missing = str(tmp_path / "missing.glb")
    args = ["run", VIDEO, missing, "--track", track, "-o", str(tmp_path / "x.mp4")]
    job = jobs.Job(lambda p: worker.run_cli(args, p, cli=VANELIA), "render")
    snap = job.run_sync()
    assert snap.state == jobs.FAILED
    assert isinstance(snap.error, worker.WorkerError)
    assert snap.error.exit_code == 2
    assert missing in str(snap.error)
    assert not os.listdir(tmp_path)


def test_no_cli_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("VANELIA_CLI", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(worker.WorkerError, match="no vanelia executable"):
        worker.run_cli(["info", VIDEO], lambda **f: True, cli=worker.find_cli(str(tmp_path)))
