"""Turn rendered PNG frames into the test clip's video.mp4 (numpy + the ffmpeg CLI).

Imported by make_clip.py inside Blender's Python; needs only numpy and `ffmpeg` on PATH. What it
does depends on gt.json fields that make_clip.py wrote:

- `lens_distortion` dict: warp the (wider) pinhole renders with OpenCV's radial model into the
  output size, so `K_opencv` + (k1, k2) describe the distorted pixels exactly.
- `display_rotation_deg` = -90: store the upright frames rotated 90 deg counter-clockwise and tag
  the stream with a display matrix (ffprobe `rotation` -90) that rotates them back clockwise,
  as phones store portrait video.
- `vfr`: give every frame its `time_s` as presentation time (timescale 1/600 s).
- `audio`: mux a mono AAC chirp (200 to 800 Hz) as long as the clip.
"""

import glob
import json
import os
import subprocess

import numpy as np


def read_pngs(png_dir):
    """All PNGs of a folder, sorted, as [N, H, W, 3] uint8 (decoded by ffmpeg)."""
    paths = sorted(glob.glob(os.path.join(png_dir, "*.png")))
    if not paths:
        raise FileNotFoundError(f"no PNG frames in '{png_dir}'")
    frames = []
    for path in paths:
        probe = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=width,height",
                "-of",
                "csv=p=0",
                path,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        width, height = (int(v) for v in probe.stdout.strip().split(","))
        raw = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
            check=True,
            capture_output=True,
        ).stdout
        frames.append(np.frombuffer(raw, np.uint8).reshape(height, width, 3))
    return np.stack(frames)


def undistort_points(xd, yd, k1, k2, iterations=30):
    """Invert x_d = x_u (1 + k1 r_u^2 + k2 r_u^4) by fixed-point iteration (normalised coords)."""
    xu, yu = xd.copy(), yd.copy()
    for _ in range(iterations):
        r2 = xu * xu + yu * yu
        scale = 1.0 + k1 * r2 + k2 * r2 * r2
        xu, yu = xd / scale, yd / scale
    return xu, yu


def bilinear(image, xs, ys):
    """Sample image [H, W, 3] at float pixel coordinates (pixel centres at integers)."""
    h, w = image.shape[:2]
    x0 = np.clip(np.floor(xs).astype(np.int64), 0, w - 2)
    y0 = np.clip(np.floor(ys).astype(np.int64), 0, h - 2)
    fx = np.clip(xs - x0, 0.0, 1.0)[..., None]
    fy = np.clip(ys - y0, 0.0, 1.0)[..., None]
    img = image.astype(np.float32)
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bottom = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return np.clip(np.rint(top * (1 - fy) + bottom * fy), 0, 255).astype(np.uint8)


def distort(frames, gt):
    """Warp pinhole renders [N, Hr, Wr, 3] (same focal_px, centred) into distorted W x H."""
    dist = gt["lens_distortion"]
    width, height = gt["width"], gt["height"]
    f = gt["frames"][0]["focal_px"]
    cx, cy = gt["principal_point_px_opencv"]
    hr, wr = frames.shape[1:3]
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    xu, yu = undistort_points((u - cx) / f, (v - cy) / f, dist["k1"], dist["k2"])
    xs = f * xu + (wr / 2.0 - 0.5)
    ys = f * yu + (hr / 2.0 - 0.5)
    if xs.min() < 0 or ys.min() < 0 or xs.max() > wr - 1 or ys.max() > hr - 1:
        raise ValueError(
            f"distortion needs source pixels outside the {wr}x{hr} render "
            f"(x {xs.min():.1f}..{xs.max():.1f}, y {ys.min():.1f}..{ys.max():.1f}); "
            "render with a larger margin"
        )
    return np.stack([bilinear(frame, xs, ys) for frame in frames])


def encode(png_dir, out_path, gt, crf):
    frames = read_pngs(png_dir)
    if isinstance(gt.get("lens_distortion"), dict):
        frames = distort(frames, gt)
    if gt.get("display_rotation_deg", 0) == -90:
        frames = np.ascontiguousarray(np.rot90(frames, k=1, axes=(1, 2)))  # counter-clockwise
    n, h, w = frames.shape[:3]
    fps = gt["fps"]
    cmd = [
        "ffmpeg",
        "-v",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{w}x{h}",
        "-framerate",
        str(fps),
        "-i",
        "-",
    ]
    duration = n / fps
    if gt.get("audio"):
        chirp = f"aevalsrc=0.3*sin(2*PI*(200*t+{300.0 / (2 * duration)}*t*t)):s=48000:d={duration}"
        cmd += ["-f", "lavfi", "-i", chirp, "-c:a", "aac", "-b:a", "64k"]
    vf = "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"
    if gt.get("vfr"):
        # Integer ticks of 1/600 s (1/12 s = 50, 1/30 s = 20): float expressions get truncated.
        # The encoder time base must be 1/600 too, else ffmpeg rounds to 1/fps.
        vf += ",settb=1/600,setpts=floor(N/2)*50+mod(N\\,2)*20"
        cmd += ["-fps_mode", "passthrough", "-enc_time_base", "1/600"]
        cmd += ["-video_track_timescale", "600"]
    cmd += [
        "-vf",
        vf,
        "-c:v",
        "libx264",
        "-preset",
        "medium",
        "-crf",
        str(crf),
        "-pix_fmt",
        "yuv420p",
        "-colorspace",
        "bt709",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        "-color_range",
        "tv",
        "-movflags",
        "+faststart",
    ]
    if not gt.get("display_rotation_deg"):
        subprocess.run(cmd + [out_path], input=frames.tobytes(), check=True)
        return
    tmp_path = out_path + ".unrotated.mp4"
    subprocess.run(cmd + [tmp_path], input=frames.tobytes(), check=True)
    tag_rotation(tmp_path, out_path, gt["display_rotation_deg"])
    os.remove(tmp_path)


def tag_rotation(in_path, out_path, rotation_deg):
    """Remux with a display matrix whose ffprobe `rotation` is rotation_deg (counter-clockwise).

    ffmpeg 5.1 ignores the `rotate` tag when encoding but honours it when stream-copying, and
    writes the tag value as a counter-clockwise angle, so -90 is tagged as 270. The result is
    checked with ffprobe so another ffmpeg version cannot silently flip it.
    """
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            in_path,
            "-c",
            "copy",
            "-map",
            "0",
            "-metadata:s:v:0",
            f"rotate={rotation_deg % 360}",
            "-movflags",
            "+faststart",
            out_path,
        ],
        check=True,
    )
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_streams",
            "-of",
            "json",
            out_path,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    side = json.loads(probe.stdout)["streams"][0].get("side_data_list", [])
    got = [d.get("rotation") for d in side if d.get("side_data_type") == "Display Matrix"]
    if got != [rotation_deg]:
        raise RuntimeError(
            f"'{out_path}': display matrix rotation {got}; expected [{rotation_deg}] "
            "(check how this ffmpeg version maps the rotate tag)"
        )


def remove_pngs(png_dir):
    for path in glob.glob(os.path.join(png_dir, "*.png")):
        os.remove(path)
    os.rmdir(png_dir)
