"""The render job: the headless batch (batch.py) in a child Blender. bpy-free.

Rendering a clip takes minutes, so the add-on does not render in its own
process: it starts `blender -b --factory-startup --python batch.py -- ...`
(what `vanelia run` does, docs/run.md) with the panel's settings and the
product where the artist left it, reads its progress lines ("render: frame k
of n") and, on cancel, stops it. The batch writes a temporary file and
renames it into place, so a cancelled or failed render leaves no output.
"""

import copy
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from typing import List, Optional

from . import cache, jobs, proxy

BATCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "batch.py")
_FRAME = re.compile(r"render: frame (\d+) of (\d+)")


class RenderError(RuntimeError):
    """The batch render failed; the message holds its own error line."""


@dataclass
class RenderRequest:
    blender: str  # the Blender executable (bpy.app.binary_path)
    video: str
    product: str
    track: str  # aligned track file
    output: str  # final .mp4
    samples: int = 256
    start: int = 0
    end: int = -1  # exclusive; -1 = to the end
    every: int = 1
    location: Optional[List[float]] = None  # product floor point, m
    rotation_z_deg: float = 0.0
    height_m: Optional[float] = None
    overwrite: bool = False
    extra: List[str] = field(default_factory=list)  # more batch.py arguments

    def command(self):
        cmd = [self.blender, "-b", "--factory-startup", "--python", BATCH, "--"]
        cmd += ["--video", self.video, "--product", self.product, "--track", self.track]
        cmd += ["-o", self.output, "--samples", str(self.samples)]
        cmd += ["--start", str(self.start), "--end", str(self.end), "--every", str(self.every)]
        if self.location is not None:
            # "--opt=value": argparse would take "-0.5,1,0" for an option.
            cmd.append("--location=" + ",".join(f"{v:.6f}" for v in self.location))
        cmd.append(f"--rotation-z={self.rotation_z_deg:.6f}")
        if self.height_m:
            cmd.append(f"--height={self.height_m:.6f}")
        if self.overwrite:
            cmd.append("--overwrite")
        return cmd + list(self.extra)


def default_output(video):
    stem = os.path.splitext(video)[0]
    return f"{stem}_vanelia.mp4"


def request_from(settings, abspath, output_override, build_product, blender):
    """A RenderRequest from the panel's settings (`scene.vanelia`)."""
    s = settings
    video, product, track = abspath(s.video_path), abspath(s.product_path), abspath(s.track_path)
    if not video:
        raise RenderError("no video chosen: set the video file first")
    if not product:
        raise RenderError("no product chosen: set the product file (.glb) first")
    if not track:
        raise RenderError("no track yet: press Track first")
    output = abspath(output_override or s.output_path) or default_output(video)
    if os.path.exists(output) and not s.overwrite:
        raise RenderError(f"output '{output}': exists; tick Overwrite to replace it")
    request = RenderRequest(blender, video, product, track, output, s.samples)
    request.start, request.end, request.every = s.frame_start, s.frame_end, s.frame_step
    request.rotation_z_deg = s.rotation_z * 57.29577951308232
    request.height_m = s.height or None
    request.overwrite = s.overwrite
    if build_product is not None:  # where the artist left the product
        request.location, turn = build_product
        request.rotation_z_deg = turn * 57.29577951308232
    elif not s.auto_location:
        request.location = list(s.location)
    return request


def render_work(request):
    """The job body: runs the batch, returns the output path."""

    def run(progress):
        # The child's temporary files (frames, proxy) go to a folder of this
        # job's, removed whatever happens: a stopped child cannot clean up.
        scratch = tempfile.mkdtemp(prefix="vanelia-render-")
        try:
            return _run_batch(request, progress, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    return run


def _run_batch(request, progress, scratch):
    progress(stage="starting Blender", done=0, total=0)
    proc = subprocess.Popen(
        request.command(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=dict(os.environ, TMPDIR=scratch),
    )
    lines = []
    stopper = threading.Thread(target=_stop_when_cancelled, args=(proc, progress), daemon=True)
    stopper.start()
    for line in proc.stderr:
        lines.append(line.rstrip())
        match = _FRAME.search(line)
        if match:
            progress(stage="render", done=int(match.group(1)), total=int(match.group(2)))
        elif line.startswith("vanelia: encode"):
            progress(stage="encode", done=0, total=0)
    code = proc.wait()
    if not progress():
        raise jobs.JobCancelled()
    if code != 0:
        said = [x for x in lines if x.startswith("vanelia: ")] or lines[-5:]
        raise RenderError(f"batch render failed (exit {code}): {said[-1] if said else ''}")
    return request.output


def _stop_when_cancelled(proc, progress):
    while proc.poll() is None:
        try:
            proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            if not progress():
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                return


def proxy_needed(info):
    return proxy.proxy_reason(info) is not None


def make_plate(info, cache_folder=None):
    """An upright constant-rate copy of the clip for Blender's movie clip
    (kept in the track cache folder); returns (path, its MediaInfo)."""
    folder = os.path.join(cache.TrackCache(cache_folder).folder, "proxies")
    os.makedirs(folder, exist_ok=True)
    plate_info = copy.copy(info)
    mapping = proxy.cfr_mapping(info.pts, Fraction(info.fps_num, info.fps_den))
    plate_info.frame_count = len(mapping)
    plate_info.rotation_deg, plate_info.vfr = 0, False
    path = proxy.proxy_path(info, folder)
    if not os.path.isfile(path):
        proxy.make_proxy(info, path)
    plate_info.path = path
    return path, plate_info
