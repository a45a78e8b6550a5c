"""`vanelia run` end to end on short clips derived from a clip with ground
truth (real Blender headless, real renders at low samples).

    /usr/bin/python3 tests/blender/run_render_cli.py --vanelia build/bin/vanelia \
        --video V --gt gt.json --product P.glb

Checks: output frame count, rate and duration equal the source's; audio
copied; pixels away from the product and its shadow match the source at
PSNR >= 40 dB after the H.264 round trip, the product is there; a portrait
clip with rotation metadata and a VFR clip come out right; bad input (not a
GLB, an empty GLB, a track of another size, a missing video, an existing
output) exits 2 and writes nothing.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scene_testing as st  # noqa: E402

sys.path.insert(0, st.ADDON)
from vanelia_blender.core import media  # noqa: E402
from vanelia_blender.encode import proxy  # noqa: E402
from vanelia_blender.render import render_plan  # noqa: E402

FRAMES = 8
LOCATION = None  # set from the ground truth's frame 0


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def stream_info(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)["streams"]


def run(cli, video, product, out, track, *extra):
    cmd = [cli, "run", video, product, "-o", out, "--track", track, "--samples", "2"]
    cmd += ["--location", *map(str, LOCATION), *extra]
    result = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(result.stderr[-3000:])
    return result.returncode


def away_mask(c2w, K, width, height):
    """Pixels away from anything the product (within 0.6 m of its floor
    point, up to 1.2 m tall) or its shadow can touch."""
    lo = [LOCATION[0] - 0.6, LOCATION[1] - 0.6, 0.0]
    hi = [LOCATION[0] + 0.6, LOCATION[1] + 0.6, 1.2]
    pts = render_plan.region_points(lo, hi, [0.3, -0.5, -0.8])
    region = render_plan.render_region(K, c2w, width, height, pts, pixel_margin=8)
    mask = np.ones((height, width), bool)
    if region is not None:
        x0, y0, x1, y1 = region
        mask[y0 : y1 + 1, x0 : x1 + 1] = False
    return mask, region


def check_output(out, source, cams, label):
    """Frame count, rate, duration, audio and plate fidelity of `out`."""
    src = media.probe_video(source)
    res = media.probe_video(out)
    st.check(
        (res.width, res.height) == (src.width, src.height) and res.rotation_deg == 0,
        f"{label}: size {res.width}x{res.height} upright",
    )
    expected = len(cams)
    st.check(res.frame_count == expected, f"{label}: {res.frame_count} frames == {expected}")
    st.check(
        (res.fps_num, res.fps_den) == (src.fps_num, src.fps_den),
        f"{label}: rate {res.fps_num}/{res.fps_den} == {src.fps_num}/{src.fps_den}",
    )
    video = [s for s in stream_info(out) if s["codec_type"] == "video"][0]
    duration = float(video["duration"])
    want = expected * src.fps_den / src.fps_num
    st.check(abs(duration - want) < 1e-3, f"{label}: duration {duration:.4f} s == {want:.4f}")
    st.check(
        res.has_audio == src.has_audio,
        f"{label}: audio {'present' if res.has_audio else 'absent'} like the source",
    )
    got = st.decode_frames(out)
    plates = st.decode_frames(source)
    for k, (frame, c2w, K, source_index) in enumerate(cams):
        mask, region = away_mask(c2w, K, src.width, src.height)
        value = st.psnr(got[k], plates[source_index], mask)
        st.check(value >= 40.0, f"{label}: frame {k}: plate PSNR {value:.1f} dB >= 40")
        x0, y0, x1, y1 = region
        diff = np.abs(got[k].astype(int) - plates[source_index])[y0 : y1 + 1, x0 : x1 + 1]
        st.check(diff.max() > 60, f"{label}: frame {k}: the product is rendered")
    return got


def portrait_track(track, turn):
    """The track of the same clip shown upright after the display rotation
    np.rot90(frame, k=turn) (turn = 1: counter-clockwise, -1: clockwise):
    K transposed, the camera rolled about its optical axis."""
    w, h = track["width"], track["height"]
    # Blender camera axes: p_new = M p_old; c2w_new rotation = R M^T.
    m = np.array([[0, -turn, 0], [turn, 0, 0], [0, 0, 1]], float)
    out = json.loads(json.dumps(track))
    out["width"], out["height"] = h, w
    for f in out["frames"]:
        c2w = np.array(f["c2w_blender"])
        c2w[:3, :3] = c2w[:3, :3] @ m.T
        f["c2w_blender"] = c2w.tolist()
        fx, fy, cx, cy = f["K"][0][0], f["K"][1][1], f["K"][0][2], f["K"][1][2]
        if turn == 1:  # u' = v, v' = W - 1 - u
            f["K"] = [[fy, 0, cy], [0, fx, w - 1 - cx], [0, 0, 1]]
        else:  # u' = H - 1 - v, v' = u
            f["K"] = [[fy, 0, h - 1 - cy], [0, fx, cx], [0, 0, 1]]
    return out


def main():
    global LOCATION
    p = argparse.ArgumentParser()
    p.add_argument("--vanelia", required=True)
    p.add_argument("--video", required=True)
    p.add_argument("--gt", required=True)
    p.add_argument("--product", required=True)
    p.add_argument("--keep", default=None)
    args = p.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="vanelia-cli-test-")
    if args.keep:
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    gt = json.load(open(args.gt))
    f0 = gt["frames"][0]
    LOCATION = render_plan.default_product_location(
        f0["K_opencv"], f0["c2w_blender"], gt["width"], gt["height"]
    )
    cli, product = args.vanelia, args.product

    # A short clip with audio (the source's, else a tone).
    short = os.path.join(work, "short.mp4")
    src_audio = media.probe_video(args.video).has_audio
    seconds = f"{FRAMES / gt['fps']:.6f}"
    audio = ["-f", "lavfi", "-t", seconds, "-i", "sine=frequency=440:sample_rate=48000"]
    audio = [] if src_audio else audio
    ffmpeg(
        "-i",
        args.video,
        *audio,
        "-map",
        "0:v",
        "-map",
        "0:a" if src_audio else "1:a",
        "-c:v",
        "libx264",
        "-crf",
        "16",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-t",
        seconds,
        short,
    )
    track = st.gt_to_track(gt, frames=set(range(FRAMES)))
    track_path = st.write_json(track, os.path.join(work, "track.json"))
    cams = [(k, f["c2w_blender"], f["K"], k) for k, f in enumerate(track["frames"])]
    out = os.path.join(work, "final.mp4")
    st.check(run(cli, short, product, out, track_path) == 0, "landscape: vanelia run exits 0")
    landscape = check_output(out, short, cams, "landscape")

    # Portrait: the same frames with a 90 degree rotation in the metadata.
    portrait = os.path.join(work, "portrait.mp4")
    ffmpeg("-i", short, "-c", "copy", "-metadata:s:v:0", "rotate=90", portrait)
    upright = st.decode_frames(portrait)[0]
    stored = st.decode_frames(short)[0]
    turns = [k for k in (1, -1) if np.array_equal(upright, np.rot90(stored, k=k))]
    st.check(len(turns) == 1, f"portrait: the source decodes upright (np.rot90 k={turns})")
    ptrack = portrait_track(track, turns[0])
    ptrack_path = st.write_json(ptrack, os.path.join(work, "portrait_track.json"))
    pout = os.path.join(work, "portrait_final.mp4")
    st.check(run(cli, portrait, product, pout, ptrack_path) == 0, "portrait: exits 0")
    pcams = [(k, f["c2w_blender"], f["K"], k) for k, f in enumerate(ptrack["frames"])]
    pgot = check_output(pout, portrait, pcams, "portrait")
    back = np.rot90(pgot[0], k=-turns[0])
    value = st.psnr(back, landscape[0])
    st.check(value >= 30.0, f"portrait: rotated back matches landscape, PSNR {value:.1f} dB")

    # VFR: frames 4.. of the short clip at 1.5x the spacing.
    vfr = os.path.join(work, "vfr.mp4")
    ffmpeg(
        "-i",
        short,
        "-an",
        "-vf",
        "setpts='(N+if(gte(N,4),(N-4)*0.5,0))/(24*TB)'",
        "-fps_mode",
        "passthrough",
        "-c:v",
        "libx264",
        "-crf",
        "10",
        "-pix_fmt",
        "yuv420p",
        "-video_track_timescale",
        "48000",
        vfr,
    )
    vinfo = media.probe_video(vfr)
    st.check(vinfo.vfr, f"vfr: the test clip is VFR ({vinfo.fps_num}/{vinfo.fps_den} avg)")
    mapping = proxy.cfr_mapping(vinfo.pts, vinfo.fps_num / vinfo.fps_den)
    vtrack = st.gt_to_track(gt, frames=set(range(FRAMES)))
    vtrack["frames"] = [dict(vtrack["frames"][j], index=k) for k, j in enumerate(mapping)]
    vtrack["fps"] = dict(num=vinfo.fps_num, den=vinfo.fps_den)
    vtrack["fps_float"] = vinfo.fps_num / vinfo.fps_den
    vtrack_path = st.write_json(vtrack, os.path.join(work, "vfr_track.json"))
    vout = os.path.join(work, "vfr_final.mp4")
    st.check(run(cli, vfr, product, vout, vtrack_path) == 0, "vfr: exits 0")
    vcams = [
        (k, f["c2w_blender"], f["K"], j) for (k, f), j in zip(enumerate(vtrack["frames"]), mapping)
    ]
    check_output_vfr(vout, vfr, vinfo, vcams)

    check_bad_input(cli, short, product, track, work)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("run_render_cli: all checks passed")


def check_output_vfr(out, source, vinfo, cams):
    res = media.probe_video(out)
    st.check(res.frame_count == len(cams), f"vfr: {res.frame_count} frames == {len(cams)}")
    st.check(not res.vfr, "vfr: output has a constant rate")
    st.check(
        (res.fps_num, res.fps_den) == (vinfo.fps_num, vinfo.fps_den),
        f"vfr: rate {res.fps_num}/{res.fps_den} == average {vinfo.fps_num}/{vinfo.fps_den}",
    )
    got = st.decode_frames(out)
    plates = st.decode_frames(source)
    for k, c2w, K, j in cams:
        mask, _ = away_mask(c2w, K, res.width, res.height)
        value = st.psnr(got[k], plates[j], mask)
        st.check(value >= 40.0, f"vfr: frame {k} shows source frame {j}, PSNR {value:.1f} dB")


def check_bad_input(cli, video, product, track, work):
    bad = os.path.join(work, "bad")
    os.makedirs(bad, exist_ok=True)
    out = os.path.join(bad, "out.mp4")
    track_path = st.write_json(track, os.path.join(bad, "track.json"))
    text_glb = os.path.join(bad, "text.glb")
    with open(text_glb, "w") as f:
        f.write("this is not a GLB\n")
    empty = st.empty_glb(os.path.join(bad, "empty.glb"))
    small = dict(track, width=320, height=180)
    small_path = st.write_json(small, os.path.join(bad, "small_track.json"))
    cases = [
        ("not a GLB", video, text_glb, track_path),
        ("empty GLB", video, empty, track_path),
        ("track of another size", video, product, small_path),
        ("missing video", os.path.join(bad, "missing.mp4"), product, track_path),
    ]
    for label, v, prod, t in cases:
        before = sorted(os.listdir(bad))
        code = run(cli, v, prod, out, t)
        st.check(code == 2, f"bad input ({label}): exit {code} == 2")
        st.check(sorted(os.listdir(bad)) == before, f"bad input ({label}): nothing written")
    with open(out, "w") as f:
        f.write("the user's file")
    code = run(cli, video, product, out, track_path)
    st.check(code == 2, f"existing output: exit {code} == 2")
    st.check(open(out).read() == "the user's file", "existing output: left untouched")


if __name__ == "__main__":
    main()
