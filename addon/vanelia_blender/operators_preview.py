"""The Preview button: on a built Vanelia scene, the preview rendered in this
Blender (render/live_preview.py), one frame per timer tick so the interface
stays live and Esc cancels between frames; without a built scene it runs
`vanelia run --preview` (the Render operator with preview on)."""

import os

import bpy

from . import operators
from .core import media
from .render import live_preview, render_job
from .scene import collection

LAST = {}  # the last preview's result for tests: {"output", "frames", "seconds"}


def _built_clip():
    """The built scene's plate (its movie clip), or None without a built scene."""
    from .scene import camera

    cam = bpy.data.objects.get(camera.CAMERA_NAME)
    if cam is None or not collection.is_owned(cam):
        return None
    clips = [bg.clip for bg in cam.data.background_images if bg.source == "MOVIE_CLIP"]
    return clips[0] if clips and clips[0] is not None else None


def _region_points():
    """World points bounding the product and its shadow (render/render_plan), from the
    built scene's product and sun; None (whole frames) when either is missing."""
    from mathutils import Vector

    from .render import render_plan
    from .scene import lighting, product

    empty = bpy.data.objects.get(product.EMPTY_NAME)
    sun = bpy.data.objects.get(lighting.SUN_NAME)
    if empty is None or sun is None:
        return None
    bpy.context.view_layer.update()
    lo, hi = product.world_bounds(empty)
    light = sun.matrix_world.to_3x3() @ Vector((0.0, 0.0, -1.0))
    return render_plan.region_points(lo, hi, list(light))


def _distorted(scene):
    tree = scene.node_tree if scene.use_nodes else None
    return tree is not None and tree.nodes.get("Vanelia Distortion") is not None


class VANELIA_OT_preview(bpy.types.Operator):
    """Quick look at placement and light: half size, few samples, <name>_vanelia_preview.mp4
    (Esc cancels)"""

    bl_idname = "vanelia.preview"
    bl_label = "Preview"

    _timer = None
    _live = None

    def _start(self, context):
        s = context.scene.vanelia
        video = operators._abspath(s.video_path)
        if not video:
            raise render_job.RenderError("no video chosen: set the video file first")
        clip = _built_clip()
        out = render_job.default_output(video, preview=True)
        if os.path.exists(out) and not s.overwrite:
            raise render_job.RenderError(f"output '{out}': exists; tick Overwrite to replace it")
        scene = context.scene
        every = max(1, s.frame_step)
        frames = list(range(scene.frame_start, scene.frame_end + 1, every))
        info = media.probe_video(video)
        plate = bpy.path.abspath(clip.filepath)
        self._live = live_preview.LivePreview(
            scene, _distorted(scene), plate, info, out, frames, every, s.overwrite, _region_points()
        )
        return out

    def execute(self, context):
        if _built_clip() is None:
            return bpy.ops.vanelia.render_video(preview=True)
        try:
            out = self._start(context)
            with self._live as live:
                while live.step():
                    pass
                live.finish()
        except Exception as e:  # noqa: BLE001 - reported
            operators.report_error(self, e, "Preview")
            return {"CANCELLED"}
        self._done(context, out)
        return {"FINISHED"}

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        if _built_clip() is None:
            return bpy.ops.vanelia.render_video("INVOKE_DEFAULT", preview=True)
        try:
            self._out = self._start(context)
            self._live.__enter__()
        except Exception as e:  # noqa: BLE001 - reported
            operators.report_error(self, e, "Preview")
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.01, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            self._end(context, None)
            self.report({"WARNING"}, "Preview: cancelled; nothing was written")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        try:
            if self._live.step():
                live = self._live
                eta = live.eta_s()
                text = f"Preview: frame {live.done} of {len(live.frames)}, {eta:.0f} s left"
                context.scene.vanelia.job_text = text
                context.scene.vanelia.job_fraction = live.done / len(live.frames)
                return {"RUNNING_MODAL"}
            self._live.finish()
        except Exception as e:  # noqa: BLE001 - never a traceback dialog
            self._end(context, e)
            operators.report_error(self, e, "Preview")
            return {"CANCELLED"}
        self._end(context, None)
        self._done(context, self._out)
        return {"FINISHED"}

    def _end(self, context, error):
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        context.scene.vanelia.job_text, context.scene.vanelia.job_fraction = "", 0.0
        self._live.__exit__(type(error) if error else None, error, None)

    def _done(self, context, out):
        LAST.update(output=out, frames=len(self._live.frames))
        self.report({"INFO"}, f"Preview written: '{out}'")


CLASSES = (VANELIA_OT_preview,)

register, unregister = bpy.utils.register_classes_factory(CLASSES)
