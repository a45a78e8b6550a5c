"""Headless entry point: render a product into footage, write the MP4.

Run by `vanelia run` as

    blender -b --factory-startup --python addon/vanelia_blender/batch.py -- \
        --video V --product P.glb --track T.json -o FINAL.mp4 [options]

Stages: check the inputs (nothing is touched when one is bad), make an
upright constant-rate proxy when the clip needs one, build the scene, render
every selected frame (only the region where the product and its shadow can
appear; the compositor lays it over the plate) to PNG, encode (H.264, or the
10-bit intermediate of --codec hevc|prores|dnxhr carrying the source's colour
tags) with the source's audio copied, rename into place. Progress with ETA
on stderr. --passes DIR also writes the compositor's passes (product,
shadow, holdout, plate, composite: render/passes.py), rendering whole
frames. --preview renders at half size with few samples and shorter
light paths (render/preview.py) and encodes a half-size H.264 MP4.

A render farm runs the same work as separate steps over a job folder D on
shared storage (render/farm_steps.py): `--step build --job-dir D` with the
arguments above, `--step render --job-dir D --start A --end B` once per
chunk, then `--step merge --job-dir D`.
Exit codes: 0 done, 2 bad input, 130 interrupted, 1 internal error.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _pair(text):
    try:
        az, el = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}': must be AZ,EL in degrees")
    return az, el


def _triple(text):
    values = [float(v) for v in text.split(",")]
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"'{text}': want X,Y,Z")
    return values


def _add_look_arguments(p):
    """The arguments of the look taken from the plate: light and grain."""
    p.add_argument(
        "--sun",
        type=_pair,
        default=(-60.0, 50.0),
        help="AZ,EL: the fixed sun (degrees; also when no estimate is given)",
    )
    p.add_argument(
        "--light-json",
        default=None,
        help="the light estimated from the footage (vanelia-light/1 JSON, "
        "core/light_settings.py); the fixed --sun when absent",
    )
    p.add_argument(
        "--environment",
        default=None,
        metavar="HDR",
        help="the world texture made from the plate's frames (vanelia run --environment auto; "
        "scene/lighting.py): lights the product and shows in its reflections",
    )
    p.add_argument(
        "--grain",
        default=None,
        help="R,G,B: the plate's noise (8-bit code values) added to the product and its "
        "shadow (render/grain.py); none by default",
    )
    p.add_argument(
        "--motion-blur",
        type=float,
        default=None,
        metavar="SHUTTER",
        help="Cycles motion blur with the camera's motion over SHUTTER frames (0 < S <= 1, "
        "centred on the frame; render/cycles.py); a sharp product by default",
    )


def _add_output_arguments(p):
    """What is written and how: codec, passes, preview, progress, farm steps."""
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--keep-blend", action="store_true")
    p.add_argument("--keep-frames", default=None, help="folder for the PNGs")
    p.add_argument("--full-frame", action="store_true", help="no border")
    p.add_argument(
        "--codec",
        choices=("h264", "hevc", "prores", "dnxhr"),
        default="h264",
        help="output codec (encode/encode.py CODECS); .mov for prores and dnxhr",
    )
    p.add_argument(
        "--preview", action="store_true", help="half size, few samples, a quick H.264 MP4"
    )
    p.add_argument("--passes", default=None, help="folder for the passes (render/passes.py)")
    p.add_argument(
        "--passes-format",
        choices=("exr", "png16"),
        default="exr",
        help="exr: 16-bit half, ZIP, linear; png16: 16-bit PNG",
    )
    p.add_argument("--quiet", action="store_true")
    p.add_argument(
        "--progress",
        choices=("human", "json"),
        default="human",
        help="json: one JSON object per line on stderr (read by vanelia run)",
    )
    p.add_argument("--work-dir", default=None, help="scratch folder (default: a new temporary one)")
    p.add_argument(
        "--step",
        choices=("build", "render", "merge"),
        default=None,
        help="one render-farm step over --job-dir (default: the whole run in this process)",
    )
    p.add_argument("--job-dir", default=None, help="the farm job's folder (shared storage)")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="vanelia run (blender batch)")
    p.add_argument("--video")
    p.add_argument("--product")
    p.add_argument("--track")
    p.add_argument("-o", "--output")
    p.add_argument("--samples", type=int, default=256)  # render/cycles.DEFAULT_SAMPLES
    p.add_argument("--seed", type=int, default=0)
    _add_look_arguments(p)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--end", type=int, default=-1)
    p.add_argument("--every", type=int, default=1)
    p.add_argument("--camera-height", type=float, default=None)
    p.add_argument("--location", type=_triple, default=None, help="X,Y,Z metres")
    p.add_argument("--rotation-z", type=float, default=0.0)
    p.add_argument("--height", type=float, default=None)
    p.add_argument(
        "--proxies",
        choices=("auto", "off"),
        default="auto",
        help="auto: boxes of the real objects (scene/proxies.py) from --proxies-json, else "
        "built here when the native module is there; off: none",
    )
    p.add_argument(
        "--proxies-json",
        default=None,
        help="the proxies vanelia run built from the track (build_proxies JSON)",
    )
    _add_output_arguments(p)
    args = p.parse_args(argv)
    if (args.step is None) != (args.job_dir is None):
        p.error("--step and --job-dir go together")
    if args.step and args.preview:
        p.error("--preview: only for the one-process run (no --step)")
    if args.passes and (args.step not in (None, "build") or args.preview):
        p.error(
            "--passes: only for the full render, in one process or the farm's build "
            "step (not with --step render/merge or --preview)"
        )
    if args.grain:
        from vanelia_blender.render import grain

        try:
            grain.parse_sigma(args.grain)
        except grain.GrainError as e:
            p.error(str(e))
    if args.step in (None, "build"):
        for name in ("video", "product", "track", "output"):
            if getattr(args, name) is None:
                p.error(f"--{name} is required" + (" by --step build" if args.step else ""))
    return args


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
    """The world scaled about the origin: camera centres and the stored
    points (the placement's obstacles)."""
    for f in track["frames"]:
        for r in range(3):
            f["c2w_blender"][r][3] *= scale
    points = track.get("points")
    if points:
        points["xyz"] = [[v * scale for v in p] for p in points["xyz"]]
    for row in track["blender_from_track"][:3]:  # the depth sidecar's scale follows
        row[:] = [v * scale for v in row]
    return track


@dataclass
class Prepared:
    """The checked inputs of a run (`prepare`)."""

    info: object  # core.media.MediaInfo of the source video
    plate_info: object  # MediaInfo of the plate (the proxy's when there is one)
    plate_path: str  # the video shown: the source, or work_dir/proxy.mkv
    track: dict  # the track file, read (and scaled for --camera-height)
    indices: list  # the selected decoded frame indices, in output order
    work_dir: str  # scratch folder (the job folder for --step build)


def prepare(args, progress):
    """Checks every input; returns a `Prepared`. Raises input errors before
    anything is written; then makes the proxy in the work folder (a new
    temporary one unless --work-dir names it) when the clip needs one."""
    from vanelia_blender.core import glb, media
    from vanelia_blender.encode import encode, proxy
    from vanelia_blender.render import render_plan
    from vanelia_blender.core import track_file
    from vanelia_blender.scene.build import TrackMismatchError, check_track

    out = os.path.abspath(args.output)
    if os.path.exists(out) and not args.overwrite:
        raise media.MediaError(f"output '{out}': exists; use --overwrite to replace")
    if not os.path.isdir(os.path.dirname(out)):
        raise media.MediaError(f"output '{out}': folder does not exist")
    encode.check_output(out, args.codec, args.preview)
    if args.codec != "h264":
        encode.check_encoder(args.codec)
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
    if args.passes:
        from vanelia_blender.render import passes

        frames = [i + 1 for i in indices]
        try:
            passes.check_passes(args.passes, args.passes_format, frames, args.overwrite)
        except passes.PassesError as e:
            raise media.MediaError(str(e))
    if args.work_dir:
        os.makedirs(args.work_dir, exist_ok=True)
        work_dir = args.work_dir
    else:
        work_dir = tempfile.mkdtemp(prefix="vanelia-run-")
    plate_path = info.path
    if reason:
        progress.say(f"proxy: {reason}: making an upright constant-rate copy")
        plate_path = proxy.make_proxy(info, os.path.join(work_dir, "proxy.mkv"))
    return Prepared(info, plate_info, plate_path, track, indices, work_dir)


def _region(scene, cam, width, height, points, margin=None):
    """render/region_render.camera_region (tests/blender/run_render_frames.py)."""
    from vanelia_blender.render import region_render

    return region_render.camera_region(scene, cam, width, height, points, margin)


def _save_blend(bpy, args, progress):
    """Saves the scene beside the output (OUT.blend) for a look in Blender."""
    blend = os.path.splitext(os.path.abspath(args.output))[0] + ".blend"
    if os.path.exists(blend) and not args.overwrite:
        progress.say(f"not saving '{blend}': exists (use --overwrite)")
        return
    bpy.ops.wm.save_as_mainfile(filepath=blend, copy=True)
    progress.say(f"saved {blend}")


def build_scene(args, prepared, progress):
    """The run's scene, built in a fresh empty file; returns (scene, built).
    The one-process run and the farm's build step share it."""
    import bpy

    from vanelia_blender.core import depth_sidecar
    from vanelia_blender.render import preview
    from vanelia_blender.scene import build

    indices = prepared.indices
    options = build.BuildOptions(
        plate_path=prepared.plate_path,
        info=prepared.plate_info,
        track=prepared.track,
        product_path=args.product,
        location=args.location,
        rotation_z_deg=args.rotation_z,
        height_m=args.height,
        samples=preview.preview_samples(args.samples) if args.preview else args.samples,
        seed=args.seed,
        frame_start=indices[0] + 1,
        frame_end=indices[-1] + 1,
        threads=args.threads,
        over_plate=False,
        sun_azimuth_deg=args.sun[0],
        sun_elevation_deg=args.sun[1],
        light_estimate=json.loads(args.light_json) if args.light_json else None,
        environment=args.environment,
        depth_folder=depth_sidecar.folder_of(prepared.track, args.track),
        proxies=args.proxies != "off",
        proxy_result=json.loads(args.proxies_json) if args.proxies_json else None,
    )
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    t0 = time.monotonic()
    built = build.build_scene(scene, options)
    if args.preview:
        preview.configure_preview(scene, built.distorted)
    elif args.grain:
        _set_grain(args, scene, progress)
    if args.motion_blur and not args.preview:
        from vanelia_blender.render import cycles

        cycles.set_motion_blur(scene, args.motion_blur)
        progress.say(f"motion blur: shutter {args.motion_blur:.3g} frame")
    progress.say(f"scene built in {time.monotonic() - t0:.2f} s")
    if args.location is None:  # vanelia run passes its own and says so
        progress.say(f"placement: {built.placement}")
    if not args.proxies_json:  # vanelia run passes its own and says so
        progress.say(f"proxies: {built.proxies_report}")
    progress.say(f"occlusion: {built.occlusion}")
    return scene, built


def run(args):
    from vanelia_blender.render import farm_steps

    progress = Progress(args.quiet, args.progress == "json")
    if args.step == "render":
        farm_steps.render_step(args, progress)
    elif args.step == "merge":
        farm_steps.merge_step(args, progress)
    elif args.step == "build":
        farm_steps.check_job_dir(os.path.abspath(args.job_dir), building=True)
        args.work_dir = os.path.abspath(args.job_dir)  # the proxy stays there
        prepared = prepare(args, progress)
        scene, built = build_scene(args, prepared, progress)
        if args.passes:
            _configure_passes(args, scene, built, progress)
        farm_steps.save_job(args, prepared, scene, built, progress)
    else:
        _run_whole(args, progress)


def _set_grain(args, scene, progress):
    """The plate's grain for every rendered frame (render/grain.py; kept in
    the scene, so a farm's scene.blend carries it)."""
    from vanelia_blender.render import grain

    sigma = grain.parse_sigma(args.grain)
    if grain.set_grain(scene, sigma, args.seed):
        progress.say("grain: sigma R/G/B {:.2f}/{:.2f}/{:.2f} (8-bit code values)".format(*sigma))
    else:
        progress.say(f"grain: none (the plate is clean: below {grain.MIN_SIGMA} code values)")


def _configure_passes(args, scene, built, progress):
    """The passes' File Output in the built scene (render/passes.py); the
    passes cover the whole frame, so the render does too (a farm job keeps
    both in its scene.blend and scene.json)."""
    from vanelia_blender.render import passes

    passes.configure_passes(scene, built, args.passes, args.passes_format)
    args.full_frame = True
    progress.say(f"passes: {args.passes_format} -> {os.path.abspath(args.passes)}")


def _run_whole(args, progress):
    """The one-process run: prepare, build, render, encode; the work folder
    is removed at the end (the --keep-frames folder is not in it)."""
    import bpy

    from vanelia_blender.render import region_render

    prepared = prepare(args, progress)
    try:
        scene, built = build_scene(args, prepared, progress)
        frames_dir = os.path.abspath(args.keep_frames or os.path.join(prepared.work_dir, "frames"))
        os.makedirs(frames_dir, exist_ok=True)
        out = os.path.abspath(args.output)
        if args.passes:
            _configure_passes(args, scene, built, progress)
        render = (scene, built, prepared.indices, frames_dir, args.full_frame, progress)
        if args.preview:
            _render_piped(args, prepared, render, out)
        else:
            region_render.render_frames(*render)
        if args.keep_blend:
            _save_blend(bpy, args, progress)
        if not args.preview:
            _encode(args, prepared, frames_dir, out, progress)
        progress.say(f"wrote {out}")
    finally:
        shutil.rmtree(prepared.work_dir, ignore_errors=True)


def _encode(args, prepared, frames_dir, out, progress):
    """Encodes the rendered frames over the plate (encode/encode.py)."""
    from vanelia_blender.render import farm_steps

    indices = prepared.indices
    progress.say(f"encode: {len(indices)} frames -> {out}")
    farm_steps.encode_frames(
        frames_dir,
        prepared.plate_path,
        prepared.info,
        out,
        indices[0],
        args.every,
        len(indices),
        args.overwrite,
        args.codec,
    )


def _render_piped(args, prepared, render, out):
    """The preview: FFmpeg encodes each frame as it is rendered
    (encode.PipedEncode), so its start and the plate's decoding overlap the
    render."""
    from vanelia_blender.encode import encode
    from vanelia_blender.render import region_render

    indices, progress = prepared.indices, render[-1]
    first, every, count = indices[0], args.every, len(indices)
    with encode.PipedEncode(
        prepared.plate_path, prepared.info, out, first, every, count, args.overwrite, preview=True
    ) as piped:
        region_render.render_frames(*render, on_frame=piped.add)
        progress.say(f"encode: {count} frames -> {out} (the encode's tail)")
        piped.finish()


def main(argv):
    from vanelia_blender.core.glb import ProductError
    from vanelia_blender.core.media import MediaError
    from vanelia_blender.render.farm_steps import JobError
    from vanelia_blender.render.render_plan import PlanError
    from vanelia_blender.scene.build import TrackMismatchError
    from vanelia_blender.scene.camera import CameraError
    from vanelia_blender.scene.collection import NameClashError

    input_errors = (ProductError, MediaError, PlanError, TrackMismatchError)
    input_errors += (NameClashError, CameraError, JobError)
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
