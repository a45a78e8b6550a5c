"""The add-on as an artist gets it (issue 10): the zip from build_addon.py
installed with Blender's installer into a fresh profile, then track (the
real classical tracker) -> build -> render through the operators on the
sample, and bad input through the operators (nothing changes).

    blender -b --factory-startup --python tests/blender/run_addon_install.py -- NATIVE_DIR \
        [--vanelia build/bin/vanelia]   (then also: `vanelia run` reuses the add-on's track)
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import addon_testing as at  # noqa: E402


def scene_state(bpy):
    s = bpy.context.scene.vanelia
    return (len(bpy.data.objects), len(bpy.data.collections), s.track_path, s.summary.valid)


def check_bad_input(bpy, work):
    s = bpy.context.scene.vanelia
    before = scene_state(bpy)
    s.video_path = ""
    at.expect_error(bpy.ops.vanelia.track_video, "no video chosen")
    bad = os.path.join(work, "not_a_video.mp4")
    with open(bad, "wb") as f:
        f.write(os.urandom(4096))
    s.video_path = bad
    at.expect_error(bpy.ops.vanelia.track_video, "not_a_video.mp4")
    s.video_path = os.path.join(at.SAMPLE, "video.mp4")
    prefs = bpy.context.preferences.addons["vanelia_blender"].preferences
    weights = os.path.join(work, "random.pth")
    with open(weights, "wb") as f:
        f.write(os.urandom(1024))
    prefs.must3r_path = weights
    assert "not a PyTorch zip checkpoint" in prefs.must3r_status, prefs.must3r_status
    s.tracker = "must3r"
    at.expect_error(bpy.ops.vanelia.track_video, "not a PyTorch zip checkpoint")
    s.tracker = "classical"
    prefs.must3r_path = ""
    assert scene_state(bpy) == before, f"{scene_state(bpy)} != {before}"


def track_build_render(bpy, work):
    from vanelia_blender import operators
    from vanelia_blender.core import track_file

    s = bpy.context.scene.vanelia
    s.video_path = os.path.join(at.SAMPLE, "video.mp4")
    s.product_path = os.path.join(at.SAMPLE, "product.glb")
    s.camera_height = 1.5
    assert bpy.ops.vanelia.track_video() == {"FINISHED"}
    sm = s.summary
    print(
        f"solve: {sm.registered}/{sm.total} frames, {sm.reproj_err_px:.3f} px, "
        f"focal {sm.focal_px:.1f} px, ground {sm.ground_confidence:.2f}"
    )
    assert sm.valid and sm.registered == sm.total == 48 and sm.aligned
    assert 0 < sm.reproj_err_px < 1.0 and abs(sm.focal_px - 497.78) < 25, sm.focal_px
    assert s.track_path.startswith(os.environ["VANELIA_CACHE_DIR"]), s.track_path
    assert operators.LAST["VANELIA_OT_track_video"].state == "DONE"
    track = track_file.load(s.track_path)
    assert track["world"] == "blender"
    z0 = track["frames"][0]["c2w_blender"][2][3]
    assert abs(z0 - 1.5) < 1e-6, f"first camera height {z0}"
    # Same video and options: the cache answers.
    assert bpy.ops.vanelia.track_video() == {"FINISHED"} and sm.from_cache

    assert bpy.ops.vanelia.build_scene() == {"FINISHED"}
    coll = bpy.data.collections["Vanelia"]
    names = {o.name for o in coll.all_objects}
    for name in ("Vanelia Camera", "Vanelia Product", "Vanelia Ground", "Vanelia Sun"):
        assert any(n.startswith(name) for n in names), f"{name} missing from {sorted(names)}"
    scene = bpy.context.scene
    cam = scene.camera
    assert cam is not None and cam.animation_data.action is not None
    fc = cam.animation_data.action.fcurves[0]
    assert len(fc.keyframe_points) == 48, len(fc.keyframe_points)
    assert (scene.frame_start, scene.frame_end) == (1, 48)
    assert (scene.render.resolution_x, scene.render.resolution_y) == (640, 360)
    count = len(bpy.data.objects)
    assert bpy.ops.vanelia.build_scene() == {"FINISHED"}  # updates, no duplicates
    assert len(bpy.data.objects) == count

    # The artist moves the product: Render takes it from there (a negative X
    # also checks that such values reach the batch's arguments intact).
    bpy.data.objects["Vanelia Product"].location.x = -0.4
    s.samples, s.frame_start, s.frame_end = 16, 0, 3
    s.output_path = os.path.join(work, "final.mp4")
    assert bpy.ops.vanelia.render_video() == {"FINISHED"}
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames,width,height",
            "-of",
            "csv=p=0",
            s.output_path,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    print("output:", probe)
    assert probe == "640,360,3", probe
    at.expect_error(bpy.ops.vanelia.render_video, "exists")  # no overwrite unless asked


def shared_cache_with_cli(vanelia, work):
    """`vanelia run` without --track reuses the add-on's cached raw track."""
    from vanelia_blender.core import cache

    from vanelia_blender import native

    raw = cache.TrackCache().path_for(
        cache.video_sha256(os.path.join(at.SAMPLE, "video.mp4")),
        "classical",
        {"start": 0, "end": -1, "every": 1, "version": native.module().__version__},
    )
    assert os.path.isfile(raw), raw
    out = os.path.join(work, "cli.mp4")
    run = subprocess.run(
        [
            vanelia,
            "run",
            os.path.join(at.SAMPLE, "video.mp4"),
            os.path.join(at.SAMPLE, "product.glb"),
            "-o",
            out,
            "--samples",
            "4",
            "--every",
            "24",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"reusing {raw}" in run.stderr, run.stderr[-2000:]
    print("ok: vanelia run reused the add-on's cached track")


def check_default_tracker(bpy):
    """A scene that never chose a tracker follows the preferences' default."""
    prefs = bpy.context.preferences.addons["vanelia_blender"].preferences
    prefs.default_tracker = "dust3r"
    other = bpy.data.scenes.new("default tracker")
    assert other.vanelia.tracker == "dust3r", other.vanelia.tracker
    other.vanelia.tracker = "classical"
    prefs.default_tracker = "must3r"
    assert other.vanelia.tracker == "classical"
    bpy.data.scenes.remove(other)
    prefs.default_tracker = "classical"


def child(args):
    import bpy

    at.install(at.option(args, "--zip"))
    check_default_tracker(bpy)
    work = at.option(args, "--work")
    check_bad_input(bpy, work)
    track_build_render(bpy, work)
    vanelia = at.option(args, "--vanelia")
    if vanelia:
        shared_cache_with_cli(vanelia, work)
    existing_track_file(bpy, work)
    bpy.ops.preferences.addon_disable(module="vanelia_blender")
    assert not hasattr(bpy.types.Scene, "vanelia")
    assert not hasattr(bpy.types, "VANELIA_OT_track_video")
    assert not hasattr(bpy.types, "VANELIA_PT_main")
    print("run_addon_install: OK")


def existing_track_file(bpy, work):
    """track_video(track_file=...) takes an aligned track as it is."""
    from vanelia_blender import native
    from vanelia_blender.core import track_file

    path = os.path.join(work, "gt_track.json")
    doc = native.module().import_ground_truth(os.path.join(at.SAMPLE, "gt.json"))
    track_file.dump(doc, path)
    assert bpy.ops.vanelia.track_video(track_file=path) == {"FINISHED"}
    s = bpy.context.scene.vanelia
    assert s.track_path == path and s.summary.registered == 48 and s.summary.aligned
    print("ok: an existing track file is used as it is")


if __name__ == "__main__":
    at.run(
        __file__,
        child,
        lambda args: ["--vanelia", at.option(args, "--vanelia")] if "--vanelia" in args else [],
    )
