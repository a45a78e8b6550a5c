"""The render job: the native pipeline's render stage. bpy-free.

Rendering a clip takes minutes, so the add-on does not render in its own
process: the job calls the native module's `run` (the pipeline that `vanelia
run` runs, native/include/vanelia/pipeline/pipeline.hpp) with the panel's
settings, the aligned track and the product where the artist left it. The
pipeline starts `blender -b --factory-startup --python batch.py -- ...` from
this add-on's folder, turns its progress into events (handed to the job's
progress) and, on cancel, stops Blender's process group and removes what it
was writing, so a cancelled or failed render leaves no output.
"""

import copy
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import List, Optional

from ..core import cache
from ..encode import proxy

# The folder holding vanelia_blender/: the pipeline runs its batch.py.
ADDON_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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
    codec: str = "h264"  # vanelia run --codec
    preview: bool = False  # half size, few samples, quick H.264
    passes: str = ""  # folder of the compositor's passes; "" = none
    passes_format: str = "exr"
    grain: str = "auto"  # vanelia run --grain: auto (the plate's) or off
    motion_blur: str = "auto"  # vanelia run --motion-blur: auto, off or a shutter
    environment: str = "off"  # vanelia run --environment: auto (the plate's) or off

    def run_keywords(self):
        """The keywords of the native `run` for this request."""
        return dict(
            track=self.track,
            samples=self.samples,
            start=self.start,
            end=self.end,
            every=self.every,
            location_m=self.location,
            rotation_z_deg=self.rotation_z_deg,
            height_m=self.height_m,
            overwrite=self.overwrite,
            codec=self.codec,
            preview=self.preview,
            passes=self.passes,
            passes_format=self.passes_format,
            grain=self.grain,
            motion_blur=self.motion_blur,
            environment=self.environment,
            blender=self.blender,
            addon_dir=ADDON_DIR,
        )


# The container of each codec (native OUTPUT_CODECS).
EXTENSIONS = {"h264": ".mp4", "hevc": ".mp4", "prores": ".mov", "dnxhr": ".mov"}


def default_output(video, codec="h264", preview=False):
    """Beside the video: <name>_vanelia.mp4 (.mov for ProRes and DNxHR),
    <name>_vanelia_preview.mp4 for a preview."""
    stem = os.path.splitext(video)[0]
    if preview:
        return f"{stem}_vanelia_preview.mp4"
    return f"{stem}_vanelia{EXTENSIONS.get(codec, '.mp4')}"


def request_from(settings, abspath, output_override, build_product, blender, preview=False):
    """A RenderRequest from the panel's settings (`scene.vanelia`); with
    `preview`, the quick look (H.264 beside the video, no passes)."""
    s = settings
    video, product, track = abspath(s.video_path), abspath(s.product_path), abspath(s.track_path)
    if not video:
        raise RenderError("no video chosen: set the video file first")
    if not product:
        raise RenderError("no product chosen: set the product file (.glb) first")
    if not track:
        raise RenderError("no track yet: press Track first")
    codec = "h264" if preview else getattr(s, "codec", "h264")
    if preview:
        output = abspath(output_override) or default_output(video, preview=True)
    else:
        output = abspath(output_override or s.output_path) or default_output(video, codec)
    if os.path.exists(output) and not s.overwrite:
        raise RenderError(f"output '{output}': exists; tick Overwrite to replace it")
    request = RenderRequest(blender, video, product, track, output, s.samples)
    request.start, request.end, request.every = s.frame_start, s.frame_end, s.frame_step
    request.rotation_z_deg = s.rotation_z * 57.29577951308232
    request.height_m = s.height or None
    request.overwrite = s.overwrite
    request.codec, request.preview = codec, preview
    request.grain = "auto" if getattr(s, "grain", True) else "off"
    request.motion_blur = "auto" if getattr(s, "motion_blur", True) else "off"
    request.environment = "auto" if getattr(s, "environment", False) else "off"
    if getattr(s, "passes", False) and not preview:
        stem = os.path.splitext(output)[0]
        request.passes = abspath(s.passes_path) or f"{stem}_passes"
        request.passes_format = s.passes_format
    if build_product is not None:  # where the artist left the product
        request.location, turn = build_product
        request.rotation_z_deg = turn * 57.29577951308232
    elif not s.auto_location:
        request.location = list(s.location)
    return request


def render_work(request, native):
    """The job body: the native pipeline renders (`native`: the _vanelia
    module); returns the output path. Cancelling the job stops Blender
    (native Cancelled); a failure raises the native error naming its cause."""

    def run(progress):
        progress(stage="starting Blender", done=0, total=0)

        def on_event(event):
            if event["type"] != "progress":
                return progress()
            fields = dict(stage=event["step"], done=event["done"], total=event["total"])
            if "eta_s" in event:
                fields["eta_s"] = event["eta_s"]
            return progress(**fields)

        native.run(
            request.video,
            request.product,
            request.output,
            progress=on_event,
            **request.run_keywords(),
        )
        return request.output

    return run


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
