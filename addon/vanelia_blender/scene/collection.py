"""The `Vanelia` collection and update-or-create of the things we make.

Everything the add-on creates lives in one collection named `Vanelia` and
carries the custom property `vanelia_owned = True` (or scene/camera.py's
`vanelia_role`). Building again finds and
updates those things instead of duplicating them. Something of the user's
with a name we need is never renamed, replaced or deleted: it is a
NameClashError that names it.
"""

import bpy

COLLECTION_NAME = "Vanelia"
OWNED_KEY = "vanelia_owned"


class NameClashError(ValueError):
    """A user datablock has a name Vanelia needs."""


ROLE_KEY = "vanelia_role"  # scene/camera.py's marker (collection, camera)


def is_owned(id_block):
    return bool(id_block is not None and (id_block.get(OWNED_KEY, False) or id_block.get(ROLE_KEY)))


def mark_owned(id_block):
    id_block[OWNED_KEY] = True
    return id_block


def _check_free(datablocks, name, kind):
    existing = datablocks.get(name)
    if existing is not None and not is_owned(existing):
        raise NameClashError(
            f"{kind} '{name}' exists and is not Vanelia's; rename it "
            "(Vanelia never replaces the user's things)"
        )
    return existing


def check_names(objects=(), data=()):
    """Raises NameClashError before anything is built. `data` pairs
    (bpy.data collection, name, kind)."""
    for name in objects:
        _check_free(bpy.data.objects, name, "object")
    for datablocks, name, kind in data:
        _check_free(datablocks, name, kind)
    _check_free(bpy.data.collections, COLLECTION_NAME, "collection")


def ensure_collection(scene):
    coll = _check_free(bpy.data.collections, COLLECTION_NAME, "collection")
    if coll is None:
        coll = mark_owned(bpy.data.collections.new(COLLECTION_NAME))
        coll[ROLE_KEY] = "collection"
    if coll.name not in scene.collection.children:
        scene.collection.children.link(coll)
    return coll


def ensure_data(datablocks, name, kind, create):
    """Our datablock `name` from `datablocks`, made with `create(name)`."""
    block = _check_free(datablocks, name, kind)
    if block is None:
        block = mark_owned(create(name))
    return block


def ensure_object(name, data, collection):
    """Our object `name` with `data`, linked into `collection`."""
    obj = _check_free(bpy.data.objects, name, "object")
    if obj is None:
        obj = mark_owned(bpy.data.objects.new(name, data))
    elif obj.data is not data:
        obj.data = data
    if obj.name not in collection.objects:
        collection.objects.link(obj)
    return obj


def layer_collection_of(view_layer, collection):
    def find(layer):
        if layer.collection == collection:
            return layer
        for child in layer.children:
            found = find(child)
            if found is not None:
                return found
        return None

    return find(view_layer.layer_collection)
