"""Reader and writer of the track file, format "vanelia-track" version 1 (bpy-free).

Twin of native/include/vanelia/trackfile/track_file.hpp (same keys, same rules, same error
messages); the JSON Schema is track_schema.json beside this file and docs/track_example.json is
an example. A track file is returned as the validated JSON document: a dict with the keys
below, numbers exactly as written (C++ and Python parse them to the same doubles).

Keys: format "vanelia-track", version 1; source {path, sha256, frame_count}; width, height;
fps {num, den}, fps_float; tracker {name, version, options}; world "blender" | "track";
blender_from_track (4x4 rows, similarity); scale {method camera_height|distance|none,
value_m}; optional ground_plane {normal, offset, method ransac|horizon|manual, inliers, rms,
confidence}; lens {model pinhole|radial_k1k2, k1, k2}; frames [{index, timestamp_s,
c2w_blender, focal_px, K, confidence, reproj_err_px}] (registered frames, strictly ascending
index); summary {registered, total, reproj_err_px, focal_px, warnings}; optional points {xyz,
rgb, confidence} (at most 100000); optional depth {path, format "npy", width, height, count}
(the depth sidecar folder, relative to the track file's folder or absolute: core/depth_sidecar.py).
See conventions.py for c2w_blender and K.

Errors are TrackFileError (a ValueError) naming the file, the key and the rule:
"track 'x.json': frames[3].K: must be 3x3".
"""

import json
import math
import os
import tempfile

from . import conventions

FORMAT = "vanelia-track"
VERSION = 1
MAX_POINTS = 100000

ROTATION_TOLERANCE = 1e-5  # max |R^T R - I| of a frame's rotation block
SIMILARITY_TOLERANCE = 1e-6  # the same for blender_from_track, after removing the scale
UNIT_TOLERANCE = 1e-6  # | |normal| - 1 |
FPS_TOLERANCE = 1e-9  # relative, fps_float vs num / den
INT64_MAX = 2**63 - 1

WORLDS = ("blender", "track")
SCALE_METHODS = ("camera_height", "distance", "none")
PLANE_METHODS = ("ransac", "horizon", "manual")
LENS_MODELS = ("pinhole", "radial_k1k2")


class TrackFileError(ValueError):
    """A track file that cannot be read or written; the message names file, key and rule."""


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x):
    return (isinstance(x, (int, float))) and not isinstance(x, bool)


class _Checker:
    def __init__(self, name):
        self.prefix = "track '%s'" % name

    def fail(self, key, rule):
        raise TrackFileError(self.prefix + (": " + key if key else "") + ": " + rule)

    def member(self, obj, parent, key):
        path = key if not parent else parent + "." + key
        if not isinstance(obj, dict) or key not in obj:
            self.fail(path, "is missing")
        return obj[key]

    def object(self, value, key):
        if not isinstance(value, dict):
            self.fail(key, "must be an object")
        return value

    def string(self, value, key):
        if not isinstance(value, str):
            self.fail(key, "must be a string")
        return value

    def integer(self, value, key, minimum):
        if not _is_int(value) or value > INT64_MAX or value < minimum:
            self.fail(key, "must be an integer >= %d" % minimum)
        return value

    def number(self, value, key):
        if not _is_number(value):
            self.fail(key, "must be a finite number")
        try:
            x = float(value)
        except OverflowError:
            x = math.inf
        if not math.isfinite(x):
            self.fail(key, "must be a finite number")
        return x

    def unit(self, value, key):
        x = self.number(value, key)
        if not 0.0 <= x <= 1.0:
            self.fail(key, "must be a number in [0, 1]")
        return x

    def number_or_null(self, value, key, strict):
        if value is None:
            return None
        rule = "must be a number %s 0 or null" % (">" if strict else ">=")
        if not _is_number(value):
            self.fail(key, rule)
        try:
            x = float(value)
        except OverflowError:
            x = math.inf
        if not math.isfinite(x) or not (x > 0.0 if strict else x >= 0.0):
            self.fail(key, rule)
        return x

    def matrix(self, value, key, rows, cols):
        rule = "must be %dx%d" % (rows, cols)
        if not isinstance(value, list) or len(value) != rows:
            self.fail(key, rule)
        m = []
        for r, row in enumerate(value):
            if not isinstance(row, list) or len(row) != cols:
                self.fail(key, rule)
            m.append([self.number(x, "%s[%d][%d]" % (key, r, c)) for c, x in enumerate(row)])
        return m

    def vector3(self, value, key):
        if not isinstance(value, list) or len(value) != 3:
            self.fail(key, "must be a 3-vector")
        return [self.number(x, "%s[%d]" % (key, i)) for i, x in enumerate(value)]

    def choice(self, value, key, choices):
        if not isinstance(value, str) or value not in choices:
            self.fail(key, "must be one of " + ", ".join(choices))
        return value


def _check_similarity(check, m, key):
    rule = "must be a similarity [[s R, t], [0, 0, 0, 1]] with s > 0"
    if m[3] != [0.0, 0.0, 0.0, 1.0]:
        check.fail(key, rule)
    a = [row[:3] for row in m[:3]]
    det = conventions.det3(a)
    if not det > 0.0:
        check.fail(key, rule)
    s = math.copysign(abs(det) ** (1.0 / 3.0), det)
    r = [[x / s for x in row] for row in a]
    if conventions.rotation_error(r) > SIMILARITY_TOLERANCE:
        check.fail(key, rule)


def _validate_header(check, doc):
    fmt = check.member(doc, "", "format")
    if not isinstance(fmt, str) or fmt != FORMAT:
        check.fail("format", 'must be "vanelia-track"')
    version = check.member(doc, "", "version")
    if not _is_int(version) or version != VERSION:
        check.fail("version", "is %s; this reader reads version 1" % json.dumps(version))
    source = check.object(check.member(doc, "", "source"), "source")
    check.string(check.member(source, "source", "path"), "source.path")
    sha = check.string(check.member(source, "source", "sha256"), "source.sha256")
    if not (sha == "" or (len(sha) == 64 and all(c in "0123456789abcdef" for c in sha))):
        check.fail("source.sha256", 'must be 64 lower-case hex digits or ""')
    check.integer(check.member(source, "source", "frame_count"), "source.frame_count", 0)
    check.integer(check.member(doc, "", "width"), "width", 1)
    check.integer(check.member(doc, "", "height"), "height", 1)
    fps = check.object(check.member(doc, "", "fps"), "fps")
    num = check.integer(check.member(fps, "fps", "num"), "fps.num", 1)
    den = check.integer(check.member(fps, "fps", "den"), "fps.den", 1)
    fps_float = check.number(check.member(doc, "", "fps_float"), "fps_float")
    expected = float(num) / float(den)
    if abs(fps_float - expected) > FPS_TOLERANCE * expected:
        check.fail("fps_float", "must equal fps.num / fps.den")
    tracker = check.object(check.member(doc, "", "tracker"), "tracker")
    if not check.string(check.member(tracker, "tracker", "name"), "tracker.name"):
        check.fail("tracker.name", "must be a non-empty string")
    check.string(check.member(tracker, "tracker", "version"), "tracker.version")
    check.object(check.member(tracker, "tracker", "options"), "tracker.options")


def _validate_world(check, doc):
    world = check.choice(check.member(doc, "", "world"), "world", WORLDS)
    m = check.matrix(check.member(doc, "", "blender_from_track"), "blender_from_track", 4, 4)
    _check_similarity(check, m, "blender_from_track")
    identity = [[1.0 if i == j else 0.0 for j in range(4)] for i in range(4)]
    if world == "track" and m != identity:
        check.fail("blender_from_track", 'must be the identity when world is "track"')
    scale = check.object(check.member(doc, "", "scale"), "scale")
    check.choice(check.member(scale, "scale", "method"), "scale.method", SCALE_METHODS)
    check.number_or_null(check.member(scale, "scale", "value_m"), "scale.value_m", True)
    if "ground_plane" in doc:
        plane = check.object(doc["ground_plane"], "ground_plane")
        n = check.vector3(check.member(plane, "ground_plane", "normal"), "ground_plane.normal")
        if abs(math.sqrt(sum(x * x for x in n)) - 1.0) > UNIT_TOLERANCE:
            check.fail("ground_plane.normal", "must have unit length")
        check.number(check.member(plane, "ground_plane", "offset"), "ground_plane.offset")
        check.choice(
            check.member(plane, "ground_plane", "method"), "ground_plane.method", PLANE_METHODS
        )
        check.integer(check.member(plane, "ground_plane", "inliers"), "ground_plane.inliers", 0)
        check.number_or_null(check.member(plane, "ground_plane", "rms"), "ground_plane.rms", False)
        check.unit(check.member(plane, "ground_plane", "confidence"), "ground_plane.confidence")
    lens = check.object(check.member(doc, "", "lens"), "lens")
    model = check.choice(check.member(lens, "lens", "model"), "lens.model", LENS_MODELS)
    for k in ("k1", "k2"):
        key = "lens." + k
        value = check.number(check.member(lens, "lens", k), key)
        if model == "pinhole" and value != 0.0:
            check.fail(key, 'must be 0 when lens.model is "pinhole"')


def _validate_frame(check, frame, key, frame_count):
    check.object(frame, key)
    index = check.integer(check.member(frame, key, "index"), key + ".index", 0)
    if frame_count > 0 and index >= frame_count:
        check.fail(key + ".index", "must be < source.frame_count (%d)" % frame_count)
    t = check.number(check.member(frame, key, "timestamp_s"), key + ".timestamp_s")
    if not t >= 0.0:
        check.fail(key + ".timestamp_s", "must be >= 0")
    c2w_key = key + ".c2w_blender"
    c2w = check.matrix(check.member(frame, key, "c2w_blender"), c2w_key, 4, 4)
    if c2w[3] != [0.0, 0.0, 0.0, 1.0]:
        check.fail(c2w_key, "last row must be [0, 0, 0, 1]")
    r = [row[:3] for row in c2w[:3]]
    if conventions.rotation_error(r) > ROTATION_TOLERANCE or not conventions.det3(r) > 0.0:
        check.fail(c2w_key, "rotation block must be a rotation (orthonormal, det +1, no scale)")
    k_key = key + ".K"
    k = check.matrix(check.member(frame, key, "K"), k_key, 3, 3)
    if (
        not (k[0][0] > 0.0 and k[1][1] > 0.0)
        or k[0][1] != 0.0
        or k[1][0] != 0.0
        or k[2][0] != 0.0
        or k[2][1] != 0.0
        or k[2][2] != 1.0
    ):
        check.fail(k_key, "must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0")
    focal = check.number(check.member(frame, key, "focal_px"), key + ".focal_px")
    if focal != k[0][0]:
        check.fail(key + ".focal_px", "must equal K[0][0]")
    check.unit(check.member(frame, key, "confidence"), key + ".confidence")
    check.number_or_null(check.member(frame, key, "reproj_err_px"), key + ".reproj_err_px", False)


def _validate_frames(check, doc):
    frames = check.member(doc, "", "frames")
    if not isinstance(frames, list):
        check.fail("frames", "must be an array")
    if not frames:
        check.fail("frames", "must hold at least one frame")
    frame_count = doc["source"]["frame_count"]
    for i, frame in enumerate(frames):
        key = "frames[%d]" % i
        _validate_frame(check, frame, key, frame_count)
        if i > 0 and frame["index"] <= frames[i - 1]["index"]:
            check.fail(
                key + ".index",
                "must be greater than the previous frame's (ascending, no duplicates)",
            )
    summary = check.object(check.member(doc, "", "summary"), "summary")
    registered = check.integer(
        check.member(summary, "summary", "registered"), "summary.registered", 0
    )
    if registered != len(frames):
        check.fail("summary.registered", "must equal the number of frames (%d)" % len(frames))
    check.integer(check.member(summary, "summary", "total"), "summary.total", registered)
    check.number_or_null(
        check.member(summary, "summary", "reproj_err_px"), "summary.reproj_err_px", False
    )
    check.number_or_null(check.member(summary, "summary", "focal_px"), "summary.focal_px", True)
    warnings = check.member(summary, "summary", "warnings")
    if not isinstance(warnings, list):
        check.fail("summary.warnings", "must be an array of strings")
    for i, w in enumerate(warnings):
        check.string(w, "summary.warnings[%d]" % i)


def _validate_points(check, doc):
    if "points" not in doc:
        return
    points = check.object(doc["points"], "points")
    xyz = check.member(points, "points", "xyz")
    if not isinstance(xyz, list) or len(xyz) > MAX_POINTS:
        check.fail("points.xyz", "must be an array of at most 100000 [x, y, z]")
    rgb = check.member(points, "points", "rgb")
    confidence = check.member(points, "points", "confidence")
    for key, array in (("points.rgb", rgb), ("points.confidence", confidence)):
        if not isinstance(array, list) or len(array) != len(xyz):
            check.fail(key, "must be an array as long as points.xyz")
    for i in range(len(xyz)):
        check.vector3(xyz[i], "points.xyz[%d]" % i)
        c = rgb[i]
        if not (
            isinstance(c, list) and len(c) == 3 and all(_is_int(v) and 0 <= v <= 255 for v in c)
        ):
            check.fail("points.rgb[%d]" % i, "must be 3 integers in [0, 255]")
        check.unit(confidence[i], "points.confidence[%d]" % i)


def _validate_depth(check, doc):
    if "depth" not in doc:
        return
    depth = check.object(doc["depth"], "depth")
    if not check.string(check.member(depth, "depth", "path"), "depth.path"):
        check.fail("depth.path", "must be a non-empty string")
    if check.member(depth, "depth", "format") != "npy":
        check.fail("depth.format", 'must be "npy"')
    check.integer(check.member(depth, "depth", "width"), "depth.width", 1)
    check.integer(check.member(depth, "depth", "height"), "depth.height", 1)
    count = check.integer(check.member(depth, "depth", "count"), "depth.count", 1)
    if count > len(doc["frames"]):
        check.fail("depth.count", "must be <= the number of frames")


def validate(doc, name="<document>"):
    """Raises TrackFileError (naming `name`, the key and the rule) unless `doc` is valid."""
    check = _Checker(name)
    if not isinstance(doc, dict):
        check.fail("", "must be a JSON object")
    _validate_header(check, doc)
    _validate_world(check, doc)
    _validate_frames(check, doc)
    _validate_points(check, doc)
    _validate_depth(check, doc)


def _reject_constant(name):
    raise ValueError("%s is not a JSON number" % name)


def loads(text, name="<string>"):
    """Parses and validates the text of a track file; returns the document (a dict)."""
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise TrackFileError("track '%s': not valid JSON: %s" % (name, exc)) from None
    validate(doc, name)
    return doc


def load(path):
    """Reads and validates a track file; returns the document (a dict)."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrackFileError("cannot read track '%s': %s" % (path, exc)) from None
    return loads(text, path)


def _plain(value):
    """Python scalars/lists/dicts of a document that may hold numpy values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    return value


def _format(value, indent, out):
    pad = " " * (indent + 2)

    def dump(v):
        return json.dumps(v, ensure_ascii=False, allow_nan=False)

    if isinstance(value, dict) and value:
        out.append("{\n")
        items = list(value.items())
        for i, (key, item) in enumerate(items):
            out.append(pad + dump(key) + ": ")
            _format(item, indent + 2, out)
            out.append(",\n" if i + 1 < len(items) else "\n")
        out.append(" " * indent + "}")
    elif isinstance(value, list) and value:
        if all(not isinstance(v, (dict, list)) for v in value):
            out.append("[" + ", ".join(dump(v) for v in value) + "]")
            return
        out.append("[\n")
        for i, item in enumerate(value):
            out.append(pad)
            _format(item, indent + 2, out)
            out.append(",\n" if i + 1 < len(value) else "\n")
        out.append(" " * indent + "]")
    else:
        out.append(dump(value))


def dumps(doc, name="<track being written>"):
    """The text of a track file (validated first): one key per line, matrix rows on one line,
    numbers with shortest round-trip digits (as the C++ writer)."""
    doc = _plain(doc)
    validate(doc, name)
    out = []
    _format(doc, 0, out)
    out.append("\n")
    return "".join(out)


def dump(doc, path, overwrite=False):
    """Writes a track file atomically (temporary file + rename); an existing file is replaced
    only when `overwrite` is true (else TrackFileError)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise TrackFileError("track '%s' is a directory; expected a file" % path)
    if os.path.exists(path) and not overwrite:
        raise TrackFileError("track '%s' already exists; pass overwrite=True to replace it" % path)
    text = dumps(doc, path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise TrackFileError("track '%s': folder '%s' does not exist" % (path, folder))
    fd, temp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if overwrite:
            os.replace(temp, path)
        else:
            try:
                os.link(temp, path)  # fails if the file appeared meanwhile
            except FileExistsError:
                raise TrackFileError(
                    "track '%s' already exists; pass overwrite=True to replace it" % path
                ) from None
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def frame_c2w(frame):
    """The Blender camera-to-world 4x4 (list of rows) of a frame."""
    return [[float(x) for x in row] for row in frame["c2w_blender"]]


def frame_k(frame):
    """The OpenCV K (3x3 rows, pixel centres at integers) of a frame."""
    return [[float(x) for x in row] for row in frame["K"]]
