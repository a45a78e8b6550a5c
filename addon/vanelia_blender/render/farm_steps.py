"""The batch's work as render-farm steps over a job folder D on shared storage.

    batch.py -- --step build --job-dir D   (the one-process run's arguments)
    batch.py -- --step render --job-dir D --start A --end B   (per chunk)
    batch.py -- --step merge --job-dir D [--overwrite]

- build: the one-process run's checks (the proxy, when the clip needs one,
  is D/proxy.mkv and stays), the same scene, saved as D/scene.blend with its
  images packed, and D/scene.json (`SCENE_FORMAT`, written last: a job is
  built when it exists) holding what the other steps need. With --passes
  the passes' File Output (render/passes.py) is part of the saved scene and
  the job renders whole frames, so each render chunk writes its own frames'
  passes into the one folder.
- render: opens D/scene.blend and renders every output position k whose
  decoded index is in [A, B), as the one-process run does
  (render/region_render.render_frame), to D/frames/{k:06d}.png. A frame
  that exists is skipped, so a rerun of a killed chunk renders only what is
  missing.
- merge: when every frame is there, encodes the output exactly as the
  one-process run (encode/encode.py, with the codec scene.json names; a
  scene.json without one, from before --codec, is H.264); otherwise one
  line names the missing decoded frames and nothing is written.

Every file is written to a temporary name in its folder and renamed into
place, so an existing D/scene.blend, D/scene.json or D/frames/{k:06d}.png is
complete. bpy is imported only inside the steps.
"""

import json
import os
import secrets
import time

from ..encode import encode
from . import region_render

SCENE_FORMAT = "vanelia-farm-scene/1"
BLEND_NAME = "scene.blend"
SCENE_JSON = "scene.json"
FRAMES_DIR = "frames"
_KEYS = {
    "video": str,
    "plate": str,
    "output": str,
    "overwrite": bool,
    "indices": list,
    "every": int,
    "region_points": list,
    "pixel_margin": int,
    "distorted": bool,
    "full_frame": bool,
    "width": int,
    "height": int,
    "scene": str,
    "camera": str,
    "blender": str,
}


class JobError(ValueError):
    """A job folder that cannot be used as asked; names the folder."""


def _remove(path):
    if os.path.exists(path):
        os.remove(path)


def _tmp_tag():
    """A temporary name's tail, unique across the farm's hosts (a pid alone
    may repeat on another host writing to the same shared folder)."""
    return f"{os.getpid()}-{secrets.token_hex(4)}"


def _frame_path(frames_dir, k):
    return os.path.join(frames_dir, region_render.frame_name(k))


def write_json_atomic(path, record):
    """Writes `record` to a temporary name beside `path`, then renames."""
    tmp = os.path.join(os.path.dirname(path), f".tmp-{os.path.basename(path)}-{_tmp_tag()}")
    try:
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        _remove(tmp)


def check_job_dir(job_dir, building=False):
    """The job folder exists; a build also wants no rendered frames in it
    (they would belong to the scene it replaces)."""
    if not os.path.isdir(job_dir):
        raise JobError(f"--job-dir '{job_dir}': no such folder")
    frames_dir = os.path.join(job_dir, FRAMES_DIR)
    if building and os.path.isdir(frames_dir):
        frames = [n for n in os.listdir(frames_dir) if n.endswith(".png") and n[:6].isdigit()]
        if frames:
            raise JobError(
                f"job '{job_dir}': {len(frames)} frames already rendered in "
                f"'{frames_dir}'; build into a new job folder"
            )


def _pack_images(bpy):
    """Packs every file image not yet packed into the .blend (the glTF
    importer packs a product's textures already: a safety net). The movie
    clip (the plate) cannot be packed and stays an absolute path."""
    for image in bpy.data.images:
        if image.source not in ("FILE", "SEQUENCE", "TILED") or image.packed_file is not None:
            continue
        if os.path.isfile(bpy.path.abspath(image.filepath)):
            image.pack()


def save_job(args, prepared, scene, built, progress):
    """The build step's output: D/scene.blend, then D/scene.json."""
    import bpy

    from ..scene import build

    job_dir = os.path.abspath(args.job_dir)
    width, height = scene.render.resolution_x, scene.render.resolution_y
    record = {
        "format": SCENE_FORMAT,
        "video": os.path.abspath(prepared.info.path),
        "plate": os.path.abspath(prepared.plate_path),
        "output": os.path.abspath(args.output),
        "overwrite": bool(args.overwrite),
        "indices": list(prepared.indices),
        "every": args.every,
        "region_points": build.region_points(built),
        "pixel_margin": region_render.region_margin(width, height, built.distorted),
        "distorted": bool(built.distorted),
        "full_frame": bool(args.full_frame),
        "codec": args.codec,
        "passes": os.path.abspath(args.passes) if args.passes else "",
        "passes_format": args.passes_format if args.passes else "",
        "width": width,
        "height": height,
        "scene": scene.name,
        "camera": built.camera.name,
        "blender": bpy.app.version_string,
    }
    json_path = os.path.join(job_dir, SCENE_JSON)
    _remove(json_path)  # the job is not built until the new one is written
    _pack_images(bpy)
    blend = os.path.join(job_dir, BLEND_NAME)
    tmp = os.path.join(job_dir, f".tmp-scene-{_tmp_tag()}.blend")
    try:
        # Paths stay absolute (as in scene.json): every node of the farm
        # sees the shared storage at the same place.
        bpy.ops.wm.save_as_mainfile(filepath=tmp, copy=True, relative_remap=False)
        os.replace(tmp, blend)
    finally:
        _remove(tmp)
    write_json_atomic(json_path, record)
    progress.say(f"job built: {blend}, {len(prepared.indices)} frames to render")


def read_job(job_dir):
    """D/scene.json, checked."""
    check_job_dir(job_dir)
    path = os.path.join(job_dir, SCENE_JSON)
    if not os.path.isfile(path):
        raise JobError(f"job '{job_dir}': no {SCENE_JSON}; run --step build first")
    try:
        with open(path) as f:
            job = json.load(f)
    except (OSError, ValueError) as e:
        raise JobError(f"job '{job_dir}': {SCENE_JSON} unreadable: {e}")
    if not isinstance(job, dict) or job.get("format") != SCENE_FORMAT:
        got = job.get("format") if isinstance(job, dict) else None
        raise JobError(f"job '{job_dir}': {SCENE_JSON} format {got!r}; want {SCENE_FORMAT!r}")
    for key, kind in _KEYS.items():
        if not isinstance(job.get(key), kind):
            raise JobError(
                f"job '{job_dir}': {SCENE_JSON} field '{key}' = {job.get(key)!r}; "
                f"must be a {kind.__name__}"
            )
    codec = job.setdefault("codec", "h264")
    if not isinstance(codec, str) or codec not in encode.CODECS:
        raise JobError(
            f"job '{job_dir}': {SCENE_JSON} field 'codec' = {codec!r}; "
            f"must be one of {', '.join(encode.CODECS)}"
        )
    if not job["indices"]:
        raise JobError(f"job '{job_dir}': {SCENE_JSON} selects no frame")
    return job


def render_step(args, progress):
    """Renders the job's frames with decoded index in [--start, --end)."""
    job_dir = os.path.abspath(args.job_dir)
    job = read_job(job_dir)
    indices = job["indices"]
    end = args.end if args.end >= 0 else float("inf")
    chunk = [k for k, index in enumerate(indices) if args.start <= index < end]
    if not chunk:
        raise JobError(
            f"--start {args.start} --end {args.end}: no frame of job '{job_dir}' in that "
            f"range (it renders decoded frames {indices[0]}-{indices[-1]}, "
            f"every {job['every']})"
        )
    frames_dir = os.path.join(job_dir, FRAMES_DIR)
    os.makedirs(frames_dir, exist_ok=True)
    todo = [k for k in chunk if not os.path.exists(_frame_path(frames_dir, k))]
    if len(todo) < len(chunk):
        progress.say(
            f"render: {len(chunk) - len(todo)} of {len(chunk)} frames already rendered, "
            f"{len(todo)} to render"
        )
    if todo:
        _render_positions(job_dir, job, todo, progress)


def _open_scene(job_dir, job):
    """Opens D/scene.blend; returns (scene, camera)."""
    import bpy

    if job["blender"] != bpy.app.version_string:
        raise JobError(
            f"job '{job_dir}': built with Blender {job['blender']}, this is "
            f"{bpy.app.version_string}; render with the Blender that built it"
        )
    blend = os.path.join(job_dir, BLEND_NAME)
    if not os.path.isfile(blend):
        raise JobError(f"job '{job_dir}': no {BLEND_NAME}; run --step build again")
    bpy.ops.wm.open_mainfile(filepath=blend, load_ui=False)
    scene = bpy.context.scene
    camera = bpy.data.objects.get(job["camera"])
    size = (scene.render.resolution_x, scene.render.resolution_y)
    if scene.name != job["scene"] or camera is None or size != (job["width"], job["height"]):
        raise JobError(
            f"job '{job_dir}': {BLEND_NAME} (scene '{scene.name}', {size[0]}x{size[1]}) "
            f"does not match {SCENE_JSON}; run --step build again"
        )
    # The depth holdout's per-frame handler is state of the process that built the scene.
    from ..core import depth_sidecar
    from ..scene import depth_holdout

    try:
        depth_holdout.rearm(scene)
    except depth_sidecar.DepthSidecarError as exc:
        raise JobError(f"job '{job_dir}': {exc}") from None
    return scene, camera


def _render_positions(job_dir, job, todo, progress):
    scene, camera = _open_scene(job_dir, job)
    frames_dir = os.path.join(job_dir, FRAMES_DIR)
    points, margin = job["region_points"], job["pixel_margin"]
    started = time.monotonic()
    for n, k in enumerate(todo, 1):
        # .tmp-NNNNNN-*: what `vanelia farm` clears before a chunk's rerun.
        # The name ends in .png, so Blender (use_file_extension) keeps it.
        tmp = os.path.join(frames_dir, f".tmp-{k:06d}-{_tmp_tag()}.png")
        try:
            region_render.render_frame(
                scene, camera, job["indices"][k], points, margin, job["full_frame"], tmp
            )
            os.replace(tmp, _frame_path(frames_dir, k))
        finally:
            _remove(tmp)
        progress.frames("render", n, len(todo), started)


def missing_frames_message(job_dir, indices, missing):
    """One line naming the missing positions as decoded-index ranges and the
    render chunks that would make them."""
    runs = []
    for k in missing:
        if runs and runs[-1][1] == k - 1:
            runs[-1][1] = k
        else:
            runs.append([k, k])
    spans, chunks = [], []
    for first, last in runs:
        a, b = indices[first], indices[last]
        spans.append(f"{a}-{b}" if b > a else f"{a}")
        chunks.append(f"--start {a} --end {b + 1}")
    shown = 8
    if len(runs) > shown:
        spans = spans[:shown] + [f"and {len(runs) - shown} more ranges"]
        chunks = chunks[:shown] + ["..."]
    noun = "frames" if len(missing) > 1 else "frame"
    chunk = "chunk" if len(runs) == 1 else "chunks"
    return (
        f"job '{job_dir}': {noun} missing for decoded {noun} {', '.join(spans)} "
        f"(render {chunk} {', '.join(chunks)} not finished); nothing written"
    )


def encode_frames(frames_dir, plate_path, info, out, first, every, count, overwrite, codec="h264"):
    """encode.encode, its temporary file also removed when interrupted
    (encode.encode removes it when FFmpeg fails)."""
    try:
        return encode.encode(
            frames_dir, plate_path, info, out, first, every, count, overwrite, codec
        )
    except BaseException:
        _remove(encode.temp_path(out, codec))
        raise


def merge_step(args, progress):
    """Encodes the job's output once every frame is rendered."""
    from ..core import media

    job_dir = os.path.abspath(args.job_dir)
    job = read_job(job_dir)
    indices = job["indices"]
    frames_dir = os.path.join(job_dir, FRAMES_DIR)
    missing = [k for k in range(len(indices)) if not os.path.isfile(_frame_path(frames_dir, k))]
    if missing:
        raise JobError(missing_frames_message(job_dir, indices, missing))
    info = media.probe_video(job["video"])
    # `vanelia farm step merge` names the output of its job.json (the truth
    # when a job folder moved); scene.json's is the build's.
    out = os.path.abspath(args.output) if args.output else job["output"]
    encode.check_output(out, job["codec"])
    progress.say(f"encode: {len(indices)} frames -> {out}")
    overwrite = bool(args.overwrite or (job["overwrite"] and not args.output))
    first, every, count = indices[0], job["every"], len(indices)
    encode_frames(frames_dir, job["plate"], info, out, first, every, count, overwrite, job["codec"])
    progress.say(f"wrote {out}")
