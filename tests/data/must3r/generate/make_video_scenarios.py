#!/usr/bin/python3
"""Generates the video-mode fixtures with upstream's overlap keyframe rule.

Runs upstream's demo "sequence: slam keyframes" mode (execution_mode
"vidslam" of must3r/demo/gradio.py get_reconstructed_scene): the video loop
must3r_inference_video with is_keyframe_function = slam_is_keyframe,
scene_state = get_searcher("kdtree-scipy-quadrant_x2") and
scene_state_update_function = slam_update_scene_state, all unmodified, on
the 16 orbit frames of ../video_orbit/frames_u8.npy and the tiny_kv
checkpoint. Upstream is imported at run time from --upstream (a checkout
holding must3r/ with its dust3r/croco submodules, and roma/); nothing of it
is copied here. The wrappers below only record what upstream's functions
return (keyframe decisions, overlap scores, decoder-call token counts).

Needs /usr/bin/python3 with python3-torch 1.13, python3-torchvision,
python3-scipy, python3-opencv and python3-tqdm (Debian 12 packages).

Usage (from the repository root):
  /usr/bin/python3 tests/data/must3r/generate/make_video_scenarios.py \
      --upstream /path/to/upstream [--verify]
"""

import argparse
import functools
import json
import os
import sys
import tempfile
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
CHECKPOINT = os.path.join(DATA, "checkpoints", "tiny_kv.pth")
FRAMES = os.path.join(DATA, "video_orbit", "frames_u8.npy")
IMAGE_SIZE = "{3/2: [96, 64]}"  # as the manifest records it
IMAGE_SIZE_DICT = {3 / 2: [96, 64]}  # what load_images is given

# Scenario folder -> loop parameters. "video_overlap" is the demo's vidslam
# mode with its defaults (local context 0) except the threshold: with random
# weights every score is far above upstream's 0.05, so a threshold inside the
# scores' range gives a mix of decisions. "video_overlap_ctx" adds a local
# window, a refinement pass, max_bs = 1 and other rule parameters.
SCENARIOS = {
    "video_overlap": dict(
        local_context_size=0,
        num_refinements_iterations=0,
        max_bs=0,
        subsample=2,
        min_conf_keyframe=1.5,
        keyframe_overlap_thr=0.75,
        overlap_percentile=85.0,
    ),
    "video_overlap_ctx": dict(
        local_context_size=4,
        num_refinements_iterations=1,
        max_bs=1,
        subsample=3,
        min_conf_keyframe=1.5,
        keyframe_overlap_thr=0.25,
        overlap_percentile=70.0,
    ),
}


def import_upstream(root):
    sys.path[:0] = [root, os.path.join(root, "must3r")]
    # The demo module imports the retrieval code (faiss/asmk), which video
    # mode never calls: stand-ins let it import.
    for name in ["must3r.retrieval.processor", "must3r.retrieval.graph"]:
        stub = types.ModuleType(name)
        stub.Retriever = object
        stub.farthest_point_sampling = None
        sys.modules[name] = stub
    import torch
    import torchvision.transforms as tvf

    # torchvision >= 0.17 resizes tensors with antialias=True (what current
    # upstream installs get); 0.14 defaults to False.
    defaults = list(tvf.Resize.__init__.__defaults__)
    defaults[-1] = True
    tvf.Resize.__init__.__defaults__ = tuple(defaults)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    import must3r.demo.inference as demo
    import must3r.engine.inference as engine
    import must3r.slam.model as slam
    from must3r.model import load_model, get_pointmaps_activation

    return types.SimpleNamespace(
        torch=torch,
        demo=demo,
        engine=engine,
        slam=slam,
        load_model=load_model,
        get_pointmaps_activation=get_pointmaps_activation,
    )


def write_pngs(frames, folder):
    import PIL.Image

    paths = []
    for i, f in enumerate(frames):
        path = os.path.join(folder, f"frame_{i:03d}.png")
        PIL.Image.fromarray(f).save(path)
        paths.append(path)
    return paths


class Recorder:
    """Wraps upstream's keyframe rule and scene-state update; records only."""

    def __init__(self, up, p):
        self.up = up
        self.p = p
        self.rule = functools.partial(
            up.demo.slam_is_keyframe,
            p["subsample"],
            p["min_conf_keyframe"],
            p["keyframe_overlap_thr"],
            p["overlap_percentile"],
            "nn-norm",
        )
        self.update = functools.partial(
            up.demo.slam_update_scene_state,
            p["subsample"],
            p["min_conf_keyframe"],
        )
        self.calls = []
        self.updates = 0

    def is_keyframe(self, id, res, scene_state):
        # The same call slam_is_keyframe makes, for the score it compares.
        res_u = {k: v.unsqueeze(0).unsqueeze(0) for k, v in res.items()}
        score = self.up.slam.get_overlap_score(
            res_u,
            scene_state,
            cam_center=res["c2w"][:3, -1],
            mode="nn-norm",
            kf_x_subsamp=self.p["subsample"],
            min_conf_keyframe=self.p["min_conf_keyframe"],
            percentile=self.p["overlap_percentile"],
        )
        decision = bool(self.rule(id, res, scene_state))
        assert decision == bool(score > self.p["keyframe_overlap_thr"])
        self.calls.append((int(id), decision, float(score)))
        return decision

    def update_state(self, res, scene_state):
        self.updates += 1
        return self.update(res, scene_state)


def trace_decoder(decoder, trace):
    inner = decoder.forward

    def forward(x, pos, true_shape, current_mem=None, render=False, **kw):
        before = 0 if current_mem is None else int(current_mem[0][0].shape[1])
        mem, out = inner(x, pos, true_shape, current_mem, render=render, **kw)
        n = sum(int(v.shape[1]) for v in x) if isinstance(x, list) else x.shape[1]
        trace.append([before, int(mem[0][0].shape[1]), n])
        return mem, out

    decoder.forward = forward


def run_scenario(up, name, p, frames):
    torch = up.torch
    image_size = IMAGE_SIZE_DICT
    with tempfile.TemporaryDirectory() as tmp:
        filelist = write_pngs(frames, tmp)
        model = up.load_model(CHECKPOINT, device="cpu", verbose=False)
        encoder, decoder = model
        calls = []
        trace_decoder(decoder, calls)
        rec = Recorder(up, p)
        with torch.no_grad():
            scene = up.demo.must3r_inference_video(
                model,
                "cpu",
                image_size,
                False,
                filelist,
                p["max_bs"],
                init_num_images=2,
                batch_num_views=1,
                viser_server=None,
                num_refinements_iterations=p["num_refinements_iterations"],
                local_context_size=p["local_context_size"],
                is_keyframe_function=rec.is_keyframe,
                scene_state=up.slam.get_searcher("kdtree-scipy-quadrant_x2"),
                scene_state_update_function=rec.update_state,
                verbose=False,
            )
        # The same loop called directly, for the final memory.
        views = up.demo.load_images(filelist, size=image_size, verbose=False)
        imgs = [v["img"] for v in views]
        true_shape = [torch.from_numpy(v["true_shape"]) for v in views]
        n = len(imgs)
        mem_batches = [min(2, n)] + [1] * (n - min(2, n))
        act = up.get_pointmaps_activation(decoder, verbose=False)
        rec2 = Recorder(up, p)
        calls2 = []
        model2 = up.load_model(CHECKPOINT, device="cpu", verbose=False)
        trace_decoder(model2[1], calls2)
        with torch.no_grad():
            mem, x_out = up.engine.inference_video_multi_ar(
                model2[0],
                model2[1],
                imgs,
                true_shape,
                mem_batches,
                max_bs=None if p["max_bs"] == 0 else p["max_bs"],
                device="cpu",
                preserve_gpu_mem=True,
                post_process_function=lambda x: up.engine.postprocess(
                    x, pointmaps_activation=act, compute_cam=True
                ),
                num_refinements_iterations=p["num_refinements_iterations"],
                local_context_size=p["local_context_size"],
                return_mem=True,
                is_keyframe_function=rec2.is_keyframe,
                scene_state=up.slam.get_searcher("kdtree-scipy-quadrant_x2"),
                scene_state_update_function=rec2.update_state,
            )
    keys = ["pts3d", "pts3d_local", "conf", "focal", "c2w"]
    out = {k: np.stack([scene.x_out[i][k].numpy() for i in range(n)]) for k in keys}
    direct = {k: np.stack([x_out[i][k].numpy() for i in range(n)]) for k in keys}
    diff = max(float(np.abs(out[k] - direct[k]).max()) for k in keys)
    assert diff == 0.0, f"{name}: demo vs direct loop differ by {diff}"
    assert calls == calls2 and rec.calls == rec2.calls
    focal_unclipped = []
    from dust3r.post_process import estimate_focal_knowing_depth

    for i in range(n):
        local = torch.from_numpy(out["pts3d_local"][i])[None]
        H, W = local.shape[1:3]
        pp_xy = torch.tensor((W / 2, H / 2))
        focal_unclipped.append(
            float(
                estimate_focal_knowing_depth(
                    local, pp_xy, focal_mode="weiszfeld", min_focal=-float("inf")
                )[0]
            )
        )
    out["focal_unclipped"] = np.float32(focal_unclipped)
    images = np.stack([v.numpy() for v in imgs]).astype(np.float32)
    ref_images = np.load(os.path.join(DATA, "video_orbit", "images.npy"))
    assert np.array_equal(images, ref_images), "inputs differ from video_orbit"
    out["true_shape"] = np.stack([v.numpy() for v in true_shape]).astype(np.int32)
    for k, layer in enumerate(mem[0]):
        out[f"mem_layer{k}"] = layer.numpy()
    out["mem_labels"] = mem[1].numpy().astype(np.int64)
    out["mem_batches"] = np.int64(mem_batches)
    # One row per decoder call: pass, batch, first id, n, Nmem before, after
    # the decoder, after the removals (= before the next call; the final
    # memory for the last call).
    starts = np.cumsum([0] + mem_batches)
    rows = []
    for k, (before, after, count) in enumerate(calls):
        b = k % len(mem_batches)
        nxt = calls[k + 1][0] if k + 1 < len(calls) else int(mem[1].shape[1])
        rows.append([k // len(mem_batches), b, int(starts[b]), count, before, after, nxt])
    out["nmem_trace"] = np.int64(rows)
    scores = np.full(n, np.nan)
    decisions = np.full(n, -1, dtype=np.int64)
    for id_, decision, score in rec.calls:
        scores[id_] = score
        decisions[id_] = int(decision)
    out["overlap_score"] = scores
    out["keyframe_decision"] = decisions
    first = set(range(mem_batches[0]))
    keyframes = sorted(first | {i for i, d, _ in rec.calls if d})
    out["keyframes"] = np.int64(keyframes)
    return out, rec, calls


def manifest_for(name, p, out, rec, calls, frames):
    import hashlib

    def sha(path):
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    meaning = {
        "nmem_trace": (
            "(calls,7) int64: pass, batch, first id, n, Nmem before, after the "
            "decoder, after the removals"
        ),
        "true_shape": "(n,2) int32 (height, width) as load_images stores it",
        "mem_batches": "frames per memory batch, in order",
        "pts3d": "final pointmap per frame (last pass), (n,64,96,3) float32",
        "pts3d_local": "final local pointmap per frame, (n,64,96,3) float32",
        "conf": "final confidence per frame, (n,64,96) float32",
        "focal": "focal per frame from postprocess (weiszfeld, clipped at 0)",
        "focal_unclipped": "extra: the same focal with min_focal=-inf",
        "c2w": "camera-to-world per frame from postprocess, (n,4,4) float32",
        "mem_labels": "final memory labels, (1,Nmem) int64",
        "keyframes": "sorted ids of the keyframes (first batch + rule says yes)",
        "overlap_score": (
            "float64 per frame: the overlap score the rule compared with "
            "keyframe_overlap_thr (85th/70th percentile of depth-normalised "
            "nearest-neighbour distances); NaN where the rule was not called"
        ),
        "keyframe_decision": (
            "int64 per frame: 1/0 what the rule returned, -1 where it was not "
            "called (first batch, or refinement passes)"
        ),
    }
    files = {}
    for key, arr in out.items():
        desc = meaning.get(key)
        if key.startswith("mem_layer"):
            desc = f"final memory of decoder layer {key[9:]}, (1,Nmem,memD) float32"
        files[key + ".npy"] = {
            "shape": list(arr.shape),
            "dtype": str(arr.dtype),
            "meaning": desc,
        }
    import torch

    return {
        "scenario": name,
        "config": "tiny_kv",
        "description": (
            "video mode with upstream's overlap keyframe rule (demo execution "
            "mode 'vidslam') on the 16 orbit frames of video_orbit, tiny "
            "random-weight model"
        ),
        "checkpoint": "../checkpoints/tiny_kv.pth",
        "checkpoint_sha256": sha(CHECKPOINT),
        "inputs": {
            "frames_u8": "../video_orbit/frames_u8.npy",
            "frame_indices": "../video_orbit/frame_indices.npy",
            "images": "../video_orbit/images.npy",
        },
        "parameters": {
            "image_size": IMAGE_SIZE,
            "init_num_images": 2,
            "batch_num_views": 1,
            "local_context_size": p["local_context_size"],
            "num_refinements_iterations": p["num_refinements_iterations"],
            "max_bs": p["max_bs"],
            "keyframe_rule": "overlap",
            "is_keyframe_function": (
                "functools.partial(must3r.demo.inference.slam_is_keyframe, "
                "subsample, min_conf_keyframe, keyframe_overlap_thr, "
                "overlap_percentile, 'nn-norm')"
            ),
            "scene_state": "must3r.slam.model.get_searcher('kdtree-scipy-quadrant_x2')",
            "scene_state_update_function": (
                "functools.partial(must3r.demo.inference.slam_update_scene_state, "
                "subsample, min_conf_keyframe)"
            ),
            "overlap": {
                "subsample": p["subsample"],
                "min_conf_keyframe": p["min_conf_keyframe"],
                "keyframe_overlap_thr": p["keyframe_overlap_thr"],
                "overlap_percentile": p["overlap_percentile"],
                "overlap_mode": "nn-norm",
                "searcher": "kdtree-scipy-quadrant_x2",
            },
            "amp": False,
            "device": "cpu",
            "mem_batches": out["mem_batches"].tolist(),
        },
        "calls": {
            "demo": (
                "must3r.demo.inference.must3r_inference_video((encoder, decoder), "
                "'cpu', image_size, False, filelist, max_bs, init_num_images=2, "
                "batch_num_views=1, num_refinements_iterations, local_context_size, "
                "is_keyframe_function, scene_state, scene_state_update_function)"
            ),
            "direct": (
                "must3r.engine.inference.inference_video_multi_ar(..., "
                "return_mem=True) with the same rule: final memory; identical outputs"
            ),
        },
        "provenance": {
            "generator": "tests/data/must3r/generate/make_video_scenarios.py",
            "torch": torch.__version__,
            "numpy": np.__version__,
            "scipy": __import__("scipy").__version__,
            "torch_threads": 2,
            "resize_antialias": "torchvision Resize default switched to antialias=True",
        },
        "facts": {
            "keyframes": out["keyframes"].tolist(),
            "keyframe_rule_calls": [[i, d, s] for i, d, s in rec.calls],
            "scene_state_update_calls": rec.updates,
            "decoder_calls_nmem_before_after_nimages": calls,
            "Nmem_final": int(out["mem_labels"].shape[1]),
            "smallest_margin_to_threshold": min(
                abs(s - p["keyframe_overlap_thr"]) for _, _, s in rec.calls
            ),
        },
        "files": dict(sorted(files.items())),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True, help="checkout with must3r/ and roma/")
    ap.add_argument("--verify", action="store_true", help="compare, write nothing")
    args = ap.parse_args()
    up = import_upstream(os.path.abspath(args.upstream))
    frames = np.load(FRAMES)
    status = 0
    for name, p in SCENARIOS.items():
        out, rec, calls = run_scenario(up, name, p, frames)
        folder = os.path.join(DATA, name)
        manifest = manifest_for(name, p, out, rec, calls, frames)
        print(name, "keyframes", manifest["facts"]["keyframes"])
        print(name, "rule calls", manifest["facts"]["keyframe_rule_calls"])
        if args.verify:
            for key, arr in out.items():
                ref = np.load(os.path.join(folder, key + ".npy"))
                same = ref.shape == arr.shape and np.array_equal(ref, arr, equal_nan=True)
                if not same:
                    print(name, key, "DIFFERS")
                    status = 1
            continue
        os.makedirs(folder, exist_ok=True)
        for key, arr in out.items():
            np.save(os.path.join(folder, key + ".npy"), arr)
        with open(os.path.join(folder, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
