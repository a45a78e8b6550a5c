"""What the renderer needs to know about a video: read by the native module
(`_vanelia.probe_media`, libavformat, no external program) when it imports,
else by the `ffprobe` executable (a tree or Blender without the module).

bpy-free. `probe_video(path)` returns a `MediaInfo`: the upright size (after
the display rotation), the rotation, the rational frame rate, the exact frame
count (packets are counted, as the native VideoReader does), whether the clip
has a variable frame rate, whether it has audio, and the stream's colour
tags (primaries, transfer, matrix, range, as ffprobe names them; "" when
the stream does not say).

VFR rule (the same as native/include/vanelia/decode/video_reader.hpp): a clip
is VFR when a frame's duration differs from the median duration by more than
max(1 time-base tick, 2 %).
"""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction


class MediaError(ValueError):
    """A video that cannot be used; the message names the file and the rule."""


@dataclass
class MediaInfo:
    path: str
    width: int  # upright, pixels
    height: int  # upright, pixels
    rotation_deg: int  # display rotation applied to get upright (0/90/180/270)
    fps_num: int
    fps_den: int
    frame_count: int
    vfr: bool
    has_audio: bool
    pixel_aspect: float  # sample aspect ratio (x / y)
    pts: list  # presentation times of the source frames, seconds, sorted
    color_matrix: str = "bt601"  # YUV matrix of the stream: bt709 or bt601
    # The stream's colour tags as ffprobe reports them ("" = not tagged).
    color_primaries: str = ""  # e.g. bt709
    color_transfer: str = ""  # e.g. bt709
    color_space: str = ""  # the YUV matrix tag, e.g. bt709, bt2020nc
    color_range: str = ""  # tv (limited) or pc (full)
    pix_fmt: str = ""  # the decoded pixel format, e.g. yuv420p

    @property
    def fps(self):
        return self.fps_num / self.fps_den


def find_tool(name):
    """The path of ffmpeg/ffprobe, or a MediaError saying it is missing."""
    path = shutil.which(name)
    if path is None:
        raise MediaError(f"'{name}' not found on PATH; install FFmpeg")
    return path


def _rotation_of(stream):
    rotation = 0
    tags = stream.get("tags", {})
    if "rotate" in tags:
        rotation = int(float(tags["rotate"]))
    for side in stream.get("side_data_list", []):
        if "rotation" in side:
            # Display matrix rotation is counter-clockwise; `rotate` tag is
            # clockwise. Both describe the same physical turn.
            rotation = -int(float(side["rotation"]))
    return rotation % 360


def _is_vfr(durations, time_base):
    if len(durations) < 3:
        return False
    ordered = sorted(durations)
    median = ordered[len(ordered) // 2]
    tolerance = max(float(time_base), 0.02 * median)
    return any(abs(d - median) > tolerance for d in durations)


def native_with(name):
    """The `_vanelia` module when it imports and offers `name` (in worker
    mode the CLI's stand-in, native.backend()), else None."""
    from .. import native

    return native.backend() if native.has(name) else None


def probe_video(path, backend=None):
    """Reads `path` with the native probe, or ffprobe where the native module
    is absent (`backend`: "native" or "ffprobe" forces one). Raises
    MediaError when it is not a video."""
    if not os.path.isfile(path):
        raise MediaError(f"video '{path}': no such file")
    if backend not in (None, "native", "ffprobe"):
        raise MediaError(f"probe backend '{backend}': must be native or ffprobe")
    module = native_with("probe_media") if backend != "ffprobe" else None
    if backend == "native" and module is None:
        from .. import native

        native.module()  # raises NativeMissing, which says why
    if module is not None:
        return _probe_native(module, path)
    return _probe_ffprobe(path)


def _probe_native(module, path):
    """MediaInfo from `_vanelia.probe_media` (the same fields and rules)."""
    try:
        probe = module.probe_media(os.fspath(path))
    except module.Error as e:
        raise MediaError(f"video '{path}': not a readable video ({e})") from None
    stream = {key: probe[key] for key in ("color_primaries", "color_transfer")}
    stream.update(color_space=probe["color_space"], color_range=probe["color_range"])
    stream["pix_fmt"] = probe["pixel_format"]
    sar = Fraction(probe["pixel_aspect"]["num"], probe["pixel_aspect"]["den"])
    return MediaInfo(
        path=os.path.abspath(path),
        width=probe["width"],
        height=probe["height"],
        rotation_deg=probe["rotation_deg"],
        fps_num=probe["fps"]["num"],
        fps_den=probe["fps"]["den"],
        frame_count=probe["frame_count"],
        vfr=probe["is_vfr"],
        has_audio=probe["has_audio"],
        pixel_aspect=float(sar) if sar > 0 else 1.0,
        pts=list(probe["pts_s"]),
        color_matrix="bt709" if probe["color_space"] == "bt709" else "bt601",
        **_colour_tags(stream),
    )


def _probe_ffprobe(path):
    """MediaInfo from the ffprobe executable."""
    ffprobe = find_tool("ffprobe")
    cmd = [ffprobe, "-v", "error", "-show_streams", "-of", "json", path]
    result = subprocess.run(cmd, capture_output=True, text=True)
    streams = []
    if result.returncode == 0:
        streams = json.loads(result.stdout or "{}").get("streams", [])
    video = [s for s in streams if s.get("codec_type") == "video"]
    if not video:
        detail = result.stderr.strip().splitlines()[-1:] or ["no video stream"]
        raise MediaError(f"video '{path}': not a readable video ({detail[0]})")
    stream = video[0]
    has_audio = any(s.get("codec_type") == "audio" for s in streams)
    time_base = Fraction(stream.get("time_base", "1/1"))
    cmd = [
        ffprobe,
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-show_entries",
        "packet=pts",
        "-of",
        "csv=p=0",
        path,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    pts_ticks = sorted(
        int(line.split(",")[0])
        for line in result.stdout.split()
        if line.split(",")[0].lstrip("-").isdigit()
    )
    if not pts_ticks:
        raise MediaError(f"video '{path}': no video frames")
    first = pts_ticks[0]
    pts = [float((p - first) * time_base) for p in pts_ticks]
    durations = [b - a for a, b in zip(pts, pts[1:])]
    vfr = _is_vfr(durations, time_base)
    avg = stream.get("avg_frame_rate", "0/1")
    rate = Fraction(avg) if not avg.endswith("/0") else Fraction(0)
    span_ticks = pts_ticks[-1] - pts_ticks[0]
    if (rate <= 0 or vfr) and len(pts) > 1 and span_ticks > 0:
        # The average over the frames' span, exactly as the native reader:
        # (n - 1) / (t_last - t_first), so n constant-rate frames start and
        # end on the source's first and last frames.
        rate = Fraction(len(pts) - 1) / (span_ticks * time_base)
    elif rate <= 0:
        rate = Fraction(stream.get("r_frame_rate", "24/1"))
    rotation = _rotation_of(stream)
    width, height = int(stream["width"]), int(stream["height"])
    if rotation in (90, 270):
        width, height = height, width
    sar = Fraction(
        stream.get("sample_aspect_ratio", "1:1").replace(":", "/")
        if stream.get("sample_aspect_ratio", "0:1") != "0:1"
        else "1/1"
    )
    return MediaInfo(
        path=os.path.abspath(path),
        width=width,
        height=height,
        rotation_deg=rotation,
        fps_num=rate.numerator,
        fps_den=rate.denominator,
        frame_count=len(pts),
        vfr=vfr,
        has_audio=has_audio,
        pixel_aspect=float(sar) if sar > 0 else 1.0,
        pts=pts,
        color_matrix="bt709" if stream.get("color_space") == "bt709" else "bt601",
        **_colour_tags(stream),
    )


def _colour_tags(stream):
    """The colour fields of MediaInfo from an ffprobe stream ("" for unknown)."""
    tags = {}
    for key in ("color_primaries", "color_transfer", "color_space", "color_range", "pix_fmt"):
        value = stream.get(key, "")
        tags[key] = "" if value in ("unknown", "unspecified", "reserved") else value
    return tags
