"""The add-on as a Blender 4.2+ extension, in Debian 13's Blender 4.3.2 (Python 3.13;
native/scripts/blender4.sh runs it from the root that native/scripts/blender4_root.sh
makes): the extension zip from build_addon.py installed into the user_default repository
by bpy.ops.extensions.package_install_files (the headless path that works in 4.3.2) and
enabled; it loads as bl_ext.user_default.vanelia_blender with every submodule under that
name and no top-level `vanelia_blender` module (relative imports only); its panel,
settings and operators registered; the Python 3.11 native module in the zip refused with
a message naming both Pythons; the scene built by the add-on's own builder through the
extension's modules; then the add-on disabled with nothing of it left registered.

    native/scripts/blender4.sh -b --factory-startup \\
        --python tests/blender/run_blender4_extension.py \\
        -- --zip ADDON-extension.zip --gt gt.json --video V --product P.glb --out DIR
"""

import argparse
import importlib
import json
import os
import sys

import addon_utils
import bpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scene_testing as st  # noqa: E402

MODULE = "bl_ext.user_default.vanelia_blender"


def parse():
    argv = sys.argv[sys.argv.index("--") + 1 :]
    p = argparse.ArgumentParser()
    for name in ("--zip", "--video", "--gt", "--product", "--out"):
        p.add_argument(name, required=True)
    return p.parse_args(argv)


def install(zip_path):
    result = bpy.ops.extensions.package_install_files(
        filepath=zip_path, repo="user_default", enable_on_install=True
    )
    st.check(result == {"FINISHED"}, f"Blender {bpy.app.version_string}: extension installed")
    st.check(MODULE in bpy.context.preferences.addons, f"enabled as {MODULE}")
    st.check(hasattr(bpy.types, "VANELIA_PT_main"), "panel registered")
    st.check(hasattr(bpy.context.scene, "vanelia"), "scene settings registered")
    for op in ("track_video", "build_scene", "render_video"):
        st.check(hasattr(bpy.ops.vanelia, op), f"operator vanelia.{op} registered")
    package = importlib.import_module(MODULE)
    where = os.path.dirname(package.__file__)
    repos = bpy.context.preferences.extensions.repos
    repo = next(r.directory for r in repos if r.module == "user_default")
    st.check(where == os.path.join(repo, "vanelia_blender"), f"the installed copy: {where}")
    st.check(os.path.isfile(os.path.join(where, "blender_manifest.toml")), "manifest installed")
    return package


def check_relative_imports():
    """Every module of the package is loaded under the extension's name only."""
    ours = sorted(name for name in sys.modules if name.startswith(MODULE + "."))
    st.check(len(ours) >= 10, f"{len(ours)} submodules loaded under {MODULE}")
    stray = sorted(
        name
        for name in sys.modules
        if name == "vanelia_blender" or name.startswith("vanelia_blender.")
    )
    st.check(not stray, f"no top-level vanelia_blender modules (found {stray})")


def check_native_refused():
    native = importlib.import_module(MODULE + ".native")
    try:
        native.module()
        st.check(False, "the Python 3.11 module must not import in Python 3.13")
    except native.NativeMissing as e:
        text = str(e)
        st.check("3.13" in text and "cpython-311" in text, f"native module refused: {text}")


def build_scene(args):
    """The add-on's scene builder, imported through the extension, on the gt track."""
    track_file = importlib.import_module(MODULE + ".core.track_file")
    media = importlib.import_module(MODULE + ".core.media")
    build = importlib.import_module(MODULE + ".scene.build")
    gt = json.load(open(args.gt))
    track_path = st.write_json(st.gt_to_track(gt), os.path.join(args.out, "track.json"))
    info = media.MediaInfo(
        path=args.video,
        width=gt["width"],
        height=gt["height"],
        rotation_deg=0,
        fps_num=int(gt["fps"]),
        fps_den=1,
        frame_count=gt["num_frames"],
        vfr=False,
        has_audio=False,
        pixel_aspect=1.0,
        pts=[f["time_s"] for f in gt["frames"]],
        color_matrix="bt709",
    )
    options = build.BuildOptions(
        plate_path=args.video,
        info=info,
        track=track_file.load(track_path),
        product_path=args.product,
        location=[0.0, 0.0, 0.0],
        samples=4,
        over_plate=False,
    )
    built = build.build_scene(bpy.context.scene, options)
    st.check(bpy.data.collections.get("Vanelia") is not None, "Vanelia collection built")
    camera = built.camera
    fcurves = camera.animation_data.action.fcurves if camera.animation_data else []
    st.check(len(fcurves) >= 6, f"camera animated ({len(fcurves)} fcurves)")
    st.check(
        bpy.context.scene.frame_end - bpy.context.scene.frame_start + 1 == gt["num_frames"],
        "frame range = the clip's frames",
    )


def main():
    args = parse()
    os.makedirs(args.out, exist_ok=True)
    install(args.zip)
    check_relative_imports()
    check_native_refused()
    build_scene(args)
    addon_utils.disable(MODULE, default_set=True)
    st.check(not hasattr(bpy.types, "VANELIA_PT_main"), "panel unregistered on disable")
    st.check(not hasattr(bpy.context.scene, "vanelia"), "settings unregistered on disable")
    print("blender4 extension: all checks passed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception:
        import traceback

        traceback.print_exc()
        sys.exit(1)
    sys.exit(0)
