#!/usr/bin/env python3
"""Upstream DUSt3R's pairs + global alignment, the peer of dust3r_bench.cpp.

Runs naver/dust3r's public code, imported at run time from --upstream (a
folder holding dust3r/ with croco/ filled, roma/ and einops/; nothing of it
is copied here), on the protocol dust3r_bench pins: random weights in
DUSt3R_ViTLarge_BaseDecoder_512_dpt's sizes (--size 224: the 224 linear
checkpoint's), N random frames, make_pairs(scene_graph='swin-W-noncyclic',
symmetrize=True), inference(pairs, model, device, batch_size=1) (the demo's
call), then global_aligner(mode=PointCloudOptimizer) and
compute_global_alignment(init='mst', niter, schedule, lr). float32, TF32 off.
With random weights upstream's init turns NaN, so the predictions are
replaced, inside the timed region, by the same synthetic pointmaps
dust3r_bench builds (camera k at x = 0.05 k over a wavy depth field). The
huggingface_hub import is replaced by a stand-in (import only).

  python3 native/bench/dust3r_upstream_bench.py --upstream DIR [--size 512]
      [--frames 30] [--window 3] [--iterations 300] [--device cuda]
      [--network 1|0]

--network 0 times the alignment alone (the pairs' output dict is built
without running the network). The alignment is timed as upstream's
init_minimum_spanning_tree then compute_global_alignment(init=None), which
is what compute_global_alignment(init='mst') runs, so that split_init_s /
split_adam_s / adam_step_ms can be reported. Prints one JSON line like
dust3r_bench's.
"""

import argparse
import json
import os
import statistics
import sys
import time
import types


def import_upstream(root):
    sys.path[:0] = [os.path.join(root, d) for d in ("dust3r", "roma", "einops")]
    hub = types.ModuleType("huggingface_hub")
    hub.__version__ = "0.22.0"

    class PyTorchModelHubMixin:
        def __init_subclass__(cls, **kwargs):
            super().__init_subclass__()

    hub.PyTorchModelHubMixin = PyTorchModelHubMixin
    sys.modules["huggingface_hub"] = hub
    import dust3r.cloud_opt as cloud_opt
    import dust3r.cloud_opt.init_im_poses as init_im_poses
    import dust3r.image_pairs as image_pairs
    import dust3r.inference as inference
    import dust3r.model as model

    return types.SimpleNamespace(
        cloud_opt=cloud_opt,
        init_im_poses=init_im_poses,
        image_pairs=image_pairs,
        inference=inference,
        model=model,
    )


def model_kwargs(size):
    inf = float("inf")
    kw = dict(
        pos_embed="RoPE100",
        patch_embed_cls="PatchEmbedDust3R",  # what load_model makes of ManyAR
        landscape_only=False,
        output_mode="pts3d",
        depth_mode=("exp", -inf, inf),
        conf_mode=("exp", 1, inf),
        enc_embed_dim=1024,
        enc_depth=24,
        enc_num_heads=16,
        dec_embed_dim=768,
        dec_depth=12,
        dec_num_heads=12,
    )
    if size == 224:
        kw.update(img_size=(224, 224), head_type="linear")
    else:
        kw.update(img_size=(512, 512), head_type="dpt")
    return kw


STEP = 0.05


def synthetic_view(torch, k, h, w, device):
    v = torch.arange(h, dtype=torch.float32, device=device).view(h, 1).expand(h, w)
    u = torch.arange(w, dtype=torch.float32, device=device).view(1, w).expand(h, w)
    f = 0.8 * w
    depth = 3.0 + 0.5 * torch.sin(0.03 * u + 0.2 * k) * torch.cos(0.04 * v)
    pts = torch.stack([depth * (u - w / 2.0) / f, depth * (v - h / 2.0) / f, depth], -1)
    conf = 1.5 + 4.0 * (0.5 + 0.5 * torch.sin(0.013 * u + 0.017 * v + 0.3 * k))
    return pts, conf


def replace_predictions(torch, output, n, h, w):
    """The synthetic pointmaps of dust3r_bench.cpp SyntheticPairs."""
    views = [synthetic_view(torch, k, h, w, "cpu") for k in range(n)]
    ei = [int(i) for i in output["view1"]["idx"]]
    ej = [int(j) for j in output["view2"]["idx"]]
    off = [torch.tensor([STEP * (j - i), 0.0, 0.0]) for i, j in zip(ei, ej)]
    output["pred1"]["pts3d"] = torch.stack([views[i][0] for i in ei])
    output["pred1"]["conf"] = torch.stack([views[i][1] for i in ei])
    output["pred2"]["pts3d_in_other_view"] = torch.stack([views[j][0] + o for j, o in zip(ej, off)])
    output["pred2"]["conf"] = torch.stack([views[j][1] for j in ej])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--height", type=int, default=0, help="0: the size's own")
    ap.add_argument("--width", type=int, default=0, help="0: the size's own")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--window", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--schedule", default="cosine")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: default)")
    ap.add_argument("--repetitions", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--network", type=int, default=1, help="0: alignment only")
    args = ap.parse_args()
    up = import_upstream(os.path.abspath(args.upstream))
    import numpy as np
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    h, w = (224, 224) if args.size == 224 else (288, 512)
    h, w = args.height or h, args.width or w
    n = args.frames
    net = None
    if args.network:
        net = up.model.AsymmetricCroCo3DStereo(**model_kwargs(args.size))
        net = net.to(args.device).eval()
    imgs = torch.rand(n, 3, h, w) * 2 - 1
    views = [
        dict(img=imgs[i : i + 1], true_shape=np.int32([[h, w]]), idx=i, instance=str(i))
        for i in range(n)
    ]
    graph = f"swin-{args.window}-noncyclic"
    pairs = up.image_pairs.make_pairs(views, scene_graph=graph, prefilter=None, symmetrize=True)

    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    split_times = [0.0, 0.0]

    def run_once():
        t0 = time.perf_counter()
        sane = True
        if net is not None:
            output = up.inference.inference(pairs, net, args.device, batch_size=1, verbose=False)
            sane = not any(
                bool(torch.isnan(output[p][k]).any())
                for p, k in (("pred1", "pts3d"), ("pred2", "pts3d_in_other_view"))
            )
        else:
            output = dict(
                view1=dict(idx=[p[0]["idx"] for p in pairs]),
                view2=dict(idx=[p[1]["idx"] for p in pairs]),
                pred1={},
                pred2={},
            )
        sync()
        t1 = time.perf_counter()
        replace_predictions(torch, output, n, h, w)
        mode = up.cloud_opt.GlobalAlignerMode.PointCloudOptimizer
        scene = up.cloud_opt.global_aligner(output, device=args.device, mode=mode)
        up.init_im_poses.init_minimum_spanning_tree(scene, niter_PnP=10)
        sync()
        t_init = time.perf_counter()
        scene.compute_global_alignment(
            init=None, niter=args.iterations, schedule=args.schedule, lr=args.lr
        )
        c2w = scene.get_im_poses().detach().cpu()
        sync()
        t2 = time.perf_counter()
        split_times[:] = [t_init - t1, t2 - t_init]
        x = c2w[:, 0, 3]
        step = x[1:] - x[:-1]
        ordered = bool((step > 0).all()) or bool((step < 0).all())
        sane = sane and bool(torch.isfinite(c2w).all()) and ordered
        return t1 - t0, t2 - t1, sane, float(step.median())

    for _ in range(args.warmup):
        run_once()
    times = []
    sane = True
    for _ in range(args.repetitions):
        net_s, align_s, ok, _ = run_once()
        times.append(net_s + align_s)
        sane = sane and ok
    net_s, align_s, ok, median_step = run_once()
    sane = sane and ok
    med = statistics.median(times)
    print(
        json.dumps(
            {
                "bench": f"dust3r_upstream_pairs_align_{w}x{h}_{args.device}_fp32_"
                f"{model_kwargs(args.size)['head_type']}_swin{args.window}",
                "repetitions": args.repetitions,
                "min_s": min(times),
                "median_s": med,
                "max_s": max(times),
                "frames": n,
                "pairs_directed": len(pairs),
                "iterations": args.iterations,
                "s_per_frame": med / n,
                "frames_per_s": n / med,
                "split_network_s": net_s,
                "split_alignment_s": align_s,
                "split_init_s": split_times[0],
                "split_adam_s": split_times[1],
                "adam_step_ms": 1e3 * split_times[1] / max(1, args.iterations),
                "median_camera_step": median_step,
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "sane": sane,
            }
        ),
        flush=True,
    )
    return 0 if sane else 1


if __name__ == "__main__":
    sys.exit(main())
