"""Ignore masks (issue 17): the walker clip tracked with and without masks of its walking box
(made here by projecting the box of gt.json's scene_objects through the true cameras, padded
by 4 px) and with a large moving panel pasted in, scored by eval_track.py; a black mask
changes nothing; the masked track's key in the cache (native and add-on); `vanelia track
--mask` and `vanelia run --mask` on bad masks (exit 2, one line naming the mask)."""

import json
import os
import subprocess
import sys

import _vanelia
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.environ.get("VANELIA_CLI", os.path.join(ROOT, "build", "bin", "vanelia"))
EVAL_TRACK = os.path.join(ROOT, "tests", "data", "tools", "eval_track.py")
WALKER = os.path.join(ROOT, "tests", "data", "clips", "walker")
WALKER_VIDEO = os.path.join(WALKER, "video.mp4")
PAD_PX = 4
PRODUCT = os.path.join(ROOT, "tests", "data", "sample", "product.glb")


def _walker_gt():
    with open(os.path.join(WALKER, "gt.json"), encoding="utf-8") as f:
        return json.load(f)


def walker_boxes(gt, pad_px=PAD_PX):
    """Per frame, the pixel box (x0, y0, x1, y1; inclusive) the walker covers: its eight
    corners projected with the true camera, their bounding box padded by `pad_px`."""
    walker = next(o for o in gt["scene_objects"] if o["name"] == "Walker")
    half = np.array(walker["size"]) / 2.0
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    boxes = []
    for frame in gt["frames"]:
        centre = np.array(walker["location_per_frame"][frame["index"]])
        corners = centre + signs * half
        w2c = np.array(frame["w2c_opencv"])
        cam = corners @ w2c[:3, :3].T + w2c[:3, 3]
        px = cam @ np.array(frame["K_opencv"]).T
        uv = px[:, :2] / px[:, 2:3]
        x0, y0 = np.floor(uv.min(axis=0)).astype(int) - pad_px
        x1, y1 = np.ceil(uv.max(axis=0)).astype(int) + pad_px
        boxes.append((x0, y0, x1, y1))
    return boxes


def write_pgm(path, image):
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (image.shape[1], image.shape[0]))
        f.write(image.astype(np.uint8).tobytes())


def make_masks(folder, gt, boxes):
    """One PGM per frame (white = the walker), named so that natural order is frame order."""
    os.makedirs(folder, exist_ok=True)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        mask = np.zeros((gt["height"], gt["width"]), np.uint8)
        mask[max(y0, 0) : max(y1 + 1, 0), max(x0, 0) : max(x1 + 1, 0)] = 255
        write_pgm(os.path.join(folder, f"mask_{k}.pgm"), mask)
    return folder


def score(track_path):
    run = subprocess.run(
        [sys.executable, EVAL_TRACK, os.path.join(WALKER, "gt.json"), str(track_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def walker_tracks(tmp_path_factory):
    """The walker tracked without and with masks (about 4 s each)."""
    tmp = tmp_path_factory.mktemp("walker")
    gt = _walker_gt()
    masks = make_masks(str(tmp / "masks"), gt, walker_boxes(gt))
    plain = tmp / "plain.json"
    masked = tmp / "masked.json"
    _vanelia.track_video(WALKER_VIDEO, output=str(plain))
    doc = _vanelia.track_video(WALKER_VIDEO, output=str(masked), mask=masks)
    return gt, masks, plain, masked, doc


def test_masked_walker_solves_as_well(walker_tracks):
    """The walker is small: the unmasked solve already rejects its tracks (3968 observations
    on it, masks_test.cpp), so masks have nothing to win here; the masked track must stay as
    good (issue 5's bounds, and within the noise of removing a box of features: a static
    70x60 px "logo" mask moves the ATE from 0.042 % to 0.053 %)."""
    gt, masks, plain, masked, doc = walker_tracks
    a = score(plain)
    b = score(masked)
    print("walker unmasked:", {k: a[k] for k in ("registered", "ate_pct", "rot_err_mean_deg")})
    print("walker masked:  ", {k: b[k] for k in ("registered", "ate_pct", "rot_err_mean_deg")})
    assert b["registered"] == b["total"] == 24
    assert b["ate_pct"] <= 0.1 and b["rot_err_mean_deg"] <= 0.1
    assert b["ate_pct"] <= max(2.0 * a["ate_pct"], a["ate_pct"] + 0.03)
    opts = doc["tracker"]["options"]
    assert opts["mask"] == masks
    assert opts["mask_sha256"] == _vanelia.source_content_sha256(masks)


def test_black_mask_changes_nothing(walker_tracks, tmp_path):
    """A mask that ignores nothing gives the unmasked track, pose for pose (about 3 s)."""
    _, _, plain, _, _ = walker_tracks
    black = str(tmp_path / "black.pgm")
    write_pgm(black, np.zeros((360, 640), np.uint8))
    doc = _vanelia.track_video(WALKER_VIDEO, mask=black)
    with open(plain, encoding="utf-8") as f:
        assert doc["frames"] == json.load(f)["frames"]


def _walker_rgb():
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", WALKER_VIDEO, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, 360, 640, 3).copy()


def test_masks_keep_a_large_moving_panel_out_of_the_solve(tmp_path):
    """The walker's frames with a 240x160 px panel of random 8 px blocks sliding right by
    10 px a frame along the bottom (a bus, a screen): unmasked, its corners move together and
    pull the solve off (ATE 2.0 % of the path, rotation 8.2 deg, focal 9.9 % off when this
    test was written); masked (the panel's box padded by 4 px), the track is about as good as
    on the clean clip (0.10 %, 0.07 deg, 0.12 %). Frames and masks are PPM/PGM folders
    (about 8 s)."""
    frames = _walker_rgb()
    rng = np.random.default_rng(7)
    w, h, speed = 240, 160, 10
    blocks = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
    panel = np.kron(blocks, np.ones((8, 8, 1), np.uint8))
    frame_dir = tmp_path / "frames"
    mask_dir = tmp_path / "masks"
    frame_dir.mkdir()
    mask_dir.mkdir()
    for k, frame in enumerate(frames):
        x0, y0 = 20 + speed * k, 360 - h - 20
        frame[y0 : y0 + h, x0 : x0 + w] = panel
        with open(frame_dir / f"f_{k}.ppm", "wb") as f:
            f.write(b"P6\n640 360\n255\n" + frame.tobytes())
        mask = np.zeros((360, 640), np.uint8)
        mask[y0 - PAD_PX : y0 + h + PAD_PX, x0 - PAD_PX : x0 + w + PAD_PX] = 255
        write_pgm(str(mask_dir / f"m_{k}.pgm"), mask)
    plain = tmp_path / "plain.json"
    masked = tmp_path / "masked.json"
    _vanelia.track_video(str(frame_dir), output=str(plain))
    _vanelia.track_video(str(frame_dir), output=str(masked), mask=str(mask_dir))
    a = score(plain)
    b = score(masked)
    keys = ("registered", "ate_pct", "rot_err_mean_deg", "focal_err_pct_mean")
    print("panel unmasked:", {k: a[k] for k in keys})
    print("panel masked:  ", {k: b[k] for k in keys})
    assert b["registered"] == 24
    assert b["ate_pct"] <= 0.2 and b["rot_err_mean_deg"] <= 0.1
    assert b["focal_err_pct_mean"] <= 1.0
    # The panel does pull the unmasked solve off: what the masks are for.
    assert a["ate_pct"] > 5.0 * b["ate_pct"]


def test_cache_key_changes_with_the_mask(walker_tracks, tmp_path):
    gt, masks, _, _, _ = walker_tracks
    other = make_masks(str(tmp_path / "other"), gt, walker_boxes(gt, pad_px=8))
    digest = _vanelia.source_content_sha256
    assert digest(masks) != digest(other)
    assert digest(masks) != digest(WALKER_VIDEO)


def _cli(*args):
    run = subprocess.run([VANELIA, *args], capture_output=True, text=True)
    lines = run.stderr.strip().splitlines()
    return run.returncode, lines


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: str(d / "nope"), "no such file or folder"),
        (lambda d: _small_mask(d), "must be the clip's frame size 640x360"),
        (lambda d: _short_masks(d), "has 3 frames; the clip has 24"),
    ],
)
def test_cli_track_bad_mask_exits_2_naming_it(tmp_path, make, message):
    mask = make(tmp_path)
    out = tmp_path / "t.json"
    code, lines = _cli("track", WALKER_VIDEO, "-o", str(out), "--quiet", "--mask", mask)
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("vanelia: error: "), lines
    assert f"mask '{mask}'" in lines[0] and message in lines[0], lines
    assert not out.exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "no such file or folder"),
        (["--track", os.path.join(WALKER, "gt.json")], "not with --track"),
    ],
)
def test_cli_run_bad_mask_exits_2_naming_it(tmp_path, extra, message):
    mask = str(tmp_path / "nope")
    out = tmp_path / "final.mp4"
    code, lines = _cli("run", WALKER_VIDEO, PRODUCT, "-o", str(out), "--mask", mask, *extra)
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("vanelia: error: "), lines
    assert f"--mask '{mask}'" in lines[0] and message in lines[0], lines
    assert not out.exists()


def _small_mask(folder):
    path = str(folder / "small.pgm")
    write_pgm(path, np.zeros((180, 320), np.uint8))
    return path


def _short_masks(folder):
    gt = _walker_gt()
    return make_masks(str(folder / "short"), gt, walker_boxes(gt)[:3])


def test_addon_request_keys_the_cache_by_the_mask(walker_tracks, tmp_path):
    """The add-on's track job (core/tracking.py) passes the mask and keys its cache by the
    mask's content: the masked track is stored apart from an unmasked one, and reused."""
    from vanelia_blender.core import cache, jobs, tracking

    _, masks, _, _, _ = walker_tracks
    request = tracking.TrackRequest(
        video=WALKER_VIDEO, mask=masks, cache_folder=str(tmp_path / "cache")
    )
    request.check()
    version = _vanelia.__version__
    digest = _vanelia.source_content_sha256(masks)
    assert request.options(None, version, digest)["mask_sha256"] == digest
    plain = tracking.TrackRequest(video=WALKER_VIDEO).options(None, version)
    assert "mask_sha256" not in plain
    snap = jobs.Job(tracking.track_work(request, _vanelia)).run_sync()
    assert snap.state == jobs.DONE, snap.error
    first = snap.result
    assert not first.from_cache
    with open(first.raw_path, encoding="utf-8") as f:
        assert json.load(f)["tracker"]["options"]["mask_sha256"] == digest
    again = jobs.Job(tracking.track_work(request, _vanelia)).run_sync().result
    assert again.from_cache and again.raw_path == first.raw_path
    unmasked = cache.TrackCache(request.cache_folder).path_for(
        cache.video_sha256(WALKER_VIDEO), "classical", plain
    )
    assert unmasked != first.raw_path
    bad = tracking.TrackRequest(video=WALKER_VIDEO, mask=str(tmp_path / "nope"))
    with pytest.raises(tracking.TrackRequestError, match="no such file or folder"):
        bad.check()
    net = tracking.TrackRequest(video=WALKER_VIDEO, mask=masks, tracker="must3r")
    with pytest.raises(tracking.TrackRequestError, match="only the classical tracker"):
        net.check()


def test_portrait_clip_takes_masks_as_displayed(tmp_path):
    """A phone clip stored 640x360 with a 90 degree rotation is tracked upright (360x640):
    its masks are upright too; a mask in the stored orientation is refused, naming both
    sizes (about 4 s: the upright mask's track)."""
    clip = os.path.join(ROOT, "tests", "data", "clips", "portrait", "video.mp4")
    stored = str(tmp_path / "stored.pgm")
    write_pgm(stored, np.zeros((360, 640), np.uint8))
    code, lines = _cli("track", clip, "-o", str(tmp_path / "a.json"), "--quiet", "--mask", stored)
    assert code == 2 and len(lines) == 1, lines
    assert "is 640x360; must be the clip's frame size 360x640" in lines[0], lines
    upright = str(tmp_path / "upright.pgm")
    mask = np.zeros((640, 360), np.uint8)
    mask[:40, :] = 255  # the top strip, as displayed
    write_pgm(upright, mask)
    out = tmp_path / "b.json"
    code, lines = _cli("track", clip, "-o", str(out), "--quiet", "--no-align", "--mask", upright)
    assert code == 0, lines
    with open(out, encoding="utf-8") as f:
        doc = json.load(f)
    assert doc["summary"]["registered"] == 24
    assert doc["tracker"]["options"]["mask"] == upright
