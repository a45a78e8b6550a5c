"""Projection test of issue 3 (run by `blender -b --factory-startup --python`).

    blender -b --factory-startup --python tests/blender/run_projection.py -- BUILD_PYTHON_DIR

Known 3-D points are projected (1) by the C++ library through the track's K and
cam_from_world (_vanelia.project_track_points, which reads the track with the C++ reader) and
(2) by the real Blender camera that addon/vanelia_blender/scene/camera.py builds from the same
track (lens, sensor fit, shift, pixel aspect), both through the projection matrix of
Object.calc_matrix_camera and through bpy_extras.object_utils.world_to_camera_view. Blender
pixels are converted from pixel corners (v up) to OpenCV pixels: u = x W - 0.5,
v = (1 - y) H - 0.5. Every pair must agree within 0.01 px, for a centred and an off-centre
principal point, a portrait frame, non-square pixels, a gap in the track (interpolated frames)
and the orbit ground truth. Exits 1 on any failure.
"""

import math
import os
import sys
import tempfile
import traceback

import bpy
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

TOLERANCE_PX = 0.01
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def args():
    argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else []
    if len(argv) != 1:
        raise SystemExit("usage: blender -b --python run_projection.py -- BUILD_PYTHON_DIR")
    return argv[0]


def look_at(centre, target):
    """cam_from_world (OpenCV camera) of a camera at `centre` looking at `target`, z up."""
    fwd = [t - c for t, c in zip(target, centre)]
    n = math.sqrt(sum(x * x for x in fwd))
    z = [x / n for x in fwd]
    right = [z[1], -z[0], 0.0]  # z x up(0, 0, 1)
    n = math.sqrt(sum(x * x for x in right))
    x = [v / n for v in right]
    y = [z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]]
    r = [x, y, z]
    t = [-sum(r[i][j] * centre[j] for j in range(3)) for i in range(3)]
    return r, t


def make_track(conventions, width, height, k, indices):
    frames = []
    for n, index in enumerate(indices):
        angle = 0.3 * n
        centre = [4.0 * math.sin(angle), -4.0 * math.cos(angle), 1.6 + 0.1 * n]
        r, t = look_at(centre, [0.2, 0.1, 0.3])
        kk = [list(row) for row in k]
        frames.append(
            {
                "index": index,
                "timestamp_s": index / 24.0,
                "c2w_blender": conventions.blender_c2w_from_cam_from_world(r, t),
                "focal_px": kk[0][0],
                "K": kk,
                "confidence": 1.0,
                "reproj_err_px": None,
            }
        )
    return {
        "format": "vanelia-track",
        "version": 1,
        "source": {"path": "synthetic", "sha256": "", "frame_count": indices[-1] + 1},
        "width": width,
        "height": height,
        "fps": {"num": 24, "den": 1},
        "fps_float": 24.0,
        "tracker": {"name": "projection-test", "version": "1", "options": {}},
        "world": "blender",
        "blender_from_track": [[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]],
        "scale": {"method": "none", "value_m": None},
        "lens": {"model": "pinhole", "k1": 0.0, "k2": 0.0},
        "frames": frames,
        "summary": {
            "registered": len(frames),
            "total": indices[-1] + 1,
            "reproj_err_px": None,
            "focal_px": k[0][0],
            "warnings": [],
        },
    }


POINTS = [
    [0.0, 0.0, 0.0],
    [0.2, 0.1, 0.3],
    [1.0, 0.5, 0.0],
    [-1.2, 0.8, 1.1],
    [0.7, -0.6, 0.9],
    [-0.5, -0.4, 0.2],
]


def blender_pixels(scene, obj, points):
    """OpenCV pixels of world points through the Blender camera, two ways."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    render = scene.render
    w, h = render.resolution_x, render.resolution_y
    proj = obj.calc_matrix_camera(
        depsgraph, x=w, y=h, scale_x=render.pixel_aspect_x, scale_y=render.pixel_aspect_y
    )
    view = obj.matrix_world.inverted()
    out = []
    for p in points:
        clip = proj @ view @ Vector((p[0], p[1], p[2], 1.0))
        ndc = (clip.x / clip.w, clip.y / clip.w)
        a = ((ndc[0] + 1.0) / 2.0 * w - 0.5, (1.0 - ndc[1]) / 2.0 * h - 0.5)
        v = world_to_camera_view(scene, obj, Vector(p))
        b = (v.x * w - 0.5, (1.0 - v.y) * h - 0.5)
        out.append((a, b))
    return out


def check_case(name, track, path, native, camera_module, failures, gap_frames=()):
    from vanelia_blender.core import track_file

    track_file.dump(track, path, overwrite=True)
    doc = track_file.load(path)
    scene = bpy.context.scene
    obj = camera_module.build_camera(scene, doc)
    worst = 0.0
    for frame in doc["frames"]:
        scene.frame_set(frame["index"] + 1)
        cpp = native.project_track_points(path, frame["index"], POINTS).tolist()
        for (u, v), (a, b) in zip(cpp, blender_pixels(scene, obj, POINTS)):
            err = max(abs(u - a[0]), abs(v - a[1]), abs(u - b[0]), abs(v - b[1]))
            worst = max(worst, err)
    flagged = list(obj[camera_module.INTERPOLATED_KEY])
    if flagged != list(gap_frames):
        failures.append("%s: interpolated frames %s, expected %s" % (name, flagged, gap_frames))
    print(
        "projection %-28s frames %3d  max |C++ - Blender| = %.2e px  (%s, lens %.4f mm, "
        "shift %.4f %.4f)"
        % (
            name,
            len(doc["frames"]),
            worst,
            obj.data.sensor_fit,
            obj.data.lens,
            obj.data.shift_x,
            obj.data.shift_y,
        )
    )
    if not worst <= TOLERANCE_PX:
        failures.append("%s: max error %.4g px > %.2g px" % (name, worst, TOLERANCE_PX))
    return obj


def check_scene_settings(scene, obj, failures):
    from vanelia_blender.scene import camera as camera_module

    if scene.camera != obj or obj.get(camera_module.ROLE_KEY) != "camera":
        failures.append("scene camera is not the marked Vanelia camera")
    if [o.name for o in bpy.data.objects if o.get(camera_module.ROLE_KEY) == "camera"] != [
        camera_module.CAMERA_NAME
    ]:
        failures.append("more than one Vanelia camera after updates")
    if obj.animation_data.action.fcurves[0].keyframe_points[0].interpolation != "LINEAR":
        failures.append("keys are not LINEAR")
    user = bpy.data.objects.new("Vanelia Camera.user", None)
    user.name = "Clash"
    scene.collection.objects.link(user)
    try:
        camera_module.build_camera(scene, {"frames": [], "width": 1, "height": 1}, name="Clash")
        failures.append("a user object was taken over")
    except camera_module.CameraError as exc:
        if "'Clash'" not in str(exc):
            failures.append("clash error does not name the object: %s" % exc)


def main():
    build_python = args()
    sys.path.insert(0, os.path.abspath(build_python))
    sys.path.insert(0, os.path.join(ROOT, "addon"))
    import _vanelia as native
    from vanelia_blender.core import conventions
    from vanelia_blender.scene import camera as camera_module

    failures = []
    tmp = tempfile.mkdtemp(prefix="vanelia_projection_")
    cases = [
        (
            "landscape centred",
            640,
            360,
            [[497.77777777777777, 0, 319.5], [0, 497.77777777777777, 179.5], [0, 0, 1]],
        ),
        ("landscape off-centre", 640, 360, [[610.0, 0, 290.25], [0, 610.0, 200.75], [0, 0, 1]]),
        ("portrait off-centre", 360, 640, [[800.0, 0, 170.0], [0, 800.0, 330.0], [0, 0, 1]]),
        ("non-square fx > fy", 640, 360, [[520.0, 0, 330.5], [0, 480.0, 170.0], [0, 0, 1]]),
        (
            "non-square portrait fy > fx",
            400,
            600,
            [[450.0, 0, 200.0], [0, 500.0, 300.0], [0, 0, 1]],
        ),
    ]
    for name, w, h, k in cases:
        track = make_track(conventions, w, h, k, [0, 1, 2, 3])
        check_case(name, track, os.path.join(tmp, "t.json"), native, camera_module, failures)

    # A gap (frames 3..5 missing): flagged, and keys only on registered frames.
    track = make_track(conventions, 640, 360, cases[1][3], [0, 1, 2, 6, 7])
    obj = check_case(
        "gap 3..5 interpolated",
        track,
        os.path.join(tmp, "gap.json"),
        native,
        camera_module,
        failures,
        gap_frames=[4, 5, 6],
    )
    # Varying intrinsics are keyed per frame.
    track = make_track(conventions, 640, 360, cases[1][3], [0, 1, 2, 3])
    for n, frame in enumerate(track["frames"]):
        frame["K"][0][0] = frame["K"][1][1] = frame["focal_px"] = 500.0 + 40.0 * n
        frame["K"][0][2] = 300.0 + 5.0 * n
    obj = check_case(
        "zoom + moving centre",
        track,
        os.path.join(tmp, "zoom.json"),
        native,
        camera_module,
        failures,
    )
    if obj.data.animation_data is None or obj.data.animation_data.action is None:
        failures.append("varying lens is not animated")

    # The orbit ground truth, imported by the C++ importer, with the scene's objects.
    gt = os.path.join(ROOT, "tests", "data", "footage", "orbit", "gt.json")
    doc = native.import_ground_truth(gt)
    check_case(
        "orbit gt.json (96 frames)",
        doc,
        os.path.join(tmp, "orbit.json"),
        native,
        camera_module,
        failures,
    )
    scene = bpy.context.scene
    if (scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end) != (
        24,
        1.0,
        1,
        96,
    ):
        failures.append("scene fps/frame range not set from the track")
    check_scene_settings(scene, obj, failures)

    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        code = main()
    except BaseException:  # noqa: B902 - any failure must exit 1
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    os._exit(code)
