"""What the MUSt3R fixture generators share: the fixture paths, the memory's
scalars, the manifest's file entries, and writing (or, with --verify,
comparing) a scenario folder. Imported by make_video_scenarios.py,
make_decoder_scenarios.py and make_portrait_refinement_scenarios.py."""

import hashlib
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
CHECKPOINT = os.path.join(DATA, "checkpoints", "tiny_kv.pth")
FRAMES = os.path.join(DATA, "video_orbit", "frames_u8.npy")
IMAGES = os.path.join(DATA, "video_orbit", "images.npy")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def memory_scalars(mem):
    """The scalars of upstream's decoder memory (layers, labels, nimgs, protected...)."""
    return {
        "mem_nimgs": int(mem[2]),
        "mem_protected_imgs": int(mem[3]),
        "mem_protected_tokens": int(mem[4]),
        "Nmem": int(mem[1].shape[1]),
    }


def memory_batches(n, init_num_images, batch_num_views):
    """Frames per memory batch, as upstream's video loop splits n frames."""
    batches = [min(init_num_images, n)]
    while sum(batches) != n:
        batches.append(min(batch_num_views, n - sum(batches)))
    return batches


def nmem_trace(calls, mem_batches, mem):
    """One row per decoder call: pass, batch, first id, n, Nmem before, after the
    decoder, after the removals (= before the next call; the final memory for the
    last call). `calls` holds [before, after, n] per call."""
    starts = np.cumsum([0] + mem_batches)
    rows = []
    for k, (before, after, count) in enumerate(calls):
        b = k % len(mem_batches)
        nxt = calls[k + 1][0] if k + 1 < len(calls) else int(mem[1].shape[1])
        rows.append([k // len(mem_batches), b, int(starts[b]), count, before, after, nxt])
    return np.int64(rows)


def file_entries(files, describe):
    """The manifest's "files": name.npy -> shape, dtype and describe(name), sorted."""
    return {
        key
        + ".npy": {
            "shape": list(arr.shape),
            "dtype": str(arr.dtype),
            "meaning": describe(key),
        }
        for key, arr in sorted(files.items())
    }


def save_or_verify(folder, files, manifest, verify, label, equal_nan=False):
    """Writes files (name -> array) as name.npy and manifest.json into folder, or
    with verify compares the arrays with the stored ones and prints what differs.
    Returns True when something differs."""
    if verify:
        differs = False
        for key, arr in files.items():
            ref = np.load(os.path.join(folder, key + ".npy"))
            if ref.shape != arr.shape or not np.array_equal(ref, arr, equal_nan=equal_nan):
                print(label, key, "DIFFERS")
                differs = True
        return differs
    os.makedirs(folder, exist_ok=True)
    for key, arr in files.items():
        np.save(os.path.join(folder, key + ".npy"), arr)
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return False
