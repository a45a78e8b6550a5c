"""Bindings of the track module: the C++ and Python track-file readers agree bit for bit, the
camera conventions agree, the importers, and import-track scored by eval_track.py."""

import hashlib
import json
import math
import os
import random
import struct
import subprocess
import sys

import _vanelia
import numpy as np
import pytest

from vanelia_blender.core import conventions, track_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "docs", "track_example.json")
ORBIT_GT = os.path.join(ROOT, "tests", "data", "footage", "orbit", "gt.json")
EVAL_TRACK = os.path.join(ROOT, "tests", "data", "tools", "eval_track.py")
INVALID = os.path.join(ROOT, "tests", "data", "track", "invalid_tracks.json")
VANELIA = os.environ.get("VANELIA_CLI", os.path.join(ROOT, "build", "bin", "vanelia"))


def assert_identical(a, b, where="doc"):
    """Same structure, same types, and floats with the same bits."""
    assert type(a) is type(b), "%s: %s vs %s" % (where, type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_identical(a[key], b[key], where + "." + key)
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, "%s[%d]" % (where, i))
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b), "%s: %r vs %r" % (where, a, b)
    else:
        assert a == b, where


def test_cpp_written_track_reads_identically_in_cpp_and_python(tmp_path):
    out = tmp_path / "orbit_track.json"
    subprocess.run([VANELIA, "import-track", ORBIT_GT, "-o", str(out), "--quiet"], check=True)
    from_cpp = _vanelia.read_track_file(str(out))
    from_python = track_file.load(out)
    assert_identical(from_cpp, from_python)
    assert len(from_python["frames"]) == 96


def test_python_written_track_reads_identically_in_cpp(tmp_path):
    rng = random.Random(9)
    doc = track_file.load(EXAMPLE)
    doc["tracker"]["options"]["values"] = [rng.uniform(-1e6, 1e6) for _ in range(500)]
    for frame in doc["frames"]:
        frame["timestamp_s"] = rng.random() * 1000.0
    path = tmp_path / "t.json"
    track_file.dump(doc, path)
    assert_identical(_vanelia.read_track_file(str(path)), track_file.load(path))
    assert_identical(_vanelia.read_track_file(str(path)), doc)


def test_cpp_and_python_writers_write_the_same_text():
    doc = track_file.load(EXAMPLE)
    assert _vanelia.format_track(doc) == track_file.dumps(doc)
    gt_doc = _vanelia.import_ground_truth(ORBIT_GT)
    assert _vanelia.format_track(gt_doc) == track_file.dumps(gt_doc)


def test_cpp_reader_gives_the_shared_messages():
    with open(INVALID) as fh:
        cases = json.load(fh)["cases"]
    for case in cases:
        doc = track_file.load(EXAMPLE)
        node = doc
        for key in case["path"][:-1]:
            node = node[key]
        if case.get("delete"):
            del node[case["path"][-1]]
        else:
            node[case["path"][-1]] = case["value"]
        with pytest.raises(_vanelia.InputError) as info:
            _vanelia.read_track_file_string(json.dumps(doc), "t.json")
        assert str(info.value) == "track 't.json': " + case["message"]


def test_write_track_file_never_overwrites(tmp_path):
    path = str(tmp_path / "t.json")
    doc = track_file.load(EXAMPLE)
    _vanelia.write_track_file(path, doc)
    with pytest.raises(_vanelia.InputError, match="already exists"):
        _vanelia.write_track_file(path, doc)
    _vanelia.write_track_file(path, doc, overwrite=True)
    assert_identical(track_file.load(path), doc)


def random_pose(rng):
    q = [rng.gauss(0, 1) for _ in range(4)]
    n = math.sqrt(sum(c * c for c in q))
    w, x, y, z = (c / n for c in q)
    r = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return r, [rng.gauss(0, 2) for _ in range(3)]


def test_cpp_and_python_conventions_agree():
    rng = random.Random(4)
    for _ in range(200):
        r, t = random_pose(rng)
        cpp = _vanelia.blender_c2w_from_cam_from_world(r, t).tolist()
        py = conventions.blender_c2w_from_cam_from_world(r, t)
        assert max(abs(a - b) for ra, rb in zip(cpp, py) for a, b in zip(ra, rb)) < 1e-14
        r_cpp, t_cpp = _vanelia.cam_from_world_from_blender_c2w(cpp)
        r_py, t_py = conventions.cam_from_world_from_blender_c2w(py)
        assert (
            max(abs(a - b) for ra, rb in zip(r_cpp.tolist(), r_py) for a, b in zip(ra, rb)) < 1e-14
        )
        assert max(abs(a - b) for a, b in zip(t_cpp.tolist(), t_py)) < 1e-14


def test_project_track_points_matches_python_projection():
    doc = track_file.load(EXAMPLE)
    frame = doc["frames"][2]
    r, t = conventions.cam_from_world_from_blender_c2w(frame["c2w_blender"])
    k = frame["K"]
    points = [[0.0, 0.0, 0.0], [1.0, 0.5, 0.2], [-0.7, 1.2, 1.0]]
    pixels = _vanelia.project_track_points(EXAMPLE, frame["index"], points).tolist()
    for x, (u, v) in zip(points, pixels):
        xc = [sum(r[i][j] * x[j] for j in range(3)) + t[i] for i in range(3)]
        assert abs(k[0][0] * xc[0] / xc[2] + k[0][2] - u) < 1e-9
        assert abs(k[1][1] * xc[1] / xc[2] + k[1][2] - v) < 1e-9
    with pytest.raises(_vanelia.InputError, match="no frame with index 3"):
        _vanelia.project_track_points(EXAMPLE, 3, points)


def test_import_colmap_text_model(tmp_path):
    (tmp_path / "cameras.txt").write_text("# c\n1 SIMPLE_RADIAL 640 360 500 320 180 -0.01\n")
    (tmp_path / "images.txt").write_text(
        "# i\n"
        "1 1 0 0 0 0 0 4 1 img_0005.jpg\n\n"
        "2 0.99500416527802582 0.099833416646828155 0 0 0.1 0 4 1 img_0009.jpg\n"
        "320 180 1\n"
    )
    (tmp_path / "points3D.txt").write_text("1 0 0 0 255 0 0 0.25 2 0\n")
    doc = _vanelia.import_colmap(str(tmp_path), fps_num=30000, fps_den=1001)
    track_file.validate(doc)
    assert doc["world"] == "track"
    assert [f["index"] for f in doc["frames"]] == [5, 9]
    assert doc["frames"][0]["K"][0] == [500.0, 0.0, 319.5]
    assert doc["lens"] == {"model": "radial_k1k2", "k1": -0.01, "k2": 0.0}
    assert doc["points"]["rgb"] == [[255, 0, 0]]
    assert doc["frames"][1]["reproj_err_px"] == 0.25
    assert doc["frames"][0]["reproj_err_px"] is None
    assert doc["fps"] == {"num": 30000, "den": 1001}


def test_import_errors_are_input_errors(tmp_path):
    with pytest.raises(_vanelia.InputError, match="not a folder with cameras"):
        _vanelia.import_colmap(str(tmp_path))
    with pytest.raises(_vanelia.InputError, match="nope.json"):
        _vanelia.import_ground_truth(str(tmp_path / "nope.json"))


def test_import_track_orbit_scores_exactly(tmp_path):
    """Done-when of issue 3: import-track of orbit gt.json scored by eval_track.py."""
    out = tmp_path / "orbit_track.json"
    subprocess.run([VANELIA, "import-track", ORBIT_GT, "-o", str(out), "--quiet"], check=True)
    result = subprocess.run(
        [sys.executable, EVAL_TRACK, ORBIT_GT, str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    metrics = json.loads(result.stdout)
    assert metrics["registered"] == 96
    assert metrics["ate_rmse_m"] <= 1e-6
    assert metrics["rot_err_max_deg"] <= 1e-5
    assert metrics["focal_err_pct_max"] <= 1e-9
    assert metrics["plane_normal_err_deg"] <= 1e-6


def test_import_track_cli_usage_and_overwrite(tmp_path):
    out = tmp_path / "t.json"
    out.write_text("keep")
    run = subprocess.run(
        [VANELIA, "import-track", ORBIT_GT, "-o", str(out)], capture_output=True, text=True
    )
    assert run.returncode == 2 and "already exists" in run.stderr
    assert out.read_text() == "keep"
    run = subprocess.run(
        [VANELIA, "import-track", str(tmp_path), "-o", str(tmp_path / "x.json")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "COLMAP" in run.stderr
    run = subprocess.run([VANELIA, "import-track", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "--first-number" in run.stdout


# -- track_video with the MUSt3R tracker (tiny random-weight checkpoint) ------

SAMPLE = os.path.join(ROOT, "tests", "data", "sample", "video.mp4")
TINY = os.path.join(ROOT, "tests", "data", "must3r", "checkpoints", "tiny_kv.pth")
# Six frames, small batches: the tiny network (128 px) tracks them in a third of a second.
# Random weights estimate no usable focal (0 px, see tests/data/must3r/README.md), so a
# known focal is given, as `vanelia track --focal-px` would.
TINY_RUN = dict(
    tracker="must3r",
    weights=TINY,
    image_size=0,
    device="cpu",
    end=6,
    init_frames=2,
    batch_frames=2,
    local_context=4,
    focal_px=500.0,
)


def test_this_build_has_the_network_trackers():
    assert _vanelia.TRACKERS == ("classical", "must3r", "dust3r")
    assert isinstance(_vanelia.cuda_available(), bool)


def test_must3r_tracks_a_short_clip(tmp_path):
    out = tmp_path / "track.json"
    stages = []

    def progress(p):
        stages.append((p.stage, p.done, p.total))
        return True

    doc = _vanelia.track_video(SAMPLE, output=str(out), progress=progress, **TINY_RUN)
    _vanelia.validate_track(doc)
    assert _vanelia.read_track_file(str(out)) == doc
    assert doc["world"] == "track"
    assert doc["tracker"]["name"] == "must3r"
    options = doc["tracker"]["options"]
    assert options["weights"] == TINY and options["image_size"] == 0
    assert (options["start"], options["end"], options["every"]) == (0, 6, 1)
    assert (options["local_context"], options["keyframe_every"]) == (4, 3)
    assert [f["index"] for f in doc["frames"]] == list(range(6))
    assert (doc["width"], doc["height"]) == (640, 360)
    assert doc["summary"]["registered"] == doc["summary"]["total"] == 6
    # Image size 0 takes the checkpoint's own 128x128 (img_size, no upstream
    # bucket list for 128): the 640x360 frames are cropped to 360x360 at x =
    # 140 and scaled by 360/128. The principal point, pixel (64, 64) of the
    # network image as upstream's focal estimate puts it, maps back through
    # that crop; the known focal is kept in source pixels.
    s = 360 / 128
    for frame in doc["frames"]:
        k = frame["K"]
        assert abs(k[0][2] - (140 + s * 64.5 - 0.5)) < 1e-9, k
        assert abs(k[1][2] - (s * 64.5 - 0.5)) < 1e-9, k
        assert k[0][0] == k[1][1] == 500.0, k
    assert doc["points"] and len(doc["points"]["xyz"]) > 0
    # The depth sidecar beside the track (README "Formats"): one 128x128 map per frame with
    # the network's intrinsics (the focal in network pixels, the centre as above).
    assert doc["depth"] == dict(path="track.depth", format="npy", width=128, height=128, count=6)
    side = tmp_path / "track.depth"
    assert list(np.load(side / "frame_index.npy")) == list(range(6))
    np.testing.assert_allclose(np.load(side / "intrinsics.npy"), [[500 / s, 500 / s, 64, 64]] * 6)
    depth, conf = np.load(side / "depth.npy"), np.load(side / "confidence.npy")
    assert depth.dtype == "<f4" and conf.dtype == "|u1" and depth.shape == conf.shape
    assert depth.shape == (6, 128, 128) and np.isfinite(depth).all() and np.ptp(depth) > 0
    assert ("decode", 6, 6) in stages
    assert any(stage not in ("decode",) for stage, _, _ in stages), stages


def test_must3r_tracks_an_image_folder(tmp_path):
    # A folder of frames tracks like the clip; source.sha256 identifies the
    # folder's content (the per-file digests in frame order).
    frames = tmp_path / "frames"
    frames.mkdir()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", SAMPLE, "-frames:v", "6", str(frames / "%04d.ppm")],
        check=True,
    )
    doc = _vanelia.track_video(str(frames), **TINY_RUN)
    assert doc["summary"]["registered"] == 6
    digests = "".join(
        hashlib.sha256((frames / f"{i:04d}.ppm").read_bytes()).hexdigest() + "\n"
        for i in range(1, 7)
    )
    assert doc["source"]["sha256"] == hashlib.sha256(digests.encode()).hexdigest()
    assert doc["source"]["frame_count"] == 6


def test_must3r_without_a_usable_focal_is_a_clear_error(tmp_path):
    # The random weights give no usable focal on the sample: the tracker says
    # so and names the way out instead of writing an invalid track.
    run = dict(TINY_RUN)
    del run["focal_px"]
    out = tmp_path / "track.json"
    with pytest.raises(_vanelia.InputError, match="no usable focal length.*--focal-px"):
        _vanelia.track_video(SAMPLE, output=str(out), **run)
    assert not out.exists()


def test_must3r_defaults_are_the_clis():
    doc = _vanelia.track_video.__doc__
    for text in (
        "tracker: str = 'classical'",
        "image_size: int = 512",
        "device: str = 'auto'",
        "dtype: str = 'fp32'",
        "local_context: Optional[int] = None",
        "max_keyframes: int = 300",
        "keyframe_every: int = 3",
        "init_frames: int = 8",
        "batch_frames: int = 4",
        "keyframe_rule: str = 'every'",
        "overlap_threshold: float = 0.05",
        "overlap_percentile: float = 85.0",
        "overlap_subsample: int = 2",
        "overlap_min_conf: float = 1.5",
    ):
        assert text in doc, text


def test_must3r_overlap_rule_as_the_cli(tmp_path):
    # The same run through Python and `vanelia track` gives the same track;
    # the rule and the window default (0 with overlap) are recorded.
    run = dict(TINY_RUN)
    del run["local_context"]
    doc = _vanelia.track_video(SAMPLE, keyframe_rule="overlap", overlap_threshold=0.75, **run)
    options = doc["tracker"]["options"]
    assert options["keyframe_rule"] == "overlap" and options["local_context"] == 0
    assert options["overlap_threshold"] == 0.75
    assert doc["summary"]["registered"] == 6
    out = tmp_path / "cli.json"
    cli = subprocess.run(
        [
            VANELIA,
            "track",
            SAMPLE,
            "-o",
            str(out),
            "--no-align",
            "--quiet",
            "--tracker",
            "must3r",
            "--weights",
            TINY,
            "--image-size",
            "0",
            "--device",
            "cpu",
            "--end",
            "6",
            "--init-frames",
            "2",
            "--batch-frames",
            "2",
            "--focal-px",
            "500",
            "--keyframe-rule",
            "overlap",
            "--overlap-threshold",
            "0.75",
        ],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    with open(out) as f:
        from_cli = json.load(f)
    assert [f["c2w_blender"] for f in from_cli["frames"]] == [
        f["c2w_blender"] for f in doc["frames"]
    ]
    with pytest.raises(_vanelia.InputError, match="--keyframe-rule 'sometimes'"):
        _vanelia.track_video(SAMPLE, keyframe_rule="sometimes", **run)


def test_must3r_cancel_raises_cancelled_and_writes_nothing(tmp_path):
    out = tmp_path / "track.json"
    seen = []

    def progress(p):
        seen.append(p.stage)
        return p.stage == "decode"  # cancel once the network runs

    with pytest.raises(_vanelia.Cancelled):
        _vanelia.track_video(SAMPLE, output=str(out), progress=progress, **TINY_RUN)
    assert not out.exists()
    assert seen[-1] != "decode"


def _dust3r_like_checkpoint(path):
    """A torch zip archive laid out like a DUSt3R checkpoint: {'args':
    Namespace(model=...), 'model': OrderedDict()} (no encoder/decoder)."""
    import argparse
    import collections
    import pickle
    import zipfile

    args = argparse.Namespace(model="AsymmetricCroCo3DStereo(patch_embed_cls='PatchEmbedDust3R')")
    data = pickle.dumps({"args": args, "model": collections.OrderedDict()}, protocol=2)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("dust3r/data.pkl", data)
        z.writestr("dust3r/version", "3\n")


def test_must3r_unusable_weights_give_clear_errors(tmp_path):
    random_file = tmp_path / "MUSt3R_512.pth"
    random_file.write_bytes(bytes(random.Random(7).getrandbits(8) for _ in range(4096)))
    with pytest.raises(_vanelia.ModelError, match="not a zip archive") as e:
        _vanelia.track_video(SAMPLE, **dict(TINY_RUN, weights=str(random_file)))
    assert str(random_file) in str(e.value)

    dust3r = tmp_path / "DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth"
    _dust3r_like_checkpoint(str(dust3r))
    with pytest.raises(_vanelia.ModelError, match="is a DUSt3R checkpoint"):
        _vanelia.track_video(SAMPLE, **dict(TINY_RUN, weights=str(dust3r)))

    missing = tmp_path / "nowhere.pth"
    with pytest.raises(_vanelia.ModelError, match="cannot open") as e:
        _vanelia.track_video(SAMPLE, **dict(TINY_RUN, weights=str(missing)))
    assert str(missing) in str(e.value)

    with pytest.raises(
        _vanelia.ModelError,
        match=r"--image-size 512: the weights .* are for image size 128; give --image-size 0",
    ):
        _vanelia.track_video(SAMPLE, **dict(TINY_RUN, image_size=512))


def test_must3r_bad_options_name_the_field():
    with pytest.raises(_vanelia.InputError, match="needs weights.*MUSt3R_512.pth"):
        _vanelia.track_video(SAMPLE, **dict(TINY_RUN, weights=""))
    with pytest.raises(_vanelia.InputError, match="only used by the must3r tracker"):
        _vanelia.track_video(SAMPLE, end=6, weights=TINY)
    with pytest.raises(_vanelia.InputError, match="--image-size 300: must be 224, 512 or 0"):
        _vanelia.track_video(SAMPLE, **dict(TINY_RUN, image_size=300))
    with pytest.raises(_vanelia.InputError, match="--device 'tpu': must be auto, cpu or cuda"):
        _vanelia.track_video(SAMPLE, **dict(TINY_RUN, device="tpu"))
    with pytest.raises(_vanelia.InputError, match="--dtype 'fp8': must be"):
        _vanelia.track_video(SAMPLE, **dict(TINY_RUN, dtype="fp8"))
    with pytest.raises(_vanelia.InputError, match="--keyframe-every 0: must be >= 1"):
        _vanelia.track_video(SAMPLE, **dict(TINY_RUN, keyframe_every=0))
    with pytest.raises(_vanelia.InputError, match="--weights: none given; the dust3r tracker"):
        _vanelia.track_video(SAMPLE, tracker="dust3r")
    if not _vanelia.cuda_available():
        with pytest.raises(_vanelia.InputError, match="no CUDA GPU is available"):
            _vanelia.track_video(SAMPLE, **dict(TINY_RUN, device="cuda"))
        with pytest.raises(_vanelia.InputError, match="needs a CUDA GPU"):
            _vanelia.track_video(SAMPLE, **dict(TINY_RUN, dtype="bf16"))
    else:  # the GPU machine: the device the add-on offers works
        doc = _vanelia.track_video(SAMPLE, **dict(TINY_RUN, device="cuda"))
        assert doc["summary"]["registered"] == 6


DUST3R_TINY = os.path.join(ROOT, "tests", "data", "dust3r", "tiny_linear.pth")
DUST3R_RUN = dict(
    tracker="dust3r", weights=DUST3R_TINY, image_size=0, device="cpu", end=6, focal_px=500.0
)


def test_dust3r_tracks_a_short_clip(tmp_path):
    out = tmp_path / "track.json"
    stages = set()

    def progress(p):
        stages.add(p.stage)
        return True

    # 30 alignment steps: what is checked here (every frame registered and
    # finite, K, points, sidecar, recorded options) does not depend on the
    # alignment's convergence, which the C++ alignment tests gate.
    run = dict(DUST3R_RUN, align_iterations=30)
    doc = _vanelia.track_video(SAMPLE, output=str(out), progress=progress, **run)
    _vanelia.validate_track(doc)
    assert _vanelia.read_track_file(str(out)) == doc
    assert doc["tracker"]["name"] == "dust3r"
    options = doc["tracker"]["options"]
    assert options["weights"] == DUST3R_TINY and options["image_size"] == 0
    assert options["scene_graph"] == "swin" and options["align_iterations"] == 30
    assert {"decode", "encode", "pairs", "align"} <= stages
    assert [f["index"] for f in doc["frames"]] == list(range(6))
    assert doc["summary"]["registered"] == doc["summary"]["total"] == 6
    # Image size 0 = the checkpoint's 128: 640x360 -> 128x72 (LANCZOS),
    # centre crop to 128x64 (top row 4); the known focal is kept in source
    # pixels and the principal point, network pixel (64, 32), maps back.
    s = 640 / 128
    for frame in doc["frames"]:
        k = frame["K"]
        assert abs(k[0][0] - 500.0) < 1e-3 and abs(k[1][1] - 500.0) < 1e-3, k
        assert abs(k[0][2] - ((64 + 0.5) * s - 0.5)) < 1e-9, k
        assert abs(k[1][2] - ((32 + 4 + 0.5) * s - 0.5)) < 1e-9, k
        assert all(math.isfinite(v) for row in frame["c2w_blender"] for v in row)
    assert doc["points"] and len(doc["points"]["xyz"]) > 0
    # The depth sidecar: the 128x64 network maps, focal 500 / 5 network pixels.
    assert doc["depth"] == dict(path="track.depth", format="npy", width=128, height=64, count=6)
    side = tmp_path / "track.depth"
    np.testing.assert_allclose(
        np.load(side / "intrinsics.npy"), [[100, 100, 64, 32]] * 6, rtol=1e-4
    )
    assert np.load(side / "depth.npy").shape == np.load(side / "confidence.npy").shape


def test_dust3r_and_must3r_refuse_each_others_weights():
    with pytest.raises(_vanelia.ModelError, match="is a MUSt3R checkpoint") as e:
        _vanelia.track_video(SAMPLE, **dict(DUST3R_RUN, weights=TINY))
    assert TINY in str(e.value)
    with pytest.raises(_vanelia.ModelError, match="is a DUSt3R checkpoint") as e:
        _vanelia.track_video(SAMPLE, **dict(TINY_RUN, weights=DUST3R_TINY))
    assert DUST3R_TINY in str(e.value)
    with pytest.raises(_vanelia.ModelError, match=r"--image-size 512: the weights .* 128"):
        _vanelia.track_video(SAMPLE, **dict(DUST3R_RUN, image_size=512))
    with pytest.raises(_vanelia.InputError, match="--dtype 'bf16'"):
        _vanelia.track_video(SAMPLE, **dict(DUST3R_RUN, dtype="bf16"))


def _cli_track(tmp_path, *extra):
    out = tmp_path / "track.json"
    run = subprocess.run(
        [VANELIA, "track", SAMPLE, "-o", str(out), "--no-align", *extra],
        capture_output=True,
        text=True,
    )
    return run, out


def test_cli_dust3r_end_to_end(tmp_path):
    run, out = _cli_track(
        tmp_path,
        "--tracker",
        "dust3r",
        "--weights",
        DUST3R_TINY,
        "--image-size",
        "0",
        "--focal-px",
        "500",
        "--end",
        "12",
        "--align-iterations",
        "30",
    )
    assert run.returncode == 0, run.stderr
    doc = _vanelia.read_track_file(str(out))
    _vanelia.validate_track(doc)
    assert doc["tracker"]["name"] == "dust3r"
    assert doc["tracker"]["options"]["align_iterations"] == 30
    registered = [f["index"] for f in doc["frames"]]
    left_out = doc["summary"]["total"] - doc["summary"]["registered"]
    assert len(registered) + left_out == 12
    assert left_out == 0 or any("left out" in w for w in doc["summary"]["warnings"])


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--tracker", "dust3r"), "--tracker dust3r needs --weights"),
        (("--tracker", "dust3r", "--weights", TINY, "--image-size", "0"), "is a MUSt3R checkpoint"),
        (("--tracker", "must3r", "--weights", DUST3R_TINY, "--image-size", "0"), "is a DUSt3R"),
        (("--tracker", "dust3r", "--weights", DUST3R_TINY), "--image-size 512: the weights"),
        (("--tracker", "dust3r", "--weights", DUST3R_TINY, "--scene-graph", "ring"), "ring"),
        (("--tracker", "must3r", "--weights", TINY, "--pair-window", "2"), "--pair-window"),
        (("--tracker", "dust3r", "--weights", DUST3R_TINY, "--local-context", "2"), "must3r"),
        (("--tracker", "must3r", "--weights", TINY, "--align-window", "8"), "--align-window"),
        (
            ("--tracker", "dust3r", "--weights", DUST3R_TINY, "--align-window", "8")
            + ("--align-overlap", "8"),
            "--align-overlap 8: must be in [1, --align-window - 1] = [1, 7]",
        ),
    ],
)
def test_cli_dust3r_bad_options_exit_2(tmp_path, extra, message):
    run, out = _cli_track(tmp_path, *extra)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert not out.exists()


def test_dust3r_keywords_mirror_the_cli(tmp_path):
    """track_video's DUSt3R keywords are the CLI's flags (same track, same
    recorded options); a clip longer than --align-window is aligned in
    overlapping windows and every frame comes back once."""
    run = dict(
        DUST3R_RUN,
        end=10,
        scene_graph="logwin",
        pair_window=2,
        align_iterations=5,
        align_window=6,
        align_overlap=2,
    )
    doc = _vanelia.track_video(SAMPLE, **run)
    _vanelia.validate_track(doc)
    options = doc["tracker"]["options"]
    assert (options["scene_graph"], options["pair_window"], options["align_iterations"]) == (
        "logwin",
        2,
        5,
    )
    assert (options["align_window"], options["align_overlap"]) == (6, 2)
    assert [f["index"] for f in doc["frames"]] == list(range(10))
    assert all(math.isfinite(v) for f in doc["frames"] for row in f["c2w_blender"] for v in row)
    cli, out = _cli_track(
        tmp_path,
        "--tracker",
        "dust3r",
        "--weights",
        DUST3R_TINY,
        "--image-size",
        "0",
        "--device",
        "cpu",
        "--focal-px",
        "500",
        "--end",
        "10",
        "--scene-graph",
        "logwin",
        "--pair-window",
        "2",
        "--align-iterations",
        "5",
        "--align-window",
        "6",
        "--align-overlap",
        "2",
    )
    assert cli.returncode == 0, cli.stderr
    from_cli = _vanelia.read_track_file(str(out))
    assert from_cli["tracker"]["options"] == options
    assert [f["c2w_blender"] for f in from_cli["frames"]] == [
        f["c2w_blender"] for f in doc["frames"]
    ]
    doc_text = _vanelia.track_video.__doc__
    assert all(k in doc_text for k in ("`scene_graph`", "`pair_window`", "`align_window`"))
    with pytest.raises(_vanelia.InputError, match="--scene-graph.*ring"):
        _vanelia.track_video(SAMPLE, **dict(run, scene_graph="ring"))
    with pytest.raises(_vanelia.InputError, match="--align-window 1: must be 0"):
        _vanelia.track_video(SAMPLE, **dict(run, align_window=1))
    with pytest.raises(_vanelia.InputError, match=r"--align-overlap 6: must be in .* = \[1, 5\]"):
        _vanelia.track_video(SAMPLE, **dict(run, align_overlap=6))
    with pytest.raises(_vanelia.InputError, match="only used by the dust3r tracker"):
        _vanelia.track_video(SAMPLE, **dict(TINY_RUN, align_window=8))


@pytest.mark.parametrize("stage, at", [("encode", 1), ("pairs", 1), ("align", 3)])
def test_dust3r_cancel_stops_within_one_step_and_writes_nothing(tmp_path, stage, at):
    """A cancel from the progress callback (returning False) during the
    encoder, the pair decoder or the alignment ends the run at once: the
    callback is never called again, Cancelled names the step, nothing is
    written."""
    out = tmp_path / "track.json"
    seen = []

    def progress(p):
        seen.append((p.stage, p.done, p.total, p.eta_s))
        return not (p.stage == stage and p.done >= at)

    run = dict(DUST3R_RUN, end=12, align_iterations=20, align_window=8, align_overlap=3)
    with pytest.raises(_vanelia.Cancelled, match=stage + ": cancelled at") as e:
        _vanelia.track_video(SAMPLE, output=str(out), progress=progress, **run)
    assert not out.exists()
    last = seen[-1]
    assert last[0] == stage and last[1] >= at, seen[-3:]
    assert "cancelled at %d/%d" % (last[1], last[2]) in str(e.value)
    # Progress over pairs and alignment steps comes with an ETA.
    for s, done, total, eta in seen:
        if s in ("pairs", "align") and 0 < done < total:
            assert eta >= 0, (s, done, total, eta)
    if stage == "align":
        # Two windows of 20 steps: the total counts both.
        assert last[2] == 40


class _Touch:
    """Unpickling this would run `touch <marker>` (pickle's REDUCE of
    posix.system): a loader that executes pickles would leave the marker."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch " + self.marker,))


def _hostile_checkpoint(tmp_path, kind):
    import pickle
    import zipfile

    path = tmp_path / ("DUSt3R_%s.pth" % kind)
    if kind == "malicious":
        marker = str(tmp_path / "executed")
        data = pickle.dumps({"args": _Touch(marker), "model": {}}, protocol=2)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            z.writestr("evil/data.pkl", data)
            z.writestr("evil/version", "3\n")
    else:  # the tiny checkpoint cut in half
        with open(DUST3R_TINY, "rb") as f:
            path.write_bytes(f.read()[: os.path.getsize(DUST3R_TINY) // 2])
    return path


@pytest.mark.parametrize("tracker", ["dust3r", "must3r"])
@pytest.mark.parametrize("kind", ["malicious", "truncated"])
def test_cli_hostile_checkpoints_exit_2_and_run_nothing(tmp_path, tracker, kind):
    bad = _hostile_checkpoint(tmp_path, kind)
    run, out = _cli_track(
        tmp_path, "--tracker", tracker, "--weights", str(bad), "--image-size", "0"
    )
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert str(bad) in run.stderr, run.stderr
    assert not out.exists()
    assert not (tmp_path / "executed").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [bad.name]


def test_cli_dust3r_224_weights_at_512_exit_2(tmp_path):
    """The tiny checkpoint relabelled as trained at 224 (its args' img_size,
    same length in the pickle) is refused at --image-size 512, before any
    frame is read."""
    import zipfile

    ckpt = tmp_path / "DUSt3R_ViTLarge_BaseDecoder_224_linear.pth"
    with zipfile.ZipFile(DUST3R_TINY) as src, zipfile.ZipFile(ckpt, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("/data.pkl"):
                assert b"img_size=(128, 128)" in data
                data = data.replace(b"img_size=(128, 128)", b"img_size=(224, 224)")
            dst.writestr(info, data)
    run, out = _cli_track(
        tmp_path, "--tracker", "dust3r", "--weights", str(ckpt), "--image-size", "512"
    )
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "--image-size 512: the weights '%s' are for image size 224" % ckpt in run.stderr
    assert not out.exists()
