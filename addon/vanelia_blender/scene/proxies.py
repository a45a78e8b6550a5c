"""Proxies: simple shapes of the real objects that stand on the floor.

The native `build_proxies` (floor/proxies.hpp) clusters the track's stored
points above the floor into oriented boxes (objects) and thin boxes (walls).
Each becomes a box object `Vanelia Proxy NN` in the Vanelia collection that
is a Cycles shadow catcher: like the ground it renders as nothing but the
shadows it catches, and being geometry it hides the product where the real
object stands in front of it (render/passes.py counts it as a holdout
object). It is drawn as a wireframe in the viewport so the artist can see
and adjust it; a rebuild updates our proxies in place and removes those no
longer found. A user's object that holds a proxy's name is never touched:
the proxy takes the next free number.
"""

import math

import bpy

from .. import native
from .collection import OWNED_KEY, ensure_data, mark_owned

PROXY_PREFIX = "Vanelia Proxy"
MATERIAL_NAME = "Vanelia Proxy"
ROLE = "proxy"
_ROLE_KEY = "vanelia_proxy"


def compute(track):
    """The native proxies of `track` (a Blender-world track document), or
    (None, why) when there are none to compute."""
    if not track.get("points"):
        return None, "the track has no stored points"
    if track.get("world", "blender") != "blender":
        return None, "the track is not aligned to the floor"
    if not native.has("build_proxies"):
        return None, "the native module is not available"
    try:
        return native.backend().build_proxies(track), ""
    except native.error_types() as e:
        return None, str(e)


def _cube_mesh(name):
    mesh = bpy.data.meshes.new(name)
    h = 0.5
    verts = [(x, y, z) for z in (-h, h) for y in (-h, h) for x in (-h, h)]
    faces = [
        (0, 2, 3, 1),
        (4, 5, 7, 6),
        (0, 1, 5, 4),
        (2, 6, 7, 3),
        (0, 4, 6, 2),
        (1, 3, 7, 5),
    ]
    mesh.from_pydata(verts, [], faces)
    mesh.update()
    return mesh


def _material(name):
    mat = bpy.data.materials.new(name)
    mat.diffuse_color = (0.8, 0.8, 0.8, 1.0)
    return mat


def _ours(obj):
    return obj.get(OWNED_KEY, False) and obj.get(_ROLE_KEY, False)


def existing(collection):
    """Our proxy objects in `collection`, by name."""
    return sorted((o for o in collection.objects if _ours(o)), key=lambda o: o.name)


def _free_names(count):
    """`count` proxy names, skipping those a user's object holds."""
    names, number = [], 1
    while len(names) < count:
        name = f"{PROXY_PREFIX} {number:02d}"
        obj = bpy.data.objects.get(name)
        if obj is None or _ours(obj):
            names.append(name)
        number += 1
    return names


def _make_object(name, collection, material):
    obj = bpy.data.objects.get(name)
    if obj is None:
        mesh = _cube_mesh(name)
        mesh.materials.append(material)
        mark_owned(mesh)
        obj = mark_owned(bpy.data.objects.new(name, mesh))
        obj[_ROLE_KEY] = True
    if obj.name not in collection.objects:
        collection.objects.link(obj)
    return obj


def _configure(obj, proxy):
    obj.location = proxy["centre"]
    obj.rotation_euler = (0.0, 0.0, math.radians(proxy["yaw_deg"]))
    obj.scale = proxy["size"]
    obj["vanelia_proxy_kind"] = proxy["kind"]
    obj["vanelia_proxy_points"] = proxy["points"]
    # A shadow catcher is invisible but for the shadows it catches, and it
    # hides what is behind it: the real object's stand-in (is_holdout would
    # make it cut the product out but drop the shadow it catches).
    obj.is_shadow_catcher = True
    obj.is_holdout = False
    obj.display_type = "WIRE"
    obj.show_in_front = False
    obj.hide_render = False
    obj.hide_viewport = False


def _remove(obj):
    mesh = obj.data
    bpy.data.objects.remove(obj)
    if mesh is not None and mesh.users == 0 and mesh.get(OWNED_KEY, False):
        bpy.data.meshes.remove(mesh)


def ensure_proxies(collection, result):
    """Creates or updates the proxies of `result` (native build_proxies) in
    `collection` and removes our stale ones; returns the proxy objects."""
    proxies = result["proxies"] if result else []
    material = ensure_data(bpy.data.materials, MATERIAL_NAME, "material", _material)
    names = _free_names(len(proxies))
    objects = []
    for name, proxy in zip(names, proxies):
        obj = _make_object(name, collection, material)
        _configure(obj, proxy)
        objects.append(obj)
    for obj in existing(collection):
        if obj not in objects:
            _remove(obj)
    return objects


def describe(result, why=""):
    """The report line for the summary and the panel."""
    if result is None:
        return f"no proxies ({why})" if why else "no proxies"
    return result["summary"]
