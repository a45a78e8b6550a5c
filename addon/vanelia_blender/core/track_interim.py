"""Interim reader of the track file v1 until core/track_file.py (branch
trackfile) lands: attribute access over the JSON."""

import json
from types import SimpleNamespace


def read_track(path):
    with open(path) as f:
        doc = json.load(f)
    frames = [SimpleNamespace(**fr) for fr in doc["frames"]]
    lens = doc.get("lens") or {"model": "pinhole", "k1": 0.0, "k2": 0.0}
    return SimpleNamespace(
        width=doc["width"],
        height=doc["height"],
        fps_num=doc["fps"]["num"],
        fps_den=doc["fps"]["den"],
        frames=frames,
        lens=SimpleNamespace(**lens),
        world=doc.get("world", "blender"),
    )
