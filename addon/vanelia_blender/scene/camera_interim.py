"""Interim animated camera until scene/camera.py (branch trackfile) lands.

Uses core/conventions.py (lens, sensor fit, shift, pixel aspect from K) and
writes the keys in bulk with foreach_set at Blender frame = index + 1, from
sign-continuous quaternions. The lens of frame 0 is used for the clip.
"""

import bpy

from ..core import conventions, track_file
from .collection import ensure_data, ensure_object

CAMERA_NAME = "Vanelia Camera"


def build_camera(track, collection, scene):
    frames = track["frames"]
    params = conventions.blender_camera_params(
        track_file.frame_k(frames[0]), track["width"], track["height"]
    )
    data = ensure_data(bpy.data.cameras, CAMERA_NAME, "camera", bpy.data.cameras.new)
    for key in ("sensor_fit", "sensor_width", "sensor_height", "lens", "shift_x", "shift_y"):
        setattr(data, key, params[key])
    scene.render.pixel_aspect_x = params["pixel_aspect_x"]
    scene.render.pixel_aspect_y = params["pixel_aspect_y"]
    data.clip_start = 0.05
    data.clip_end = 1000.0
    obj = ensure_object(CAMERA_NAME, data, collection)
    obj.rotation_mode = "QUATERNION"
    c2ws = [track_file.frame_c2w(f) for f in frames]
    quats = conventions.sign_continuous(
        [conventions.quaternion_from_rotation([row[:3] for row in m[:3]]) for m in c2ws]
    )
    keys = [f["index"] + 1 for f in frames]
    action = obj.animation_data.action if obj.animation_data else None
    if action is None:
        action = bpy.data.actions.new(CAMERA_NAME)
        obj.animation_data_create().action = action
    for fc in list(action.fcurves):
        action.fcurves.remove(fc)
    channels = [("location", i, [m[i][3] for m in c2ws]) for i in range(3)]
    channels += [("rotation_quaternion", i, [q[i] for q in quats]) for i in range(4)]
    for path, i, values in channels:
        fc = action.fcurves.new(path, index=i)
        fc.keyframe_points.add(len(keys))
        co = [0.0] * (2 * len(keys))
        co[0::2] = keys
        co[1::2] = values
        fc.keyframe_points.foreach_set("co", co)
        fc.keyframe_points.foreach_set("interpolation", [1] * len(keys))  # LINEAR
        fc.update()
    scene.camera = obj
    return obj
