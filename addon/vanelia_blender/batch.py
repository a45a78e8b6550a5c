"""Headless entry point: render a product into footage, write the MP4.

Run by `vanelia run` as

    blender -b --factory-startup --python addon/vanelia_blender/batch.py -- \
        --video V --product P.glb --track T.json -o FINAL.mp4 [options]

Stages: check the inputs (nothing is touched when one is bad), make an
upright constant-rate proxy when the clip needs one, build the scene, render
every selected frame (only the region where the product and its shadow can
appear; the compositor lays it over the plate) to PNG, encode H.264 with the
source's audio copied, rename into place. Progress with ETA on stderr.
Exit codes: 0 done, 2 bad input, 1 internal error.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _triple(text):
    values = [float(v) for v in text.split(",")]
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"'{text}': want X,Y,Z")
    return values


def parse_args(argv):
    p = argparse.ArgumentParser(prog="vanelia run (blender batch)")
    p.add_argument("--video", required=True)
    p.add_argument("--product", required=True)
    p.add_argument("--track", required=True)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--samples", type=int, default=256)  # render/cycles.DEFAULT_SAMPLES
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--end", type=int, default=-1)
    p.add_argument("--every", type=int, default=1)
    p.add_argument("--camera-height", type=float, default=None)
    p.add_argument("--location", type=_triple, default=None, help="X,Y,Z metres")
    p.add_argument("--rotation-z", type=float, default=0.0)
    p.add_argument("--height", type=float, default=None)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--keep-blend", action="store_true")
    p.add_argument("--keep-frames", default=None, help="folder for the PNGs")
    p.add_argument("--full-frame", action="store_true", help="no border")
    p.add_argument("--quiet", action="store_true")
    p.add_argument(
        "--progress",
        choices=("human", "json"),
        default="human",
        help="json: one JSON object per line on stderr (read by vanelia run)",
    )
    p.add_argument("--work-dir", default=None, help="scratch folder (default: a new temporary one)")
    return p.parse_args(argv)


class Progress:
    """Stage progress on stderr: frame k of n, s/frame, time left; with
    `json_lines`, one JSON object per line (the fields of vanelia run's
    --progress json, docs/architecture.md), which vanelia run forwards."""

    def __init__(self, quiet, json_lines=False):
        self.quiet = quiet
        self.json_lines = json_lines

    def _emit(self, record):
        print(json.dumps(record), file=sys.stderr, flush=True)

    def say(self, text):
        if self.json_lines:
            self._emit({"type": "message", "text": text})
        elif not self.quiet:
            print(f"vanelia: {text}", file=sys.stderr, flush=True)

    def frames(self, stage, k, n, started):
        elapsed = time.monotonic() - started
        per = elapsed / k if k else 0.0
        if self.json_lines:
            rate = k / elapsed if elapsed > 0 else 0.0
            self._emit(
                {
                    "type": "progress",
                    "step": stage,
                    "done": k,
                    "total": n,
                    "eta_s": per * (n - k),
                    "rate_per_s": rate,
                }
            )
            return
        self.say(f"{stage}: frame {k} of {n}, {per:.2f} s/frame, " f"{per * (n - k):.0f} s left")


def _scaled_track(track, scale):
    for f in track["frames"]:
        for r in range(3):
            f["c2w_blender"][r][3] *= scale
    return track


def prepare(args, progress):
    """Checks every input; returns (info, plate_info, plate_path, track,
    indices, work_dir). Raises input errors before anything is written."""
    from vanelia_blender.core import glb, media
    from vanelia_blender.encode import proxy
    from vanelia_blender.render import render_plan
    from vanelia_blender.core import track_file
    from vanelia_blender.scene.build import TrackMismatchError, check_track

    out = os.path.abspath(args.output)
    if os.path.exists(out) and not args.overwrite:
        raise media.MediaError(f"output '{out}': exists; use --overwrite to replace")
    if not os.path.isdir(os.path.dirname(out)):
        raise media.MediaError(f"output '{out}': folder does not exist")
    info = media.probe_video(args.video)
    glb.check_product(args.product)
    if not os.path.isfile(args.track):
        raise media.MediaError(f"track '{args.track}': no such file")
    try:
        track = track_file.load(args.track)
    except track_file.TrackFileError as e:
        raise media.MediaError(str(e))
    if track.get("world") != "blender":
        raise media.MediaError(
            f"track '{args.track}': world '{track.get('world')}' is the tracker's raw "
            "world; align it to the floor first (vanelia align)"
        )
    reason = proxy.proxy_reason(info)
    plate_info = info
    if reason:
        import copy
        from fractions import Fraction

        plate_info = copy.copy(info)
        mapping = proxy.cfr_mapping(info.pts, Fraction(info.fps_num, info.fps_den))
        plate_info.frame_count = len(mapping)
        plate_info.rotation_deg, plate_info.vfr = 0, False
    try:
        check_track(track, plate_info)
    except TrackMismatchError as e:
        raise media.MediaError(f"track '{args.track}': {e}")
    if args.camera_height is not None:
        c2ws = [f["c2w_blender"] for f in track["frames"]]
        _scaled_track(track, render_plan.camera_height_scale(c2ws, args.camera_height))
    indices = render_plan.selected_indices(plate_info.frame_count, args.start, args.end, args.every)
    if args.work_dir:
        os.makedirs(args.work_dir, exist_ok=True)
        work_dir = args.work_dir
    else:
        work_dir = tempfile.mkdtemp(prefix="vanelia-run-")
    plate_path = info.path
    if reason:
        progress.say(f"proxy: {reason}: making an upright constant-rate copy")
        plate_path = proxy.make_proxy(info, os.path.join(work_dir, "proxy.mkv"))
    return info, plate_info, plate_path, track, indices, work_dir


def render_frames(scene, built, indices, frames_dir, full_frame, progress):
    import bpy

    from vanelia_blender.render import cycles, render_plan
    from vanelia_blender.scene import build

    width, height = scene.render.resolution_x, scene.render.resolution_y
    points = build.region_points(built)
    margin = render_plan.RegionOptions.pixel_margin
    if built.distorted:
        # The plate's lens moves pixels by up to a few % of the frame: the
        # undistorted region is widened by that much.
        margin += int(0.04 * max(width, height))
    by_index = {}
    started = time.monotonic()
    for k, index in enumerate(indices):
        scene.frame_set(index + 1)
        border = None
        if not full_frame:
            cam = built.camera
            region = _region(scene, cam, width, height, points, margin)
            if region is None:
                region = (0, 0, 1, 1)  # nothing visible: a token border
            border = render_plan.border_of_region(region, width, height)
        cycles.set_border(scene, border)
        scene.render.filepath = os.path.join(frames_dir, f"{k:06d}.png")
        bpy.ops.render.render(write_still=True)
        by_index[index] = scene.render.filepath
        progress.frames("render", k + 1, len(indices), started)
    return by_index


def _region(scene, cam, width, height, points, margin=None):
    """Pixel region from the evaluated camera (any track interpolation)."""
    from vanelia_blender.render import render_plan

    from vanelia_blender.core import conventions

    c2w = [list(row) for row in cam.matrix_world]
    data, render = cam.data, scene.render
    params = {
        "sensor_fit": data.sensor_fit,
        "sensor_width": data.sensor_width,
        "sensor_height": data.sensor_height,
        "lens": data.lens,
        "shift_x": data.shift_x,
        "shift_y": data.shift_y,
        "pixel_aspect_x": render.pixel_aspect_x,
        "pixel_aspect_y": render.pixel_aspect_y,
        "resolution_x": width,
        "resolution_y": height,
    }
    K = conventions.opencv_k_from_blender_params(params)
    if margin is None:
        margin = render_plan.RegionOptions.pixel_margin
    return render_plan.render_region(K, c2w, width, height, points, margin)


def _save_blend(bpy, args, progress):
    """Saves the scene beside the output (OUT.blend) for a look in Blender."""
    blend = os.path.splitext(os.path.abspath(args.output))[0] + ".blend"
    if os.path.exists(blend) and not args.overwrite:
        progress.say(f"not saving '{blend}': exists (use --overwrite)")
        return
    bpy.ops.wm.save_as_mainfile(filepath=blend, copy=True)
    progress.say(f"saved {blend}")


def run(args):
    import bpy

    from vanelia_blender.encode import encode
    from vanelia_blender.scene import build

    progress = Progress(args.quiet, args.progress == "json")
    info, plate_info, plate_path, track, indices, work_dir = prepare(args, progress)
    try:
        options = build.BuildOptions(
            plate_path=plate_path,
            info=plate_info,
            track=track,
            product_path=args.product,
            location=args.location,
            rotation_z_deg=args.rotation_z,
            height_m=args.height,
            samples=args.samples,
            seed=args.seed,
            frame_start=indices[0] + 1,
            frame_end=indices[-1] + 1,
            threads=args.threads,
            over_plate=False,
        )
        bpy.ops.wm.read_factory_settings(use_empty=True)
        scene = bpy.context.scene
        t0 = time.monotonic()
        built = build.build_scene(scene, options)
        progress.say(f"scene built in {time.monotonic() - t0:.2f} s")
        frames_dir = args.keep_frames or os.path.join(work_dir, "frames")
        os.makedirs(frames_dir, exist_ok=True)
        render_frames(scene, built, indices, frames_dir, args.full_frame, progress)
        if args.keep_blend:
            _save_blend(bpy, args, progress)
        out = os.path.abspath(args.output)
        progress.say(f"encode: {len(indices)} frames -> {out}")
        encode.encode(
            frames_dir,
            plate_path,
            info,
            out,
            indices[0],
            args.every,
            len(indices),
            args.overwrite,
        )
        progress.say(f"wrote {out}")
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def main(argv):
    from vanelia_blender.core.glb import ProductError
    from vanelia_blender.core.media import MediaError
    from vanelia_blender.render.render_plan import PlanError
    from vanelia_blender.scene.build import TrackMismatchError
    from vanelia_blender.scene.camera import CameraError
    from vanelia_blender.scene.collection import NameClashError

    input_errors = (ProductError, MediaError, PlanError, TrackMismatchError)
    input_errors += (NameClashError, CameraError)
    try:
        args = parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    try:
        run(args)
    except input_errors as e:
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
    from vanelia_blender import batch as _batch

    sys.stdout.flush()
    sys.exit(_batch.main(script_args()))
