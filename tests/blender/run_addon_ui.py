"""The add-on in a real window (Xvfb), driven by Blender's event loop: the
modal track operator with its timer, Esc injected with event_simulate ->
the job reports CANCELLED before finishing and nothing was made; then a full
track, the panel screenshots before/after, and build scene as one undo step.

    blender -b --factory-startup --python tests/blender/run_addon_ui.py -- NATIVE_DIR [SHOTS_DIR]
(relaunches itself under xvfb-run with a fresh profile.)
"""

import glob
import os
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import addon_testing as at  # noqa: E402

RESULT = {"code": 1}


def ui_context(bpy):
    window = bpy.context.window_manager.windows[0]
    area = max((a for a in window.screen.areas if a.type == "VIEW_3D"), key=lambda a: a.width)
    region = next(r for r in area.regions if r.type == "WINDOW")
    return window, area, region


def show_panel(bpy):
    """Closes the first-run splash (Esc) and opens the sidebar's Vanelia
    tab (3.4 has no Region.active_panel_category: a click on the tab)."""
    window, area, region = ui_context(bpy)
    window.event_simulate(type="ESC", value="PRESS")
    window.event_simulate(type="ESC", value="RELEASE")
    area.spaces[0].show_region_ui = True
    area.tag_redraw()
    yield 0.3
    ui = next(r for r in area.regions if r.type == "UI")
    scale = bpy.context.preferences.system.ui_scale
    x = ui.x + ui.width - int(10 * scale)
    y = ui.y + ui.height - int(175 * scale)  # the 4th tab: Item, Tool, View, Vanelia
    window.event_simulate(type="MOUSEMOVE", value="NOTHING", x=x, y=y)
    window.event_simulate(type="LEFTMOUSE", value="PRESS", x=x, y=y)
    window.event_simulate(type="LEFTMOUSE", value="RELEASE", x=x, y=y)
    yield 0.3


def screenshot(bpy, path):
    window, area, region = ui_context(bpy)
    with bpy.context.temp_override(window=window, area=area, region=region):
        bpy.ops.screen.screenshot_area(filepath=path)
    print("screenshot:", path)


def invoke(bpy, op, undo=False, **kwargs):
    window, area, region = ui_context(bpy)
    with bpy.context.temp_override(window=window, area=area, region=region):
        return op("INVOKE_DEFAULT", undo, **kwargs)


def steps(bpy, args):
    """A generator of waits (seconds) that the timer drives."""
    at.install(at.option(args, "--zip"))
    from vanelia_blender import operators

    shots = at.option(args, "--shots")
    s = bpy.context.scene.vanelia
    s.video_path = os.path.join(at.SAMPLE, "video.mp4")
    s.product_path = os.path.join(at.SAMPLE, "product.glb")
    yield from show_panel(bpy)
    if shots:
        screenshot(bpy, os.path.join(shots, "panel_before.png"))
    objects = len(bpy.data.objects)
    key = "VANELIA_OT_track_video"

    # Cancel: Esc while tracking.
    assert invoke(bpy, bpy.ops.vanelia.track_video, use_cache=False) == {"RUNNING_MODAL"}
    yield 0.8
    assert key not in operators.LAST, "finished before Esc"
    running = s.job_text
    print("while running:", running)
    assert "Tracking" in running and "%" in running, running
    window, _, _ = ui_context(bpy)
    t_esc = time.monotonic()
    window.event_simulate(type="ESC", value="PRESS")
    window.event_simulate(type="ESC", value="RELEASE")
    while key not in operators.LAST:
        assert time.monotonic() - t_esc < 5, "no end after Esc"
        yield 0.02
    snap = operators.LAST.pop(key)
    latency = time.monotonic() - t_esc
    lag = snap.cancel_at - t_esc
    print(f"Esc reached the operator {lag:.3f} s after it was injected")
    print(
        f"cancelled: state {snap.state}, {snap.done}/{snap.total} in stage '{snap.stage}', "
        f"cancel settled {snap.cancelled_after_s:.3f} s after cancel (worker still in a native "
        f"step: {snap.worker_running}), report after "
        f"{latency:.3f} s"
    )
    assert snap.state == "CANCELLED" and snap.result is None
    assert not (snap.stage == "align" and snap.done == snap.total)
    assert len(bpy.data.objects) == objects and not s.track_path and not s.summary.valid
    assert s.job_text == ""

    # A full track through the modal path.
    assert invoke(bpy, bpy.ops.vanelia.track_video, use_cache=False) == {"RUNNING_MODAL"}
    yield 1.0
    if shots and key not in operators.LAST:
        screenshot(bpy, os.path.join(shots, "panel_tracking.png"))
    while key not in operators.LAST:
        yield 0.1
    assert operators.LAST[key].state == "DONE", operators.LAST[key]
    assert s.summary.valid and s.summary.registered == 48
    yield 0.5
    if shots:
        screenshot(bpy, os.path.join(shots, "panel_after.png"))

    # Render, cancelled with Esc: the child Blender is stopped, no output file.
    s.samples, s.output_path = 64, os.path.join(at.option(args, "--work"), "cancelled.mp4")
    window, _, _ = ui_context(bpy)
    key = "VANELIA_OT_render_video"
    scratch = os.path.join(tempfile.gettempdir(), "vanelia-render-*")
    scratch_before = set(glob.glob(scratch))
    assert invoke(bpy, bpy.ops.vanelia.render_video) == {"RUNNING_MODAL"}
    while "render" not in s.job_text:  # the batch is rendering frames
        assert key not in operators.LAST, operators.LAST.get(key)
        yield 0.1
    window.event_simulate(type="ESC", value="PRESS")
    window.event_simulate(type="ESC", value="RELEASE")
    while key not in operators.LAST:
        yield 0.05
    snap = operators.LAST[key]
    print(
        f"render cancelled: {snap.state} at {snap.done}/{snap.total}, stopped after "
        f"{snap.cancelled_after_s:.3f} s"
    )
    assert snap.state == "CANCELLED" and not os.path.exists(s.output_path)
    t_end = time.monotonic()
    while set(glob.glob(scratch)) - scratch_before:  # the child's files go too
        assert time.monotonic() - t_end < 10, "the render's scratch folder stayed"
        yield 0.1
    # Build scene as the button does (undo push): one undo removes all of it.
    assert invoke(bpy, bpy.ops.vanelia.build_scene, True) == {"FINISHED"}
    assert "Vanelia" in bpy.data.collections and len(bpy.data.objects) > objects
    yield 0.3
    window, area, region = ui_context(bpy)
    with bpy.context.temp_override(window=window, area=area, region=region):
        bpy.ops.ed.undo()
    yield 0.3
    assert "Vanelia" not in bpy.data.collections, "one undo left the Vanelia collection"
    assert len(bpy.data.objects) == objects, "one undo left objects of the build"
    yield from must3r_in_the_worker(bpy, shots)
    print("run_addon_ui: OK")
    RESULT["code"] = 0


def must3r_in_the_worker(bpy, shots):
    """MUSt3R (the tiny test checkpoint) through the modal path: the native
    call runs in the job's worker thread while the timer polls it."""
    from vanelia_blender import operators, preferences

    prefs = preferences.get()
    prefs.must3r_path = os.path.join(
        at.ROOT, "tests", "data", "must3r", "checkpoints", "tiny_kv.pth"
    )
    s = bpy.context.scene.vanelia  # (the undo above reset the settings)
    s.video_path = os.path.join(at.SAMPLE, "video.mp4")
    s.product_path = os.path.join(at.SAMPLE, "product.glb")
    s.tracker, s.frame_start, s.frame_end, s.focal_px = "must3r", 0, 24, 500.0
    s.init_frames, s.batch_frames, s.local_context = 2, 2, 4
    key = "VANELIA_OT_track_video"
    operators.LAST.pop(key, None)
    assert invoke(bpy, bpy.ops.vanelia.track_video, use_cache=False) == {"RUNNING_MODAL"}
    while key not in operators.LAST:
        yield 0.1
    snap = operators.LAST[key]
    assert snap.state == "DONE", snap
    assert s.summary.tracker == "must3r" and s.summary.registered == 24
    print(f"MUSt3R in the worker thread: 24 frames in {snap.elapsed_s:.2f} s")
    yield 0.5
    if shots:
        screenshot(bpy, os.path.join(shots, "panel_must3r.png"))


def child(args):
    import bpy

    gen = steps(bpy, args)

    def tick():
        try:
            return next(gen)
        except StopIteration:
            pass
        except Exception:  # noqa: BLE001 - the test's verdict
            traceback.print_exc()
        sys.stdout.flush()
        os._exit(RESULT["code"])

    bpy.app.timers.register(tick, first_interval=1.0)


if __name__ == "__main__":
    at.run(
        __file__,
        child,
        lambda args: ["--shots", os.path.abspath(args[1])] if len(args) > 1 else [],
        windowed=True,
    )
