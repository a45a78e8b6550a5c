"""The classical-only extension zip (build_addon.py --native-build of a build
without the networks, native/scripts/build_classical.sh: no LibTorch) in
Debian 13's Blender 4.3.2 (the root of native/scripts/blender4_root.sh: none
of the project's libraries, no ffmpeg): installed into user_default and
enabled, in worker mode (its Python 3.11 module cannot load in 3.13); the
panel greys MUSt3R and DUSt3R out with the reason "not in this build of the
native module" (preferences.tracker_problem, what panels.py draws), the
Track operator refuses them with that report, and Track runs the sample with
the classical tracker through the zip's `vanelia` CLI (every frame
registered, the floor found). Build and render are blender4/worker's: the
same Python code and the same CLI but for the networks.

    native/scripts/blender4.sh -b --factory-startup \\
        --python tests/blender/run_blender4_classical.py \\
        -- --zip ADDON-classical-selfcontained-extension.zip --video V --out DIR
"""

import argparse
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_blender4_worker as worker_test  # noqa: E402
import scene_testing as st  # noqa: E402

LABELS = {"must3r": "MUSt3R", "dust3r": "DUSt3R"}


def check_networks_greyed(bpy, native):
    """The trackers the panel offers, and why the networks are greyed out."""
    preferences = importlib.import_module(worker_test.MODULE + ".preferences")
    prefs = preferences.get()
    built = native.backend().TRACKERS
    st.check(built == ("classical",), f"the zip's CLI has the classical tracker only: {built}")
    st.check(preferences.tracker_problem(prefs, "classical") == "", "Classical is offered")
    for key, label in LABELS.items():
        problem = preferences.tracker_problem(prefs, key)
        want = f"{label}: not in this build of the native module"
        st.check(problem == want, f"the panel greys {label} out: '{problem}'")


def check_track_refused(bpy, ops):
    """Track with a network chosen reports why and tracks nothing."""
    s = bpy.context.scene.vanelia
    for key, label in LABELS.items():
        s.tracker = key
        try:
            ops.track_video()
            st.check(False, f"Track with {label} must be refused")
        except RuntimeError as e:
            text = str(e).strip()
            st.check("not in this build" in text, f"Track with {label} reported: {text}")
        st.check(not s.summary.valid, f"no track from {label}")
    s.tracker = "classical"


def blender_main(argv):
    import bpy

    p = argparse.ArgumentParser()
    for name in ("--zip", "--video", "--out"):
        p.add_argument(name, required=True)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    os.environ["VANELIA_CACHE_DIR"] = os.path.join(args.out, "cache")
    native = worker_test.install(bpy, args.zip)
    check_networks_greyed(bpy, native)
    s = bpy.context.scene.vanelia
    s.video_path, s.camera_height = args.video, 1.5
    check_track_refused(bpy, bpy.ops.vanelia)
    worker_test.track(bpy, bpy.ops.vanelia)
    print("blender4 classical: all checks passed", flush=True)


if __name__ == "__main__":
    try:
        blender_main(sys.argv[sys.argv.index("--") + 1 :])
    except SystemExit:
        raise
    except Exception:
        import traceback

        traceback.print_exc()
        sys.exit(1)
    sys.exit(0)
