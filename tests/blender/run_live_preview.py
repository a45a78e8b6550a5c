"""The Preview button on a built scene (operators_preview.py, render/live_preview.py), in
the real Blender with the add-on from the source tree: the sample's scene built by the Build
operator from its ground-truth track, then `vanelia.preview` renders it in this Blender.

    blender -b --factory-startup --python tests/blender/run_live_preview.py -- --out DIR

Checks: a half-size H.264 MP4 with one frame per scene frame and the source's rate; the
product is in it where the full-size render puts it (the frames differ from the plate near
the product and match it away from it); the scene's render settings and objects are
exactly as before; an existing preview is refused without Overwrite and left untouched."""

import argparse
import json
import os
import shutil
import subprocess
import sys

import bpy
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scene_testing as st  # noqa: E402

sys.path.insert(0, st.ADDON)
import vanelia_blender  # noqa: E402
from vanelia_blender import operators_preview  # noqa: E402
from vanelia_blender.render import live_preview  # noqa: E402


def parse():
    argv = sys.argv[sys.argv.index("--") + 1 :]
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    return p.parse_args(argv)


def main():
    args = parse()
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    video = os.path.join(args.out, "clip.mp4")  # the preview goes beside the video
    shutil.copy(os.path.join(st.SAMPLE, "video.mp4"), video)
    gt = json.load(open(os.path.join(st.SAMPLE, "gt.json")))
    track = st.write_json(st.gt_to_track(gt), os.path.join(args.out, "track.json"))
    vanelia_blender.register()
    s = bpy.context.scene.vanelia
    s.video_path, s.track_path = video, track
    s.product_path = os.path.join(st.SAMPLE, "product.glb")
    st.check(bpy.ops.vanelia.build_scene() == {"FINISHED"}, "scene built")
    scene = bpy.context.scene
    before = live_preview.save_settings(scene)
    objects = sorted(o.name for o in bpy.data.objects)
    st.check(bpy.ops.vanelia.preview() == {"FINISHED"}, "preview rendered")
    out = operators_preview.LAST["output"]
    st.check(out == os.path.join(args.out, "clip_vanelia_preview.mp4"), f"written beside: {out}")
    st.check(live_preview.save_settings(scene) == before, "render settings put back")
    st.check(sorted(o.name for o in bpy.data.objects) == objects, "no object made or removed")
    check_video(out, video, gt)
    stamp = os.stat(out).st_mtime_ns
    try:
        bpy.ops.vanelia.preview()
        refused = ""
    except RuntimeError as e:  # the operator's ERROR report
        refused = str(e)
    st.check("exists; tick Overwrite" in refused, f"existing preview refused: {refused}")
    st.check(os.stat(out).st_mtime_ns == stamp, "existing preview untouched")


def check_video(out, video, gt):
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries"]
        + ["stream=codec_name,width,height,nb_read_frames,r_frame_rate", "-of", "json", out],
        capture_output=True,
        text=True,
        check=True,
    )
    stream = json.loads(probe.stdout)["streams"][0]
    w, h = gt["width"] // 4 * 2, gt["height"] // 4 * 2
    st.check(
        (stream["codec_name"], stream["width"], stream["height"]) == ("h264", w, h),
        f"half-size H.264: {stream['width']}x{stream['height']}",
    )
    st.check(
        int(stream["nb_read_frames"]) == gt["num_frames"], f"{stream['nb_read_frames']} frames"
    )
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", video, "-vf", f"scale={w}:{h}"]
        + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    plate = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3).astype(float)
    frames = st.decode_frames(out).astype(float)
    for k in (0, gt["num_frames"] - 1):
        f = gt["frames"][k]
        K = np.array(f["K_opencv"]) * 0.5
        K[2, 2] = 1.0
        cam = np.array(f["w2c_opencv"]) @ np.array([0.0, 0.0, 0.15, 1.0])
        u, v = (K @ cam[:3])[:2] / cam[2]  # the product's middle (0.3 m bottle at the origin)
        diff = np.abs(frames[k] - plate[k]).max(-1)
        yy, xx = np.mgrid[:h, :w]
        near = np.hypot(xx - u, yy - v) < 12
        far = np.hypot(xx - u, yy - v) > 60
        st.check(diff[near].max() > 60, f"frame {k}: the product at ({u:.0f}, {v:.0f})")
        # Away from the product: the plate of the same frame, up to the half-size
        # H.264's loss on this busy texture (~5/255), well below a neighbour's.
        other = plate[k + 1] if k == 0 else plate[k - 1]
        near_frame = np.abs(frames[k] - other).max(-1)[far].mean()
        st.check(
            diff[far].mean() < 8.0 and diff[far].mean() < 0.6 * near_frame,
            f"frame {k}: the plate elsewhere ({diff[far].mean():.2f}; "
            f"next frame's {near_frame:.2f})",
        )


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.exit(1)
    sys.exit(0)
