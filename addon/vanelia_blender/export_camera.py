"""Headless entry point: export a track's solved camera and points with Blender's own exporters.

Run by `vanelia export` as

    blender -b --factory-startup --python addon/vanelia_blender/export_camera.py -- \
        --track T.json --format fbx|abc|usd -o OUT [--overwrite] [--quiet]

The scene is built in a fresh empty file exactly as the add-on builds it: the camera by
scene/camera.py build_camera (Blender frame = track index + 1; location and rotation keyed on
the registered frames; lens and shift keyed per frame when the intrinsics vary; the scene's
resolution, pixel aspect, rate and frame range from the track), and the track's points, when
it has any, as one mesh of loose vertices "Vanelia Points" in world coordinates (not
parented). Then one exporter writes the scene's frame range, one sample per frame:

- fbx: export_scene.fbx, camera and mesh objects, animation baked on every frame with no
  simplification (bake_anim_simplify_factor 0: the default drops keys), axes -Z forward /
  Y up and unit scale applied, the importer's defaults, so a reimport gives the same world.
  Keeps the lens per frame (FBX FocalLength curve), sensor width and height, and the shift
  (FilmOffsetX/Y) but not a shift that varies per frame (the exporter animates only the lens
  and focus distance); no sensor fit (the importer picks AUTO, the same for our cameras,
  whose sensor width and height are equal).
- abc: wm.alembic_export, flatten off (the hierarchy as in the scene). Its camera writer
  stores a sample per frame (focal length, apertures, film offsets), so the file keeps the
  zoom; Blender's Alembic importer reads one sample (the lens comes back constant).
- usd: wm.usd_export with export_animation: focal length, apertures and aperture offsets per
  time code; Blender 3.4's USD importer also reads them once.

Alembic and USD need a Blender built with them (bpy.app.build_options.alembic / .usd):
Debian's 3.4.1 has neither, and the export is then refused as bad input, naming the option.
The abc and usd paths are therefore untested on that Blender.

The file is written to OUT.tmp-<pid><ext> beside OUT (the extension keeps the format: USD
picks its encoding from it) and renamed into place; nothing is left behind on failure.
Exit codes: 0 done, 2 bad input (one line "vanelia: error: ..."), 130 interrupted,
1 internal error.
"""

import argparse
import os
import sys
import traceback

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FORMATS = ("fbx", "abc", "usd")
POINTS_NAME = "Vanelia Points"
USD_EXTENSIONS = (".usd", ".usda", ".usdc")


class ExportError(ValueError):
    """Bad input: the message names the thing, its value and the rule."""


def parse_args(argv):
    p = argparse.ArgumentParser(prog="vanelia export (blender)")
    p.add_argument("--track", required=True, help="aligned track file (world 'blender')")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def temp_path(output, fmt, pid):
    """OUT.tmp-<pid><ext>: the extension the exporter needs for `fmt`."""
    ext = {"fbx": ".fbx", "abc": ".abc"}.get(fmt)
    if fmt == "usd":
        ext = os.path.splitext(output)[1].lower()
        ext = ext if ext in USD_EXTENSIONS else ".usd"
    return f"{output}.tmp-{pid}{ext}"


def check_exporter(bpy, fmt):
    """ExportError when this Blender was built without the format's exporter."""
    option = {"abc": "alembic", "usd": "usd"}.get(fmt)
    if option is not None and not getattr(bpy.app.build_options, option, False):
        name = {"abc": "Alembic", "usd": "USD"}[fmt]
        raise ExportError(
            f"--format {fmt}: this Blender ({bpy.app.version_string}, {bpy.app.binary_path}) "
            f"was built without {name} (bpy.app.build_options.{option} is False); use a "
            "Blender build that has it (blender.org's builds do) with --blender PATH"
        )


def load_inputs(args):
    """The checked track document and the absolute output path (nothing written yet)."""
    from vanelia_blender.core import track_file

    out = os.path.abspath(args.output)
    if os.path.isdir(out):
        raise ExportError(f"output '{out}': is a folder")
    if os.path.exists(out) and not args.overwrite:
        raise ExportError(f"output '{out}': exists; use --overwrite to replace")
    if not os.path.isdir(os.path.dirname(out)):
        raise ExportError(f"output '{out}': folder does not exist")
    if not os.path.isfile(args.track):
        raise ExportError(f"track '{args.track}': no such file")
    try:
        track = track_file.load(args.track)
    except track_file.TrackFileError as e:
        raise ExportError(str(e))
    if track.get("world") != "blender":
        raise ExportError(
            f"track '{args.track}': world '{track.get('world')}' is the tracker's raw "
            "world; align it to the floor first (vanelia align)"
        )
    return track, out


def build_points(bpy, coll, xyz):
    """The track's points as a mesh of loose vertices (world coordinates, not parented)."""
    mesh = bpy.data.meshes.new(POINTS_NAME)
    mesh.vertices.add(len(xyz))
    mesh.vertices.foreach_set("co", [float(c) for p in xyz for c in p])
    mesh.update()
    obj = bpy.data.objects.new(POINTS_NAME, mesh)
    obj["vanelia_role"] = "points"
    coll.objects.link(obj)
    return obj


def build_export_scene(bpy, track):
    """A fresh empty file holding the camera of `track` and its points; returns the scene."""
    from vanelia_blender.scene import camera

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    camera.build_camera(scene, track)
    xyz = track.get("points", {}).get("xyz", [])
    if xyz:
        build_points(bpy, camera.ensure_collection(scene), xyz)
    return scene


def write_fbx(bpy, path):
    bpy.ops.export_scene.fbx(
        filepath=path,
        check_existing=False,
        use_selection=False,
        use_visible=False,
        use_active_collection=False,
        global_scale=1.0,
        apply_unit_scale=True,
        apply_scale_options="FBX_SCALE_NONE",
        axis_forward="-Z",
        axis_up="Y",
        bake_space_transform=False,
        object_types={"CAMERA", "MESH"},
        use_mesh_modifiers=False,
        use_custom_props=False,
        add_leaf_bones=False,
        bake_anim=True,
        bake_anim_use_all_bones=False,
        bake_anim_use_nla_strips=False,
        bake_anim_use_all_actions=False,
        bake_anim_force_startend_keying=True,
        bake_anim_step=1.0,
        bake_anim_simplify_factor=0.0,
        path_mode="AUTO",
        embed_textures=False,
    )


def write_abc(bpy, scene, path):
    bpy.ops.wm.alembic_export(
        filepath=path,
        check_existing=False,
        start=scene.frame_start,
        end=scene.frame_end,
        xsamples=1,
        gsamples=1,
        selected=False,
        visible_objects_only=False,
        flatten=False,
        export_custom_properties=False,
        as_background_job=False,
        init_scene_frame_range=False,
    )


def write_usd(bpy, path):
    bpy.ops.wm.usd_export(
        filepath=path,
        check_existing=False,
        selected_objects_only=False,
        visible_objects_only=False,
        export_animation=True,
        export_materials=False,
    )


def export(args):
    """Checks the inputs, builds the scene, writes OUT through its temporary name."""
    import bpy

    check_exporter(bpy, args.format)
    track, out = load_inputs(args)
    scene = build_export_scene(bpy, track)
    tmp = temp_path(out, args.format, os.getpid())
    try:
        if args.format == "fbx":
            write_fbx(bpy, tmp)
        elif args.format == "abc":
            write_abc(bpy, scene, tmp)
        else:
            write_usd(bpy, tmp)
        if not os.path.isfile(tmp):
            raise RuntimeError(f"the {args.format} exporter wrote nothing to '{tmp}'")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    if not args.quiet:
        frames = f"{scene.frame_start}-{scene.frame_end}"
        print(f"vanelia: wrote {out} (frames {frames})", file=sys.stderr, flush=True)


def main(argv):
    try:
        args = parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    from vanelia_blender.scene.camera import CameraError

    try:
        export(args)
    except (ExportError, CameraError) as e:
        print(f"vanelia: error: {e}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("vanelia: interrupted", file=sys.stderr, flush=True)
        return 130
    except Exception as e:  # noqa: BLE001 - the process boundary
        traceback.print_exc()
        print(f"vanelia: internal error: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


def script_args():
    argv = sys.argv
    return argv[argv.index("--") + 1 :] if "--" in argv else []


if __name__ == "__main__":
    from vanelia_blender import export_camera as _export_camera

    sys.stdout.flush()
    sys.exit(_export_camera.main(script_args()))
