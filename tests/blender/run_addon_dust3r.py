"""DUSt3R through the add-on (issue 18): the zip installed in a fresh
profile; the panel's DUSt3R choice greyed out with the reason until the
preference holds a DUSt3R checkpoint (none, then the MUSt3R one), enabled by
the tiny random-weight DUSt3R checkpoint (tests/data/dust3r/tiny_linear.pth);
the sample's first frames tracked with DUSt3R through
bpy.ops.vanelia.track_video (synchronous in -b) and the scene built from it
(camera animated; the floor given by hand, since random weights see none);
the panel shows the non-commercial licence note.

    blender -b --factory-startup --python tests/blender/run_addon_dust3r.py -- NATIVE_DIR
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import addon_testing as at  # noqa: E402

DUST3R = os.path.join(at.ROOT, "tests", "data", "dust3r", "tiny_linear.pth")
MUST3R = os.path.join(at.ROOT, "tests", "data", "must3r", "checkpoints", "tiny_kv.pth")
FRAMES = 6  # the tiny network pairs and aligns these in a few seconds


def problem(bpy):
    from vanelia_blender import preferences

    return preferences.tracker_problem(preferences.get(), "dust3r")


def panel_lines(bpy):
    """The text labels the Vanelia panel draws now (its draw() run on a
    recording layout: -b has no window to draw in)."""
    from vanelia_blender import panels

    lines = []

    class Layout:
        def __getattr__(self, name):
            return lambda *a, **k: Layout()

        def label(self, text="", **kwargs):
            lines.append(text)

    class Panel:
        layout = Layout()

    for name, value in vars(panels.VANELIA_PT_main).items():
        if name.startswith(("draw", "_draw")) and callable(value):
            setattr(Panel, name, value)
    Panel().draw(bpy.context)
    return " ".join(lines)


def offer_dust3r(bpy, prefs):
    from vanelia_blender import native

    assert "dust3r" in native.module().TRACKERS, native.module().TRACKERS
    prefs.dust3r_path = ""
    assert problem(bpy) == "DUSt3R: no weights set (Preferences > Add-ons > Vanelia)"
    prefs.dust3r_path = MUST3R
    assert "is a MUSt3R checkpoint, not DUSt3R" in prefs.dust3r_status, prefs.dust3r_status
    assert "is a MUSt3R checkpoint, not DUSt3R" in problem(bpy)
    assert "is a MUSt3R checkpoint" in panel_lines(bpy)  # greyed, with the reason
    prefs.dust3r_path = DUST3R
    assert prefs.dust3r_status == "" and problem(bpy) == "", problem(bpy)
    prefs.device = "CPU"


def track_with_dust3r(bpy, work):
    from vanelia_blender import native, operators
    from vanelia_blender.core import track_file

    s = bpy.context.scene.vanelia
    s.video_path = os.path.join(at.SAMPLE, "video.mp4")
    s.product_path = os.path.join(at.SAMPLE, "product.glb")
    s.tracker = "dust3r"
    assert "CC BY-NC-SA 4.0, non-commercial use only" in panel_lines(bpy)
    s.frame_start, s.frame_end = 0, FRAMES
    s.focal_px = 500.0  # random weights estimate no focal
    assert bpy.ops.vanelia.track_video() == {"FINISHED"}
    sm = s.summary
    print(f"solve: {sm.tracker} {sm.registered}/{sm.total} frames, focal {sm.focal_px:.1f} px")
    assert sm.valid and sm.tracker == "dust3r" and not sm.from_cache
    assert sm.registered == sm.total == FRAMES, (sm.registered, sm.total)
    assert operators.LAST["VANELIA_OT_track_video"].state == "DONE"
    raw = operators.LAST["VANELIA_OT_track_video"].result.raw_path
    assert raw.startswith(os.environ["VANELIA_CACHE_DIR"]), raw
    doc = track_file.load(raw)
    options = doc["tracker"]["options"]
    assert doc["tracker"]["name"] == "dust3r", doc["tracker"]
    assert options["weights"] == DUST3R and options["device"] == "cpu", options
    assert options["scene_graph"] == "swin" and options["end"] == FRAMES, options
    # Again: the cache answers.
    assert bpy.ops.vanelia.track_video() == {"FINISHED"} and sm.from_cache

    # Random weights put no floor in the points: given by hand (the plane
    # y = 1 below the first camera, OpenCV axes), the track builds.
    assert not sm.aligned
    aligned = os.path.join(work, "dust3r_by_hand.json")
    report = native.module().align_track_file(
        raw, aligned, camera_height_m=1.5, plane=[[0, 1, 0], [1, 1, 0], [0, 1, 1]]
    )
    assert report["aligned"], report
    assert bpy.ops.vanelia.track_video(track_file=aligned) == {"FINISHED"}
    assert s.summary.tracker == "dust3r" and s.summary.aligned
    assert bpy.ops.vanelia.build_scene() == {"FINISHED"}
    cam = bpy.context.scene.camera
    assert cam is not None and cam.animation_data and cam.animation_data.action
    fcurves = cam.animation_data.action.fcurves
    assert {fc.data_path for fc in fcurves} >= {"location", "rotation_quaternion"}
    assert all(len(fc.keyframe_points) == FRAMES for fc in fcurves), [
        len(fc.keyframe_points) for fc in fcurves
    ]
    z = fcurves.find("location", index=2)
    assert abs(z.evaluate(1) - 1.5) < 1e-4, z.evaluate(1)  # the first camera's height
    print(f"ok: DUSt3R camera animated over {FRAMES} frames")


def child(args):
    import bpy

    at.install(at.option(args, "--zip"))
    prefs = bpy.context.preferences.addons["vanelia_blender"].preferences
    offer_dust3r(bpy, prefs)
    track_with_dust3r(bpy, at.option(args, "--work"))
    print("run_addon_dust3r: OK")


if __name__ == "__main__":
    at.run(__file__, child)
