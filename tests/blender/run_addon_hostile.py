"""The hostile-input battery through the add-on's operators (the issue's battery; the CLI and
Python API parts are tests/python/test_hostile_inputs.py): vanelia.track_video, build_scene and
render_video and the preferences' MUSt3R weights path fed missing, empty, truncated, wrong-type,
huge, NaN/inf, extremely shaped, unicode-named and self-overwriting inputs, an unwritable folder
(a read-only bind mount made with `unshare -m` around the whole run), a hostile pickle as weights
and hostile GLBs. Each refused case asserts one ERROR report whose single line names the file or
the option (never "internal error"), that the scene gained or lost nothing (datablocks, camera,
frame range, resolution, placement) and that no file or folder in the work folder (or the
read-only one) was created or changed (names, sizes, mtimes). The unicode-named inputs must work.

    blender -b --factory-startup --python tests/blender/run_addon_hostile.py -- NATIVE_DIR \
        [--vanelia build/bin/vanelia]   (then the rendered output is also read back with it)

Prints `hostile add-on cases: N, refused: R, worked: W` and exits 1 on any failure.
"""

import argparse
import collections
import json
import math
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import addon_testing as at  # noqa: E402

UNICODE_VIDEO = "vidéo 視頻.mp4"
UNICODE_PRODUCT = "produit 製品.glb"
UNICODE_TRACK = "piste 軌跡.json"
UNICODE_OUTPUT = "sortie 視頻.mp4"
GOOD_TRIANGLE = [0, 0, 0, 1, 0, 0, 0, 1, 0]


# ---------------------------------------------------------------------------
# Hostile files (the same recipes as tests/python/test_hostile_inputs.py).


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


def _triangle(positions, uri=None, buffer=None):
    data = struct.pack("<9f", *positions)
    if buffer is None:
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


class _Touch:
    """Unpickled by Python, this runs `touch MARKER` (os.system)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def hostile_checkpoint(path, marker):
    """A torch-zip-shaped MUSt3R checkpoint whose pickle would create `marker` if unpickled by
    Python: the payload sits in the state dict and in args. Returns the pickle's bytes."""
    args = argparse.Namespace(model=_Touch(marker), encoder=_Touch(marker))
    state = collections.OrderedDict([("encoder.patch_embed.proj.weight", _Touch(marker))])
    data = pickle.dumps({"args": args, "model": state}, protocol=2)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", data)
        z.writestr("archive/version", "3\n")
    return data


def _check_payload_is_live(data, marker):
    """The fixture is really hostile: Python's own unpickler runs the command."""
    pickle.loads(data)
    assert os.path.isfile(marker), "the hostile pickle did not run its payload"
    os.remove(marker)


def _write(h, name, content):
    with open(os.path.join(h, name), "wb" if isinstance(content, bytes) else "w") as f:
        f.write(content)


def _make_videos(h, clip):
    shutil.copy(os.path.join(at.SAMPLE, "video.mp4"), clip)
    shutil.copy(clip, os.path.join(h, UNICODE_VIDEO))
    _write(h, "truncated.mp4", open(clip, "rb").read(3000))
    _write(h, "empty.mp4", b"")
    _write(h, "text.mp4", "this is not a video, only a text file named .mp4\n")
    with open(os.path.join(h, "huge.mp4"), "wb") as f:
        f.truncate(4 << 30)  # 4 GiB of zeros, sparse
    os.mkdir(os.path.join(h, "folder.mp4"))
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=4000x40:rate=24",
         "-frames:v", "6", "-pix_fmt", "yuv420p", os.path.join(h, "strip.mp4")],
        check=True,
    )  # fmt: skip


def _make_tracks(h):
    from vanelia_blender import native

    mod = native.module()
    track = os.path.join(h, "track.json")
    mod.write_track_file(track, mod.import_ground_truth(os.path.join(at.SAMPLE, "gt.json")))
    shutil.copy(track, os.path.join(h, UNICODE_TRACK))
    text = open(track, encoding="utf-8").read()
    for name, value in (("overflow.json", "1e999"), ("nan.json", "NaN")):
        bad = re.sub(r'"focal_px": [-+.e0-9]+', f'"focal_px": {value}', text, 1)
        assert value in bad
        _write(h, name, bad)
    _write(h, "truncated.json", text[: len(text) // 2])
    _write(h, "array.json", "[1, 2, 3]")
    small = json.loads(text)
    small["width"], small["height"] = 320, 180
    _write(h, "small_track.json", json.dumps(small))


def _make_products(h):
    product = os.path.join(at.SAMPLE, "product.glb")
    shutil.copy(product, os.path.join(h, "product.glb"))
    shutil.copy(product, os.path.join(h, UNICODE_PRODUCT))
    data = open(product, "rb").read()
    huge = struct.pack("<II", 2, 24) + struct.pack("<II", 0x7FFFFFF0, 0x4E4F534A)
    _write(h, "not.glb", b"this is not a GLB\n")
    _write(h, "truncated.glb", data[: len(data) // 2])
    _write(h, "huge_chunk.glb", b"glTF" + huge + b"{}  ")
    _write(h, "nan.glb", _triangle([math.nan] + GOOD_TRIANGLE[1:]))
    _write(h, "inf.glb", _triangle([math.inf] + GOOD_TRIANGLE[1:]))
    _write(h, "escape.glb", _triangle(GOOD_TRIANGLE, uri="../../../../etc/passwd"))
    _write(h, "absolute.glb", _triangle(GOOD_TRIANGLE, uri="/etc/passwd"))
    _write(h, "nomesh.glb", _glb({"asset": {"version": "2.0"}}))
    _write(h, "wrongtype.glb", _triangle(GOOD_TRIANGLE, buffer=5))  # a number for buffers[0]


def make_inputs(h):
    """The hostile and the good inputs, in folder `h`."""
    os.makedirs(h)
    _make_videos(h, os.path.join(h, "clip.mp4"))
    _make_tracks(h)
    _make_products(h)
    _write(h, "random.pth", os.urandom(1024))
    proof = os.path.join(tempfile.mkdtemp(prefix="vanelia-pickle-proof-"), "RAN")
    _check_payload_is_live(hostile_checkpoint(os.path.join(h, "evil.pth"), proof), proof)
    os.rmdir(os.path.dirname(proof))
    hostile_checkpoint(os.path.join(h, "evil.pth"), os.path.join(h, "PWNED"))
    _write(h, "exists.mp4", b"the user's file")


# ---------------------------------------------------------------------------
# What must not change.


def snapshot(*folders):
    """{path: (kind, size, mtime_ns)} of every file and folder under `folders`."""
    state = {}
    for folder in folders:
        for dirpath, dirs, files in os.walk(folder):
            for name in dirs + files:
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                state[path] = (name in dirs, st.st_size, st.st_mtime_ns)
    return state


def _diff(before, after):
    created = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p] and
                     not before[p][0])  # fmt: skip
    return created, removed, changed


DATA_KINDS = ("objects", "collections", "meshes", "materials", "images", "movieclips",
              "actions", "cameras", "lights", "worlds", "node_groups", "scenes")  # fmt: skip


def scene_state(bpy):
    """The scene as a user would see it: datablock names, placements, render settings and the
    add-on's last result."""
    data = bpy.data
    state = {kind: sorted(x.name for x in getattr(data, kind)) for kind in DATA_KINDS}
    for o in data.objects:  # repr: a NaN placement equals itself
        state[f"placement of {o.name}"] = repr([tuple(v) for v in o.matrix_world])
    sc = bpy.context.scene
    state["scene"] = (sc.camera and sc.camera.name, sc.frame_start, sc.frame_end,
                      sc.render.resolution_x, sc.render.resolution_y, sc.use_nodes)  # fmt: skip
    s = sc.vanelia
    state["result"] = (s.track_path, s.summary.valid, s.summary.registered, s.summary.tracker)
    return state


# ---------------------------------------------------------------------------
# The battery.


class Battery:
    """Runs cases with the scene's settings and the preferences set as each case says (paths
    given relative to the hostile folder), then puts the settings back."""

    def __init__(self, bpy, work, hostile, readonly):
        self.bpy, self.work, self.hostile, self.readonly = bpy, work, hostile, readonly
        self.prefs = bpy.context.preferences.addons["vanelia_blender"].preferences
        self.refused, self.worked, self.failures = 0, 0, []

    def path(self, name):
        return name if os.path.isabs(name) or not name else os.path.join(self.hostile, name)

    def _apply(self, settings):
        """Sets `settings` ("prefs.X": the preferences; "raw.X": the scene's IDProperty itself,
        past the property's limits, as a script or a saved file can); returns the undo list."""
        undo = []
        for key, value in settings.items():
            owner, name = self.bpy.context.scene.vanelia, key
            if key.startswith("prefs."):
                owner, name = self.prefs, key[len("prefs.") :]
            if name.endswith("_path") or name == "cache_dir":
                value = self.path(value)
            raw = name.startswith("raw.")
            name = name[len("raw.") :] if raw else name
            old = getattr(owner, name)
            undo.append((owner, name, tuple(old) if name == "location" else old))
            if raw:
                owner[name] = value
            else:
                setattr(owner, name, value)
        return undo

    def _restore(self, undo):
        for owner, name, old in reversed(undo):
            setattr(owner, name, old)

    def _run(self, name, body, settings):
        undo = self._apply(settings or {})
        try:
            body()
        except AssertionError as e:
            self.failures.append(f"{name}: {e}")
            print(f"FAIL {name}: {e}", flush=True)
        finally:
            self._restore(undo)

    def refuse(self, name, op, fragment, settings=None, **kwargs):
        """`op` must report one ERROR line naming `fragment` and change nothing."""

        def body():
            kwargs.update({k: self.path(v) for k, v in kwargs.items() if k == "track_file"})
            state, files = scene_state(self.bpy), snapshot(self.work, self.readonly)
            message = _refusal(op, **kwargs)
            assert fragment in message, f"report '{message}' lacks '{fragment}'"
            assert "internal error" not in message, f"not a clean error: {message}"
            after = scene_state(self.bpy)
            changed = [f"{k}: {state.get(k)} -> {after.get(k)}" for k in set(state) | set(after)
                       if state.get(k) != after.get(k)]  # fmt: skip
            assert not changed, "scene changed: " + "; ".join(sorted(changed))
            created, removed, changed = _diff(files, snapshot(self.work, self.readonly))
            assert not (created or removed or changed), (
                f"files created {created}, removed {removed}, changed {changed}"
            )  # fmt: skip
            self.refused += 1
            print(f"ok refused {name}: {message}", flush=True)

        self._run(name, body, settings)

    def works(self, name, op, check, settings=None, **kwargs):
        """`op` must finish; `check(created_paths)` asserts what it made."""

        def body():
            kwargs.update({k: self.path(v) for k, v in kwargs.items() if k == "track_file"})
            files = snapshot(self.work, self.readonly)
            result = op(**kwargs)
            assert result == {"FINISHED"}, f"{op.idname()} returned {result}"
            created, removed, changed = _diff(files, snapshot(self.work, self.readonly))
            assert not removed, f"removed {removed}"
            check(created)
            self.worked += 1
            print(f"ok worked {name}", flush=True)

        self._run(name, body, settings)


def _refusal(op, **kwargs):
    """The single line of `op`'s ERROR report (an error report raises RuntimeError)."""
    try:
        result = op(**kwargs)
    except RuntimeError as e:
        lines = [x for x in str(e).splitlines() if x.strip()]
        assert len(lines) == 1, f"{len(lines)} report lines: {lines}"
        assert lines[0].startswith("Error: "), lines[0]
        return lines[0]
    raise AssertionError(f"{op.idname()} returned {result}; expected an ERROR report")


# ---------------------------------------------------------------------------
# The cases: (name, settings, fragment the one-line report must hold, operator keywords).

TRACK_CASES = [
    ("track-no-video", {"video_path": ""}, "no video chosen"),
    ("track-missing-video", {"video_path": "missing.mp4"}, "missing.mp4"),
    ("track-empty-video", {"video_path": "empty.mp4"}, "empty.mp4"),
    ("track-truncated-mp4", {"video_path": "truncated.mp4"}, "truncated.mp4"),
    ("track-text-named-mp4", {"video_path": "text.mp4"}, "text.mp4"),
    ("track-folder-as-video", {"video_path": "folder.mp4"}, "folder.mp4"),
    ("track-huge-sparse-video", {"video_path": "huge.mp4"}, "huge.mp4"),
    ("track-strip-4000x40", {"video_path": "strip.mp4"}, "4000x40"),
    ("track-height-nan", {"camera_height": math.nan}, "camera height"),
    ("track-focal-nan", {"focal_px": math.nan}, "focal"),
    ("track-focal-huge", {"focal_px": 1e300}, "known focal 3.40282e+38 px"),
    ("track-step-zero", {"raw.frame_step": 0}, "every=0"),
    ("track-start-negative", {"raw.frame_start": -3}, "start=-3"),
    ("track-end-before-start", {"frame_start": 5, "frame_end": 5}, "end=5"),
    ("track-start-past-end", {"frame_start": 100000}, "100000"),
    ("track-file-missing", {}, "missing.json", {"track_file": "missing.json"}),
    ("track-file-1e999", {}, "overflow.json", {"track_file": "overflow.json"}),
    ("track-file-nan", {}, "nan.json", {"track_file": "nan.json"}),
    ("track-file-truncated", {}, "truncated.json", {"track_file": "truncated.json"}),
    ("track-file-wrong-type", {}, "array.json", {"track_file": "array.json"}),
    ("track-file-is-a-video", {}, "clip.mp4", {"track_file": "clip.mp4"}),
    ("track-file-is-a-folder", {}, "folder.mp4", {"track_file": "folder.mp4"}),
]

# The preferences' MUSt3R checkpoint: (file, what its status line says, what the report says).
WEIGHTS = [
    ("", "", "no weights set"),
    ("missing.pth", "no such file", "missing.pth"),
    ("folder.mp4", "no such file", "folder.mp4"),
    ("random.pth", "not a PyTorch zip checkpoint", "not a PyTorch zip checkpoint"),
    ("evil.pth", "", "global 'posix.system' (not whitelisted, never called)"),  # zip-shaped
]
WEIGHTS_CASES = [(f"weights-{name or 'none'}", {"tracker": "must3r", "prefs.must3r_path": name},
                  report) for name, _, report in WEIGHTS]  # fmt: skip

GLB_CASES = [
    ("missing.glb", "no such file"),
    ("folder.mp4", "folder.mp4"),
    ("not.glb", "not a GLB"),
    ("truncated.glb", "truncated"),
    ("huge_chunk.glb", "claims 2147483632 bytes"),
    ("nan.glb", "not finite"),
    ("inf.glb", "not finite"),
    ("escape.glb", "outside the product's folder"),
    ("absolute.glb", "outside the product's folder"),
    ("nomesh.glb", "no mesh"),
    ("wrongtype.glb", "malformed glTF JSON"),
]

BUILD_CASES = [
    ("build-no-track", {"track_path": ""}, "no track yet"),
    ("build-no-product", {"product_path": ""}, "no product chosen"),
    ("build-track-missing", {"track_path": "missing.json"}, "missing.json"),
    ("build-track-nan", {"track_path": "nan.json"}, "nan.json"),
    ("build-track-1e999", {"track_path": "overflow.json"}, "overflow.json"),
    ("build-track-of-another-video", {"track_path": "small_track.json"}, "320x180"),
    ("build-video-text", {"video_path": "text.mp4"}, "text.mp4"),
    ("build-video-truncated", {"video_path": "truncated.mp4"}, "truncated.mp4"),
    ("build-rotation-nan", {"rotation_z": math.nan}, "Turn"),
    ("build-location-nan", {"auto_location": False, "location": (math.nan, 0, 0)}, "Location"),
    ("build-height-nan", {"height": math.nan}, "Height"),
] + [(f"build-glb-{n}", {"product_path": n}, text) for n, text in GLB_CASES]

RENDER_CASES = [
    ("render-output-is-video", {"output_path": "clip.mp4", "overwrite": True}, "is the input"),
    ("render-output-is-track", {"output_path": "track.json", "overwrite": True}, "is the input"),
    ("render-output-is-product", {"output_path": "product.glb", "overwrite": True},
     "is the input"),
    ("render-output-exists", {"output_path": "exists.mp4"}, "exists"),
    ("render-output-folder-missing", {"output_path": "nope/o.mp4"}, "does not exist"),
    ("render-output-is-a-folder", {"output_path": "folder.mp4", "overwrite": True}, "folder.mp4"),
    ("render-video-empty", {"video_path": "empty.mp4"}, "empty.mp4"),
    ("render-glb-nan", {"product_path": "nan.glb"}, "not finite"),
    ("render-glb-escape", {"product_path": "escape.glb"}, "outside the product's folder"),
    ("render-glb-huge-chunk", {"product_path": "huge_chunk.glb"}, "huge_chunk.glb"),
    ("render-track-1e999", {"track_path": "overflow.json"}, "overflow.json"),
    ("render-samples-zero", {"raw.samples": 0}, "samples"),
    ("render-rotation-nan", {"rotation_z": math.nan}, "rotation"),
    ("render-height-nan", {"height": math.nan}, "height"),
    ("render-location-nan", {"auto_location": False, "location": (0, math.nan, 0)}, "location"),
    ("render-start-past-end", {"frame_start": 100000}, "100000"),
]  # fmt: skip


def check_property_limits(bpy, hostile):
    """What Blender itself does with out-of-range numbers before an operator sees them: clamps
    to the property's limits (inf to FLT_MAX), refuses ints past 32 bits, lets NaN through
    (the NaN cases above are what reaches the operators)."""
    s = bpy.context.scene.vanelia
    s.samples = 10**9
    assert s.samples == 65536, s.samples
    s.camera_height = -5.0
    assert abs(s.camera_height - 0.01) < 1e-6, s.camera_height
    s.focal_px = -math.inf
    assert s.focal_px == 0.0, s.focal_px
    for name in ("frame_end", "samples"):
        try:
            setattr(s, name, 2**40)
        except (ValueError, OverflowError) as e:
            print(f"ok: Blender refuses {name} = 2**40: {e}")
        else:
            raise AssertionError(f"{name} = 2**40 was accepted: {getattr(s, name)}")
    s.camera_height = math.nan
    assert math.isnan(s.camera_height)
    prefs = bpy.context.preferences.addons["vanelia_blender"].preferences
    for name, status, _ in WEIGHTS:  # checked when set, cheaply (never unpickled)
        prefs.must3r_path = os.path.join(hostile, name) if name else ""
        assert status in prefs.must3r_status and bool(status) == bool(prefs.must3r_status), (
            f"{name}: status '{prefs.must3r_status}'")  # fmt: skip
    prefs.must3r_path = ""
    s.samples, s.camera_height, s.focal_px = 4, 1.5, 0.0


def unicode_cases(b, vanelia):
    """Unicode-named video, track file, product and output: these must work."""
    bpy, s = b.bpy, b.bpy.context.scene.vanelia
    cache = os.environ["VANELIA_CACHE_DIR"]

    def tracked(created):
        outside = [p for p in created if p != cache and not p.startswith(cache + os.sep)]
        assert not outside, f"outside the cache: {outside}"
        sm = s.summary
        assert sm.valid and sm.registered == sm.total == 48 and sm.aligned, (sm.registered,)
        assert s.track_path.startswith(cache), s.track_path

    b.works("track-unicode-video", bpy.ops.vanelia.track_video, tracked,
            {"video_path": UNICODE_VIDEO})  # fmt: skip

    def taken(created):
        assert created == [], created
        assert s.track_path == b.path(UNICODE_TRACK) and s.summary.aligned, s.track_path

    b.works("track-unicode-track-file", bpy.ops.vanelia.track_video, taken,
            track_file=UNICODE_TRACK)  # fmt: skip
    unicode = {"video_path": UNICODE_VIDEO, "product_path": UNICODE_PRODUCT}

    def built(video, objects=None):
        def check(created):
            assert created == [], created
            names = {o.name for o in bpy.data.collections["Vanelia"].all_objects}
            assert {"Vanelia Camera", "Vanelia Product"} <= names, sorted(names)
            assert objects is None or len(bpy.data.objects) == objects, "objects duplicated"
            clip = bpy.data.movieclips["Vanelia Plate"]
            assert os.path.basename(clip.filepath) == video, clip.filepath
            assert (tuple(clip.size), clip.frame_duration) == ((640, 360), 48), tuple(clip.size)

        return check

    b.works("build-unicode", bpy.ops.vanelia.build_scene, built(UNICODE_VIDEO), unicode)
    # Again from another path: the plate follows it (MovieClip reloaded).
    b.works("rebuild-other-video", bpy.ops.vanelia.build_scene,
            built("clip.mp4", len(bpy.data.objects)))  # fmt: skip
    output = b.path(UNICODE_OUTPUT)

    def rendered(created):
        assert created == [output], created
        assert _frames(output, vanelia) == (640, 360, 2), _frames(output, vanelia)

    render = dict(unicode, output_path=UNICODE_OUTPUT, samples=4, frame_start=0, frame_end=2)
    b.works("render-unicode", bpy.ops.vanelia.render_video, rendered, render)


def _frames(path, vanelia):
    """(width, height, frames) of the video at `path`, read with `vanelia info` when given."""
    if vanelia:
        info = subprocess.run([vanelia, "info", path], capture_output=True, text=True)
        assert info.returncode == 0 and "640x360" in info.stdout, info.stdout + info.stderr
    cmd = ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
           "stream=width,height,nb_read_frames", "-of", "csv=p=0", path]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()
    return tuple(int(x) for x in out.split(","))


BUILT_CASES = [
    ("built-build-glb-nan", {"product_path": "nan.glb"}, "not finite"),
    ("built-build-track-of-another-video", {"track_path": "small_track.json"}, "320x180"),
    ("built-build-rotation-nan", {"rotation_z": math.nan}, "Turn"),
    ("built-render-output-is-video", {"output_path": "clip.mp4", "overwrite": True},
     "is the input"),
]  # fmt: skip


def run_table(b, op, cases):
    for name, settings, fragment, *kwargs in cases:
        b.refuse(name, op, fragment, settings, **(kwargs[0] if kwargs else {}))


def child(args):
    import time

    import bpy

    started = time.monotonic()
    at.install(at.option(args, "--zip"))
    from vanelia_blender import native
    from vanelia_blender.core import tracking

    work, readonly = at.option(args, "--work"), at.option(args, "--readonly")
    assert readonly and not os.access(readonly, os.W_OK), f"{readonly} is writable"
    hostile = os.path.join(work, "hostile")
    make_inputs(hostile)
    check_property_limits(bpy, hostile)
    b = Battery(bpy, work, hostile, readonly)
    s = bpy.context.scene.vanelia
    s.tracker, s.samples = "classical", 4
    s.video_path, s.product_path = b.path("clip.mp4"), b.path("product.glb")
    s.track_path = b.path("track.json")
    ops = bpy.ops.vanelia
    weights = WEIGHTS_CASES  # a build without LibTorch refuses MUSt3R before any checkpoint
    if "must3r" not in tracking.built_trackers(native.module()):
        weights = [(name, settings, "not in this build") for name, settings, _ in weights]
    run_table(b, ops.track_video, TRACK_CASES + weights)
    out = {"output_path": os.path.join(readonly, "o.mp4")}
    run_table(b, ops.render_video, RENDER_CASES + [("render-read-only-out", out, "not writable")])
    run_table(b, ops.build_scene, BUILD_CASES)
    cache = {"prefs.cache_dir": readonly}
    run_table(b, ops.track_video, [("track-read-only-cache", cache, "track cache folder")])
    unicode_cases(b, at.option(args, "--vanelia"))
    s.track_path = b.path(UNICODE_TRACK)
    run_table(b, ops.build_scene, BUILT_CASES[:3])
    run_table(b, ops.render_video, BUILT_CASES[3:])
    assert not os.path.exists(os.path.join(hostile, "PWNED")), "the pickle's payload ran"
    total = b.refused + b.worked + len(b.failures)
    print(f"hostile add-on cases: {total}, refused: {b.refused}, worked: {b.worked}"
          f" ({time.monotonic() - started:.1f} s)")  # fmt: skip
    if b.failures:
        raise AssertionError(f"{len(b.failures)} failed:\n  " + "\n  ".join(b.failures))
    print("run_addon_hostile: OK")


def in_read_only_namespace(args):
    """Runs this script again (a parent, then its child Blender) inside `unshare -m`, with a
    folder bind-mounted read-only (the tests run as root, who may write anywhere else)."""
    import bpy

    top = tempfile.mkdtemp(prefix="vanelia-hostile-")
    readonly = os.path.join(top, "read-only")
    os.mkdir(readonly)
    with open(os.path.join(readonly, "kept.mp4"), "wb") as f:
        f.write(b"already here")
    native = os.path.abspath(args[0] if args else os.path.join(at.ROOT, "build", "python"))
    mount = (
        'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || { echo "run_addon_hostile: '
        'no read-only bind mount (needs root for unshare -m and mount)" >&2; exit 1; }; '
        'shift; exec "$@"'
    )
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", mount, "sh", readonly,
           bpy.app.binary_path, "-b", "--factory-startup", "--python-exit-code", "1",
           "--python", os.path.abspath(__file__), "--", native, *args[1:],
           "--readonly", readonly]  # fmt: skip
    print("running:", " ".join(cmd), flush=True)
    code = subprocess.run(cmd, timeout=280).returncode
    shutil.rmtree(top, ignore_errors=True)
    return code


def child_args(args):
    extra = ["--readonly", at.option(args, "--readonly")]
    return extra + (["--vanelia", at.option(args, "--vanelia")] if "--vanelia" in args else [])


if __name__ == "__main__":
    if "--child" in at.script_args() or "--readonly" in at.script_args():
        at.run(__file__, child, child_args)
    else:
        code = 1
        try:
            code = in_read_only_namespace(at.script_args())
        finally:
            sys.stdout.flush()
            os._exit(code)
