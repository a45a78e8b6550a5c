"""The footage: a movie clip as the camera background and the scene's
resolution, pixel aspect, rational frame rate and frame range.

Blender frame N shows decoded frame N - 1: the clip starts at scene frame 1.
A clip Blender 3.4 cannot show as it is (rotation metadata, variable frame
rate) is replaced by its upright constant-rate proxy (encode/proxy.py) before
it gets here.
"""

import os

import bpy

from ..render.render_plan import fps_to_blender
from .collection import ensure_data

CLIP_NAME = "Vanelia Plate"


def ensure_clip(plate_path):
    """Our movie clip showing `plate_path` (reloaded when the path changed)."""
    path = os.path.abspath(plate_path)

    def load(name):
        clip = bpy.data.movieclips.load(path)
        clip.name = name
        return clip

    clip = ensure_data(bpy.data.movieclips, CLIP_NAME, "movie clip", load)
    if os.path.abspath(bpy.path.abspath(clip.filepath)) != path:
        clip.filepath = path
        # MovieClip has no reload() (Blender 3.4); setting the path
        # alone keeps the old size and length: the clip editor's operator.
        with bpy.context.temp_override(edit_movieclip=clip):
            bpy.ops.clip.reload()
    clip.frame_start = 1
    clip.frame_offset = 0
    clip.colorspace_settings.name = "sRGB"
    return clip


def set_camera_background(camera_data, clip):
    camera_data.show_background_images = True
    for bg in camera_data.background_images:
        if bg.source == "MOVIE_CLIP" and bg.clip == clip:
            return bg
    bg = camera_data.background_images.new()
    bg.source = "MOVIE_CLIP"
    bg.clip = clip
    bg.alpha = 1.0
    return bg


def configure_footage(scene, info, frame_start=1, frame_end=None):
    """Resolution, pixel aspect, rate and range from the (upright) footage."""
    render = scene.render
    render.resolution_x = info.width
    render.resolution_y = info.height
    render.resolution_percentage = 100
    # Pixel aspect: the camera's (from K, scene/camera.py), which the track
    # measured on these pixels.
    render.fps, render.fps_base = fps_to_blender(info.fps_num, info.fps_den)
    scene.frame_start = frame_start
    scene.frame_end = frame_end if frame_end is not None else info.frame_count
