"""Checks a product file before Blender's importer sees it (bpy-free).

A product is a binary glTF 2.0 (.glb: magic 'glTF', version 2, a JSON chunk
first, then an optional BIN chunk) or a .gltf JSON file, and it must hold at
least one mesh. Checked up front, so that a bad file is refused with one line
before anything in the scene changes:
- the header and every chunk length against the file's size;
- the JSON (NaN and Infinity are not JSON);
- every `buffers[].uri` and `images[].uri`: a `data:` URI or a relative path
  to a file inside the product's folder (never `../..`, an absolute path or
  another scheme: Blender would read any file it names);
- the vertex positions of every mesh: finite numbers.
"""

import array
import base64
import json
import math
import os
import struct
import sys
import urllib.parse

_JSON, _BIN = 0x4E4F534A, 0x004E4942
_FLOAT = 5126
_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


class ProductError(ValueError):
    """A product file that cannot be used; the message names file and rule."""


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _chunks(path, data):
    """The JSON text and the BIN chunk (or None) of a GLB's bytes."""
    if len(data) < 20:
        raise ProductError(f"product '{path}': truncated GLB header")
    version, length = struct.unpack_from("<II", data, 4)
    if version != 2:
        raise ProductError(f"product '{path}': GLB version {version}; must be 2")
    if length != len(data):
        raise ProductError(
            f"product '{path}': GLB length {length} differs from the "
            f"file size {len(data)} (truncated?)"
        )
    chunks, offset = [], 12
    while offset < len(data):
        if offset + 8 > len(data):
            raise ProductError(f"product '{path}': truncated chunk header at byte {offset}")
        size, kind = struct.unpack_from("<II", data, offset)
        if size > len(data) - offset - 8:
            raise ProductError(
                f"product '{path}': chunk at byte {offset} claims {size} bytes; "
                f"the file has {len(data) - offset - 8} left"
            )
        chunks.append((kind, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size
    if not chunks or chunks[0][0] != _JSON:
        raise ProductError(f"product '{path}': first GLB chunk is not JSON")
    binary = chunks[1][1] if len(chunks) > 1 and chunks[1][0] == _BIN else None
    return chunks[0][1], binary


def _read(path):
    """(glTF JSON document, BIN chunk or None) of a .glb or .gltf file."""
    if not os.path.isfile(path):
        raise ProductError(f"product '{path}': no such file")
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"glTF":
        text, binary = _chunks(path, data)
    elif path.lower().endswith(".gltf"):
        text, binary = data, None
    else:
        raise ProductError(
            f"product '{path}': not a GLB (no 'glTF' magic); "
            "export the product as binary glTF 2.0 (.glb)"
        )
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except ValueError as e:
        raise ProductError(f"product '{path}': glTF JSON unreadable ({e})")
    if not isinstance(doc, dict):
        raise ProductError(f"product '{path}': glTF JSON is not an object")
    return doc, binary


def read_gltf_json(path):
    """The glTF JSON document of a .glb or .gltf file."""
    return _read(path)[0]


def _check_uri(path, where, uri):
    """Raises unless `uri` is a data: URI or a file inside the product's folder."""
    if not isinstance(uri, str):
        raise ProductError(f"product '{path}': {where}.uri is not a string")
    if uri.startswith("data:"):
        return
    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    name = urllib.parse.unquote(uri)
    parsed = urllib.parse.urlparse(uri)
    target = os.path.realpath(os.path.join(folder, name))
    inside = target.startswith(folder + os.sep)
    if (parsed.scheme and len(parsed.scheme) > 1) or os.path.isabs(name) or not inside:
        raise ProductError(
            f"product '{path}': {where}.uri '{uri}' points outside the product's folder; "
            "embed the data (export as .glb) or keep the files beside it"
        )


def _buffer_bytes(path, doc, binary, index):
    """The bytes of buffers[index] (the GLB's BIN chunk, a data: URI or a file
    beside the product), or None when they cannot be read."""
    buffers = doc.get("buffers") or []
    if not isinstance(index, int) or not 0 <= index < len(buffers):
        return None
    uri = buffers[index].get("uri")
    if uri is None:
        return binary
    if uri.startswith("data:"):
        try:
            return base64.b64decode(uri.split(",", 1)[1])
        except (IndexError, ValueError):
            raise ProductError(f"product '{path}': buffers[{index}] has a bad data: URI")
    name = os.path.join(os.path.dirname(os.path.abspath(path)), urllib.parse.unquote(uri))
    if not os.path.isfile(name):
        raise ProductError(f"product '{path}': buffers[{index}] file '{uri}' is missing")
    with open(name, "rb") as f:
        return f.read()


def _floats(path, doc, binary, accessor_index):
    """The float values of a float accessor, or None when it is not one."""
    accessors = doc.get("accessors") or []
    if not isinstance(accessor_index, int) or not 0 <= accessor_index < len(accessors):
        raise ProductError(f"product '{path}': accessor {accessor_index} does not exist")
    acc = accessors[accessor_index]
    if acc.get("componentType") != _FLOAT or "bufferView" not in acc:
        return None
    views = doc.get("bufferViews") or []
    view_index = acc["bufferView"]
    if not isinstance(view_index, int) or not 0 <= view_index < len(views):
        raise ProductError(f"product '{path}': bufferView {view_index} does not exist")
    view = views[view_index]
    data = _buffer_bytes(path, doc, binary, view.get("buffer"))
    if data is None:
        return None
    width = _COMPONENTS.get(acc.get("type"), 1)
    stride = view.get("byteStride") or 4 * width
    start = int(view.get("byteOffset", 0)) + int(acc.get("byteOffset", 0))
    count = int(acc.get("count", 0))
    end = start + stride * (count - 1) + 4 * width if count else start
    if (
        start < 0
        or end > len(data)
        or end > int(view.get("byteOffset", 0)) + int(view.get("byteLength", 0))
    ):
        raise ProductError(
            f"product '{path}': accessor {accessor_index} reaches past its buffer's end"
        )
    values = array.array("f")
    if stride == 4 * width:
        values.frombytes(data[start:end])
    else:
        for k in range(count):
            values.frombytes(data[start + k * stride : start + k * stride + 4 * width])
    if sys.byteorder != "little":
        values.byteswap()
    return values


def _check_positions(path, doc, binary):
    for m, mesh in enumerate(doc.get("meshes") or []):
        for p, primitive in enumerate(mesh.get("primitives") or []):
            index = (primitive.get("attributes") or {}).get("POSITION")
            if index is None:
                continue
            values = _floats(path, doc, binary, index)
            if values is not None and not all(math.isfinite(v) for v in values):
                raise ProductError(
                    f"product '{path}': mesh {m} primitive {p} has vertex positions "
                    "that are not finite numbers (NaN or infinity)"
                )


def check_product(path):
    """Raises ProductError unless `path` is a usable glTF 2.0 file with a mesh."""
    doc, binary = _read(path)
    if not doc.get("meshes"):
        raise ProductError(f"product '{path}': contains no mesh; nothing to render")
    try:
        for key in ("buffers", "images"):
            for i, item in enumerate(doc.get(key) or []):
                if isinstance(item, dict) and "uri" in item:
                    _check_uri(path, f"{key}[{i}]", item["uri"])
        _check_positions(path, doc, binary)
    except ProductError:
        raise
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as e:
        # A field of the wrong type (a number where an object belongs, ...).
        raise ProductError(f"product '{path}': malformed glTF JSON ({type(e).__name__}: {e})")
    return doc
