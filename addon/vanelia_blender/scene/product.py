"""The product: a GLB imported with Blender's glTF importer under one empty.

Materials are left as imported (no recolouring; alpha and glass kept). The
imported objects are parented to the empty `Vanelia Product` and shifted so
that the bottom of their bounding box is at the empty's origin (z = 0) and
its footprint is centred on it; the size is the file's (glTF metres) unless
a target height is given. The empty carries the location, the rotation
about Z and the scale. Building again with the same file keeps the imported
objects; with another file the previous import (ours) is removed first.
"""

import os

import bpy
import mathutils

from .collection import ensure_object, layer_collection_of, mark_owned

EMPTY_NAME = "Vanelia Product"
PASS_INDEX = 1  # object index of the product's meshes (tests use it)


def _numpy_bool_shim():
    # Blender 3.4's glTF importer uses np.bool, removed in NumPy 1.24.
    import numpy as np

    if "bool" not in vars(np):  # hasattr() would warn on NumPy 1.24
        np.bool = bool


def _import_gltf(path, collection):
    _numpy_bool_shim()
    view_layer = bpy.context.view_layer
    previous = view_layer.active_layer_collection
    view_layer.active_layer_collection = layer_collection_of(view_layer, collection)
    before = set(bpy.data.objects)
    try:
        result = bpy.ops.import_scene.gltf(filepath=path)
    finally:
        view_layer.active_layer_collection = previous
    if "FINISHED" not in result:
        raise ValueError(f"product '{path}': the glTF importer failed")
    return [o for o in bpy.data.objects if o not in before]


def _children_of(empty):
    return [o for o in bpy.data.objects if o.parent == empty]


def _descendants(objs):
    out = []
    for o in objs:
        out.append(o)
        out.extend(_descendants(o.children))
    return out


def mesh_objects(empty):
    return [o for o in _descendants(_children_of(empty)) if o.type == "MESH"]


def local_bounds(empty):
    """(lo, hi) of the product's meshes in the empty's space."""
    bpy.context.view_layer.update()
    to_local = empty.matrix_world.inverted()
    lo = [float("inf")] * 3
    hi = [float("-inf")] * 3
    for obj in mesh_objects(empty):
        for corner in obj.bound_box:
            p = to_local @ (obj.matrix_world @ mathutils.Vector(corner))
            lo = [min(a, b) for a, b in zip(lo, p)]
            hi = [max(a, b) for a, b in zip(hi, p)]
    return lo, hi


def world_bounds(empty):
    """Axis-aligned (lo, hi) in world space of the product's mesh vertices."""
    bpy.context.view_layer.update()
    lo = [float("inf")] * 3
    hi = [float("-inf")] * 3
    for obj in mesh_objects(empty):
        m = obj.matrix_world
        for corner in obj.bound_box:
            p = m @ mathutils.Vector(corner)
            lo = [min(a, b) for a, b in zip(lo, p)]
            hi = [max(a, b) for a, b in zip(hi, p)]
    return lo, hi


def natural_size(empty):
    """(x, y, z) extent of the product's meshes at the file's size, metres
    (the empty's own scale and turn left out)."""
    lo, hi = local_bounds(empty)
    return [b - a for a, b in zip(lo, hi)]


def place(empty, location, rotation_z_rad):
    """Moves the product's empty to `location` turned by rotation_z_rad."""
    empty.location = tuple(location)
    empty.rotation_mode = "XYZ"
    empty.rotation_euler = (0.0, 0.0, rotation_z_rad)


def ensure_product(collection, path, location, rotation_z_rad=0.0, height_m=None):
    """Imports (or reuses) the product and places its empty."""
    path = os.path.abspath(path)
    empty = ensure_object(EMPTY_NAME, None, collection)
    empty.empty_display_type = "PLAIN_AXES"
    if empty.get("vanelia_source") != path or not mesh_objects(empty):
        for obj in reversed(_descendants(_children_of(empty))):
            if obj.get("vanelia_owned"):
                bpy.data.objects.remove(obj)
        empty.matrix_world = mathutils.Matrix.Identity(4)
        imported = _import_gltf(path, collection)
        for obj in imported:
            mark_owned(obj)
            if obj.type == "MESH":
                obj.pass_index = PASS_INDEX
        roots = [o for o in imported if o.parent is None]
        for obj in roots:
            obj.parent = empty
            obj.matrix_parent_inverse = mathutils.Matrix.Identity(4)
        lo, hi = local_bounds(empty)
        if not all(map(lambda v: abs(v) < float("inf"), lo + hi)):
            raise ValueError(f"product '{path}': no mesh was imported")
        offset = mathutils.Vector(((lo[0] + hi[0]) / -2, (lo[1] + hi[1]) / -2, -lo[2]))
        for obj in roots:
            obj.location = obj.location + offset
        empty["vanelia_source"] = path
        empty["vanelia_height_m"] = hi[2] - lo[2]
    natural = float(empty["vanelia_height_m"])
    scale = height_m / natural if height_m else 1.0
    empty.location = tuple(location)
    empty.rotation_mode = "XYZ"
    empty.rotation_euler = (0.0, 0.0, rotation_z_rad)
    empty.scale = (scale, scale, scale)
    return empty
