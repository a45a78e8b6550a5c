"""Bindings of the decode module and the `vanelia info` command.

Pixels are compared with the ffmpeg CLI's own decode using the reader's
swscale flags (bilinear+full_chroma_int), byte for byte.
"""

import json
import pathlib
import subprocess
import threading

import _vanelia
import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
ORBIT = ROOT / "tests" / "data" / "footage" / "orbit" / "video.mp4"
VANELIA = pathlib.Path(_vanelia.__file__).resolve().parent.parent / "bin" / "vanelia"


def cli_frames(path, width, height, vf=None):
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path)]
    command += ["-sws_flags", "bilinear+full_chroma_int"]
    if vf:
        command += ["-vf", vf]
    command += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(command, check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def test_probe_video_describes_the_orbit_clip():
    info = _vanelia.probe_video(str(ORBIT))
    assert (info["width"], info["height"]) == (640, 360)
    assert info["fps"] == {"num": 24, "den": 1}
    assert info["frame_count"] == 96
    assert info["duration_s"] == 4.0
    assert info["codec"] == "h264"
    assert info["has_audio"] is False
    assert info["is_vfr"] is False
    assert info["rotation_deg"] == 0


def test_iterating_yields_numpy_frames_equal_to_the_cli():
    reader = _vanelia.VideoReader(str(ORBIT), end=4)
    assert len(reader) == 4
    expected = cli_frames(ORBIT, 640, 360)
    frames = list(reader)
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert [f.timestamp_s for f in frames] == [k / 24 for k in range(4)]
    for frame in frames:
        assert frame.rgb.shape == (360, 640, 3)
        assert frame.rgb.dtype == np.uint8
        np.testing.assert_array_equal(frame.rgb, expected[frame.index])
    last = reader.read(95)
    assert last.index == 95
    np.testing.assert_array_equal(last.rgb, expected[95])


def test_selection_and_resize():
    reader = _vanelia.VideoReader(str(ORBIT), start=10, end=40, every=10, max_width=320)
    assert reader.output_size == (320, 180)
    assert reader.selected_indices() == [10, 20, 30]
    expected = cli_frames(ORBIT, 320, 180, vf="scale=320:180")
    for frame in reader:
        assert frame.rgb.shape == (180, 320, 3)
        np.testing.assert_array_equal(frame.rgb, expected[frame.index])
    assert reader.cfr["duplicated"] == 0
    mapping = reader.mapping()
    assert len(mapping) == 96
    assert mapping[95]["source_index"] == 95


def test_two_readers_in_two_threads_agree():
    # Decoding runs with the GIL released: two readers in two threads at
    # once decode the same frames.
    results = {}

    def decode(name):
        results[name] = [f.rgb.sum() for f in _vanelia.VideoReader(str(ORBIT), end=24)]

    threads = [threading.Thread(target=decode, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results["a"] == results["b"]
    assert len(results["a"]) == 24


def test_image_sequence_of_ppm(tmp_path):
    for k in range(3):
        pixels = np.full((4, 6, 3), 40 * k, np.uint8)
        header = b"P6\n6 4\n255\n"
        (tmp_path / f"f{k + 1}.ppm").write_bytes(header + pixels.tobytes())
    reader = _vanelia.VideoReader(str(tmp_path), sequence_fps=(30, 1))
    assert reader.info["is_image_sequence"] is True
    assert reader.info["frame_count"] == 3
    frames = list(reader)
    assert [int(f.rgb[0, 0, 0]) for f in frames] == [0, 40, 80]
    assert frames[2].timestamp_s == pytest.approx(2 / 30)


@pytest.mark.parametrize(
    "name,content,text",
    [
        ("text.mp4", b"this is text, not a video\n", "Invalid data found"),
        ("empty.mp4", b"", "Invalid data found"),
    ],
)
def test_bad_input_raises_decode_error_naming_the_file(tmp_path, name, content, text):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(_vanelia.DecodeError, match=text) as error:
        _vanelia.VideoReader(str(path))
    assert str(path) in str(error.value)


def test_missing_file_and_bad_options():
    with pytest.raises(_vanelia.DecodeError, match="No such file"):
        _vanelia.probe_video("/nonexistent/clip.mp4")
    with pytest.raises(_vanelia.InputError, match="every = 0"):
        _vanelia.VideoReader(str(ORBIT), every=0)


def test_cli_info_json():
    result = subprocess.run(
        [str(VANELIA), "info", str(ORBIT), "--json"], check=True, capture_output=True
    )
    info = json.loads(result.stdout)
    assert info["frame_count"] == 96
    assert info["fps"] == {"num": 24, "den": 1}
    assert info["fps_float"] == 24.0
    assert info["width"] == 640 and info["height"] == 360
    assert info["is_vfr"] is False
    text = subprocess.run([str(VANELIA), "info", str(ORBIT)], check=True, capture_output=True)
    assert b"640x360" in text.stdout


def test_cli_info_bad_input_exits_2_with_one_line(tmp_path):
    path = tmp_path / "text.mp4"
    path.write_text("not a video")
    result = subprocess.run([str(VANELIA), "info", str(path)], capture_output=True)
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert str(path) in lines[0]
    assert "Invalid data found when processing input" in lines[0]
