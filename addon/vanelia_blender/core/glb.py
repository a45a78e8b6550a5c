"""Checks a product file before Blender's importer sees it (bpy-free).

A product is a binary glTF 2.0 (.glb: magic 'glTF', version 2, a JSON chunk
first) or a .gltf JSON file, and it must hold at least one mesh. Checking it
up front means a bad file is refused before anything in the scene changes.
"""

import json
import os
import struct


class ProductError(ValueError):
    """A product file that cannot be used; the message names file and rule."""


def read_gltf_json(path):
    """The glTF JSON document of a .glb or .gltf file."""
    if not os.path.isfile(path):
        raise ProductError(f"product '{path}': no such file")
    with open(path, "rb") as f:
        head = f.read(20)
        if head[:4] == b"glTF":
            if len(head) < 20:
                raise ProductError(f"product '{path}': truncated GLB header")
            version, length, chunk_len, chunk_type = struct.unpack("<IIII", head[4:])
            if version != 2:
                raise ProductError(f"product '{path}': GLB version {version}; must be 2")
            if chunk_type != 0x4E4F534A:  # 'JSON'
                raise ProductError(f"product '{path}': first GLB chunk is not JSON")
            if length != os.path.getsize(path):
                raise ProductError(
                    f"product '{path}': GLB length {length} differs from the "
                    f"file size {os.path.getsize(path)} (truncated?)"
                )
            text = f.read(chunk_len)
        elif path.lower().endswith(".gltf"):
            text = head + f.read()
        else:
            raise ProductError(
                f"product '{path}': not a GLB (no 'glTF' magic); "
                "export the product as binary glTF 2.0 (.glb)"
            )
    try:
        return json.loads(text)
    except ValueError as e:
        raise ProductError(f"product '{path}': glTF JSON unreadable ({e})")


def check_product(path):
    """Raises ProductError unless `path` is a glTF 2.0 file with a mesh."""
    doc = read_gltf_json(path)
    if not doc.get("meshes"):
        raise ProductError(f"product '{path}': contains no mesh; nothing to render")
    return doc
