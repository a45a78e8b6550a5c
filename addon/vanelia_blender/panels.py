"""The "Vanelia" tab of the 3D viewport's sidebar: inputs, tracking, the
solve summary, placement and render. Draw code only."""

import bpy

from . import native, preferences
from .core.tracking import LABELS, NETWORKS

# Both networks' code and weights (naver/must3r, naver/dust3r) carry this
# licence; the README says the same.
NETWORK_LICENSE = "CC BY-NC-SA 4.0, non-commercial use only"


def _fmt(value, fmt, missing="n/a"):
    return missing if value < 0 else fmt.format(value)


class VANELIA_PT_main(bpy.types.Panel):
    bl_label = "Vanelia"
    bl_idname = "VANELIA_PT_main"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Vanelia"

    def draw(self, context):
        layout = self.layout
        s = context.scene.vanelia
        prefs = preferences.get(context)
        kind = native.mode()
        icon = "CHECKMARK" if kind == "in-process" else "CONSOLE"
        if kind != "none":  # in-process or worker (the CLI runs the work)
            for k, line in enumerate(_wrap(native.mode_text(), 40)):
                layout.label(text=line, icon=icon if k == 0 else "BLANK1")
        else:
            box = layout.box()
            box.alert = True
            try:
                native.module()
            except native.NativeMissing as e:
                for line in _wrap(str(e), 40):
                    box.label(text=line)
        col = layout.column(align=True)
        col.prop(s, "video_path")
        col.prop(s, "product_path")
        running = bool(s.job_text)
        if running:  # the job's progress on top, where it is seen
            box = layout.box()
            for k, line in enumerate(_wrap(s.job_text, 26)):
                box.label(text=line, icon="TIME" if k == 0 else "BLANK1")
            box.prop(s, "job_fraction", text="Done", slider=True)
            box.label(text="Esc cancels", icon="CANCEL")
        self._draw_tracking(layout, s, prefs, running)
        self._draw_summary(layout, s)
        self._draw_placement(layout, s)
        self._draw_render(layout, s, running)

    def _draw_tracking(self, layout, s, prefs, running):
        box = layout.box()
        box.label(text="Tracking", icon="CAMERA_DATA")
        row = box.row(align=True)
        reasons = []
        for key in ("classical", "must3r", "dust3r"):
            problem = preferences.tracker_problem(prefs, key)
            sub = row.row(align=True)
            sub.enabled = not problem
            sub.prop_enum(s, "tracker", key, text=LABELS[key])
            if problem:
                reasons.append(problem)
        for reason in reasons:
            for k, line in enumerate(_wrap(reason, 22)):
                box.label(text=line, icon="INFO" if k == 0 else "BLANK1")
        if s.tracker in NETWORKS:
            self._draw_network(box, s)
            note = f"{LABELS[s.tracker]} code and weights: {NETWORK_LICENSE}"
            for k, line in enumerate(_wrap(note, 26)):
                box.label(text=line, icon="ERROR" if k == 0 else "BLANK1")
        col = box.column(align=True)
        col.prop(s, "frame_start", text="Frame start")
        col.prop(s, "frame_end", text="End (-1 = all)")
        col.prop(s, "frame_step", text="Step")
        box.prop(s, "focal_px", text="Focal (px)")
        if s.tracker == "classical":
            box.prop(s, "mask_path", text="Mask")
        box.prop(s, "camera_height")
        row = box.row()
        row.enabled = not running
        row.scale_y = 1.4
        row.operator("vanelia.track_video", icon="TRACKING")

    def _draw_network(self, box, s):
        box.prop(s, "device")
        col = box.column(align=True)
        col.prop(s, "image_size", text="Size")
        col.prop(s, "dtype", text="Type")
        if s.tracker != "must3r":
            return  # the rest is MUSt3R's memory; DUSt3R takes the CLI's defaults
        col = box.column(align=True)
        col.prop(s, "keyframe_every")
        col.prop(s, "local_context")
        col.prop(s, "max_keyframes")
        col.prop(s, "init_frames")
        col.prop(s, "batch_frames")

    def _draw_summary(self, layout, s):
        summary = s.summary
        if not summary.valid:
            return
        box = layout.box()
        box.label(text="Solve", icon="CHECKMARK")
        col = box.column(align=True)
        col.label(text=f"Tracker: {LABELS.get(summary.tracker, summary.tracker or 'n/a')}")
        col.label(text=f"Registered: {summary.registered} / {summary.total} frames")
        col.label(text=f"Reprojection: {_fmt(summary.reproj_err_px, '{:.2f} px')}")
        col.label(text=f"Focal: {_fmt(summary.focal_px, '{:.1f} px')}")
        col.label(text=f"Floor confidence: {_fmt(summary.ground_confidence, '{:.2f}')}")
        if not summary.aligned:
            col.label(text="No floor found: not aligned", icon="ERROR")
        if summary.from_cache:
            col.label(text="(reused from the track cache)")
        for line in _wrap(summary.warnings, 40) if summary.warnings else []:
            col.label(text=line, icon="ERROR")

    def _draw_placement(self, layout, s):
        box = layout.box()
        box.label(text="Placement", icon="OBJECT_ORIGIN")
        box.prop(s, "auto_location")
        if not s.auto_location:
            box.prop(s, "location")
        box.operator("vanelia.pick_spot", icon="EYEDROPPER")
        box.prop(s, "rotation_z")
        box.prop(s, "height")
        box.operator("vanelia.build_scene", icon="SCENE_DATA")
        col = box.column(align=True)
        for line in _wrap(s.placement_report, 40) if s.placement_report else []:
            col.label(text=line)
        col = box.column(align=True)
        for line in _wrap(s.proxies_report, 40) if s.proxies_report else []:
            col.label(text=line, icon="MESH_CUBE")
        box.prop(s, "light_mode")
        if s.light_mode == "FIXED":
            box.prop(s, "sun_azimuth")
            box.prop(s, "sun_elevation")
        else:
            box.prop(s, "floor_albedo")
        col = box.column(align=True)
        for line in _wrap(s.light_report, 40) if s.light_report else []:
            col.label(text=line, icon="LIGHT_SUN")
        box.prop(s, "environment")
        col = box.column(align=True)
        for line in _wrap(s.environment_report, 40) if s.environment_report else []:
            col.label(text=line, icon="WORLD")

    def _draw_render(self, layout, s, running):
        box = layout.box()
        box.label(text="Render", icon="RENDER_ANIMATION")
        box.prop(s, "samples", text="Quality (samples)")
        box.prop(s, "codec")
        box.prop(s, "grain")
        box.prop(s, "motion_blur")
        box.prop(s, "output_path")
        box.prop(s, "passes")
        if s.passes:
            box.prop(s, "passes_path")
            box.prop(s, "passes_format")
        box.prop(s, "overwrite")
        row = box.row(align=True)
        row.enabled = not running
        row.scale_y = 1.4
        row.operator("vanelia.preview", icon="HIDE_OFF")
        row.operator("vanelia.render_video", icon="RENDER_ANIMATION").preview = False


def _wrap(text, width):
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])


CLASSES = (VANELIA_PT_main,)

register, unregister = bpy.utils.register_classes_factory(CLASSES)
