"""Creates or updates the one Vanelia camera, animated over a track (bpy).

The camera is built from a track document (core/track_file.py) with the one convention of
core/conventions.py:

- ONE camera object (default "Vanelia Camera") in the "Vanelia" collection, marked with the
  custom property vanelia_role = "camera" (the collection with vanelia_role = "collection").
  A later call updates it in place; an object or collection of that name that Vanelia did not
  make is never touched: CameraError says so.
- Blender frame = track index + 1. Location and rotation_quaternion are keyed on the
  registered frames only, in bulk (keyframe_points.add + foreach_set), LINEAR, from
  sign-continuous quaternions; frames missing between two registered ones are interpolated by
  the fcurves and listed in the object's custom property vanelia_interpolated_frames.
- Lens, shift, sensor fit and pixel aspect come from K and the frame size
  (conventions.blender_camera_params); the lens and shift are keyed per frame only when the
  intrinsics vary.
- clip_start / clip_end cover the scene: from the distances between the cameras and the
  track's points (or the trajectory when it has none).
- The scene gets the track's resolution (100 %), pixel aspect, frame rate (fps + fps_base
  from the rational fps), frame range and camera.

Works on Blender 3.4 to 4.x: from 4.4 on, fcurves of layered actions are made with
Action.fcurve_ensure_for_datablock.
"""

import math

import bpy

from ..core import blender_compat, conventions

COLLECTION_NAME = "Vanelia"
CAMERA_NAME = "Vanelia Camera"
ROLE_KEY = "vanelia_role"
INTERPOLATED_KEY = "vanelia_interpolated_frames"
MAX_CLIP_POINTS = 20000  # points used to size the clip range


class CameraError(RuntimeError):
    """The camera cannot be built; the message names the object and the rule."""


def ensure_collection(scene, name=COLLECTION_NAME):
    """The Vanelia collection, linked to the scene (created when missing)."""
    coll = bpy.data.collections.get(name)
    if coll is None:
        coll = bpy.data.collections.new(name)
        coll[ROLE_KEY] = "collection"
    elif coll.get(ROLE_KEY) != "collection":
        raise CameraError(
            "a collection named '%s' exists and was not made by Vanelia; rename it" % name
        )
    if scene.collection.children.get(coll.name) is None:
        scene.collection.children.link(coll)
    return coll


def _ensure_camera_object(coll, name):
    obj = bpy.data.objects.get(name)
    if obj is not None:
        if obj.get(ROLE_KEY) != "camera" or obj.type != "CAMERA":
            raise CameraError(
                "an object named '%s' exists and was not made by Vanelia; rename it" % name
            )
        if coll.objects.get(obj.name) is None:
            coll.objects.link(obj)
        return obj
    data = bpy.data.cameras.new(name)
    obj = bpy.data.objects.new(name, data)
    obj[ROLE_KEY] = "camera"
    coll.objects.link(obj)
    return obj


def _fresh_action(owner, name):
    """An emptied action assigned to `owner` (object or camera data)."""
    anim = owner.animation_data or owner.animation_data_create()
    action = anim.action
    if action is None:
        action = bpy.data.actions.new(name)
        anim.action = action
    elif not blender_compat.layered_actions(bpy.app.version):
        for fc in list(action.fcurves):
            action.fcurves.remove(fc)
    else:
        action = bpy.data.actions.new(name)
        anim.action = action
    return action


def _new_fcurve(action, owner, data_path, index):
    if blender_compat.layered_actions(bpy.app.version):
        return action.fcurve_ensure_for_datablock(owner, data_path, index=index)
    return action.fcurves.new(data_path, index=index)


def _key_channels(action, owner, data_path, frames, columns):
    """Keys data_path[i] = columns[i][k] at frames[k], LINEAR, in bulk."""
    linear = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value
    for i, values in enumerate(columns):
        fc = _new_fcurve(action, owner, data_path, i)
        fc.keyframe_points.add(len(frames))
        co = [0.0] * (2 * len(frames))
        co[0::2] = [float(f) for f in frames]
        co[1::2] = [float(v) for v in values]
        fc.keyframe_points.foreach_set("co", co)
        fc.keyframe_points.foreach_set("interpolation", [linear] * len(frames))
        fc.update()


def _apply_similarity(c2w, m):
    """c2w (4x4 rows) moved by the similarity m = [[s R, t], [0, 1]] (the camera stays rigid)."""
    if m is None:
        return c2w
    a = [row[:3] for row in m[:3]]
    s = conventions.det3(a) ** (1.0 / 3.0)
    rot = [[sum(a[i][k] / s * c2w[k][j] for k in range(3)) for j in range(3)] for i in range(3)]
    loc = [sum(a[i][k] * c2w[k][3] for k in range(3)) + m[i][3] for i in range(3)]
    return [rot[0] + [loc[0]], rot[1] + [loc[1]], rot[2] + [loc[2]], [0.0, 0.0, 0.0, 1.0]]


def _clip_range(centres, points, scale):
    """clip_start, clip_end covering the cameras and the points."""
    if points:
        step = max(1, len(points) // MAX_CLIP_POINTS)
        sample = points[::step]
        cams = centres[:: max(1, len(centres) // 50)]
        dists = [math.dist(c, p) for c in cams for p in sample]
        near, far = min(dists), max(dists)
    else:
        far = max((math.dist(centres[0], c) for c in centres), default=0.0)
        near, far = 1.0 * scale, max(far, 1.0 * scale)
    clip_start = max(1e-4 * far, min(0.1 * scale, 0.5 * near))
    clip_end = max(1000.0 * scale, 2.0 * far)
    return clip_start, clip_end


def _set_lens(cam, params):
    cam.type = "PERSP"
    cam.sensor_fit = params["sensor_fit"]
    cam.sensor_width = params["sensor_width"]
    cam.sensor_height = params["sensor_height"]
    cam.lens_unit = "MILLIMETERS"
    cam.lens = params["lens"]
    cam.shift_x = params["shift_x"]
    cam.shift_y = params["shift_y"]


def _set_scene(scene, track, params, first, last):
    render = scene.render
    render.resolution_x = int(track["width"])
    render.resolution_y = int(track["height"])
    render.resolution_percentage = 100
    render.pixel_aspect_x = params["pixel_aspect_x"]
    render.pixel_aspect_y = params["pixel_aspect_y"]
    num, den = int(track["fps"]["num"]), int(track["fps"]["den"])
    fps = max(1, round(num / den))
    render.fps = fps
    render.fps_base = fps * den / num
    scene.frame_start = first + 1
    scene.frame_end = last + 1


def build_camera(scene, track, name=CAMERA_NAME, blender_from_file=None, set_scene=True):
    """Creates or updates the Vanelia camera of `track` (a validated track document).

    blender_from_file: optional 4x4 similarity (rows) applied to the track's world first.
    Returns the camera object. Raises CameraError on a name clash with a user object.
    """
    frames = track["frames"]
    w, h = int(track["width"]), int(track["height"])
    coll = ensure_collection(scene)
    obj = _ensure_camera_object(coll, name)
    cam = obj.data

    c2ws = [_apply_similarity(f["c2w_blender"], blender_from_file) for f in frames]
    blender_frames = [int(f["index"]) + 1 for f in frames]
    quats = conventions.sign_continuous(
        conventions.quaternion_from_rotation([row[:3] for row in m[:3]]) for m in c2ws
    )
    obj.rotation_mode = "QUATERNION"
    action = _fresh_action(obj, name + " Action")
    _key_channels(
        action, obj, "location", blender_frames, [[m[i][3] for m in c2ws] for i in range(3)]
    )
    _key_channels(action, obj, "rotation_quaternion", blender_frames, list(zip(*quats)))
    obj.location = [c2ws[0][i][3] for i in range(3)]
    obj.rotation_quaternion = quats[0]
    registered = set(blender_frames)
    obj[INTERPOLATED_KEY] = [
        f for f in range(blender_frames[0], blender_frames[-1] + 1) if f not in registered
    ]

    params = [conventions.blender_camera_params(f["K"], w, h) for f in frames]
    _set_lens(cam, params[0])
    if cam.animation_data is not None and cam.animation_data.action is not None:
        cam.animation_data.action = None
    varying = any(
        p["lens"] != params[0]["lens"]
        or p["shift_x"] != params[0]["shift_x"]
        or p["shift_y"] != params[0]["shift_y"]
        for p in params
    )
    if varying:
        data_action = _fresh_action(cam, name + " Lens")
        for key in ("lens", "shift_x", "shift_y"):
            _key_channels(data_action, cam, key, blender_frames, [[p[key] for p in params]])

    scale = 1.0
    if blender_from_file is not None:
        scale = conventions.det3([row[:3] for row in blender_from_file[:3]]) ** (1.0 / 3.0)
    points = track.get("points", {}).get("xyz", [])
    if points and blender_from_file is not None:
        points = [
            _apply_similarity(
                [[1, 0, 0, p[0]], [0, 1, 0, p[1]], [0, 0, 1, p[2]], [0, 0, 0, 1]], blender_from_file
            )
            for p in points
        ]
        points = [[m[0][3], m[1][3], m[2][3]] for m in points]
    centres = [[m[i][3] for i in range(3)] for m in c2ws]
    cam.clip_start, cam.clip_end = _clip_range(centres, points, scale)

    if set_scene:
        _set_scene(scene, track, params[0], int(frames[0]["index"]), int(frames[-1]["index"]))
        scene.camera = obj
    return obj
