"""`vanelia run --passes DIR` with the real Blender on two frames of the sample: the five
pass sequences (product, shadow, holdout, plate, composite) numbered by Blender frame, as
OpenEXR half-float ZIP or 16-bit PNG; plate x shadow + product (premultiplied over) equals
the composite within 1/255; the plate pass is the source's frame of that number; the video
of a run with passes is the video without them; existing pass files are never replaced
without --overwrite. The holdout mask with a real holdout object: tests/blender/
run_passes_holdout.py."""

import json
import os
import shutil
import struct
import subprocess

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample")
VIDEO = os.path.join(SAMPLE, "video.mp4")
PRODUCT = os.path.join(SAMPLE, "product.glb")
NAMES = ("product", "shadow", "holdout", "plate", "composite")
INDICES = (20, 21)  # decoded frames; Blender frames 21 and 22
# No grain and the fixed sun: these tests compare rendered pixels between runs whose
# shadow mattes differ slightly (the grain goes where the matte covers, and the soft light
# the sample's estimate falls back to widens the partly covered rim; test_grain.py and
# test_light.py test those).
RENDER = ["--start", "20", "--end", "22", "--samples", "8", "--quiet"]
RENDER += ["--grain", "off", "--light", "fixed", "--motion-blur", "off", "--environment", "off"]
HALF, ZIP_COMPRESSION = 1, 3  # OpenEXR's pixel type and compression codes

pytestmark = pytest.mark.skipif(shutil.which("blender") is None, reason="needs Blender")


def _vanelia(*args):
    return subprocess.run([VANELIA, *args], capture_output=True, text=True, timeout=600)


def _size(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=width,height,pix_fmt", "-of", "json"]
        + [path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    stream = json.loads(out)["streams"][0]
    return stream["width"], stream["height"], stream["pix_fmt"]


def _read(path, pix_fmt, dtype, channels):
    """An image decoded by FFmpeg as [H,W,channels] in RGB(A) order."""
    w, h, _ = _size(path)
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
        capture_output=True,
        check=True,
    ).stdout
    if pix_fmt.startswith("gbr"):
        planes = np.frombuffer(raw, dtype).reshape(channels, h, w)
        return np.stack([planes[i] for i in [2, 0, 1, 3][:channels]], -1).astype(np.float64)
    return np.frombuffer(raw, dtype).reshape(h, w, channels).astype(np.float64)


def _exr(path, channels=4):
    return _read(path, "gbrapf32le" if channels == 4 else "gbrpf32le", np.float32, channels)


def _png16(path):
    return _read(path, "rgba64le", np.uint16, 4) / 65535.0


def _exr_header(path):
    """(channel name -> pixel type, compression) from an OpenEXR header."""
    with open(path, "rb") as f:
        data = f.read(4096)
    assert data[:4] == b"\x76\x2f\x31\x01", f"{path}: not OpenEXR"
    i, channels, compression = 8, {}, None
    while data[i] != 0:
        name_end = data.index(b"\0", i)
        kind_end = data.index(b"\0", name_end + 1)
        kind = data[name_end + 1 : kind_end]
        (size,) = struct.unpack("<i", data[kind_end + 1 : kind_end + 5])
        value = data[kind_end + 5 : kind_end + 5 + size]
        if kind == b"chlist":
            j = 0
            while value[j] != 0:
                end = value.index(b"\0", j)
                channels[value[j:end].decode()] = struct.unpack("<i", value[end + 1 : end + 5])[0]
                j = end + 1 + 16
        elif kind == b"compression":
            compression = value[0]
        i = kind_end + 5 + size
    return channels, compression


def _srgb(linear):
    x = np.clip(linear, 0.0, 1.0)
    return np.where(
        x <= 0.0031308, 12.92 * x, 1.055 * np.maximum(x, 0.0031308) ** (1 / 2.4) - 0.055
    )


def _linear(encoded):
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)


def _path(folder, name, frame, ext):
    return os.path.join(folder, name, f"{name}.{frame:04d}{ext}")


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    path = tmp_path_factory.mktemp("track") / "T.json"
    done = _vanelia("import-track", os.path.join(SAMPLE, "gt.json"), "-o", str(path), "--quiet")
    assert done.returncode == 0, done.stderr
    return str(path)


@pytest.fixture(scope="module")
def exr_run(track, tmp_path_factory):
    work = tmp_path_factory.mktemp("exr")
    folder, out, frames = work / "passes", work / "final.mp4", work / "frames"
    done = _vanelia(
        "run", VIDEO, PRODUCT, "--track", track, "-o", str(out), "--passes", str(folder),
        "--keep-frames", str(frames), *RENDER,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return str(folder), str(out), str(frames)


def test_exr_passes_are_half_zip_sequences_numbered_by_frame(exr_run):
    folder = exr_run[0]
    found = sorted(
        os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs
    )
    want = sorted(
        os.path.relpath(_path(folder, n, i + 1, ".exr"), folder) for n in NAMES for i in INDICES
    )
    assert found == want
    for name in NAMES:
        channels, compression = _exr_header(_path(folder, name, 21, ".exr"))
        assert compression == ZIP_COMPRESSION, name
        assert set(channels.values()) == {HALF}, (name, channels)
        assert {"R", "G", "B"} <= set(channels), (name, channels)
        assert ("A" in channels) == (name in ("product", "plate", "composite")), (name, channels)


def test_exr_passes_recombine_to_the_composite(exr_run):
    folder = exr_run[0]
    for index in INDICES:
        frame = index + 1
        product = _exr(_path(folder, "product", frame, ".exr"))
        shadow = _exr(_path(folder, "shadow", frame, ".exr"), 3)
        plate = _exr(_path(folder, "plate", frame, ".exr"))[..., :3]
        composite = _exr(_path(folder, "composite", frame, ".exr"))[..., :3]
        holdout = _exr(_path(folder, "holdout", frame, ".exr"), 3)
        alpha = product[..., 3:]
        assert (alpha > 0.5).sum() > 100, "the product is in the product pass"
        assert shadow.min() < 0.8 and shadow.max() <= 1.0, "a shadow, as a multiplier <= 1"
        assert np.all(shadow[:40, :80] > 0.98), "no shadow in the far corner"
        assert holdout.max() == 0.0, "no holdout objects in the sample"
        recombined = product[..., :3] + (1 - alpha) * plate * shadow
        assert np.abs(recombined - composite).max() <= 1 / 255
        assert np.abs(_srgb(recombined) - _srgb(composite)).max() <= 1 / 255
        assert np.abs(composite - plate).max() > 0.2, "the composite is not the plate"


def test_plate_pass_is_the_sources_frame_of_its_number(exr_run):
    folder = exr_run[0]
    w, h, _ = _size(VIDEO)
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", VIDEO, "-vf", "select=between(n\\,19\\,22)", "-vsync", "0"]
        + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    decoded = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3) / 255.0  # frames 19..22
    for index in INDICES:
        plate = _srgb(_exr(_path(folder, "plate", index + 1, ".exr"))[..., :3])
        errors = {19 + k: np.abs(plate - decoded[k]).mean() for k in range(len(decoded))}
        assert min(errors, key=errors.get) == index, errors
        assert errors[index] < 1.5 / 255, errors


def test_video_with_passes_is_the_video_without(exr_run, track, tmp_path):
    """The passes take the shadow into their own pass; the rendered frames that
    make the video keep it as without --passes (which renders only the region of
    the product and its shadow: the rest is transparent in both)."""
    frames = tmp_path / "frames"
    done = _vanelia(
        "run", VIDEO, PRODUCT, "--track", track, "-o", str(tmp_path / "plain.mp4"),
        "--keep-frames", str(frames), *RENDER,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for k in range(len(INDICES)):
        a = _read(os.path.join(exr_run[2], f"{k:06d}.png"), "rgba", np.uint8, 4)
        b = _read(os.path.join(frames, f"{k:06d}.png"), "rgba", np.uint8, 4)
        seen = (a[..., 3] > 0) | (b[..., 3] > 0)
        assert seen.sum() > 200
        # The same picture up to Cycles' noise at 8 samples (the shadow pass
        # changes the sampling): per pixel, and the shadow's total darkness.
        diff = np.abs(a - b)[seen]
        assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 16, (diff.mean(), diff.max())
        # The matte rebuilt from the shadow pass (its luminance) is 4 % darker
        # in total than Cycles' own (its channel mean) on the sample.
        total = (a[..., 3].sum(), b[..., 3].sum())
        assert abs(total[0] - total[1]) <= 0.06 * total[1], total


def test_existing_passes_are_never_replaced_without_overwrite(exr_run, track, tmp_path):
    folder = exr_run[0]
    before = {p: os.stat(p).st_mtime_ns for p in (_path(folder, n, 21, ".exr") for n in NAMES)}
    out = tmp_path / "again.mp4"
    done = _vanelia(
        "run", VIDEO, PRODUCT, "--track", track, "-o", str(out), "--passes", folder, *RENDER
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--passes" in lines[0] and "--overwrite" in lines[0], lines
    assert not out.exists()
    assert before == {p: os.stat(p).st_mtime_ns for p in before}


def test_bad_passes_options_are_refused_before_work(track, tmp_path):
    out = tmp_path / "x.mp4"
    base = ["run", VIDEO, PRODUCT, "--track", track, "-o", str(out)]
    cases = {
        "--passes-format": [*base, "--passes", str(tmp_path / "p"), "--passes-format", "tiff"],
        "not a folder": [*base, "--passes", VIDEO],
        "--preview": [*base, "--passes", str(tmp_path / "p"), "--preview"],
    }
    for fragment, argv in cases.items():
        done = _vanelia(*argv)
        assert done.returncode == 2, (fragment, done.stderr)
        assert fragment in done.stderr, (fragment, done.stderr)
        assert not out.exists() and not (tmp_path / "p").exists()


def test_png16_passes(track, tmp_path):
    folder = tmp_path / "passes"
    done = _vanelia(
        "run", VIDEO, PRODUCT, "--track", track, "-o", str(tmp_path / "f.mp4"),
        "--passes", str(folder), "--passes-format", "png16", "--start", "20", "--end", "21",
        "--samples", "8", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    formats = {n: _size(_path(folder, n, 21, ".png"))[2] for n in NAMES}
    assert formats == {
        "product": "rgba64be",
        "shadow": "rgb48be",
        "holdout": "gray16be",
        "plate": "rgb48be",
        "composite": "rgb48be",
    }
    product = _png16(_path(folder, "product", 21, ".png"))
    shadow = _png16(_path(folder, "shadow", 21, ".png"))[..., :3]
    plate = _png16(_path(folder, "plate", 21, ".png"))[..., :3]
    composite = _png16(_path(folder, "composite", 21, ".png"))[..., :3]
    alpha = product[..., 3:]
    # PNG holds straight sRGB colour, clipped at white: recombine in linear
    # light where the product's colour is not clipped.
    recombined = _linear(product[..., :3]) * alpha + (1 - alpha) * _linear(plate) * shadow
    unclipped = (product[..., :3].max(-1) < 0.999) | (alpha[..., 0] == 0)
    assert unclipped.mean() > 0.999
    error = np.abs(_srgb(recombined) - composite).max(-1)[unclipped]
    assert error.max() <= 1 / 255


def test_python_api_takes_passes(track, tmp_path):
    import _vanelia

    out = tmp_path / "x.mp4"
    with pytest.raises(_vanelia.InputError, match="--passes-format 'tiff'"):
        _vanelia.run(
            VIDEO, PRODUCT, str(out), track=track, passes=str(tmp_path / "p"), passes_format="tiff"
        )
    assert not out.exists() and not (tmp_path / "p").exists()
