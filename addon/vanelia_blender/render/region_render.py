"""One frame of the batch render: the border around the product and its
shadow, then Cycles to an RGBA PNG.

The border is `render_plan.render_region` of the region's world points seen
through the evaluated camera (any track interpolation), widened when the
render is distorted like the plate. The one-process batch (`render_frames`)
and the farm's render step (render/farm_steps.py) both render through
`render_frame`, so a frame comes out the same whichever renders it, to the
byte: the PNG's text chunks (Blender's stamp metadata and Cycles' render
times, which change from run to run) are dropped. A scene that holds the
plate's grain (render/grain.py) gets it added to the frame, seeded by the
frame's index.
"""

import math
import os
import struct
import time

from . import render_plan


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


def frame_name(k):
    """The PNG of output position k (encode/encode.py's FRAME_PATTERN)."""
    return f"{k:06d}.png"


def region_margin(width, height, distorted):
    """Pixels added around the projected region."""
    margin = render_plan.RegionOptions.pixel_margin
    if distorted:
        # The plate's lens moves pixels by up to a few % of the frame: the
        # undistorted region is widened by that much.
        margin += int(0.04 * max(width, height))
    return margin


def camera_region(scene, cam, width, height, points, margin=None):
    """Pixel region of `points` from the evaluated camera `cam`."""
    from ..core import conventions

    c2w = [list(row) for row in cam.matrix_world]
    data, render = cam.data, scene.render
    params = {
        "sensor_fit": data.sensor_fit,
        "sensor_width": data.sensor_width,
        "sensor_height": data.sensor_height,
        "lens": data.lens,
        "shift_x": data.shift_x,
        "shift_y": data.shift_y,
        "pixel_aspect_x": render.pixel_aspect_x,
        "pixel_aspect_y": render.pixel_aspect_y,
        "resolution_x": width,
        "resolution_y": height,
    }
    K = conventions.opencv_k_from_blender_params(params)
    if margin is None:
        margin = render_plan.RegionOptions.pixel_margin
    return render_plan.render_region(K, c2w, width, height, points, margin)


def _union(a, b):
    if a is None or b is None:
        return a if b is None else b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def frame_border(scene, cam, points, margin, full_frame):
    """Blender's border for the current frame; None renders it whole. With
    motion blur the region covers where the camera sees it while the
    shutter is open (the shutter's two ends)."""
    if full_frame:
        return None
    width, height = scene.render.resolution_x, scene.render.resolution_y
    region = camera_region(scene, cam, width, height, points, margin)
    render = scene.render
    if render.use_motion_blur and render.motion_blur_shutter > 0.0:
        frame = scene.frame_current
        for t in (
            frame - 0.5 * render.motion_blur_shutter,
            frame + 0.5 * render.motion_blur_shutter,
        ):
            whole = math.floor(t)
            scene.frame_set(int(whole), subframe=t - whole)
            region = _union(region, camera_region(scene, cam, width, height, points, margin))
        scene.frame_set(frame)
    if region is None:
        region = (0, 0, 1, 1)  # nothing visible: a token border
    return render_plan.border_of_region(region, width, height)


def render_frame(scene, cam, index, points, margin, full_frame, path):
    """Renders decoded frame `index` (Blender frame index + 1) to `path`."""
    import bpy

    from . import cycles, grain

    scene.frame_set(index + 1)
    cycles.set_border(scene, frame_border(scene, cam, points, margin, full_frame))
    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)
    stored = grain.grain_of(scene)
    if stored is not None:
        grain.apply_to_png(path, stored[0], stored[1], index)
    strip_png_text(path)


def strip_png_text(path):
    """Rewrites the PNG at `path` without its text chunks (metadata only;
    the image chunks are kept as they are)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != _PNG_SIGNATURE:
        raise ValueError(f"frame '{path}': not a PNG")
    kept, i = [data[:8]], 8
    while i + 8 <= len(data):
        (length,) = struct.unpack(">I", data[i : i + 4])
        end = i + 12 + length  # length, type, data, CRC
        if data[i + 4 : i + 8] not in _PNG_TEXT_CHUNKS:
            kept.append(data[i:end])
        i = end
    if len(kept) < 2 or i != len(data):
        raise ValueError(f"frame '{path}': truncated PNG")
    with open(path, "wb") as f:
        f.write(b"".join(kept))


def render_frames(scene, built, indices, frames_dir, full_frame, progress, on_frame=None):
    """The one-process render: position k -> frames_dir/frame_name(k);
    `on_frame(path)` is called with each frame once it is written."""
    from ..scene import build

    width, height = scene.render.resolution_x, scene.render.resolution_y
    points = build.region_points(built)
    margin = region_margin(width, height, built.distorted)
    by_index = {}
    started = time.monotonic()
    for k, index in enumerate(indices):
        path = os.path.join(frames_dir, frame_name(k))
        render_frame(scene, built.camera, index, points, margin, full_frame, path)
        by_index[index] = path
        if on_frame is not None:
            on_frame(path)
        progress.frames("render", k + 1, len(indices), started)
    return by_index
