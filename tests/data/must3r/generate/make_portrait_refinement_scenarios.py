#!/usr/bin/python3
"""Generates the portrait-input decoder calls and the refinement-pass video run.

tiny_kv_calls/portrait: two decoder calls (init with 2 frames, update with
1) on portrait frames: frames 1, 7 and 13 of ../video_orbit/frames_u8.npy
transposed (160x90 upright portrait), written as PNGs and loaded by the
demo's load_images at image_size {3/2: [48, 32]} (crop 90x135, resize to
H=48, W=32, antialias=True). The checkpoint's ManyAR patch embedding
receives them stored transposed: encoder_input_images (n,3,32,48) with the
portrait true_shape (48, 32). Files <prefix><name>.npy, prefixes step1_ and
step2_, memory carried from call to call (the multi-call layout of
make_decoder_scenarios.py).

video_refine: upstream's video loop (must3r_inference_video driving
inference_video_multi_ar) on frames 0-7 of video_orbit at image_size
{3/2: [48, 32]} with num_refinements_iterations = 2: every batch runs again
on the keyframe memory, twice. pass0_* are the outputs of the first pass
(the post-process results of the first len(mem_batches) decoder calls, and
equal to a run with num_refinements_iterations = 0); the unprefixed files
are the final outputs (last pass). render_*: upstream's render pass,
inference_multi_ar with precomputed_mem = the final (keyframe) memory and
to_render = the non-keyframes, max_bs 2 (the demo's render of the frames
left out of memory: each image cross-attends to the whole memory,
render=True, the memory unchanged). Point maps are left out to keep the
folder small (focal and c2w are computed from them).

Upstream is imported at run time from --upstream (a folder holding must3r/
with its dust3r/croco submodules, and roma/), through the helpers of
make_video_scenarios.py; nothing of it is copied here.

Needs /usr/bin/python3 with python3-torch 1.13, python3-torchvision,
python3-scipy, python3-tqdm (Debian 12 packages).

Usage (from the repository root):
  /usr/bin/python3 tests/data/must3r/generate/make_portrait_refinement_scenarios.py \\
      --upstream /path/to/upstream [--verify]
"""

import argparse
import os
import sys
import tempfile

import numpy as np

import fixture_io
import make_video_scenarios as mvs
from fixture_io import CHECKPOINT, DATA, FRAMES

PORTRAIT = dict(
    folder=os.path.join(DATA, "tiny_kv_calls", "portrait"),
    frames=[1, 7, 13],
    image_size="{3/2: [48, 32]}",
    image_size_dict={3 / 2: [48, 32]},
    calls=[("step1_", [0, 1], False), ("step2_", [2], False)],
)

REFINE = dict(
    folder=os.path.join(DATA, "video_refine"),
    rule="every",
    num_frames=8,
    transpose=[],
    image_size="{3/2: [48, 32]}",
    image_size_dict={3 / 2: [48, 32]},
    init_num_images=2,
    batch_num_views=1,
    local_context_size=2,
    num_refinements_iterations=2,
    max_bs=0,
    render_max_bs=2,
)


def focal_unclipped(pts3d_local):
    """dust3r's weiszfeld focal with min_focal=-inf, per map of (k,H,W,3)."""
    import torch
    from dust3r.post_process import estimate_focal_knowing_depth

    local = torch.as_tensor(pts3d_local)
    h, w = local.shape[-3:-1]
    pp = torch.tensor((w / 2, h / 2))
    f = estimate_focal_knowing_depth(
        local.reshape(-1, h, w, 3), pp, focal_mode="weiszfeld", min_focal=-float("inf")
    )
    return f.reshape(-1).numpy().astype(np.float32)


# ------------------------------------------------------------- portrait


def make_portrait(up):
    torch = up.torch
    p = PORTRAIT
    frames = [np.ascontiguousarray(np.load(FRAMES)[i].transpose(1, 0, 2)) for i in p["frames"]]
    with tempfile.TemporaryDirectory() as tmp:
        views = up.demo.load_images(
            mvs.write_pngs(frames, tmp), size=p["image_size_dict"], verbose=False
        )
    upright = [v["img"] for v in views]  # (3, H, W) portrait, as loaded
    true_shape = [torch.from_numpy(v["true_shape"]).reshape(2) for v in views]
    for im, ts in zip(upright, true_shape):
        assert list(im.shape[-2:]) == ts.tolist() and ts[0] > ts[1], (im.shape, ts)
    model = up.load_model(CHECKPOINT, device="cpu", verbose=False)
    encoder, decoder = model
    act = up.get_pointmaps_activation(decoder, verbose=False)
    files = {}
    calls = []
    mem = None
    for prefix, idx, render in p["calls"]:
        # ManyAR's storage: portrait tensors transposed to (3, W, H).
        stored = torch.stack([upright[i].transpose(-1, -2) for i in idx])
        ts = torch.stack([true_shape[i] for i in idx]).to(torch.int64)
        mem_in = mem
        with torch.no_grad():
            x, pos = encoder(stored, ts)
            mem, head = decoder(x[None], pos[None], ts[None], current_mem=mem, render=render)
            post = up.engine.postprocess(head, pointmaps_activation=act, compute_cam=True)
        h, w = int(ts[0, 0]), int(ts[0, 1])
        assert tuple(head.shape) == (1, len(idx), h, w, 7), head.shape
        out = {
            "encoder_input_images": stored.numpy(),
            "true_shape": ts.numpy(),
            "enc_x": x.numpy(),
            "enc_pos": pos.numpy().astype(np.int64),
            "conf": post["conf"].numpy(),
            "focal": post["focal"].reshape(-1).numpy(),
            "focal_unclipped": focal_unclipped(post["pts3d_local"]),
            "c2w": post["c2w"].numpy(),
            "mem_labels": mem[1].numpy().astype(np.int64),
        }
        for k, layer in enumerate(mem[0]):
            out[f"mem_layer{k}"] = layer.numpy()
        for key, arr in out.items():
            files[prefix + key] = arr
        calls.append(
            {
                "prefix": prefix,
                "n_images": len(idx),
                "H": h,
                "W": w,
                "render": render,
                "memory_in": "none" if mem_in is None else "previous call",
                "call": (
                    "x, pos = encoder(encoder_input_images, true_shape); "
                    "decoder(x[None], pos[None], true_shape[None], current_mem=%s, "
                    "render=%s); postprocess(head, compute_cam=True)"
                    % ("None" if mem_in is None else "mem", render)
                ),
                "source": {
                    "frames_u8": "../../video_orbit/frames_u8.npy",
                    "frames": [p["frames"][i] for i in idx],
                    "transpose": True,
                    "image_size": p["image_size"],
                },
                "memory_scalars": fixture_io.memory_scalars(mem),
            }
        )
    meaning = {
        "encoder_input_images": (
            "the tensor the encoder receives: load_images' portrait image stored "
            "transposed (ManyAR), (n,3,W,H) float32 in [-1,1]"
        ),
        "true_shape": "(n,2) int64 (height, width), portrait; the decoder gets (1,n,2)",
        "enc_x": "encoder output tokens, (n,N,64) float32, N = H/16*W/16",
        "enc_pos": "token positions (row y, col x) over the portrait grid, (n,N,2) int64",
        "conf": "postprocess 1 + exp(head[...,6]), (1,n,H,W) portrait float32",
        "focal": "postprocess weiszfeld focal (clipped at 0), (n,) float32",
        "focal_unclipped": "same with min_focal=-inf, (n,) float32",
        "c2w": "postprocess camera-to-world (roma), (1,n,4,4) float32",
        "mem_labels": "memory labels after the call, (1,Nmem) int64",
    }

    def describe(key):
        stem = key.split("_", 1)[1]
        if stem.startswith("mem_layer"):
            return "memory of decoder layer %s after the call, (1,Nmem,96) float32" % stem[9:]
        return meaning[stem]

    ckpt = torch.load(CHECKPOINT, map_location="cpu")
    from must3r.model import convert_decoder_args

    manifest = {
        "scenario": "tiny_kv_calls/portrait",
        "config": "tiny_kv",
        "description": (
            "decoder calls on portrait frames: orbit frames transposed to 160x90 "
            "portrait, demo load_images at %s, ManyAR encoder fed the transposed "
            "storage (encoder_input_images) with the portrait true_shape" % p["image_size"]
        ),
        "checkpoint": "../../checkpoints/tiny_kv.pth",
        "checkpoint_sha256": fixture_io.sha256(CHECKPOINT),
        "decoder_args_after_convert_decoder_args": convert_decoder_args(ckpt["args"].decoder),
        "inputs": {
            "frames_u8": "../../video_orbit/frames_u8.npy (each call's source.frames, "
            "transposed (1,0,2), written as PNG and read by load_images)"
        },
        "provenance": {
            "generator": "tests/data/must3r/generate/make_portrait_refinement_scenarios.py",
            "torch": torch.__version__,
            "numpy": np.__version__,
            "torch_threads": 2,
            "device": "cpu",
            "resize_antialias": "torchvision Resize default switched to antialias=True",
        },
        "calls": calls,
        "files": fixture_io.file_entries(files, describe),
    }
    return files, manifest


# ------------------------------------------------------------- refinement


def make_refine(up):
    torch = up.torch
    p = REFINE
    frames = [f for f in np.load(FRAMES)[: p["num_frames"]]]
    with tempfile.TemporaryDirectory() as tmp:
        filelist = mvs.write_pngs(frames, tmp)
        views = up.demo.load_images(filelist, size=p["image_size_dict"], verbose=False)
        model = up.load_model(CHECKPOINT, device="cpu", verbose=False)
        demo_calls = []
        mvs.trace_decoder(model[1], demo_calls)
        rec_demo = mvs.Recorder(up, p)
        scene = mvs.run_demo_loop(up, model, p["image_size_dict"], filelist, p, rec_demo)
    imgs = [v["img"] for v in views]
    true_shape = [torch.from_numpy(v["true_shape"]).reshape(2) for v in views]
    n = len(imgs)
    mem_batches = fixture_io.memory_batches(n, p["init_num_images"], p["batch_num_views"])

    def direct(refinements):
        """The loop called directly; records every post-process result."""
        m = up.load_model(CHECKPOINT, device="cpu", verbose=False)
        calls = []
        mvs.trace_decoder(m[1], calls)
        act = up.get_pointmaps_activation(m[1], verbose=False)
        seen = []

        def post(x):
            r = up.engine.postprocess(x, pointmaps_activation=act, compute_cam=True)
            seen.append(r)
            return r

        rec = mvs.Recorder(up, p)
        mem, x_out = mvs.run_direct_loop(
            up, m, imgs, true_shape, mem_batches, p, rec, post, refinements
        )
        return mem, x_out, seen, calls, rec

    mem, x_out, seen, calls, rec = direct(p["num_refinements_iterations"])
    _, x_out0, _, _, _ = direct(0)
    assert calls == demo_calls
    assert len(seen) == len(mem_batches) * (p["num_refinements_iterations"] + 1)
    keys = ["conf", "focal", "c2w", "pts3d_local"]
    # Pass 0: the first len(mem_batches) post-process calls (one per batch,
    # frames of the batch along dim 0).
    pass0 = {k: np.concatenate([seen[b][k].numpy() for b in range(len(mem_batches))]) for k in keys}
    final = {k: np.stack([x_out[i][k].numpy() for i in range(n)]) for k in keys}
    for k in keys:
        assert np.array_equal(final[k], np.stack([scene.x_out[i][k].numpy() for i in range(n)]))
        assert np.array_equal(pass0[k], np.stack([x_out0[i][k].numpy() for i in range(n)])), k
        assert not np.array_equal(pass0[k], final[k]), k
    out = {}
    for prefix, src in (("pass0_", pass0), ("", final)):
        out[prefix + "conf"] = src["conf"]
        out[prefix + "focal"] = src["focal"].reshape(-1)
        out[prefix + "focal_unclipped"] = focal_unclipped(src["pts3d_local"])
        out[prefix + "c2w"] = src["c2w"]
    out["true_shape"] = np.stack([v.numpy() for v in true_shape]).astype(np.int32)
    for k, layer in enumerate(mem[0]):
        out[f"mem_layer{k}"] = layer.numpy()
    out["mem_labels"] = mem[1].numpy().astype(np.int64)
    out["mem_batches"] = np.int64(mem_batches)
    out["nmem_trace"] = fixture_io.nmem_trace(calls, mem_batches, mem)
    first = set(range(mem_batches[0]))
    out["keyframes"] = np.int64(sorted(first | {i for i, d, _ in rec.calls if d}))

    # The render pass over the frames left out of memory, on the final memory.
    render_ids = [i for i in range(n) if i not in set(out["keyframes"].tolist())]
    m = up.load_model(CHECKPOINT, device="cpu", verbose=False)
    act = up.get_pointmaps_activation(m[1], verbose=False)
    mem_copy = [[v.clone() for v in mem[0]], mem[1].clone()]
    with torch.no_grad():
        none, rendered = up.engine.inference_multi_ar(
            m[0],
            m[1],
            imgs,
            [torch.tensor(i) for i in range(n)],
            true_shape,
            mem_batches,
            max_bs=p["render_max_bs"],
            to_render=render_ids,
            precomputed_mem=mem,
            device="cpu",
            preserve_gpu_mem=True,
            post_process_function=lambda x: up.engine.postprocess(
                x, pointmaps_activation=act, compute_cam=True
            ),
        )
    assert none is None and len(rendered) == len(render_ids)
    assert all(torch.equal(a, b) for a, b in zip(mem_copy[0], mem[0]))
    assert torch.equal(mem_copy[1], mem[1])
    rsrc = {k: np.stack([r[k].numpy() for r in rendered]) for k in keys}
    out["render_conf"] = rsrc["conf"]
    out["render_focal"] = rsrc["focal"].reshape(-1)
    out["render_focal_unclipped"] = focal_unclipped(rsrc["pts3d_local"])
    out["render_c2w"] = rsrc["c2w"]

    h, w = imgs[0].shape[-2:]
    meaning = {
        "conf": "final confidence per frame (last pass), (n,%d,%d) float32" % (h, w),
        "focal": "final focal per frame (weiszfeld, clipped at 0), (n,) float32",
        "focal_unclipped": "final focal with min_focal=-inf, (n,) float32",
        "c2w": "final camera-to-world per frame, (n,4,4) float32",
        "true_shape": "(n,2) int32 (height, width) as load_images stores it",
        "mem_labels": "final memory labels (keyframes only), (1,Nmem) int64",
        "mem_batches": "frames per memory batch, in order",
        "nmem_trace": (
            "(calls,7) int64: pass, batch, first id, n, Nmem before, after the "
            "decoder, after the removals"
        ),
        "keyframes": "sorted ids of the keyframes (first batch + id % 3 == 0)",
    }

    def describe(key):
        if key.startswith("mem_layer"):
            return "final memory of decoder layer %s, (1,Nmem,memD) float32" % key[9:]
        if key.startswith("pass0_"):
            return "first pass (pass 0): " + meaning[key[6:]].replace("final ", "")
        if key.startswith("render_"):
            return "render pass of parameters.render.frames on the final memory: " + meaning[
                key[7:]
            ].replace("final ", "").replace("(n,", "(len(render.frames),")
        return meaning[key]

    manifest = {
        "scenario": "video_refine",
        "config": "tiny_kv",
        "description": (
            "video mode with refinement passes: %d orbit frames at %s, "
            "num_refinements_iterations %d (the batches run again on the keyframe "
            "memory); pass0_* = outputs of the first pass"
            % (n, p["image_size"], p["num_refinements_iterations"])
        ),
        "checkpoint": "../checkpoints/tiny_kv.pth",
        "checkpoint_sha256": fixture_io.sha256(CHECKPOINT),
        "inputs": {
            "frames_u8": "../video_orbit/frames_u8.npy",
            "frame_indices": "../video_orbit/frame_indices.npy",
        },
        "parameters": {
            "image_size": p["image_size"],
            "num_frames": n,
            "transpose_frames": [],
            "init_num_images": p["init_num_images"],
            "batch_num_views": p["batch_num_views"],
            "local_context_size": p["local_context_size"],
            "num_refinements_iterations": p["num_refinements_iterations"],
            "max_bs": p["max_bs"],
            "keyframe_rule": "every",
            "is_keyframe_function": "upstream default: lambda id, res, scene_state: (id % 3 == 0)",
            "scene_state": None,
            "scene_state_update_function": "upstream default (identity)",
            "amp": False,
            "device": "cpu",
            "mem_batches": mem_batches,
            "passes_recorded": {"pass0_": 0, "": p["num_refinements_iterations"]},
            "render": {
                "frames": render_ids,
                "max_bs": p["render_max_bs"],
                "call": (
                    "must3r.engine.inference.inference_multi_ar(encoder, decoder, imgs, "
                    "img_ids, true_shape, mem_batches, max_bs=max_bs, "
                    "to_render=frames, precomputed_mem=<final memory>)"
                ),
            },
        },
        "calls": {
            "demo": (
                "must3r.demo.inference.must3r_inference_video((encoder, decoder), 'cpu', "
                "image_size, False, filelist, max_bs, init_num_images, batch_num_views, "
                "num_refinements_iterations, local_context_size)"
            ),
            "direct": (
                "must3r.engine.inference.inference_video_multi_ar(..., return_mem=True): "
                "final memory and every post-process result; identical to the demo"
            ),
            "pass0_check": (
                "the same loop with num_refinements_iterations=0 gives pass0_* exactly"
            ),
        },
        "provenance": {
            "generator": "tests/data/must3r/generate/make_portrait_refinement_scenarios.py",
            "torch": torch.__version__,
            "numpy": np.__version__,
            "torch_threads": 2,
            "resize_antialias": "torchvision Resize default switched to antialias=True",
        },
        "facts": {
            "keyframes": out["keyframes"].tolist(),
            "decoder_calls_nmem_before_after_nimages": calls,
            "Nmem_final": int(out["mem_labels"].shape[1]),
        },
        "files": fixture_io.file_entries(out, describe),
    }
    return out, manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True, help="folder with must3r/ and roma/")
    ap.add_argument("--verify", action="store_true", help="compare, write nothing")
    args = ap.parse_args()
    up = mvs.import_upstream(os.path.abspath(args.upstream))
    status = 0
    for folder, (files, manifest) in (
        (PORTRAIT["folder"], make_portrait(up)),
        (REFINE["folder"], make_refine(up)),
    ):
        if fixture_io.save_or_verify(folder, files, manifest, args.verify, folder):
            status = 1
        if not args.verify:
            print("wrote", folder, manifest.get("facts", {}).get("keyframes", ""))
    return status


if __name__ == "__main__":
    sys.exit(main())
