"""Operators: vanelia.track_video, vanelia.build_scene, vanelia.render_video.

Thin: they read `scene.vanelia`, hand the work to core/ and scene/, and turn
failures into reports (never a traceback dialog). Long work (tracking,
rendering) is a core.jobs.Job: in the UI it runs in a worker thread while a
modal operator polls it from a timer (progress in the panel and the status
bar, Esc cancels); in `blender -b` (no event loop) and from `execute` it runs
synchronously. bpy is only touched on the main thread, and a cancelled or
failed job changes nothing.
"""

import math
import os
import tempfile
import traceback

import bpy
from bpy.props import BoolProperty, StringProperty

from . import native, preferences
from .core import depth_sidecar, glb, jobs, media, track_file, tracking, weights
from .render import render_job, render_plan
from .scene import build, camera, collection, lighting

# The last finished job of each operator: (Snapshot), for tests and scripts.
LAST = {}


def expected_errors():
    return (
        tracking.TrackRequestError,
        track_file.TrackFileError,
        media.MediaError,
        glb.ProductError,
        render_plan.PlanError,
        build.TrackMismatchError,
        collection.NameClashError,
        camera.CameraError,
        weights.WeightsError,
        render_job.RenderError,
        OSError,
    ) + native.error_types()


def report_error(op, error, what):
    if isinstance(error, expected_errors()):
        op.report({"ERROR"}, f"{what}: {error}")
    else:
        traceback.print_exception(type(error), error, error.__traceback__)
        op.report({"ERROR"}, f"{what}: internal error {type(error).__name__}: {error} (console)")


def _redraw(context):
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type in {"VIEW_3D", "STATUSBAR"}:
                area.tag_redraw()


class _JobOperator:
    """Runs `self.make_job(context)` modally (UI) or synchronously."""

    _timer = None
    _job = None
    label = "work"
    unit = "frames"

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        try:
            self._job = self.make_job(context)
        except Exception as e:  # noqa: BLE001 - reported
            report_error(self, e, self.label)
            return {"CANCELLED"}
        settings = context.scene.vanelia
        settings.job_text, settings.job_fraction = f"{self.label}: starting", 0.0
        self._job.start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            self._job.cancel()
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        try:
            return self._poll(context)
        except Exception as e:  # noqa: BLE001 - never a traceback dialog
            self._job.cancel()
            self._end_modal(context)
            report_error(self, e, self.label)
            return {"CANCELLED"}

    def _end_modal(self, context):
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        if context.workspace is not None:
            context.workspace.status_text_set(None)
        context.scene.vanelia.job_text, context.scene.vanelia.job_fraction = "", 0.0

    def _poll(self, context):
        snap = self._job.settled()
        settings = context.scene.vanelia
        text = f"{self.label}: {jobs.describe(snap, self.unit)}"
        settings.job_text, settings.job_fraction = text, snap.fraction
        if context.workspace is not None:
            context.workspace.status_text_set(f"{text} (Esc to cancel)")
        _redraw(context)
        if not snap.finished:
            return {"PASS_THROUGH"}
        self._end_modal(context)
        return self.finish(context, snap)

    def execute(self, context):
        try:
            job = self.make_job(context)
        except Exception as e:  # noqa: BLE001 - reported
            report_error(self, e, self.label)
            return {"CANCELLED"}
        return self.finish(context, job.run_sync())

    def finish(self, context, snap):
        LAST[self.bl_idname] = snap
        if snap.state == jobs.CANCELLED:
            self.report({"WARNING"}, f"{self.label}: cancelled; nothing was changed")
            return {"CANCELLED"}
        if snap.state == jobs.FAILED:
            report_error(self, snap.error, self.label)
            return {"CANCELLED"}
        try:
            self.apply(context, snap.result)
        except Exception as e:  # noqa: BLE001 - reported
            report_error(self, e, self.label)
            return {"CANCELLED"}
        return {"FINISHED"}


def _abspath(path):
    return os.path.abspath(bpy.path.abspath(path)) if path else ""


class VANELIA_OT_track_video(_JobOperator, bpy.types.Operator):
    """Track the video's camera and find the floor (Esc cancels)"""

    bl_idname = "vanelia.track_video"
    bl_label = "Track"
    label = "Tracking"

    track_file: StringProperty(
        name="Track file",
        subtype="FILE_PATH",
        description="Use this existing track file instead of tracking",
    )
    use_cache: BoolProperty(name="Use cache", default=True)

    def make_job(self, context):
        s = context.scene.vanelia
        prefs = preferences.get(context)
        request = tracking.TrackRequest(
            video=_abspath(s.video_path),
            tracker=s.tracker,
            start=s.frame_start,
            end=s.frame_end,
            every=s.frame_step,
            camera_height_m=s.camera_height,
            cache_folder=preferences.cache_folder(prefs),
            use_cache=self.use_cache,
            track_file=_abspath(self.track_file),
            network=_network_options(s, prefs),
            focal_px=s.focal_px or None,
            mask=_abspath(s.mask_path) if s.tracker == "classical" else "",
        )
        if not request.track_file:
            problem = preferences.tracker_problem(prefs, request.tracker)
            if problem:
                raise tracking.TrackRequestError(problem)
        request.check()
        mod = native.backend()  # the module, or the CLI in worker mode
        if not request.track_file:
            info = mod.probe_video(request.video)  # unreadable: DecodeError now
            tracking.check_known_focal(request.focal_px, info["width"])
        run = tracking.track_work(request, mod)
        return jobs.Job(run, "track", is_cancel_error=native.is_cancelled)

    def apply(self, context, outcome):
        s = context.scene.vanelia
        s.track_path = outcome.path
        summary, out = outcome.summary, s.summary
        out.valid = True
        out.tracker = summary["tracker"]
        out.registered, out.total = summary["registered"], summary["total"]
        out.reproj_err_px = _or(summary["reproj_err_px"])
        out.focal_px = _or(summary["focal_px"])
        out.ground_confidence = _or(summary["ground_confidence"])
        out.aligned = summary["world"] == "blender"
        out.from_cache = outcome.from_cache
        out.warnings = "; ".join(summary["warnings"])
        where = " (from the cache)" if outcome.from_cache else ""
        label = tracking.LABELS.get(out.tracker, out.tracker or "?")
        self.report(
            {"INFO"},
            f"Tracked with {label}{where}: {out.registered}/{out.total} frames registered, "
            f"track '{outcome.path}'",
        )


def _network_options(s, prefs):
    """The scene's network settings and the preferences' checkpoint."""
    return tracking.NetworkOptions(
        weights=preferences.weights_path(prefs, s.tracker),
        device=preferences.DEVICE_NAMES.get(s.device, "auto"),
        image_size=int(s.image_size),
        dtype=s.dtype,
        local_context=s.local_context,
        max_keyframes=s.max_keyframes,
        keyframe_every=s.keyframe_every,
        init_frames=s.init_frames,
        batch_frames=s.batch_frames,
    )


def _or(value, missing=-1.0):
    return missing if value is None else float(value)


def _build_options(context):
    s = context.scene.vanelia
    video, product = _abspath(s.video_path), _abspath(s.product_path)
    if not video:
        raise tracking.TrackRequestError("no video chosen: set the video file first")
    if not product:
        raise glb.ProductError("no product chosen: set the product file (.glb) first")
    if not s.track_path:
        raise tracking.TrackRequestError("no track yet: press Track first")
    track = track_file.load(_abspath(s.track_path))
    if track.get("world") != "blender":
        raise track_file.TrackFileError(
            f"track '{s.track_path}': world '{track.get('world')}'; no floor was "
            "found to align it (try another camera height or tracker)"
        )
    _check_placement(s)
    info = media.probe_video(video)
    glb.check_product(product)
    plate = video
    if render_job.proxy_needed(info):
        plate, info = render_job.make_plate(info, preferences.cache_folder(preferences.get()))
    return build.BuildOptions(
        plate_path=plate,
        info=info,
        track=track,
        product_path=product,
        location=None if s.auto_location else list(s.location),
        rotation_z_deg=s.rotation_z * 57.29577951308232,
        height_m=s.height or None,
        samples=s.samples,
        sun_azimuth_deg=s.sun_azimuth,
        sun_elevation_deg=s.sun_elevation,
        light_estimate=_light_estimate(s, video),
        depth_folder=depth_sidecar.folder_of(track, _abspath(s.track_path)),
    )


def _light_estimate(s, video):
    """The light estimated from the footage (issue 21) when the panel asks for
    it, else None (the fixed sun); what happened goes to s.light_report."""
    if s.light_mode != "AUTO":
        s.light_report = f"fixed sun: azimuth {s.sun_azimuth:.1f}, elevation {s.sun_elevation:.1f}"
        return None
    try:
        estimate = native.backend().estimate_light(
            video, _abspath(s.track_path), floor_albedo=s.floor_albedo
        )
    except native.error_types() as e:
        s.light_report = f"light not estimated ({e}); the fixed sun"
        return None
    s.light_report = estimate["summary"]
    return estimate


def _environment(context, built):
    """The world texture from the footage around the built product's spot
    (issue 21) when the panel asks for it, made in a temporary folder and
    packed into the .blend (nothing is written beside the user's files);
    else the uniform world. What happened goes to s.environment_report."""
    s = context.scene.vanelia
    world = context.scene.world
    if not getattr(s, "environment", False):
        lighting.set_world_environment(world, None)
        s.environment_report = "off: the uniform world"
        return
    track = _abspath(s.track_path)
    spot = list(built.product.location)
    with tempfile.TemporaryDirectory(prefix="vanelia-environment-") as folder:
        path = os.path.join(folder, "environment.hdr")
        try:
            summary = native.backend().build_environment(
                _abspath(s.video_path), track, path, spot, overwrite=False
            )
        except native.error_types() as e:
            lighting.set_world_environment(world, None)
            s.environment_report = f"environment not built ({e}); the uniform world"
            return
        lighting.set_world_environment(world, path)  # packs the image
    s.environment_report = summary["summary"]


def _check_placement(s):
    """NaN passes Blender's property limits (infinity is clamped to the
    largest float): refused here, naming the panel's field."""
    fields = [("Turn", s.rotation_z), ("Height", s.height)]
    if not s.auto_location:
        fields.append(("Location", tuple(s.location)))
    for label, value in fields:
        if not all(math.isfinite(v) for v in (value if isinstance(value, tuple) else [value])):
            raise render_plan.PlanError(f"{label} {value}: must be finite")


class VANELIA_OT_build_scene(bpy.types.Operator):
    """Build (or update) the Vanelia scene: camera, footage, product, floor"""

    bl_idname = "vanelia.build_scene"
    bl_label = "Build scene"
    bl_options = {"REGISTER", "UNDO"}  # one undo step

    def execute(self, context):
        try:
            options = _build_options(context)
            built = build.build_scene(context.scene, options)
        except Exception as e:  # noqa: BLE001 - reported
            report_error(self, e, "Build scene")
            return {"CANCELLED"}
        context.scene.vanelia.placement_report = built.placement
        context.scene.vanelia.proxies_report = built.proxies_report
        _environment(context, built)
        self.report(
            {"INFO"},
            f"Vanelia scene built; placement: {built.placement}; occlusion: {built.occlusion}",
        )
        return {"FINISHED"}


class VANELIA_OT_render_video(_JobOperator, bpy.types.Operator):
    """Render the product into the footage and write the final MP4 (Esc cancels)"""

    bl_idname = "vanelia.render_video"
    bl_label = "Render"
    label = "Rendering"

    output: StringProperty(name="Output", subtype="FILE_PATH", description="Overrides the panel's")
    preview: BoolProperty(
        name="Preview",
        description="A quick look: half size, few samples, <name>_vanelia_preview.mp4",
    )

    @classmethod
    def description(cls, context, properties):
        if properties.preview:
            return "Quick look at placement and light: half size, few samples (Esc cancels)"
        return cls.__doc__

    def make_job(self, context):
        s = context.scene.vanelia
        request = render_job.request_from(
            s, _abspath, self.output, _placed_product(context), bpy.app.binary_path, self.preview
        )
        run = render_job.render_work(request, native.backend())
        return jobs.Job(run, "render", is_cancel_error=native.is_cancelled)

    def apply(self, context, output):
        self.report({"INFO"}, f"Rendered '{output}'")


def _placed_product(context):
    """The product empty as the artist left it (location, turn), or None."""
    from .scene import product

    empty = bpy.data.objects.get(product.EMPTY_NAME)
    if empty is None or not collection.is_owned(empty):
        return None
    return list(empty.location), float(empty.rotation_euler[2])


CLASSES = (VANELIA_OT_track_video, VANELIA_OT_build_scene, VANELIA_OT_render_video)

register, unregister = bpy.utils.register_classes_factory(CLASSES)
