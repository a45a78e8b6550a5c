"""Blender scene/render benchmark (real Blender, real Cycles renders).

    blender -b --factory-startup --python native/bench/scene_bench.py -- \
        [--samples 4,8,16,32] [--threads 2] [--frames 0,24] [--build-frames 10000]

Measures, each checked before it is reported (one JSON line on stdout):
1. build: seconds to build the whole scene for a synthetic N-frame track
   (camera keys in bulk); checked: N keys, pose of the last frame.
2. quality: for each sample count, two renders of the sample's frames with
   seeds 0 and 1, composited over the plate; RMS difference (0-255) over the
   product and its shadow (opaque in either render, or mean alpha > 0.02). The default
   quality is the lowest count with RMS <= 2.
3. speed: s/frame of the batch's border render (persistent data, second and
   later frames) at each sample count, with the given thread count: wall
   time, and the process's CPU time (all threads; on a busy machine the
   wall time / threads lower bound is cpu_s_per_frame / threads).
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time

import bpy
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "addon"))
sys.path.insert(0, os.path.join(REPO, "tests", "blender"))
import scene_testing as st  # noqa: E402
from vanelia_blender.batch import _region  # noqa: E402
from vanelia_blender.core import media, render_plan, track_file  # noqa: E402
from vanelia_blender.scene import build, render  # noqa: E402


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--samples", default="2,4,8,16,32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--frames", default="0,24")
    p.add_argument("--build-frames", type=int, default=10000)
    p.add_argument("--sample-dir", default=st.SAMPLE)
    return p.parse_args(sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else [])


def synthetic_track(n, width=640, height=360):
    frames = []
    for i in range(n):
        a = 2 * math.pi * i / n
        eye = np.array([4 * math.cos(a), 4 * math.sin(a), 1.6])
        fwd = -eye / np.linalg.norm(eye)
        right = np.cross(fwd, [0, 0, 1.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, fwd)
        c2w = np.eye(4)
        c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, up, -fwd, eye
        frames.append(
            dict(
                index=i,
                time_s=i / 24,
                c2w_blender=c2w.tolist(),
                focal_px=500.0,
                K_opencv=[[500.0, 0, 319.5], [0, 500.0, 179.5], [0, 0, 1]],
            )
        )
    gt = dict(frames=frames, num_frames=n, width=width, height=height, fps=24, video="x")
    return st.gt_to_track(gt)


def bench_build(args, work):
    n = args.build_frames
    path = st.write_json(synthetic_track(n), os.path.join(work, "long.json"))
    t0 = time.monotonic()
    track = track_file.load(path)
    t_read = time.monotonic() - t0
    info = media.probe_video(os.path.join(args.sample_dir, "video.mp4"))
    info.frame_count = n
    bpy.ops.wm.read_factory_settings(use_empty=True)
    t0 = time.monotonic()
    built = build.build_scene(
        bpy.context.scene,
        build.BuildOptions(
            plate_path=info.path,
            info=info,
            track=track,
            product_path=os.path.join(args.sample_dir, "product.glb"),
        ),
    )
    t_build = time.monotonic() - t0
    fc = built.camera.animation_data.action.fcurves[0]
    assert len(fc.keyframe_points) == n, len(fc.keyframe_points)
    bpy.context.scene.frame_set(n)
    err = np.abs(np.array(built.camera.matrix_world) - track["frames"][-1]["c2w_blender"]).max()
    assert err < 1e-5, err
    return dict(frames=n, read_s=round(t_read, 3), build_s=round(t_build, 3))


def bench_render(args, work):
    sample = args.sample_dir
    gt = json.load(open(os.path.join(sample, "gt.json")))
    track = track_file.load(st.write_json(st.gt_to_track(gt), os.path.join(work, "t.json")))
    video = os.path.join(sample, "video.mp4")
    info = media.probe_video(video)
    plates = st.decode_frames(video)
    frames = [int(f) for f in args.frames.split(",")]
    results = []
    for samples in [int(s) for s in args.samples.split(",")]:
        renders = {}
        times, cpu = [], []
        for seed in (0, 1):
            bpy.ops.wm.read_factory_settings(use_empty=True)
            scene = bpy.context.scene
            built = build.build_scene(
                scene,
                build.BuildOptions(
                    plate_path=video,
                    info=info,
                    track=track,
                    over_plate=False,
                    samples=samples,
                    seed=seed,
                    threads=args.threads,
                    product_path=os.path.join(sample, "product.glb"),
                ),
            )
            points = build.region_points(built)
            for k, index in enumerate(frames):
                scene.frame_set(index + 1)
                region = _region(scene, built.camera, info.width, info.height, points)
                render.set_border(
                    scene, render_plan.border_of_region(region, info.width, info.height)
                )
                scene.render.filepath = os.path.join(work, f"r{samples}_{seed}_{index}.png")
                t0, c0 = time.monotonic(), time.process_time()
                bpy.ops.render.render(write_still=True)
                if k > 0 or len(frames) == 1:
                    times.append(time.monotonic() - t0)
                    cpu.append(time.process_time() - c0)
                renders[seed, index] = st.read_png(scene.render.filepath, rgba=True)
        rms = []
        for index in frames:
            comp = []
            for seed in (0, 1):
                rgba = renders[seed, index].astype(float)
                a = rgba[..., 3:] / 255.0
                comp.append(rgba[..., :3] * a + plates[index] * (1 - a))
            # Product and shadow: opaque in either, or darkened by > 2 % on
            # average (faint specks of a few samples are noise, not shadow).
            alpha = [renders[s, index][..., 3] / 255.0 for s in (0, 1)]
            mask = (alpha[0] > 0.99) | (alpha[1] > 0.99) | ((alpha[0] + alpha[1]) / 2 > 0.02)
            assert mask.sum() > 100, mask.sum()
            rms.append(float(np.sqrt(((comp[0] - comp[1]) ** 2)[mask].mean())))
        results.append(
            dict(
                samples=samples,
                rms_255=round(max(rms), 3),
                s_per_frame=round(float(np.median(times)), 3),
                cpu_s_per_frame=round(float(np.median(cpu)), 3),
                region_px=int(mask.sum()),
            )
        )
        print(f"scene_bench: {results[-1]}", file=sys.stderr, flush=True)
    ok = [r["samples"] for r in results if r["rms_255"] <= 2.0]
    return dict(
        threads=args.threads, frames=frames, sweep=results, default_samples=min(ok) if ok else None
    )


def main():
    args = parse()
    work = tempfile.mkdtemp(prefix="vanelia-scene-bench-")
    out = dict(bench="scene", build=bench_build(args, work))
    print(f"scene_bench: {out['build']}", file=sys.stderr, flush=True)
    out["render"] = bench_render(args, work)
    out["load_avg"] = os.getloadavg()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    try:
        main()
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.exit(1)
