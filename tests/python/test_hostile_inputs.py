"""The hostile-input battery: every subcommand, the Python API and the add-on's product check
fed missing, empty, truncated, wrong-type, huge, NaN/inf, extremely shaped, unicode-named and
self-overwriting inputs, and unwritable folders. Each CLI case asserts the exit code (2), one
`vanelia: error:` line that names the file or the option, and that no file in the work folder
was created or changed; each API case the exception type and the message."""

import hashlib
import json
import math
import os
import re
import shutil
import struct
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample")


def _glb(doc, binary=b"", chunk_length=None):
    """A GLB of `doc` (JSON) and `binary` (BIN chunk), chunk lengths as given."""
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    body = struct.pack("<II", len(text) if chunk_length is None else chunk_length, 0x4E4F534A)
    body += text
    if binary:
        body += struct.pack("<II", len(binary), 0x004E4942) + binary
    return b"glTF" + struct.pack("<II", 2, 12 + len(body)) + body


def _triangle(positions, uri=None):
    data = struct.pack("<9f", *positions)
    buffer = {"byteLength": len(data)}
    if uri is not None:
        buffer["uri"] = uri
    doc = {
        "asset": {"version": "2.0"},
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"}],
        "bufferViews": [{"buffer": 0, "byteLength": len(data)}],
        "buffers": [buffer],
    }
    return _glb(doc, b"" if uri is not None else data)


GOOD_TRIANGLE = [0, 0, 0, 1, 0, 0, 0, 1, 0]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A folder of hostile and good inputs, made once."""
    import _vanelia

    w = tmp_path_factory.mktemp("hostile")
    shutil.copy(os.path.join(SAMPLE, "video.mp4"), w / "clip.mp4")
    shutil.copy(os.path.join(SAMPLE, "product.glb"), w / "product.glb")
    (w / "empty.mp4").write_bytes(b"")
    (w / "random.mp4").write_bytes(os.urandom(4096))
    (w / "truncated.mp4").write_bytes((w / "clip.mp4").read_bytes()[:3000])
    (w / "folder").mkdir()
    (w / "vidéo ü.mp4").write_bytes((w / "clip.mp4").read_bytes())
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=4000x40:rate=24",
         "-frames:v", "6", "-pix_fmt", "yuv420p", str(w / "strip.mp4")],
        check=True,
    )  # fmt: skip
    gt = os.path.join(SAMPLE, "gt.json")
    track = _vanelia.import_ground_truth(gt)
    _vanelia.write_track_file(str(w / "track.json"), track)
    text = (w / "track.json").read_text()
    (w / "overflow.json").write_text(
        re.sub(r'"focal_px": [-+.e0-9]+', '"focal_px": 1e999', text, 1)
    )
    assert "1e999" in (w / "overflow.json").read_text()
    (w / "truncated.json").write_text(text[: len(text) // 2])
    (w / "array.json").write_text("[1, 2, 3]")
    small = json.loads(text)
    small["width"], small["height"] = 320, 180
    (w / "small_track.json").write_text(json.dumps(small))
    doc = json.load(open(gt))
    doc["format"] = "vanelia-gt-track/2"
    (w / "gt_future.json").write_text(json.dumps(doc))
    (w / "not.glb").write_text("this is not a GLB\n")
    huge = (
        b"glTF" + struct.pack("<II", 2, 24) + struct.pack("<II", 0x7FFFFFF0, 0x4E4F534A) + b"{}  "
    )
    (w / "huge_chunk.glb").write_bytes(huge)
    (w / "nan.glb").write_bytes(_triangle([math.nan] + GOOD_TRIANGLE[1:]))
    (w / "escape.glb").write_bytes(_triangle(GOOD_TRIANGLE, uri="../../../../etc/passwd"))
    (w / "absolute.glb").write_bytes(_triangle(GOOD_TRIANGLE, uri="/etc/passwd"))
    (w / "nomesh.glb").write_bytes(_glb({"asset": {"version": "2.0"}}))
    (w / "random.pth").write_bytes(os.urandom(512))
    (w / "final.blend").write_bytes(b"the user's scene")
    (w / "exists.mp4").write_bytes(b"the user's file")
    (w / "exists.json").write_text("the user's file")
    (w / "readonly").mkdir()
    return w


def _snapshot(folder):
    state = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                state[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return state


# (case id, argv after `vanelia` with {w} for the work folder, text the error line names)
T = "track {w}/clip.mp4 -o {w}/t.json"
R = "run {w}/clip.mp4 {w}/product.glb --track {w}/track.json -o {w}/o.mp4"
A = "align {w}/track.json -o {w}/a.json"

CLI_CASES = [
    ("info-missing", "info {w}/missing.mp4", "missing.mp4"),
    ("info-empty", "info {w}/empty.mp4", "empty.mp4"),
    ("info-random", "info {w}/random.mp4", "random.mp4"),
    ("info-folder-without-frames", "info {w}/folder", "folder"),
    ("info-pattern-in-folder", "info {w}/f%02d/x.png", "must be in the file name"),
    ("info-pattern-no-match", "info {w}/none_%04d.png", "none_%04d.png"),
    ("info-unicode-missing", "info {w}/vidéo_manquante.mp4", "vidéo_manquante.mp4"),
    ("track-missing", "track {w}/missing.mp4 -o {w}/t.json", "missing.mp4"),
    ("track-empty", "track {w}/empty.mp4 -o {w}/t.json", "empty.mp4"),
    ("track-random", "track {w}/random.mp4 -o {w}/t.json", "random.mp4"),
    ("track-truncated", "track {w}/truncated.mp4 -o {w}/t.json", "truncated.mp4"),
    ("track-output-is-input", "track {w}/clip.mp4 -o {w}/clip.mp4 --overwrite", "is the input"),
    ("track-output-exists", "track {w}/clip.mp4 -o {w}/exists.json", "--overwrite"),
    ("track-folder-missing", "track {w}/clip.mp4 -o {w}/nope/t.json", "does not exist"),
    ("track-output-is-folder", "track {w}/clip.mp4 -o {w}/folder --overwrite", "directory"),
    ("track-focal-negative", T + " --focal-px -5", "--focal-px"),
    ("track-focal-nan", T + " --focal-px nan", "--focal-px"),
    ("track-focal-huge", T + " --focal-px 1e300", "--focal-px"),
    ("track-focal-mm-alone", T + " --focal-mm 28", "--sensor-mm"),
    ("track-start-negative", T + " --start -1", "--start"),
    ("track-every-zero", T + " --every 0", "--every"),
    ("track-end-before-start", T + " --start 5 --end 5", "--end"),
    ("track-start-past-end", T + " --start 500", "--start"),
    ("track-height-nan", T + " --camera-height nan", "--camera-height"),
    ("track-height-negative", T + " --camera-height -1", "--camera-height"),
    ("track-two-scales", T + " --no-scale --camera-height 2", "--no-scale"),
    ("track-unknown-tracker", T + " --tracker nosuch", "nosuch"),
    ("track-weights-classical", T + " --weights {w}/random.pth", "--weights"),
    ("track-lens-bogus", T + " --lens fisheye", "--lens"),
    ("track-strip-4000x40", "track {w}/strip.mp4 -o {w}/t.json", "4000x40"),
    ("track-huge-int", T + " --end 99999999999999999999", "--end"),
    ("align-missing", "align {w}/missing.json -o {w}/a.json", "missing.json"),
    ("align-overflow", "align {w}/overflow.json -o {w}/a.json", "overflow.json"),
    ("align-truncated", "align {w}/truncated.json -o {w}/a.json", "truncated.json"),
    ("align-array", "align {w}/array.json -o {w}/a.json", "array.json"),
    ("align-video-as-track", "align {w}/clip.mp4 -o {w}/a.json", "clip.mp4"),
    ("align-output-is-input", "align {w}/track.json -o {w}/track.json --overwrite", "is the input"),
    ("align-no-scale-and-height", A + " --no-scale --camera-height 2", "--no-scale"),
    ("align-distance-and-height", A + " --distance 0 1 2 --camera-height 2", "--distance"),
    ("align-height-zero", A + " --camera-height 0", "--camera-height"),
    ("align-plane-collinear", A + " --plane 0 0 0 1 1 1 2 2 2", "collinear"),
    ("align-plane-short", A + " --plane 0 0 0", "--plane"),
    ("import-future-gt", "import-track {w}/gt_future.json -o {w}/i.json", "gt_future.json"),
    ("import-random", "import-track {w}/random.mp4 -o {w}/i.json", "random.mp4"),
    ("import-missing", "import-track {w}/missing.json -o {w}/i.json", "missing.json"),
    ("import-output-is-input", "import-track {w}/track.json -o {w}/track.json --overwrite", "is the input"),  # noqa: E501
    ("import-empty-folder", "import-track {w}/folder -o {w}/i.json", "folder"),
    ("run-missing-video", "run {w}/missing.mp4 {w}/product.glb --track {w}/track.json -o {w}/o.mp4", "missing.mp4"),  # noqa: E501
    ("run-video-folder", "run {w}/folder {w}/product.glb --track {w}/track.json -o {w}/o.mp4", "is a folder"),  # noqa: E501
    ("run-random-video", "run {w}/random.mp4 {w}/product.glb --track {w}/track.json -o {w}/o.mp4", "random.mp4"),  # noqa: E501
    ("run-missing-product", "run {w}/clip.mp4 {w}/missing.glb --track {w}/track.json -o {w}/o.mp4", "missing.glb"),  # noqa: E501
    ("run-text-glb", "run {w}/clip.mp4 {w}/not.glb --track {w}/track.json -o {w}/o.mp4", "not.glb"),
    ("run-huge-chunk-glb", "run {w}/clip.mp4 {w}/huge_chunk.glb --track {w}/track.json -o {w}/o.mp4", "huge_chunk.glb"),  # noqa: E501
    ("run-nan-glb", "run {w}/clip.mp4 {w}/nan.glb --track {w}/track.json -o {w}/o.mp4", "not finite"),  # noqa: E501
    ("run-escaping-uri-glb", "run {w}/clip.mp4 {w}/escape.glb --track {w}/track.json -o {w}/o.mp4", "outside the product's folder"),  # noqa: E501
    ("run-absolute-uri-glb", "run {w}/clip.mp4 {w}/absolute.glb --track {w}/track.json -o {w}/o.mp4", "outside the product's folder"),  # noqa: E501
    ("run-no-mesh-glb", "run {w}/clip.mp4 {w}/nomesh.glb --track {w}/track.json -o {w}/o.mp4", "no mesh"),  # noqa: E501
    ("run-output-is-video", "run {w}/clip.mp4 {w}/product.glb --track {w}/track.json -o {w}/clip.mp4 --overwrite", "is the input"),  # noqa: E501
    ("run-output-is-track", "run {w}/clip.mp4 {w}/product.glb --track {w}/track.json -o {w}/track.json --overwrite", "is the input"),  # noqa: E501
    ("run-output-exists", "run {w}/clip.mp4 {w}/product.glb --track {w}/track.json -o {w}/exists.mp4", "--overwrite"),  # noqa: E501
    ("run-keep-blend-over-input", "run {w}/clip.mp4 {w}/product.glb --track {w}/final.blend -o {w}/final.mp4 --keep-blend", "--keep-blend"),  # noqa: E501
    ("run-seed-huge", R + " --seed 99999999999", "--seed"),
    ("run-samples-huge", R + " --samples 2147483648", "--samples"),
    ("run-samples-zero", R + " --samples 0", "--samples"),
    ("run-height-negative", R + " --height -1", "--height"),
    ("run-height-zero", R + " --height 0", "--height"),
    ("run-rotation-inf", R + " --rotation-z inf", "--rotation-z"),
    ("run-location-nan", R + " --location nan 0 0", "--location"),
    ("run-threads-negative", R + " --threads -1", "--threads"),
    ("run-end-huge", "run {w}/clip.mp4 {w}/product.glb -o {w}/o.mp4 --end 99999999999999999999", "--end"),  # noqa: E501
    ("run-end-past-clip", R + " --end 49", "--end 49: past the end"),
    ("run-start-past-clip", R + " --start 48", "--start 48: past the end"),
    ("run-blender-false", R + " --blender /bin/false", "--blender"),
    ("run-blender-missing", R + " --blender {w}/blender", "--blender"),
    ("run-progress-xml", R + " --progress xml", "--progress"),
    ("run-track-missing", "run {w}/clip.mp4 {w}/product.glb --track {w}/missing.json -o {w}/o.mp4", "missing.json"),  # noqa: E501
    ("run-track-other-size", "run {w}/clip.mp4 {w}/product.glb --track {w}/small_track.json -o {w}/o.mp4", "small_track.json"),  # noqa: E501
    ("run-track-overflow", "run {w}/clip.mp4 {w}/product.glb --track {w}/overflow.json -o {w}/o.mp4", "overflow.json"),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_refuses_with_one_line_and_writes_nothing(work, case):
    _, argv, names = case
    before = _snapshot(work)
    args = [a.replace("{w}", str(work)) for a in argv.split(" ")]
    run = subprocess.run([VANELIA, *args], capture_output=True, text=True, timeout=120)
    lines = [x for x in run.stderr.splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith("vanelia: error: ")]
    assert run.returncode == 2, run.stderr[-2000:]
    assert len(errors) == 1 and errors[0] == lines[-1], run.stderr[-2000:]
    assert names in errors[0], errors[0]
    assert _snapshot(work) == before  # nothing created or changed


def test_unwritable_folder_is_refused_before_the_work(work, tmp_path):
    """Run as nobody (the tests run as root, who may write anywhere)."""
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is missing")
    import tempfile

    # pytest's own folders are root's alone: nobody could not even look in.
    top = tempfile.mkdtemp(prefix="vanelia-hostile-", dir="/tmp")
    tmp_path = type(tmp_path)(top)
    os.chmod(top, 0o755)
    folder = tmp_path / "locked"
    folder.mkdir()
    os.chmod(folder, 0o555)
    clip = tmp_path / "clip.mp4"
    shutil.copy(work / "clip.mp4", clip)
    os.chmod(clip, 0o644)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    for sub in (["track", str(clip)], ["import-track", os.path.join(SAMPLE, "gt.json")]):
        run = subprocess.run(
            [*nobody, VANELIA, *sub, "-o", str(folder / "t.json")], capture_output=True, text=True
        )
        assert run.returncode == 2, run.stderr
        assert run.stderr.strip().endswith("is not writable"), run.stderr
        assert run.stderr.count("\n") == 1, run.stderr
    assert os.listdir(folder) == []
    shutil.rmtree(top)


def test_python_api_raises_input_errors(work, tmp_path):
    import _vanelia

    cases = [
        (lambda: _vanelia.track_video(str(work / "missing.mp4")), "missing.mp4"),
        (lambda: _vanelia.track_video(str(work / "random.mp4")), "random.mp4"),
        (
            lambda: _vanelia.track_video(
                str(work / "clip.mp4"), output=str(work / "clip.mp4"), overwrite=True
            ),
            "is the input",
        ),
        (lambda: _vanelia.read_track_file(str(work / "overflow.json")), "overflow.json"),
        (lambda: _vanelia.read_track_file(str(work / "truncated.json")), "truncated.json"),
        (
            lambda: _vanelia.align_track_file(
                str(work / "track.json"), str(work / "track.json"), overwrite=True
            ),
            "is the input",
        ),
        (lambda: _vanelia.import_ground_truth(str(work / "gt_future.json")), "gt_future.json"),
        (
            lambda: _vanelia.run(
                str(work / "clip.mp4"), str(work / "product.glb"), str(tmp_path / "o.mp4"),
                track=str(work / "track.json"), samples=0,
            ),
            "--samples",
        ),
        (
            lambda: _vanelia.run(
                str(work / "clip.mp4"), str(work / "product.glb"), str(work / "clip.mp4"),
                track=str(work / "track.json"), overwrite=True,
            ),
            "is the input",
        ),
        (lambda: _vanelia.track_video(str(work / "clip.mp4"), focal_px=1e30), "focal_px 1e+30"),
        (lambda: _vanelia.track_video(str(work / "clip.mp4"), focal_px=float("nan")), "focal_px"),
        (lambda: _vanelia.track_video(str(work / "clip.mp4"), image_size=300,
                                      tracker="must3r", weights=str(work / "random.pth")),
         "--image-size 300" if "must3r" in _vanelia.TRACKERS else "not available"),
        (
            lambda: _vanelia.run(
                str(work / "clip.mp4"), str(work / "product.glb"), str(tmp_path / "o.mp4"),
                track=str(work / "track.json"), end=49,
            ),
            "--end 49: past the end",
        ),
        (lambda: list(_vanelia.VideoReader(str(work / "random.mp4"))), "random.mp4"),
        (lambda: _vanelia.probe_video(str(work / "empty.mp4")), "empty.mp4"),
    ]  # fmt: skip
    before = _snapshot(work)
    for call, names in cases:
        with pytest.raises(_vanelia.InputError) as caught:
            call()
        assert names in str(caught.value), str(caught.value)
    assert _snapshot(work) == before


def test_addon_product_check_refuses_hostile_glbs(work):
    from vanelia_blender.core import glb

    for name, text in [
        ("not.glb", "not a GLB"),
        ("huge_chunk.glb", "claims 2147483632 bytes"),
        ("nan.glb", "not finite"),
        ("escape.glb", "outside the product's folder"),
        ("absolute.glb", "outside the product's folder"),
        ("nomesh.glb", "no mesh"),
        ("missing.glb", "no such file"),
    ]:
        with pytest.raises(glb.ProductError, match=text):
            glb.check_product(str(work / name))
    glb.check_product(str(work / "product.glb"))  # the good one passes
