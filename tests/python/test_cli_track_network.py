"""`vanelia track --tracker must3r`: the CLI's checks before any network runs.

Running the real network needs downloaded weights (not in CI); the tracker
itself is tested with the tiny checkpoints in tests/native/track.
"""

import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample", "video.mp4")
TINY = os.path.join(ROOT, "tests", "data", "must3r", "checkpoints", "tiny_kv.pth")


def _track(tmp_path, *extra):
    out = tmp_path / "track.json"
    run = subprocess.run(
        [VANELIA, "track", SAMPLE, "-o", str(out), *extra], capture_output=True, text=True
    )
    return run, out


def _has_must3r():
    return (
        "must3r"
        in subprocess.run([VANELIA, "track", "--help"], capture_output=True, text=True).stdout
    )


@pytest.fixture(autouse=True)
def _needs_network_build():
    assert _has_must3r(), "this build has no MUSt3R tracker (LibTorch missing?)"


def test_must3r_without_weights_says_how_to_get_them(tmp_path):
    run, out = _track(tmp_path, "--tracker", "must3r")
    assert run.returncode == 2
    assert "--weights" in run.stderr and "MUSt3R_512.pth" in run.stderr
    assert not out.exists()


def test_weights_of_another_resolution(tmp_path):
    run, out = _track(tmp_path, "--tracker", "must3r", "--weights", TINY)
    assert run.returncode == 2
    assert "--image-size 512: the weights" in run.stderr
    assert "are for image size 128; give --image-size 0 (the weights' own)" in run.stderr
    assert not out.exists()


def test_random_file_as_weights(tmp_path):
    bogus = tmp_path / "MUSt3R_512.pth"
    bogus.write_bytes(os.urandom(4096))
    run, out = _track(tmp_path, "--tracker", "must3r", "--weights", str(bogus))
    assert run.returncode == 2
    assert "not a zip archive" in run.stderr and str(bogus) in run.stderr
    assert not out.exists()


def test_weights_without_network_tracker(tmp_path):
    run, out = _track(tmp_path, "--weights", TINY)
    assert run.returncode == 2 and "--weights: only used with --tracker must3r" in run.stderr
    assert not out.exists()


def test_bad_image_size(tmp_path):
    run, _ = _track(tmp_path, "--tracker", "must3r", "--weights", TINY, "--image-size", "300")
    assert run.returncode == 2
    assert (
        run.stderr == "vanelia: error: --image-size 300: must be 224, 512 or 0 (the weights' own)\n"
    )


def test_cuda_requested_without_gpu(tmp_path):
    # CI's machines have no GPU (the device machine runs only `ctest -L gpu`).
    run, out = _track(tmp_path, "--tracker", "must3r", "--weights", TINY, "--device", "cuda")
    assert run.returncode == 2 and "no CUDA GPU is available" in run.stderr
    assert not out.exists()


def test_half_precision_needs_cuda(tmp_path):
    run, out = _track(
        tmp_path, "--tracker", "must3r", "--weights", TINY, "--image-size", "512", "--dtype", "bf16"
    )
    assert run.returncode == 2 and "needs a CUDA GPU" in run.stderr
    assert not out.exists()


def test_bad_dtype_names_the_rule(tmp_path):
    run, _ = _track(tmp_path, "--tracker", "must3r", "--weights", TINY, "--dtype", "fp8")
    assert run.returncode == 2 and "--dtype 'fp8': must be fp32, bf16 or fp16" in run.stderr


def test_help_describes_the_keyframe_rules():
    run = subprocess.run([VANELIA, "track", "--help"], capture_output=True, text=True)
    assert run.returncode == 0
    for flag in ["--keyframe-rule", "--overlap-threshold", "--overlap-percentile"]:
        assert flag in run.stdout
    assert "--keyframe-rule R" in run.stdout and "overlap (upstream's SLAM mode" in run.stdout


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--keyframe-rule", "slam"], "--keyframe-rule slam: must be every or overlap"),
        (
            ["--overlap-threshold", "0.1"],
            "--overlap-threshold: only used with --keyframe-rule overlap",
        ),
        (
            ["--keyframe-rule", "overlap", "--keyframe-every", "2"],
            "--keyframe-every: only used with --keyframe-rule every",
        ),
        (
            ["--keyframe-rule", "overlap", "--overlap-percentile", "120"],
            "vanelia: error: --overlap-percentile 120: must be in [0, 100]",
        ),
    ],
)
def test_keyframe_rule_options_are_checked_before_loading(tmp_path, extra, message):
    run, out = _track(tmp_path, "--tracker", "must3r", "--weights", TINY, *extra)
    assert run.returncode == 2 and message in run.stderr, run.stderr
    assert not out.exists()
