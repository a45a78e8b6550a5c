"""A grey box product written as a binary glTF (.glb) for the tests that
render one: `write_box_glb(path, size)` with size a number (a cube) or
(x, y, z) metres in Blender axes (z up), standing on its base's centre."""

import json
import struct


def write_box_glb(path, size, grey=0.5):
    """A grey box of `size` m (a number or Blender (x, y, z)) whose base's
    centre is the origin (glTF +Y up, so Blender z is glTF y)."""
    sx, sy, sz = (size, size, size) if isinstance(size, (int, float)) else size
    hx, hz, top = sx / 2.0, sy / 2.0, sz  # glTF x, z half sizes; glTF y = height
    faces = [  # normal, four corners (counter-clockwise seen from outside)
        ((1, 0, 0), [(hx, 0, hz), (hx, 0, -hz), (hx, top, -hz), (hx, top, hz)]),
        ((-1, 0, 0), [(-hx, 0, -hz), (-hx, 0, hz), (-hx, top, hz), (-hx, top, -hz)]),
        ((0, 1, 0), [(-hx, top, hz), (hx, top, hz), (hx, top, -hz), (-hx, top, -hz)]),
        ((0, -1, 0), [(-hx, 0, -hz), (hx, 0, -hz), (hx, 0, hz), (-hx, 0, hz)]),
        ((0, 0, 1), [(-hx, 0, hz), (hx, 0, hz), (hx, top, hz), (-hx, top, hz)]),
        ((0, 0, -1), [(hx, 0, -hz), (-hx, 0, -hz), (-hx, top, -hz), (hx, top, -hz)]),
    ]
    pos, nrm, idx = [], [], []
    for normal, corners in faces:
        base = len(pos)
        pos += corners
        nrm += [normal] * 4
        idx += [base, base + 1, base + 2, base, base + 2, base + 3]
    p = struct.pack(f"<{3 * len(pos)}f", *[c for v in pos for c in v])
    n = struct.pack(f"<{3 * len(nrm)}f", *[c for v in nrm for c in v])
    i = struct.pack(f"<{len(idx)}H", *idx)
    binary = p + n + i + b"\0" * (-len(i) % 4)
    doc = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "GreyBox"}],
        "materials": [
            {
                "name": "Grey",
                "pbrMetallicRoughness": {
                    "baseColorFactor": [grey, grey, grey, 1.0],
                    "metallicFactor": 0.0,
                    "roughnessFactor": 0.9,
                },
            }
        ],
        "meshes": [
            {
                "primitives": [
                    {"attributes": {"POSITION": 0, "NORMAL": 1}, "indices": 2, "material": 0}
                ]
            }
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": len(pos), "type": "VEC3",
             "min": [-hx, 0, -hz], "max": [hx, top, hz]},
            {"bufferView": 1, "componentType": 5126, "count": len(nrm), "type": "VEC3"},
            {"bufferView": 2, "componentType": 5123, "count": len(idx), "type": "SCALAR"},
        ],  # fmt: skip
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": len(p)},
            {"buffer": 0, "byteOffset": len(p), "byteLength": len(n)},
            {"buffer": 0, "byteOffset": len(p) + len(n), "byteLength": len(i)},
        ],
        "buffers": [{"byteLength": len(binary)}],
    }
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text
    body += struct.pack("<II", len(binary), 0x004E4942) + binary
    with open(path, "wb") as f:
        f.write(b"glTF" + struct.pack("<II", 2, 12 + len(body)) + body)
