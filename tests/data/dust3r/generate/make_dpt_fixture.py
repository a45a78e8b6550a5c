#!/usr/bin/python3
"""Generates tests/data/dust3r/tiny_dpt: a tiny DUSt3R with the DPT head.

A DUSt3R (AsymmetricCroCo3DStereo, head_type='dpt') with a small encoder and
decoder (the DPT head's own widths are upstream's: 96/192/384/768, 256, 128)
whose weights come from a deterministic formula (below), run by upstream's
own code on one 64x96 pair in both orders. The outputs are small; the
checkpoint (about 150 MB) is not kept: the C++ test rebuilds it from the
formula and the key list in manifest.json.

Weight formula ("vanelia-sin-v1"), per state_dict key, independent of the
other keys: h = 0; for each byte c of the key's UTF-8: h = (h*31 + c) mod
1000003. For element i of the flattened (C-order) tensor,
s = sin(0.37*i + 0.001*h) in float64; the value is 1 + 0.1*s for a 1-D
tensor whose key contains 'norm' and ends in '.weight', 0.02*s for any other
1-D tensor, and s / sqrt(numel / shape[0]) otherwise; cast to float32. Keys
that share one storage (the DPT's scratch.layer{k}_rn and scratch.layer_rn.{k-1})
hold the formula of the first of them in state_dict order; the manifest's
checkpoint.shared names them.

Upstream (naver/dust3r with its croco submodule, naver/roma, einops) is
imported at run time from --upstream, a folder holding dust3r/ (a checkout
with croco/ filled), roma/ and einops/; nothing of it is copied here. The
model goes through upstream's load_model (ManyAR_PatchEmbed ->
PatchEmbedDust3R, landscape_only=False) from a checkpoint written to a
temporary folder, and the pair through dust3r.inference.inference. Forward
hooks record the decoder's head input list and the DPT outputs before the
activation; nothing is recomputed.

Needs /usr/bin/python3 with python3-torch 1.13, python3-torchvision,
python3-scipy, python3-tqdm and python3-packaging (Debian 12 packages). The
huggingface_hub import of dust3r/model.py is replaced by a stand-in (only
its mixin class is used, at import time).

Usage (from the repository root):
  /usr/bin/python3 tests/data/dust3r/generate/make_dpt_fixture.py \\
      --upstream /path/to/upstream [--verify]
"""

import argparse
import argparse as _argparse
import hashlib
import json
import math
import os
import sys
import tempfile
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
OUT = os.path.join(DATA, "tiny_dpt")
# The two 64x96 inputs of the linear-head pair case.
INPUTS = os.path.join(DATA, "tiny_linear", "p1")
FORMULA = "vanelia-sin-v1"
MODEL_KWARGS = dict(
    pos_embed="RoPE100",
    patch_embed_cls="ManyAR_PatchEmbed",
    img_size=(512, 512),
    head_type="dpt",
    output_mode="pts3d",
    depth_mode=("exp", -math.inf, math.inf),
    conf_mode=("exp", 1, math.inf),
    enc_embed_dim=64,
    enc_depth=2,
    enc_num_heads=4,
    dec_embed_dim=48,
    dec_depth=12,
    dec_num_heads=4,
)


def model_string():
    def fmt(v):
        if isinstance(v, tuple):
            return "(" + ", ".join(fmt(x) for x in v) + ")"
        if isinstance(v, float) and math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)

    args = ", ".join(f"{k}={fmt(v)}" for k, v in MODEL_KWARGS.items())
    return f"AsymmetricCroCo3DStereo({args})"


def key_hash(key):
    h = 0
    for c in key.encode("utf-8"):
        h = (h * 31 + c) % 1000003
    return h


def formula(key, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    s = np.sin(0.37 * np.arange(n, dtype=np.float64) + 0.001 * key_hash(key))
    if len(shape) == 1:
        if "norm" in key and key.endswith(".weight"):
            v = 1.0 + 0.1 * s
        else:
            v = 0.02 * s
    else:
        v = s / math.sqrt(n / shape[0])
    return v.astype(np.float32).reshape(shape)


def import_upstream(root):
    sys.path[:0] = [
        os.path.join(root, "dust3r"),
        os.path.join(root, "roma"),
        os.path.join(root, "einops"),
    ]
    hub = types.ModuleType("huggingface_hub")
    hub.__version__ = "0.22.0"

    class PyTorchModelHubMixin:
        def __init_subclass__(cls, **kwargs):
            super().__init_subclass__()

    hub.PyTorchModelHubMixin = PyTorchModelHubMixin
    sys.modules["huggingface_hub"] = hub
    import torch

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    import dust3r.inference as inference
    import dust3r.model as model

    return types.SimpleNamespace(torch=torch, inference=inference, model=model)


def formula_state_dict(up):
    """Upstream's state_dict of the model, every tensor from the formula."""
    torch = up.torch
    net = up.model.AsymmetricCroCo3DStereo(**MODEL_KWARGS)
    ref = net.state_dict()
    first_of_storage = {}
    shared = {}
    sd = {}
    for key, t in ref.items():
        ptr = t.data_ptr()
        if ptr in first_of_storage:
            shared[key] = first_of_storage[ptr]
            sd[key] = sd[first_of_storage[ptr]]
            continue
        first_of_storage[ptr] = key
        sd[key] = torch.from_numpy(formula(key, tuple(t.shape)))
    keys = [[k, list(t.shape)] for k, t in ref.items()]
    return sd, keys, shared


def run_pair(up, net, u8_1, u8_2):
    """inference() on (view1, view2) with hooks; returns name -> array."""
    torch = up.torch

    def view(u8, idx):
        img = torch.from_numpy(u8).permute(2, 0, 1).float() / 255.0
        img = ((img - 0.5) / 0.5)[None]
        shape = np.int32([u8.shape[:2]])
        return dict(img=img, true_shape=shape, idx=idx, instance=str(idx))

    rec = {}
    decoder = net._decoder

    def record_decoder(f1, pos1, f2, pos2):
        dec1, dec2 = (list(x) for x in decoder(f1, pos1, f2, pos2))
        rec["pos1"], rec["pos2"] = pos1, pos2
        rec["dec1"], rec["dec2"] = dec1, dec2
        return iter((dec1, dec2))

    net._decoder = record_decoder
    hooks = []
    for k in (1, 2):
        head = getattr(net, f"downstream_head{k}").dpt

        def hook(module, inputs, output, k=k):
            rec[f"head{k}_raw"] = output

        hooks.append(head.register_forward_hook(hook))
    res = up.inference.inference(
        [(view(u8_1, 0), view(u8_2, 1))], net, "cpu", batch_size=1, verbose=False
    )
    for h in hooks:
        h.remove()
    del net._decoder
    out = {}
    for k in (1, 2):
        dec = rec[f"dec{k}"]
        out[f"img{k}_pos"] = rec[f"pos{k}"].numpy().astype(np.int64)
        out[f"img{k}_enc_out"] = dec[0].numpy()
        for layer in range(1, len(dec)):
            out[f"dec{k}_layer{layer}"] = dec[layer].numpy()
        out[f"head{k}_raw"] = rec[f"head{k}_raw"].numpy()
    out["pred1_pts3d"] = res["pred1"]["pts3d"].numpy()
    out["pred1_conf"] = res["pred1"]["conf"].numpy()
    out["pred2_pts3d_in_other_view"] = res["pred2"]["pts3d_in_other_view"].numpy()
    out["pred2_conf"] = res["pred2"]["conf"].numpy()
    # The preds are the activated raw heads (upstream's own postprocess).
    from dust3r.heads.postprocess import postprocess

    for k, name in ((1, "pts3d"), (2, "pts3d")):
        act = postprocess(
            torch.from_numpy(out[f"head{k}_raw"]),
            net.depth_mode,
            net.conf_mode,
        )
        pred = out["pred1_pts3d"] if k == 1 else out["pred2_pts3d_in_other_view"]
        assert np.array_equal(act[name].numpy(), pred), k
    return out


MEANING = {
    "pos": ("B,N,2", "token positions (row y, col x) of the image, int64"),
    "enc_out": ("B,N,enc_dim", "encoder output (after enc_norm) = head input list entry 0"),
    "dec": (
        "B,N,dec_dim",
        "decoder layer output = head input list entry l; only layer L is dec_norm'ed",
    ),
    "head_raw": ("B,4,H,W", "DPT output (downstream_head{k}.dpt) before the activation"),
    "pts3d": ("B,H,W,3", "activated points, view 1's camera frame"),
    "conf": ("B,H,W", "activated confidence (1 + exp)"),
}


def describe(name):
    if name.endswith("_uint8"):
        return "H,W,3", "input image, RGB uint8"
    if name.endswith("_pos"):
        return MEANING["pos"]
    if name.endswith("_enc_out"):
        return MEANING["enc_out"]
    if "_layer" in name:
        return MEANING["dec"]
    if name.endswith("_raw"):
        return MEANING["head_raw"]
    if "pts3d" in name:
        return MEANING["pts3d"]
    return MEANING["conf"]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def git_commit(path):
    try:
        import subprocess

        return subprocess.run(
            ["git", "-C", path, "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True, help="folder with dust3r/, roma/, einops/")
    ap.add_argument("--upstream-commit", default="", help="recorded in the manifest")
    ap.add_argument("--verify", action="store_true", help="compare, write nothing")
    args = ap.parse_args()
    up = import_upstream(os.path.abspath(args.upstream))
    torch = up.torch
    sd, keys, shared = formula_state_dict(up)
    u8_1 = np.load(os.path.join(INPUTS, "img1_uint8.npy"))
    u8_2 = np.load(os.path.join(INPUTS, "img2_uint8.npy"))
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "tiny_dpt.pth")
        namespace = _argparse.Namespace(model=model_string())
        torch.save({"args": namespace, "model": sd}, ckpt)
        net = up.model.load_model(ckpt, "cpu", verbose=False)
        net.eval()
        ckpt_sha = sha256(ckpt)
    out = {"img1_uint8": u8_1, "img2_uint8": u8_2}
    calls = []
    for tag, (a, b) in (("fwd_", (u8_1, u8_2)), ("rev_", (u8_2, u8_1))):
        for name, arr in run_pair(up, net, a, b).items():
            out[tag + name] = arr
        views = ["img1", "img2"] if tag == "fwd_" else ["img2", "img1"]
        calls.append(
            {
                "prefix": tag,
                "call": "pair",
                "views": views,
                "n_images": 2,
                "H": 64,
                "W": 96,
                "render": False,
                "memory_in": "none",
                "upstream": (
                    "dust3r.inference.inference([(view(%s), view(%s))], model, 'cpu', "
                    "batch_size=1)" % tuple(views)
                ),
            }
        )
    if args.verify:
        status = 0
        for name, arr in out.items():
            ref = np.load(os.path.join(OUT, name + ".npy"))
            if ref.shape != arr.shape or not np.array_equal(ref, arr):
                print(name, "DIFFERS", float(np.abs(ref - arr).max()))
                status = 1
        print("verify", "ok" if status == 0 else "FAILED")
        return status
    probes = []
    for key, shape in keys[::97]:
        values = formula(shared.get(key, key), tuple(shape)).reshape(-1)
        probes += [[key, i, float(values[i])] for i in (0, 1)]
    files = []
    for name, arr in out.items():
        layout, meaning = describe(name)
        files.append(
            {
                "file": name + ".npy",
                "shape": list(arr.shape),
                "dtype": str(arr.dtype),
                "layout": layout,
                "meaning": meaning,
            }
        )
    raw = [out[f"{t}head{k}_raw"] for t in ("fwd_", "rev_") for k in (1, 2)]
    manifest = {
        "scenario": "tiny_dpt: one pair 64x96 + 64x96 through the DPT head, both orders",
        "provenance": {
            "upstream": "https://github.com/naver/dust3r",
            "upstream_commit": args.upstream_commit
            or git_commit(os.path.join(args.upstream, "dust3r")),
            "generator": "tests/data/dust3r/generate/make_dpt_fixture.py",
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
            "device": "cpu",
            "torch_threads": 2,
            "huggingface_hub": "stand-in module (import only)",
        },
        "checkpoint": {
            "formula": FORMULA,
            "formula_text": (
                "per key: h = 0; for each UTF-8 byte c: h = (h*31 + c) mod 1000003; "
                "element i of the flattened C-order tensor: s = sin(0.37*i + 0.001*h) "
                "(float64); value = 1 + 0.1*s for 1-D keys containing 'norm' and ending "
                "in '.weight', 0.02*s for other 1-D tensors, s/sqrt(numel/shape[0]) "
                "otherwise; cast to float32"
            ),
            "model": model_string(),
            "keys": keys,
            "shared": shared,
            "shared_rule": "a key listed in shared holds the tensor of the key it names",
            "probes": probes,
            "sha256_of_the_temporary_pth": ckpt_sha,
            "loaded_with": (
                "dust3r.model.load_model(path, 'cpu') (strict=False, "
                "ManyAR -> PatchEmbedDust3R, landscape_only=False)"
            ),
        },
        "model_args": model_string(),
        "calls": calls,
        "note": (
            "img1/img2 are tiny_linear/p1's inputs. fwd = (img1, img2), rev = (img2, img1). "
            "Head input list = [enc_out, dec layer 1..L]; the DPT hooks are [0, 6, 9, 12]."
        ),
        "checks": {
            "head_raw_max_abs": max(float(np.abs(r).max()) for r in raw),
            "head_raw_std": [float(r.std()) for r in raw],
            "preds_equal_activated_raw": True,
        },
        "files": files,
    }
    os.makedirs(OUT, exist_ok=True)
    for name, arr in out.items():
        np.save(os.path.join(OUT, name + ".npy"), arr)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print("wrote", OUT, "head_raw max", manifest["checks"]["head_raw_max_abs"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
