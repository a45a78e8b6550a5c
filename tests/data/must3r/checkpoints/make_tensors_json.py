"""Writes <name>_tensors.json beside each checkpoint named on the command line.

For every tensor of the 'encoder' and 'decoder' state dicts it records the
shape, the float64 sum, and the first and last value, as torch.load reads them.
checkpoint_test.cpp compares LoadCheckpoint against these summaries.

Run from the repository root (needs torch, e.g. Debian's python3-torch):
    /usr/bin/python3 tests/data/must3r/checkpoints/make_tensors_json.py \
        tiny_kv tiny_normy
"""

import json
import sys

import torch

FOLDER = "tests/data/must3r/checkpoints"


def summary(state_dict):
    return {
        key: {
            "shape": list(t.shape),
            "sum": t.double().sum().item(),
            "first": t.flatten()[0].item(),
            "last": t.flatten()[-1].item(),
        }
        for key, t in state_dict.items()
    }


def main(names):
    for name in names:
        ckpt = torch.load(f"{FOLDER}/{name}.pth", map_location="cpu")
        out = {part: summary(ckpt[part]) for part in ("encoder", "decoder")}
        with open(f"{FOLDER}/{name}_tensors.json", "w") as f:
            json.dump(out, f, indent=0, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
