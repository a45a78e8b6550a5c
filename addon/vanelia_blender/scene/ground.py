"""The ground: a plane at z = 0, a Cycles shadow catcher.

Invisible except for the shadows and reflections it catches (with film
transparent it renders as alpha that darkens the plate). Sized to the scene:
it covers the cameras' floor positions and the product with a margin, so no
shadow is cut off.
"""

import bpy

from .collection import ensure_data, ensure_object

GROUND_NAME = "Vanelia Ground"
MIN_SIZE_M = 10.0


def ground_extent(camera_positions, product_xy, margin_m=5.0):
    """(centre_x, centre_y, size) of a square covering cameras and product."""
    xs = [p[0] for p in camera_positions] + [product_xy[0]]
    ys = [p[1] for p in camera_positions] + [product_xy[1]]
    cx, cy = product_xy
    half = max(max(abs(x - cx) for x in xs), max(abs(y - cy) for y in ys))
    size = max(MIN_SIZE_M, 2.0 * (half + margin_m))
    return cx, cy, size


def _make_plane_mesh(name):
    mesh = bpy.data.meshes.new(name)
    verts = [(-0.5, -0.5, 0.0), (0.5, -0.5, 0.0), (0.5, 0.5, 0.0), (-0.5, 0.5, 0.0)]
    mesh.from_pydata(verts, [], [(0, 1, 2, 3)])
    mesh.update()
    return mesh


def _material(name):
    mat = bpy.data.materials.new(name)
    mat.diffuse_color = (0.8, 0.8, 0.8, 1.0)
    return mat


def ensure_ground(collection, centre_x, centre_y, size):
    mesh = ensure_data(bpy.data.meshes, GROUND_NAME, "mesh", _make_plane_mesh)
    mat = ensure_data(bpy.data.materials, GROUND_NAME, "material", _material)
    if mat.name not in mesh.materials:
        mesh.materials.append(mat)
    obj = ensure_object(GROUND_NAME, mesh, collection)
    obj.location = (centre_x, centre_y, 0.0)
    obj.rotation_euler = (0.0, 0.0, 0.0)
    obj.scale = (size, size, 1.0)
    obj.is_shadow_catcher = True
    obj.pass_index = 0
    obj.hide_select = False
    return obj
