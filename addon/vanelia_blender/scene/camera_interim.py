"""Interim animated camera until scene/camera.py (branch trackfile) lands.

Lens from K with sensor fit AUTO (36 mm on the longer side), shift from the
principal point (OpenCV pixel centres at integers: corner-origin cx + 0.5),
keys in bulk with foreach_set at Blender frame = index + 1.
"""

import bpy
import mathutils

from .collection import ensure_data, ensure_object

CAMERA_NAME = "Vanelia Camera"


def build_camera(track, collection, scene):
    w, h = track.width, track.height
    data = ensure_data(bpy.data.cameras, CAMERA_NAME, "camera", bpy.data.cameras.new)
    data.sensor_fit = "AUTO"
    data.sensor_width = 36.0
    longer = max(w, h)
    f0 = track.frames[0]
    data.lens = f0.K[0][0] * 36.0 / longer
    data.shift_x = (w / 2.0 - (f0.K[0][2] + 0.5)) / longer
    data.shift_y = ((f0.K[1][2] + 0.5) - h / 2.0) / longer
    data.clip_start = 0.05
    data.clip_end = 1000.0
    obj = ensure_object(CAMERA_NAME, data, collection)
    obj.rotation_mode = "QUATERNION"
    obj.animation_data_clear()
    frames, locs, quats = [], [], []
    prev = None
    for f in track.frames:
        m = mathutils.Matrix(f.c2w_blender)
        q = m.to_quaternion()
        if prev is not None and prev.dot(q) < 0:
            q.negate()
        prev = q
        frames.append(f.index + 1)
        locs.append(m.translation)
        quats.append(q)
    action = bpy.data.actions.new(CAMERA_NAME)
    obj.animation_data_create().action = action
    for path, n, values in (
        ("location", 3, locs),
        ("rotation_quaternion", 4, quats),
    ):
        for i in range(n):
            fc = action.fcurves.new(path, index=i)
            fc.keyframe_points.add(len(frames))
            co = []
            for fr, v in zip(frames, values):
                co += [fr, v[i]]
            fc.keyframe_points.foreach_set("co", co)
            fc.keyframe_points.foreach_set("interpolation", [1] * len(frames))  # LINEAR
            fc.update()
    scene.camera = obj
    return obj
