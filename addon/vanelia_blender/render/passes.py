"""Deliverable passes (`vanelia run --passes DIR`): per-frame image
sequences a compositor (Nuke, After Effects, Resolve, Fusion) finishes the
shot from, written by the render itself (a File Output node,
scene/compositing.py):

    DIR/product/product.NNNN.exr    the product without its shadow, RGBA
    DIR/shadow/shadow.NNNN.exr      the shadow: the plate's multiplier (RGB;
                                    1 where nothing shadows the plate)
    DIR/holdout/holdout.NNNN.exr    the holdout mask: where a holdout object
                                    (a real object in front) hides the product
    DIR/plate/plate.NNNN.exr        the plate as composited
    DIR/composite/composite.NNNN.exr  plate x shadow, then the product over

NNNN is the plate's frame number counted from 1 (Blender's frame: decoded
frame index + 1), at least 4 digits. The passes recombine to the composite:
composite = plate * shadow + product (premultiplied over).

Formats (`--passes-format`):
- exr: OpenEXR, 16-bit half, ZIP, scene-linear (Rec.709 primaries); RGBA
  premultiplied as EXR is.
- png16: 16-bit PNG; product, plate and composite in the plate's display
  encoding (sRGB, Standard view), the product with straight alpha as PNG
  defines it; shadow and holdout as data (no view transform).

The passes need the whole frame, so a run with passes renders without the
border. Holdout objects are the objects of the Vanelia collection marked
holdout (or shadow catchers other than the ground); each gets the holdout
AOV in its material.
"""

import glob
import os

FORMATS = ("exr", "png16")
NAMES = ("product", "shadow", "holdout", "plate", "composite")
HOLDOUT_AOV = "vanelia_holdout"
_EXTENSION = {"exr": ".exr", "png16": ".png"}
# Passes that are images (colour managed in a PNG); the others are data.
_IMAGES = ("product", "plate", "composite")


class PassesError(ValueError):
    """Bad --passes input (a folder that cannot hold them)."""


def pass_path(folder, name, frame, fmt):
    """The file of pass `name` at Blender frame `frame`."""
    return os.path.join(folder, name, f"{name}.{frame:04d}{_EXTENSION[fmt]}")


def check_passes(folder, fmt, frames, overwrite):
    """Before any work: `fmt` known, the folder writable (made if missing,
    its parent must exist), and no pass file of `frames` (Blender frames) in
    the way unless `overwrite`. Raises PassesError."""
    if fmt not in FORMATS:
        raise PassesError(f"--passes-format '{fmt}': must be one of {', '.join(FORMATS)}")
    folder = os.path.abspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise PassesError(f"--passes '{folder}': exists and is not a folder")
    parent = folder if os.path.isdir(folder) else os.path.dirname(folder)
    if not os.path.isdir(parent):
        raise PassesError(f"--passes '{folder}': folder '{parent}' does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PassesError(f"--passes '{folder}': folder '{parent}' is not writable")
    if overwrite:
        return
    wanted = {pass_path(folder, n, f, fmt) for n in NAMES for f in frames}
    present = sorted(
        p for n in NAMES for p in glob.glob(os.path.join(folder, n, f"{n}.*")) if p in wanted
    )
    if present:
        raise PassesError(
            f"--passes '{folder}': {len(present)} pass file(s) of these frames exist "
            f"(first: {present[0]}); use --overwrite to replace them"
        )


def _format_settings(fmt, name):
    """settings(ImageFormatSettings) for pass `name` in `fmt`."""

    def settings(image_format):
        if fmt == "exr":
            image_format.file_format = "OPEN_EXR"
            image_format.color_depth = "16"
            image_format.exr_codec = "ZIP"
        else:
            image_format.file_format = "PNG"
            image_format.color_depth = "16"
            image_format.compression = 15
            if name not in _IMAGES:
                # Data: written as computed, no view transform.
                image_format.color_management = "OVERRIDE"
                image_format.view_settings.view_transform = "Raw"
                image_format.view_settings.look = "None"
        if name == "holdout":
            # One channel where the format offers it (3.4's EXR output
            # slots do not: RGB, the three equal).
            try:
                image_format.color_mode = "BW"
            except TypeError:
                image_format.color_mode = "RGB"
        elif name == "shadow" or (fmt == "png16" and name != "product"):
            image_format.color_mode = "RGB"
        else:
            image_format.color_mode = "RGBA"

    return settings


def holdout_objects(collection, ground):
    """The objects of `collection` that hide the product: holdouts, and
    shadow catchers other than the ground (proxies of real objects)."""
    return [
        o
        for o in collection.all_objects
        if o.type == "MESH" and o != ground and (o.is_holdout or o.is_shadow_catcher)
    ]


def _mark_holdout(obj):
    """Adds the holdout AOV (value 1) to every material of `obj`; an object
    without one gets the Vanelia holdout material."""
    import bpy

    if not obj.data.materials:
        mat = bpy.data.materials.get("Vanelia Holdout") or bpy.data.materials.new("Vanelia Holdout")
        obj.data.materials.append(mat)
    for mat in obj.data.materials:
        if mat is None:
            continue
        mat.use_nodes = True
        nodes = mat.node_tree.nodes
        aov = nodes.get(HOLDOUT_AOV)
        if aov is None:
            aov = nodes.new("ShaderNodeOutputAOV")
        # Blender 3.x: the AOV is the node's name; 4.x adds aov_name.
        aov.name = HOLDOUT_AOV
        if hasattr(aov, "aov_name"):
            aov.aov_name = HOLDOUT_AOV
        aov.inputs["Value"].default_value = 1.0


def configure_passes(scene, built, folder, fmt):
    """Sets the built scene up to write the passes to `folder` in `fmt` on
    every frame it renders; returns the File Output node."""
    from ..scene import compositing
    from ..scene.collection import COLLECTION_NAME

    import bpy

    layer = scene.view_layers[0]
    layer.cycles.use_pass_shadow_catcher = True
    if HOLDOUT_AOV not in [a.name for a in layer.aovs]:
        aov = layer.aovs.add()
        aov.name, aov.type = HOLDOUT_AOV, "VALUE"
    for obj in holdout_objects(bpy.data.collections[COLLECTION_NAME], built.ground):
        _mark_holdout(obj)
    sockets = compositing.pass_sockets(scene, built.clip, built.distorted, HOLDOUT_AOV)
    formats = {name: (f"{name}/{name}.####", _format_settings(fmt, name)) for name in sockets}
    return compositing.build_pass_outputs(scene, sockets, os.path.abspath(folder), formats)
