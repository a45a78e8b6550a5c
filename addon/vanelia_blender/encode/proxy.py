"""Upright, constant-rate proxies for clips Blender cannot show as they are.

bpy-free. Blender 3.4's MovieClip ignores a phone's rotation metadata and
plays a variable-frame-rate clip at a nominal rate, so the plate would not
match the track. Such a clip gets a proxy: every output frame k shows the
source frame whose time is nearest to k / fps (ties go to the earlier one),
the rule of the native VideoReader, upright, encoded losslessly (H.264
qp 0, the source's 4:2:0 samples without an RGB round trip) at the constant
rate fps.

`proxy_reason(info)` says why a clip needs one (None when it does not),
`cfr_mapping(pts, fps)` lists the source frame of each output frame, and
`make_proxy(info, path)` writes it with the native MakePlateProxy (FFmpeg's
libraries: `_vanelia.make_plate_proxy`, or in worker mode the CLI's `vanelia
proxy`), else, where neither is here, with two ffmpeg processes
(`make_proxy_ffmpeg`: decode every frame in presentation order, re-encode
with the mapping). Both give the same pixels, frames and rate.
"""

import os
import subprocess
from fractions import Fraction

from ..core.media import MediaError, find_tool, native_with


def proxy_reason(info):
    reasons = []
    if info.rotation_deg:
        reasons.append(f"rotation metadata {info.rotation_deg} deg")
    if info.vfr:
        reasons.append("variable frame rate")
    return ", ".join(reasons) or None


def cfr_mapping(pts, fps):
    """Source index shown by each output frame at constant rate `fps`."""
    fps = Fraction(fps)
    count = len(pts)  # as many as the source (the native reader's rule)
    mapping = []
    j = 0
    for k in range(count):
        t = k / fps
        while j + 1 < len(pts) and abs(pts[j + 1] - t) < abs(pts[j] - t):
            j += 1
        mapping.append(j)
    return mapping


def proxy_path(info, folder):
    stem = os.path.splitext(os.path.basename(info.path))[0]
    stat = os.stat(info.path)
    key = f"{stat.st_size:x}-{int(stat.st_mtime):x}"
    return os.path.join(folder, f"{stem}.vanelia-proxy-{key}.mkv")


def make_proxy(info, path):
    """Writes the proxy of `info` to `path` (via a temporary file): natively
    where the module or the worker CLI is here, else with ffmpeg."""
    module = native_with("make_plate_proxy")
    if module is None:
        return make_proxy_ffmpeg(info, path)
    try:
        module.make_plate_proxy(info.path, path, fps=(info.fps_num, info.fps_den))
    except module.Cancelled:
        raise
    except module.Error as e:
        raise MediaError(f"proxy '{path}': {e}") from None
    return path


def make_proxy_ffmpeg(info, path):
    """make_proxy with two ffmpeg processes (no native module nor CLI)."""
    ffmpeg = find_tool("ffmpeg")
    mapping = cfr_mapping(info.pts, Fraction(info.fps_num, info.fps_den))
    w, h = info.width, info.height
    # Planar 4:2:0 all the way (the source's own samples, turned upright by
    # FFmpeg's autorotation, which transposes 4:2:0 exactly): no RGB round trip.
    pix_fmt = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"
    frame_bytes = w * h * 3 // 2 if pix_fmt == "yuv420p" else w * h * 3
    decode = [ffmpeg, "-v", "error", "-i", info.path, "-map", "0:v:0"]
    decode += ["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]
    tmp = path + ".tmp.mkv"
    encode = [ffmpeg, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", pix_fmt]
    encode += ["-s", f"{w}x{h}", "-framerate", f"{info.fps_num}/{info.fps_den}"]
    encode += ["-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-qp", "0"]
    tags = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"]
    encode += ["-pix_fmt", pix_fmt, *(tags if info.color_matrix == "bt709" else []), tmp]
    dec = subprocess.Popen(decode, stdout=subprocess.PIPE)
    enc = subprocess.Popen(encode, stdin=subprocess.PIPE)
    try:
        frame, source_index = None, -1
        for want in mapping:
            while source_index < want:
                data = dec.stdout.read(frame_bytes)
                if len(data) < frame_bytes:
                    raise MediaError(
                        f"video '{info.path}': decoded {source_index + 1} frames,"
                        f" expected {info.frame_count}"
                    )
                frame, source_index = data, source_index + 1
            enc.stdin.write(frame)
    finally:
        enc.stdin.close()
        dec.stdout.close()
        dec.wait()
        enc.wait()
    if enc.returncode != 0:
        raise MediaError(f"proxy '{tmp}': ffmpeg failed ({enc.returncode})")
    os.replace(tmp, path)
    return path
