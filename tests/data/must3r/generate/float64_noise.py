#!/usr/bin/python3
"""Upstream MUSt3R's own float32 rounding on a video fixture folder: the
folder's scenario (make_video_scenarios.py's demo loop, upstream unmodified)
run again with the encoder and decoder blocks in float64 and the head in
float32 (upstream casts the decoder's output for it), as the shared
fixtures' README measured its gates ("Tolerances": gates about 5x this
change). Prints the largest change of focal_unclipped, focal and
pts3d_local (scaled per point) against the committed float32 files; the
folder's manifest `gates` come from it (make_video_scenarios.py GATES).

Usage (from the repository root, the same --upstream as the generator):
  /usr/bin/python3 tests/data/must3r/generate/float64_noise.py --upstream DIR video_multi_ar
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np

import make_video_scenarios as g


def float64_model(up, p):
    torch = up.torch
    encoder_args = None
    if p["transpose"]:
        ckpt_args = torch.load(g.CHECKPOINT, map_location="cpu")["args"]
        encoder_args = ckpt_args.encoder.replace("ManyAR_PatchEmbed", "PatchEmbedDust3R")
    enc, dec = up.load_model(g.CHECKPOINT, encoder=encoder_args, device="cpu", verbose=False)
    enc, dec = enc.double(), dec.double()
    for name, module in dec.named_children():
        if "head" in name:
            module.float()
    forward = enc.forward
    enc.forward = lambda img, *a, **k: forward(img.double(), *a, **k)
    return enc, dec


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True, help="checkout with must3r/ and roma/")
    ap.add_argument("folder", help="a scenario of make_video_scenarios.py")
    args = ap.parse_args()
    up = g.import_upstream(os.path.abspath(args.upstream))
    p = g.SCENARIOS[args.folder]
    frames = g.scenario_frames(p)
    with tempfile.TemporaryDirectory() as tmp:
        filelist = g.write_pngs(frames, tmp)
        model = float64_model(up, p)
        scene = g.run_demo_loop(up, model, g.IMAGE_SIZE_DICT, filelist, p, g.Recorder(up, p))
    from dust3r.post_process import estimate_focal_knowing_depth

    folder = os.path.join(g.DATA, args.folder)
    ref_local = np.load(os.path.join(folder, "pts3d_local.npy"))
    unclipped, focal, local = [], [], []
    for i in range(len(frames)):
        pts = scene.x_out[i]["pts3d_local"].double()
        h, w = pts.shape[0:2]
        pp = up.torch.tensor((w / 2, h / 2))
        f = estimate_focal_knowing_depth(pts[None], pp, focal_mode="weiszfeld", min_focal=-np.inf)
        unclipped.append(float(f[0]))
        focal.append(float(scene.x_out[i]["focal"]))
        local.append(pts.numpy().reshape(-1, 3))
    local = np.concatenate(local).reshape(ref_local.shape)
    per_point = np.linalg.norm(local - ref_local, axis=-1) / (
        1 + np.linalg.norm(ref_local, axis=-1)
    )
    ref_unclipped = np.load(os.path.join(folder, "focal_unclipped.npy")).astype(np.float64)
    ref_focal = np.load(os.path.join(folder, "focal.npy")).astype(np.float64)
    print(json.dumps({
        "folder": args.folder,
        "focal_unclipped_abs": float(np.abs(np.array(unclipped) - ref_unclipped).max()),
        "focal_abs": float(np.abs(np.array(focal) - ref_focal).max()),
        "pts3d_local_scaled_per_point": float(per_point.max()),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
