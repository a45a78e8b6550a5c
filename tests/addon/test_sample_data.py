"""Checks of the bundled sample (tests/data/sample): the clip, its gt.json and product.glb.

bpy-free: plain python3 + numpy + the ffprobe/ffmpeg command-line tools. The fixtures and the
commands that made them are listed in tests/data/README.md.
"""

import json
import pathlib
import struct
import subprocess

import numpy as np
import pytest

SAMPLE_DIR = pathlib.Path(__file__).resolve().parents[1] / "data" / "sample"
VIDEO = SAMPLE_DIR / "video.mp4"
GT = SAMPLE_DIR / "gt.json"
PRODUCT = SAMPLE_DIR / "product.glb"
# Blender camera (x right, y up, looks down -z) to OpenCV camera (x right, y down, z forward).
OPENCV_FROM_BLENDER_CAM = np.diag([1.0, -1.0, -1.0, 1.0])


def ffprobe_streams(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)["streams"]


@pytest.fixture(scope="module")
def gt():
    with open(GT) as f:
        return json.load(f)


def box_corners(obj):
    """The 8 corners [8, 3] of a scene_objects box (centre, full size, rotation about +Z)."""
    half = np.asarray(obj["size"], float) / 2.0
    a = np.radians(obj["rotation_z_deg"])
    rot = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
    return np.asarray(obj["location"], float) + (signs * half) @ rot.T


def project(frame, points_in_world):
    """Pixels [N, 2] (OpenCV, pixel centres at integers) and depths [N] of world points."""
    w2c = np.asarray(frame["w2c_opencv"], float)
    k = np.asarray(frame["K_opencv"], float)
    p_in_cam = points_in_world @ w2c[:3, :3].T + w2c[:3, 3]
    uvw = p_in_cam @ k.T
    return uvw[:, :2] / uvw[:, 2:3], p_in_cam[:, 2]


def test_video_streams():
    streams = ffprobe_streams(VIDEO)
    video = [s for s in streams if s["codec_type"] == "video"]
    audio = [s for s in streams if s["codec_type"] == "audio"]
    assert len(video) == 1
    assert video[0]["codec_name"] == "h264"
    assert video[0]["pix_fmt"] == "yuv420p"
    assert (video[0]["width"], video[0]["height"]) == (640, 360)
    assert video[0]["r_frame_rate"] == "24/1"
    assert int(video[0]["nb_read_frames"]) == 48
    assert len(audio) == 1, "the sample must carry an audio track"
    assert audio[0]["codec_name"] == "aac"
    assert float(audio[0]["duration"]) == pytest.approx(2.0, abs=0.05)


def test_first_frame_is_textured():
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(VIDEO),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    image = np.frombuffer(raw, np.uint8).reshape(360, 640).astype(float)
    assert 40.0 < image.mean() < 220.0
    # Texture everywhere: every 80x90 tile has contrast (a flat render or black frame fails).
    tiles = image.reshape(4, 90, 8, 80).transpose(0, 2, 1, 3).reshape(32, -1)
    assert tiles.std(axis=1).min() > 8.0


def test_gt_header(gt):
    assert gt["format"] == "vanelia-gt-track/1"
    assert (gt["fps"], gt["width"], gt["height"], gt["num_frames"]) == (24, 640, 360, 48)
    assert gt["sensor_width_mm"] == 36.0
    assert gt["sensor_fit"] == "HORIZONTAL"
    assert gt["principal_point_px"] == [320.0, 180.0]
    assert gt["principal_point_px_opencv"] == [319.5, 179.5]
    assert gt["ground_plane"]["normal"] == [0.0, 0.0, 1.0]
    assert gt["ground_plane"]["offset"] == 0.0
    assert len(gt["frames"]) == 48
    assert [f["index"] for f in gt["frames"]] == list(range(48))
    assert [f["blender_frame"] for f in gt["frames"]] == list(range(1, 49))
    np.testing.assert_allclose([f["time_s"] for f in gt["frames"]], np.arange(48) / 24.0)


def test_gt_intrinsics_consistent(gt):
    for frame in gt["frames"]:
        focal_px = frame["focal_mm"] / gt["sensor_width_mm"] * gt["width"]
        assert frame["focal_px"] == pytest.approx(focal_px, rel=1e-12)
        k = np.asarray(frame["K_opencv"])
        expected = [[focal_px, 0.0, 319.5], [0.0, focal_px, 179.5], [0.0, 0.0, 1.0]]
        np.testing.assert_allclose(k, expected, rtol=1e-12)


def test_gt_poses_consistent(gt):
    centres = []
    for frame in gt["frames"]:
        c2w = np.asarray(frame["c2w_blender"])
        rot = c2w[:3, :3]
        np.testing.assert_allclose(c2w[3], [0.0, 0.0, 0.0, 1.0])
        np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-6)
        assert np.linalg.det(rot) == pytest.approx(1.0, abs=1e-6)
        w2c = np.asarray(frame["w2c_opencv"])
        np.testing.assert_allclose(w2c, np.linalg.inv(c2w @ OPENCV_FROM_BLENDER_CAM), atol=2e-6)
        # Camera 1.5 m above the floor, looking down (OpenCV +z has a negative world z).
        assert c2w[2, 3] == pytest.approx(1.5, abs=1e-5)
        assert w2c[2, 2] < -0.2
        centres.append(c2w[:3, 3])
    length = np.linalg.norm(np.diff(centres, axis=0), axis=1).sum()
    assert gt["trajectory_length_m"] == pytest.approx(length, rel=1e-5)
    assert length > 1.0, "the camera must move (parallax)"


def test_gt_projections_land_in_frame(gt):
    boxes = [o for o in gt["scene_objects"] if o["kind"] == "box"]
    assert len(boxes) >= 3
    for frame in gt["frames"]:
        # The orbit looks at a floor point near the world origin: it stays near the image centre.
        uv, depth = project(frame, np.zeros((1, 3)))
        assert depth[0] > 0.0
        assert 160.0 < uv[0, 0] < 480.0 and 90.0 < uv[0, 1] < 300.0
        # BoxA stands in front of the camera with all 8 corners in the image.
        uv, depth = project(frame, box_corners(boxes[0]))
        assert (depth > 0.0).all()
        assert (uv[:, 0] > 0.0).all() and (uv[:, 0] < 639.0).all()
        assert (uv[:, 1] > 0.0).all() and (uv[:, 1] < 359.0).all()


def read_glb(path):
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    chunk_len, chunk_type = struct.unpack_from("<II", data, 12)
    doc = json.loads(data[20 : 20 + chunk_len])
    bin_offset = 20 + chunk_len
    bin_len, bin_type = struct.unpack_from("<II", data, bin_offset)
    return dict(
        magic=magic,
        version=version,
        length=length,
        size=len(data),
        json_type=chunk_type,
        doc=doc,
        bin_type=bin_type,
        bin_end=bin_offset + 8 + bin_len,
    )


def test_product_glb_is_valid():
    glb = read_glb(PRODUCT)
    assert glb["magic"] == b"glTF"
    assert glb["version"] == 2
    assert glb["length"] == glb["size"] < 200_000
    assert glb["json_type"] == 0x4E4F534A  # "JSON"
    assert glb["bin_type"] == 0x004E4942  # "BIN\0"
    assert glb["bin_end"] == glb["size"]
    assert glb["doc"]["asset"]["version"] == "2.0"
    assert len(glb["doc"]["meshes"]) >= 1


def test_product_materials_have_near_black_part():
    doc = read_glb(PRODUCT)["doc"]
    colours = {}
    for mat in doc["materials"]:
        pbr = mat["pbrMetallicRoughness"]
        colours[mat["name"]] = pbr["baseColorFactor"]
        assert 0.0 <= pbr.get("roughnessFactor", 1.0) <= 1.0
    near_black = [n for n, c in colours.items() if max(c[:3]) < 0.05]
    assert near_black == ["BlackCap"]
    assert max(colours["BlackCap"][:3]) == pytest.approx(0.02, abs=1e-6)
    metallic = [
        m["name"]
        for m in doc["materials"]
        if m["pbrMetallicRoughness"].get("metallicFactor", 1.0) > 0.5
    ]
    assert metallic == ["MetalCollar"]


def test_product_real_size():
    doc = read_glb(PRODUCT)["doc"]
    # glTF is +Y up: the position accessors' y span is the height (nodes carry no transforms).
    assert all("matrix" not in n and "scale" not in n for n in doc["nodes"])
    positions = [
        doc["accessors"][p["attributes"]["POSITION"]]
        for m in doc["meshes"]
        for p in m["primitives"]
    ]
    y_min = min(a["min"][1] for a in positions)
    y_max = max(a["max"][1] for a in positions)
    assert y_min == pytest.approx(0.0, abs=1e-6)
    assert 0.2 < y_max - y_min < 0.4


CLIPS_DIR = SAMPLE_DIR.parent / "clips"


def test_portrait_clip_is_stored_rotated():
    clip = CLIPS_DIR / "portrait"
    with open(clip / "gt.json") as f:
        gt = json.load(f)
    (video,) = [s for s in ffprobe_streams(clip / "video.mp4") if s["codec_type"] == "video"]
    assert (gt["width"], gt["height"]) == (360, 640)
    assert (video["width"], video["height"]) == (gt["stored_width"], gt["stored_height"])
    assert (video["width"], video["height"]) == (640, 360)
    matrices = [d for d in video.get("side_data_list", []) if "rotation" in d]
    assert [d["rotation"] for d in matrices] == [gt["display_rotation_deg"]] == [-90]
    assert int(video["nb_read_frames"]) == gt["num_frames"] == len(gt["frames"]) == 24
    # ffmpeg applies the display matrix: its decode is upright (gt width x height).
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(clip / "video.mp4"),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    upright = np.frombuffer(raw, np.uint8).reshape(gt["height"], gt["width"])
    # Sky at the top, floor at the bottom: the sky is smooth, the floor is textured.
    assert upright[:40].std() < upright[-200:].std()
    focal_px = gt["frames"][0]["focal_px"]
    assert focal_px == pytest.approx(gt["frames"][0]["focal_mm"] / 36.0 * 360)
    assert gt["frames"][0]["K_opencv"][0][2] == 179.5
    assert gt["frames"][0]["K_opencv"][1][2] == 319.5


def test_vfr_clip_timestamps_match_gt():
    clip = CLIPS_DIR / "vfr"
    with open(clip / "gt.json") as f:
        gt = json.load(f)
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pts_time",
            "-of",
            "json",
            str(clip / "video.mp4"),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pts = np.array([float(f["pts_time"]) for f in json.loads(out)["frames"]])
    times = np.array([f["time_s"] for f in gt["frames"]])
    assert gt["vfr"] is True
    assert len(pts) == len(times) == gt["num_frames"] == 24
    np.testing.assert_allclose(pts, times, atol=1e-3)
    intervals = np.diff(pts)
    np.testing.assert_allclose(intervals[0::2], 1 / 30, atol=1e-3)
    np.testing.assert_allclose(intervals[1::2], 1 / 20, atol=1e-3)
