#!/usr/bin/python3
"""Generates MUSt3R decoder scenarios in the documented multi-call layout.

tiny_kv_calls/sequence: three decoder calls in one folder, the memory
carried from one to the next (init with frames 0-1, update with frame 2,
render frames 3-4), files <prefix><name>.npy with prefixes step1_, step2_,
step3_. tiny_kv_calls/given_memory: one update call (frames 8-9) that starts
from a given memory, stored as mem_in_layer{k}.npy + mem_in_labels.npy (the
memory after init with frames 5-6 and an update with frame 7; its scalars in
the call's memory_in_scalars).

Inputs are video_orbit's images.npy (already normalised 64x96 frames); the
checkpoint is checkpoints/tiny_kv.pth. Upstream (naver/must3r with its dust3r
submodule, and roma) is imported at run time from --upstream, a folder
holding must3r/ (a checkout whose dust3r/ holds dust3r with croco/) and
roma/; nothing of it is copied here. Each call is upstream's
decoder(x[None], pos[None], true_shape[None], current_mem=mem, render=...)
after encoder(images, true_shape), and postprocess(head, activation)'s conf
(the point maps are left out to keep the folders small: head_raw holds them).

Needs /usr/bin/python3 with python3-torch 1.13, python3-scipy, python3-tqdm.

Usage (from the repository root):
  /usr/bin/python3 tests/data/must3r/generate/make_decoder_scenarios.py \\
      --upstream /path/to/upstream [--verify]
"""

import argparse
import os
import sys
import types

import numpy as np

import fixture_io
from fixture_io import CHECKPOINT, DATA, IMAGES

OUT = os.path.join(DATA, "tiny_kv_calls")

# folder -> (given memory: [(frames, render)], calls: [(prefix, frames, render)])
SCENARIOS = {
    "sequence": (
        [],
        [("step1_", [0, 1], False), ("step2_", [2], False), ("step3_", [3, 4], True)],
    ),
    "given_memory": ([([5, 6], False), ([7], False)], [("", [8, 9], False)]),
}


def import_upstream(root):
    sys.path[:0] = [os.path.join(root, "must3r"), os.path.join(root, "roma")]
    import torch

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    import must3r.engine.inference as engine
    from must3r.model import get_pointmaps_activation, load_model

    return types.SimpleNamespace(
        torch=torch,
        engine=engine,
        load_model=load_model,
        get_pointmaps_activation=get_pointmaps_activation,
    )


def run_call(up, model, act, images, frames, mem, render):
    torch = up.torch
    encoder, decoder = model
    imgs = torch.from_numpy(images[frames])
    h, w = imgs.shape[-2:]
    true_shape = torch.tensor([[h, w]] * len(frames), dtype=torch.int64)
    with torch.no_grad():
        x, pos = encoder(imgs, true_shape)
        mem, head = decoder(x[None], pos[None], true_shape[None], current_mem=mem, render=render)
        post = up.engine.postprocess(head, pointmaps_activation=act)
    out = {
        "images": imgs.numpy(),
        "true_shape": true_shape.numpy(),
        "enc_x": x.numpy(),
        "enc_pos": pos.numpy().astype(np.int64),
        "head_raw": head.numpy(),
        "conf": post["conf"].numpy(),
        "mem_labels": mem[1].numpy().astype(np.int64),
    }
    for k, layer in enumerate(mem[0]):
        out[f"mem_layer{k}"] = layer.numpy()
    return out, mem


MEANING = {
    "images": "input images of the call, (n,3,H,W) float32 in [-1,1]",
    "true_shape": "(n,2) int64 (height, width); the decoder receives it as (1,n,2)",
    "enc_x": "encoder output tokens, (n,N,64) float32",
    "enc_pos": "token positions (row y, col x), (n,N,2) int64",
    "head_raw": "raw head output, (1,n,H,W,7) float32",
    "conf": "postprocess 1 + exp(head_raw[...,6]), (1,n,H,W)",
    "mem_labels": "memory labels after the call, (1,Nmem) int64",
    "mem_in_labels": "given input memory: labels, (1,Nmem) int64",
}


def describe(name):
    stem = name
    for p in ("step1_", "step2_", "step3_"):
        if stem.startswith(p):
            stem = stem[len(p) :]
    if stem.startswith("mem_in_layer"):
        return "given input memory of decoder layer %s, (1,Nmem,memD) float32" % stem[12:]
    if stem.startswith("mem_layer"):
        return "memory of decoder layer %s after the call, (1,Nmem,memD) float32" % stem[9:]
    return MEANING[stem]


def make(up, name, given, calls):
    torch = up.torch
    images = np.load(IMAGES)
    model = up.load_model(CHECKPOINT, device="cpu", verbose=False)
    act = up.get_pointmaps_activation(model[1], verbose=False)
    files = {}
    mem = None
    for frames, render in given:
        _, mem = run_call(up, model, act, images, frames, mem, render)
    manifest_calls = []
    if mem is not None:
        files["mem_in_labels"] = mem[1].numpy().astype(np.int64)
        for k, layer in enumerate(mem[0]):
            files[f"mem_in_layer{k}"] = layer.numpy()
    given_scalars = fixture_io.memory_scalars(mem) if mem is not None else None
    for i, (prefix, frames, render) in enumerate(calls):
        out, mem_after = run_call(up, model, act, images, frames, mem, render)
        for key, arr in out.items():
            files[prefix + key] = arr
        call = {
            "prefix": prefix,
            "n_images": len(frames),
            "H": int(images.shape[2]),
            "W": int(images.shape[3]),
            "render": render,
            "memory_in": (
                "given" if (i == 0 and given) else "none" if mem is None else "previous call"
            ),
            "call": (
                "decoder(x[None], pos[None], true_shape[None], current_mem=%s, render=%s)"
                % ("None" if mem is None else "mem", render)
            ),
            "frames_of_video_orbit": frames,
            "memory_scalars": fixture_io.memory_scalars(mem_after),
        }
        if i == 0 and given:
            call["memory_in_scalars"] = given_scalars
        manifest_calls.append(call)
        mem = mem_after
    manifest = {
        "scenario": "tiny_kv_calls/" + name,
        "config": "tiny_kv",
        "description": (
            "decoder calls in the documented layout: %s"
            % (
                "memory carried across calls"
                if name == "sequence"
                else "one call from a given input memory"
            )
        ),
        "checkpoint": "../../checkpoints/tiny_kv.pth",
        "checkpoint_sha256": fixture_io.sha256(CHECKPOINT),
        "decoder_args_after_convert_decoder_args": None,
        "inputs": {"images": "../../video_orbit/images.npy (frames listed per call)"},
        "provenance": {
            "generator": "tests/data/must3r/generate/make_decoder_scenarios.py",
            "torch": torch.__version__,
            "numpy": np.__version__,
            "torch_threads": 2,
            "device": "cpu",
        },
        "calls": manifest_calls,
        "files": fixture_io.file_entries(files, describe),
    }
    return files, manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True, help="folder with must3r/ and roma/")
    ap.add_argument("--verify", action="store_true", help="compare, write nothing")
    args = ap.parse_args()
    up = import_upstream(os.path.abspath(args.upstream))
    from must3r.model import convert_decoder_args

    ckpt = up.torch.load(CHECKPOINT, map_location="cpu")
    converted = convert_decoder_args(ckpt["args"].decoder)
    status = 0
    for name, (given, calls) in SCENARIOS.items():
        files, manifest = make(up, name, given, calls)
        manifest["decoder_args_after_convert_decoder_args"] = converted
        folder = os.path.join(OUT, name)
        if fixture_io.save_or_verify(folder, files, manifest, args.verify, name):
            status = 1
        if not args.verify:
            print("wrote", folder, [c["memory_scalars"] for c in manifest["calls"]])
    return status


if __name__ == "__main__":
    sys.exit(main())
