"""`vanelia run --codec` and `--preview` with the real Blender, a few frames of the sample:
the 10-bit intermediates (ProRes 422 HQ and DNxHR HQX in QuickTime, HEVC Main 10 in MP4)
decode with the plate's size, rate, frame count and audio, the codec's profile and pixel
format and the plate's colour tags, and keep the plate away from the product within 1 % of
the source; H.264 is the output without --codec to the byte; a codec that does not fit the
output's extension is refused with one line before any work; the farm carries the codec to
its merge; the preview is a half-size H.264 MP4 with the product in the same place."""

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
FRAMES = 6
# The product where it stood before automatic placement (small, central): DNxHR's fixed
# bit budget spreads over the whole frame, so a larger product costs the plate corner.
# No grain and the fixed sun (test_grain.py, test_light.py): the preview has no grain, and
# its product box (with the core of the shadow) is compared with the full render's; a hard
# sun keeps that core the same at 2 and at 8 samples.
RENDER = ["--end", str(FRAMES), "--samples", "2", "--location", "0", "0", "0"]
RENDER += ["--grain", "off", "--light", "fixed", "--motion-blur", "off"]
COLOUR = ("color_primaries", "color_transfer", "color_space", "color_range")
# codec -> (extension, codec_name, profile, pix_fmt, codec tag or None)
EXPECTED = {
    "prores": (".mov", "prores", "HQ", "yuv422p10le", "apch"),
    "dnxhr": (".mov", "dnxhd", "DNXHR HQX", "yuv422p10le", None),
    "hevc": (".mp4", "hevc", "Main 10", "yuv420p10le", "hvc1"),
}
CORNER = 64  # the top-left CORNER x CORNER pixels: plate only (the product is central)

pytestmark = pytest.mark.skipif(shutil.which("blender") is None, reason="needs Blender")


def _vanelia(*args):
    return subprocess.run([VANELIA, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    """The sample's aligned track, from its ground truth."""
    path = tmp_path_factory.mktemp("track") / "T.json"
    done = _vanelia("import-track", os.path.join(SAMPLE, "gt.json"), "-o", str(path), "--quiet")
    assert done.returncode == 0, done.stderr
    return str(path)


@pytest.fixture(scope="module")
def has_x265():
    out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True)
    return " libx265 " in out.stdout


def _run(track, out, *extra, video=VIDEO):
    return _vanelia("run", video, PRODUCT, "--track", track, "-o", str(out), *RENDER, *extra)


def _streams(path):
    cmd = ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)]
    streams = json.loads(subprocess.run(cmd, capture_output=True, text=True).stdout)["streams"]
    return {s["codec_type"]: s for s in streams}


def _rgb(path, crop, scale=""):
    """The first FRAMES frames' crop as 8-bit RGB bytes, converted with accurate chroma
    interpolation (swscale's fast 4:2:0 path repeats chroma samples, which alone makes an
    interpolated 4:2:2 copy of this textured plate differ by ~1.5/255)."""
    vf = f"{scale}crop={crop},scale=flags=bicubic+accurate_rnd+full_chroma_int,format=rgb24"
    cmd = ["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", str(FRAMES), "-vf", vf]
    return subprocess.run(cmd + ["-f", "rawvideo", "-"], capture_output=True, check=True).stdout


def _corner_diff(source, output):
    """Mean absolute difference, 8-bit units, of the plate-only corner."""
    crop = f"{CORNER}:{CORNER}:0:0"
    a, b = _rgb(source, crop), _rgb(output, crop)
    assert len(a) == len(b) == FRAMES * CORNER * CORNER * 3
    return sum(abs(x - y) for x, y in zip(a, b)) / len(a)


def _check_intermediate(source, out, codec, colour=None):
    """The output against its plate: size, rate, frames, audio, codec, colour, pixels."""
    extension, name, profile, pix_fmt, tag = EXPECTED[codec]
    assert out.endswith(extension)
    plate, got = _streams(source)["video"], _streams(out)
    video = got["video"]
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == (name, profile, pix_fmt)
    if tag:
        assert video["codec_tag_string"] == tag
    assert (video["width"], video["height"]) == (plate["width"], plate["height"])
    assert video["r_frame_rate"] == plate["r_frame_rate"]
    assert int(video["nb_read_frames"]) == FRAMES
    assert got["audio"]["codec_name"] == _streams(source)["audio"]["codec_name"]
    want = colour or {key: plate[key] for key in COLOUR}
    assert {key: video.get(key) for key in COLOUR} == want
    diff = _corner_diff(source, out)
    assert diff <= 2.55, f"{codec}: plate corner differs by {diff:.3f}/255 (1 % = 2.55)"


@pytest.fixture(scope="module")
def h264(tmp_path_factory, track):
    """The output without --codec, for the byte comparison."""
    out = tmp_path_factory.mktemp("h264") / "default.mp4"
    done = _run(track, out)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_h264_is_the_output_without_codec_to_the_byte(tmp_path, track, h264):
    out = tmp_path / "h264.mp4"
    done = _run(track, out, "--codec", "h264")
    assert done.returncode == 0, done.stderr[-3000:]
    assert filecmp.cmp(out, h264, shallow=False)
    video = _streams(out)["video"]
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")


def _encoded(done, codec, has_x265):
    """Whether the run wrote its output; without libx265, hevc must be refused (exit 2,
    one line naming the encoder) before any work."""
    if codec == "hevc" and not has_x265:
        assert done.returncode == 2 and "no libx265 encoder" in done.stderr, done.stderr
        return False
    assert done.returncode == 0, done.stderr[-3000:]
    return True


@pytest.mark.parametrize("codec", ["prores", "hevc"])
def test_cli_intermediate_decodes_with_the_plate_size_audio_and_colour(
    tmp_path, track, codec, has_x265
):
    out = str(tmp_path / f"final{EXPECTED[codec][0]}")
    if _encoded(_run(track, out, "--codec", codec), codec, has_x265):
        _check_intermediate(VIDEO, out, codec)


def test_python_run_writes_dnxhr(tmp_path, track):
    import _vanelia

    assert set(_vanelia.OUTPUT_CODECS) == {"h264", "hevc", "prores", "dnxhr"}
    out = str(tmp_path / "final.mov")
    result = _vanelia.run(
        VIDEO, PRODUCT, out, track=track, samples=2, end=FRAMES, codec="dnxhr", location_m=[0, 0, 0]
    )
    assert result["output"] == out
    _check_intermediate(VIDEO, out, "dnxhr")


@pytest.fixture(scope="module")
def retagged(tmp_path_factory):
    """The sample re-tagged without re-encoding: SMPTE 170M primaries, transfer and matrix,
    full range (so that tags copied from a default would show)."""
    out = tmp_path_factory.mktemp("retag") / "retagged.mp4"
    meta = "h264_metadata=colour_primaries=6:transfer_characteristics=6:matrix_coefficients=6"
    cmd = ["ffmpeg", "-v", "error", "-i", VIDEO, "-map", "0", "-c", "copy"]
    cmd += ["-bsf:v", meta + ":video_full_range_flag=1", str(out)]
    subprocess.run(cmd, check=True)
    tags = {key: _streams(out)["video"][key] for key in COLOUR}
    assert tags == dict(zip(COLOUR, ("smpte170m", "smpte170m", "smpte170m", "pc")))
    return str(out)


@pytest.mark.parametrize("codec", ["hevc", "prores"])
def test_the_plates_own_colour_tags_are_carried(tmp_path, track, retagged, codec, has_x265):
    out = str(tmp_path / f"final{EXPECTED[codec][0]}")
    done = _run(track, out, "--codec", codec, video=retagged)
    if not _encoded(done, codec, has_x265):
        return
    # ProRes has no full range: the plate is made limited and tagged so.
    colour = dict(zip(COLOUR, ("smpte170m",) * 3 + ("pc" if codec == "hevc" else "tv",)))
    _check_intermediate(retagged, out, codec, colour)


def test_the_proxy_of_a_rotated_full_range_plate_keeps_its_range(
    tmp_path, track, retagged, has_x265
):
    # Turned 180 degrees (the upright size stays the track's): the plate is then the
    # upright proxy, whose samples are limited range, and the output goes back to full.
    rotated = str(tmp_path / "rotated.mp4")
    cmd = ["ffmpeg", "-v", "error", "-i", retagged, "-map", "0", "-c", "copy"]
    subprocess.run(cmd + ["-metadata:s:v:0", "rotate=180", rotated], check=True)
    out = str(tmp_path / "final.mp4")
    done = _run(track, out, "--codec", "hevc", "--progress", "json", video=rotated)
    if not _encoded(done, "hevc", has_x265):
        return
    assert "proxy: rotation metadata" in done.stderr
    colour = dict(zip(COLOUR, ("smpte170m", "smpte170m", "smpte170m", "pc")))
    _check_intermediate(rotated, out, "hevc", colour)


@pytest.mark.parametrize(
    "output, extra, words",
    [
        ("x.mp4", ["--codec", "prores"], ["--codec prores", ".mov", ".mp4"]),
        ("x.mov", ["--codec", "hevc"], ["--codec hevc", ".mp4", ".mov"]),
        ("x.mkv", [], ["--codec h264", ".mkv"]),
        ("x.mov", ["--codec", "cineform"], ["--codec 'cineform'", "h264, hevc, prores, dnxhr"]),
        ("x.mov", ["--codec", "prores", "--preview"], ["--preview", "--codec prores"]),
    ],
)
def test_a_codec_that_does_not_fit_is_refused_before_any_work(
    tmp_path, track, output, extra, words
):
    out = tmp_path / output
    done = _run(track, out, *extra)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vanelia: error: "), done.stderr
    assert all(w in lines[0] for w in words), lines[0]
    assert not out.exists() and os.listdir(tmp_path) == []


def test_python_run_refuses_a_codec_that_does_not_fit(tmp_path, track):
    import _vanelia

    with pytest.raises(_vanelia.InputError, match=r"--codec prores writes a \.mov file"):
        _vanelia.run(VIDEO, PRODUCT, str(tmp_path / "x.mp4"), track=track, codec="prores")
    with pytest.raises(_vanelia.InputError, match="--preview"):
        _vanelia.run(
            VIDEO, PRODUCT, str(tmp_path / "x.mov"), track=track, codec="dnxhr", preview=True
        )
    assert os.listdir(tmp_path) == []


def test_farm_merges_the_codec_of_its_job(tmp_path, track):
    shared = tmp_path / "shared"
    submit = _vanelia(
        "farm", "submit", VIDEO, "--product", PRODUCT, "--track", track, "--shared",
        str(shared), "--codec", "prores", "--chunk", str(FRAMES), *RENDER, "--quiet",
    )  # fmt: skip
    assert submit.returncode == 0, submit.stderr[-3000:]
    (job,) = list((shared / "jobs").iterdir())
    assert json.loads((job / "job.json").read_text())["codec"] == "prores"
    assert json.loads((job / "scene.json").read_text())["codec"] == "prores"
    assert os.listdir(shared / "out") == ["video.mov"]
    _check_intermediate(VIDEO, str(shared / "out" / "video.mov"), "prores")


def _foreground_box(source, output, width, height):
    """The box of pixels where `output`'s last frame differs from the plate scaled to
    width x height by more than 60 (sum over RGB): the product and the core of its
    shadow."""
    scale = f"scale={width}:{height},"
    full = f"{width}:{height}:0:0"
    a = _rgb(source, full, scale)[-width * height * 3 :]
    b = _rgb(output, full, scale)[-width * height * 3 :]
    xs, ys = [], []
    for i in range(width * height):
        if sum(abs(a[3 * i + c] - b[3 * i + c]) for c in range(3)) > 60:
            xs.append(i % width)
            ys.append(i // width)
    assert len(xs) > 20, "no product in the frame"
    return min(xs), min(ys), max(xs), max(ys)


def test_preview_is_a_half_size_h264_mp4_with_the_product_in_place(tmp_path, track, h264):
    out = tmp_path / "preview.mp4"
    done = _vanelia(
        "run", VIDEO, PRODUCT, "--track", track, "-o", str(out), "--end", str(FRAMES),
        "--preview", "--progress", "json", "--location", "0", "0", "0", "--light", "fixed",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    plate, got = _streams(VIDEO)["video"], _streams(out)
    video = got["video"]
    half = (plate["width"] // 4 * 2, plate["height"] // 4 * 2)
    assert (video["width"], video["height"]) == half
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert video["r_frame_rate"] == plate["r_frame_rate"]
    assert int(video["nb_read_frames"]) == FRAMES and "audio" in got
    events = [json.loads(line) for line in done.stderr.splitlines()]
    assert any(e.get("text", "").startswith("encode: ") for e in events)
    # The product where the full render has it (both seen at the preview's size).
    preview_box = _foreground_box(VIDEO, out, *half)
    full_box = _foreground_box(VIDEO, h264, *half)
    assert all(abs(p - f) <= 2 for p, f in zip(preview_box, full_box)), (preview_box, full_box)
    help_text = _vanelia("run", "--help").stdout
    assert "--preview" in help_text and "half the source's width and height" in help_text
