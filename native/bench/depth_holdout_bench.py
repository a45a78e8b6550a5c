"""Depth holdout set-up benchmark (issue 20: under 1 s for a 300-frame track; real Blender).

    blender -b --factory-startup --python native/bench/depth_holdout_bench.py -- \
        [--frames 300] [--peer-frames 30] [--size 512 288] [--repetitions 5]

A synthetic track (an orbit, 640x360, 28 mm) and its depth sidecar at a network's resolution
(--size, '<f4' depth: the floor plus a box sliding across the view, '|u1' confidence) are
written to a temporary folder; then, in a fresh scene each time:
1. setup: scene/depth_holdout.setup (sidecar opened and checked against the track, the
   compositor nodes, the frame handler, the first frame's image), for --frames and for
   --peer-frames maps (the peer: set-up should not grow with the clip's length);
2. frame: the per-frame image update (frame_set to the next frame: resampling onto the render's
   640x360 pixels and the image write), median over 20 frames.
Checked before reporting: the depth image after frame_set(k) holds frame k's depth (x the
track's scale 2) at the image centre, and the holdout node feeds on the Render Layers' Depth.
One JSON line on stdout: min/median/max seconds per measurement and the ratio setup(frames) /
setup(peer).
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
from vanelia_blender.scene import depth_holdout  # noqa: E402

WIDTH, HEIGHT, FOCAL_PX = 640, 360, 28.0 / 36.0 * 640
SCALE = 2.0  # blender_from_track's scale: the sidecar is in raw tracker units


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--peer-frames", type=int, default=30)
    p.add_argument("--size", type=int, nargs=2, default=(512, 288), metavar=("W", "H"))
    p.add_argument("--repetitions", type=int, default=5)
    return p.parse_args(sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else [])


def track_doc(n, size):
    frames = []
    for i in range(n):
        a = math.radians(-120.0 + 60.0 * i / max(1, n - 1))
        eye = np.array([4 * math.cos(a), 4 * math.sin(a), 1.6])
        fwd = -eye / np.linalg.norm(eye)
        right = np.cross(fwd, [0, 0, 1.0])
        right /= np.linalg.norm(right)
        c2w = np.eye(4)
        c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, np.cross(right, fwd), -fwd, eye
        k = [[FOCAL_PX, 0.0, WIDTH / 2 - 0.5], [0.0, FOCAL_PX, HEIGHT / 2 - 0.5], [0, 0, 1.0]]
        frames.append(
            dict(index=i, timestamp_s=i / 24, c2w_blender=c2w.tolist(), focal_px=FOCAL_PX, K=k)
        )
    m = np.diag([SCALE, SCALE, SCALE, 1.0]).tolist()
    w, h = size
    return dict(
        width=WIDTH,
        height=HEIGHT,
        blender_from_track=m,
        frames=frames,
        depth=dict(path="depth", format="npy", width=w, height=h, count=n),
    )


def write_sidecar(folder, n, size):
    """Floor depth growing towards the top of the map, a near box sliding across."""
    w, h = size
    os.makedirs(folder, exist_ok=True)
    rows = np.linspace(4.0, 1.5, h, dtype=np.float32)[:, None]
    depth = np.empty((n, h, w), np.float32)
    for i in range(n):
        depth[i] = rows
        x0 = int((w - w // 5) * i / max(1, n - 1))
        depth[i, h // 3 :, x0 : x0 + w // 5] = 1.0 + 0.001 * i
    np.save(os.path.join(folder, "depth.npy"), depth)
    np.save(os.path.join(folder, "confidence.npy"), np.full((n, h, w), 230, np.uint8))
    f = FOCAL_PX * w / WIDTH
    k = np.tile([f, f, w / 2 - 0.5, h / 2 - 0.5], (n, 1)).astype("<f8")
    np.save(os.path.join(folder, "intrinsics.npy"), k)
    np.save(os.path.join(folder, "frame_index.npy"), np.arange(n, dtype="<i8"))
    return depth


def fresh_scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = WIDTH, HEIGHT
    scene.frame_set(1)
    return scene


def time_setup(doc, folder, repetitions):
    times = []
    for _ in range(repetitions + 1):  # the first is the warm-up
        scene = fresh_scene()
        t0 = time.perf_counter()
        depth_holdout.setup(scene, doc, folder)
        times.append(time.perf_counter() - t0)
    return times[1:], scene


def stats(values):
    return {"min": min(values), "median": float(np.median(values)), "max": max(values)}


def main():
    args = parse()
    tmp = tempfile.mkdtemp(prefix="vanelia-depth-bench-")
    results = {}
    for key, n in (("setup", args.frames), ("setup_peer", args.peer_frames)):
        folder = os.path.join(tmp, f"depth{n}")
        depth = write_sidecar(folder, n, args.size)
        doc = track_doc(n, args.size)
        times, scene = time_setup(doc, folder, args.repetitions)
        results[key] = dict(stats(times), frames=n)
        if key == "setup":
            frame_times = []
            for k in range(1, 21):
                t0 = time.perf_counter()
                scene.frame_set(k + 1)  # Blender frame = index + 1
                frame_times.append(time.perf_counter() - t0)
                image = bpy.data.images[depth_holdout.IMAGE_NAME]
                px = np.empty(WIDTH * HEIGHT * 4, np.float32)
                image.pixels.foreach_get(px)
                got = px.reshape(HEIGHT, WIDTH, 4)[::-1][HEIGHT // 2, WIDTH // 2, 0]
                want = SCALE * depth[k, args.size[1] // 2, args.size[0] // 2]
                if abs(got - want) > 1e-4 * want:
                    raise SystemExit(f"frame {k}: depth image {got} at the centre; want {want}")
            results["frame"] = stats(frame_times)
            tree = scene.node_tree
            z_in = tree.nodes["Vanelia Depth Behind"].inputs[0].links[0].from_socket.name
            if z_in != "Depth" or tree.nodes.get(depth_holdout.HOLDOUT_NODE) is None:
                raise SystemExit(f"holdout nodes not wired (Z from {z_in!r})")
    results["ratio_setup_vs_peer"] = results["setup"]["median"] / results["setup_peer"]["median"]
    results["size"] = list(args.size)
    print(json.dumps({"bench": "depth_holdout", **results}), flush=True)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.exit(1)
