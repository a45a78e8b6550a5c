"""MUSt3R through the add-on (issue 10): the zip installed in a fresh
profile, the preference set to the tiny random-weight checkpoint
(tests/data/must3r/checkpoints/tiny_kv.pth), the sample's first frames tracked
with MUSt3R through bpy.ops.vanelia.track_video (synchronous in -b), the
scene built from it (camera animated; the floor given by hand, since random
weights see none), the summary naming the tracker; then unusable
weights (a random file, a DUSt3R-like checkpoint) give a clear report and
change nothing.

    blender -b --factory-startup --python tests/blender/run_addon_must3r.py -- NATIVE_DIR
"""

import argparse
import collections
import os
import pickle
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import addon_testing as at  # noqa: E402

TINY = os.path.join(at.ROOT, "tests", "data", "must3r", "checkpoints", "tiny_kv.pth")
FRAMES = 6  # the tiny network does these in about a second


def scene_state(bpy):
    s = bpy.context.scene.vanelia
    return (
        len(bpy.data.objects),
        len(bpy.data.collections),
        len(bpy.data.actions),
        s.track_path,
        s.summary.valid,
        s.summary.tracker,
    )


def offered(bpy):
    """The trackers the panel enables, and the reasons for the others."""
    from vanelia_blender import preferences

    prefs = preferences.get()
    return {key: preferences.tracker_problem(prefs, key) for key in ("classical", "must3r")}


def track_with_must3r(bpy, prefs, work):
    from vanelia_blender import native, operators, preferences
    from vanelia_blender.core import track_file

    mod = native.module()
    assert "must3r" in mod.TRACKERS, mod.TRACKERS
    prefs.must3r_path = ""
    assert "MUSt3R: no weights set" in offered(bpy)["must3r"]
    prefs.must3r_path = TINY
    assert prefs.must3r_status == "", prefs.must3r_status
    assert offered(bpy) == {"classical": "", "must3r": ""}, offered(bpy)
    # The device list: CUDA only where the module sees a GPU.
    names = [item[0] for item in preferences.device_items(prefs, bpy.context)]
    assert names == (["AUTO", "CPU", "CUDA"] if mod.cuda_available() else ["AUTO", "CPU"])
    prefs.device = "CPU"

    s = bpy.context.scene.vanelia
    s.video_path = os.path.join(at.SAMPLE, "video.mp4")
    s.product_path = os.path.join(at.SAMPLE, "product.glb")
    assert s.device == "CPU"  # the scene follows the preferences until changed
    s.tracker = "must3r"
    s.frame_start, s.frame_end = 0, FRAMES
    s.init_frames, s.batch_frames, s.local_context = 2, 2, 4
    s.focal_px = 500.0  # random weights estimate no focal (tests/data/must3r/README.md)
    assert bpy.ops.vanelia.track_video() == {"FINISHED"}
    sm = s.summary
    print(f"solve: {sm.tracker} {sm.registered}/{sm.total} frames, focal {sm.focal_px:.1f} px")
    assert sm.valid and sm.tracker == "must3r"
    assert sm.registered == sm.total == FRAMES and not sm.from_cache
    assert operators.LAST["VANELIA_OT_track_video"].state == "DONE"
    raw = operators.LAST["VANELIA_OT_track_video"].result.raw_path
    assert raw.startswith(os.environ["VANELIA_CACHE_DIR"]), raw
    options = track_file.load(raw)["tracker"]["options"]
    assert options["weights"] == TINY and options["device"] == "cpu", options
    assert (options["init_frames"], options["batch_frames"], options["end"]) == (2, 2, FRAMES)
    # Again: the cache answers (the key holds the options and the weights).
    assert bpy.ops.vanelia.track_video() == {"FINISHED"} and sm.from_cache
    s.keyframe_every = 2
    assert bpy.ops.vanelia.track_video() == {"FINISHED"} and not sm.from_cache
    s.keyframe_every = 3

    build_from_must3r_track(bpy, raw, work)


def build_from_must3r_track(bpy, raw, work):
    """Random weights put no floor in the points: the track stays in the
    tracker's world, the panel says so, and Build refuses with a clear
    report. Given the floor by hand (as `vanelia align --plane`: the plane
    y = 1 below the first camera, OpenCV axes), the MUSt3R track builds an
    animated camera."""
    from vanelia_blender import native

    s = bpy.context.scene.vanelia
    assert not s.summary.aligned
    objects = len(bpy.data.objects)
    at.expect_error(bpy.ops.vanelia.build_scene, "no floor was found")
    assert len(bpy.data.objects) == objects

    aligned = os.path.join(work, "must3r_by_hand.json")
    report = native.module().align_track_file(
        raw, aligned, camera_height_m=1.5, plane=[[0, 1, 0], [1, 1, 0], [0, 1, 1]]
    )
    assert report["aligned"], report
    assert bpy.ops.vanelia.track_video(track_file=aligned) == {"FINISHED"}
    assert s.summary.tracker == "must3r" and s.summary.aligned
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
    path = [tuple(fc.evaluate(f) for fc in fcurves if fc.data_path == "location") for f in (1, 6)]
    assert path[0] != path[1], path
    print(f"ok: camera animated over {FRAMES} frames, {path[0]} -> {path[1]}")


def dust3r_like(path):
    args = argparse.Namespace(model="AsymmetricCroCo3DStereo(patch_embed_cls='PatchEmbedDust3R')")
    data = pickle.dumps({"args": args, "model": collections.OrderedDict()}, protocol=2)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("dust3r/data.pkl", data)
        z.writestr("dust3r/version", "3\n")


def unusable_weights(bpy, prefs, work):
    s = bpy.context.scene.vanelia
    before = scene_state(bpy)
    s.keyframe_every = 4  # not in the cache: the weights are really read
    bogus = os.path.join(work, "MUSt3R_512.pth")
    with open(bogus, "wb") as f:
        f.write(os.urandom(4096))
    prefs.must3r_path = bogus
    assert "not a PyTorch zip checkpoint" in prefs.must3r_status, prefs.must3r_status
    assert "not a PyTorch zip checkpoint" in offered(bpy)["must3r"]
    at.expect_error(bpy.ops.vanelia.track_video, "not a PyTorch zip checkpoint")
    assert scene_state(bpy) == before, f"{scene_state(bpy)} != {before}"
    # A zip that looks like a DUSt3R checkpoint: the cheap check says what it is.
    fake = os.path.join(work, "DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth")
    dust3r_like(fake)
    prefs.must3r_path = fake
    assert "is a DUSt3R checkpoint, not MUSt3R" in prefs.must3r_status, prefs.must3r_status
    at.expect_error(bpy.ops.vanelia.track_video, "is a DUSt3R checkpoint")
    assert scene_state(bpy) == before, f"{scene_state(bpy)} != {before}"
    s.keyframe_every = 3


def child(args):
    import bpy

    at.install(at.option(args, "--zip"))
    prefs = bpy.context.preferences.addons["vanelia_blender"].preferences
    track_with_must3r(bpy, prefs, at.option(args, "--work"))
    unusable_weights(bpy, prefs, at.option(args, "--work"))
    print("run_addon_must3r: OK")


if __name__ == "__main__":
    at.run(__file__, child)
