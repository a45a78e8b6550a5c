"""The depth holdout: with a track's depth sidecar (core/depth_sidecar.py), the product is
hidden per frame where the footage's own surface is nearer than the product, which also handles
objects that move (the proxies, scene/proxies.py, are static).

`setup(scene, track, folder)` builds, in the compositing tree, a depth compare in front of
everything that uses the render (scene/compositing.py takes its render image from
`render_source`):

    Vanelia Depth Image (R depth in the scene's units, G confidence; the float image
    "Vanelia Depth", rewritten on every frame change from the sidecar) -> split
    hidden = clamp((Z - D (1 + TOLERANCE)) / (BAND D) + 0.5) x confidence
    Vanelia Depth Holdout: the render (premultiplied RGBA) x (1 - hidden)

Z is the render's Z pass (planar depth, as the sidecar's), so the product's shadow on the floor
is hidden too where a real object stands in front of it. A frame the sidecar has no map of gets
confidence 0 (nothing hidden). The per-frame image comes from a frame_change_pre handler; the
sidecar is memory-mapped, so setting up costs the same for any clip length.

What the handler needs (the sidecar folder, the track's frames, intrinsics and scale) is kept
in the scene (`STATE_KEY`, JSON), so a saved .blend can be armed again where it is opened:
`rearm(scene)` (the farm's render step calls it after opening the job's scene.blend), also run
for every scene by a load_post handler in a Blender where the holdout was set up or the add-on
is enabled (`register`).
"""

import json
import os

import bpy
import numpy as np
from bpy.app.handlers import persistent

from ..core import depth_sidecar, track_file
from . import compositing

IMAGE_NAME = "Vanelia Depth"
HOLDOUT_NODE = "Vanelia Depth Holdout"
STATE_KEY = "vanelia_depth_holdout"
_ARMED = {}  # scene name -> _Armed


class _Armed:
    def __init__(self, sidecar, track):
        self.sidecar = sidecar
        self.width, self.height = track["width"], track["height"]
        self.frames = {f["index"] + 1: f for f in track["frames"]}  # Blender frame -> frame
        self.shown = None


def _image(width, height):
    image = bpy.data.images.get(IMAGE_NAME)
    if image is not None and tuple(image.size) != (width, height):
        bpy.data.images.remove(image)
        image = None
    if image is None:
        image = bpy.data.images.new(IMAGE_NAME, width, height, alpha=True, float_buffer=True)
    image.colorspace_settings.name = "Non-Color"
    return image


def _math(tree, name, operation, location, a=None, b=None, clamp=False):
    node = compositing._node(tree, name, "CompositorNodeMath", location)
    node.operation, node.use_clamp = operation, clamp
    for socket, value in ((node.inputs[0], a), (node.inputs[1], b)):
        if isinstance(value, (int, float)):
            socket.default_value = value
        elif value is not None:
            compositing._link(tree, value, socket)
    return node.outputs[0]


def _nodes(scene, image):
    tree = compositing._tree(scene)
    layers = compositing._node(tree, "Vanelia Render Layers", "CompositorNodeRLayers", (0, 0))
    layers.scene = scene
    source = compositing._node(tree, "Vanelia Depth Image", "CompositorNodeImage", (-300, -300))
    source.image = image
    split = compositing._node(
        tree, "Vanelia Depth Split", "CompositorNodeSeparateColor", (-150, -300)
    )
    compositing._link(tree, source.outputs["Image"], split.inputs[0])
    depth, conf = split.outputs[0], split.outputs[1]
    z = layers.outputs["Depth"]
    tol, band = depth_sidecar.TOLERANCE, depth_sidecar.BAND
    far = _math(tree, "Vanelia Depth Far", "MULTIPLY", (0, -400), depth, 1.0 + tol)
    behind = _math(tree, "Vanelia Depth Behind", "SUBTRACT", (150, -400), z, far)
    width = _math(tree, "Vanelia Depth Band", "MULTIPLY", (0, -500), depth, band)
    ratio = _math(tree, "Vanelia Depth Ratio", "DIVIDE", (300, -400), behind, width)
    step = _math(tree, "Vanelia Depth Step", "ADD", (450, -400), ratio, 0.5, clamp=True)
    hidden = _math(tree, "Vanelia Depth Hidden", "MULTIPLY", (600, -400), step, conf)
    keep = _math(tree, "Vanelia Depth Keep", "SUBTRACT", (750, -400), 1.0, hidden, clamp=True)
    holdout = compositing._node(tree, HOLDOUT_NODE, "CompositorNodeSetAlpha", (900, -300))
    holdout.mode = "APPLY"
    compositing._link(tree, layers.outputs["Image"], holdout.inputs["Image"])
    compositing._link(tree, keep, holdout.inputs["Alpha"])
    return holdout


def setup(scene, track, folder):
    """Arms the depth holdout of `scene` from the sidecar in `folder` of track document
    `track` (checked against it: DepthSidecarError); returns the Sidecar. Call before the
    compositing tree is built (build.py does) so the render goes through it."""
    sidecar = depth_sidecar.Sidecar(folder, track)
    scene.view_layers[0].use_pass_z = True
    image = _image(track["width"], track["height"])
    _nodes(scene, image)
    scene[STATE_KEY] = json.dumps(_state(track, folder))
    _arm(scene, sidecar, track)
    return sidecar


def _state(track, folder):
    """What arming needs again in another process: a track document cut to its depth parts."""
    return {
        "folder": os.path.abspath(folder),
        "width": track["width"],
        "height": track["height"],
        "depth": track["depth"],
        "blender_from_track": track["blender_from_track"],
        "frames": [{"index": f["index"], "K": track_file.frame_k(f)} for f in track["frames"]],
    }


def _arm(scene, sidecar, track):
    _ARMED[scene.name] = _Armed(sidecar, track)
    for handlers, handler in (
        (bpy.app.handlers.frame_change_pre, _on_frame),
        (bpy.app.handlers.load_pre, _on_load),
        (bpy.app.handlers.load_post, _on_load_post),
    ):
        if handler not in handlers:
            handlers.append(handler)
    update(scene)


def rearm(scene):
    """Arms again the depth holdout `setup` saved in `scene` (an opened .blend: the per-frame
    handler's state lives in this process only). Returns True when armed, False when the scene
    has no depth holdout; DepthSidecarError when its sidecar is gone or changed."""
    text = scene.get(STATE_KEY)
    if not text or scene.node_tree is None or HOLDOUT_NODE not in scene.node_tree.nodes:
        return False
    state = json.loads(text)
    sidecar = depth_sidecar.Sidecar(state["folder"], state)
    _image(state["width"], state["height"])
    _arm(scene, sidecar, state)
    return True


def disarm(scene):
    """Removes the depth holdout's nodes and state of `scene` (a rebuild without a sidecar)."""
    _ARMED.pop(scene.name, None)
    if STATE_KEY in scene:
        del scene[STATE_KEY]
    tree = compositing._tree(scene)
    for node in list(tree.nodes):
        if node.name.startswith("Vanelia Depth"):
            tree.nodes.remove(node)


def update(scene):
    """Writes the current frame's depth and confidence into the depth image."""
    armed = _ARMED.get(scene.name)
    if armed is None or armed.shown == scene.frame_current:
        return
    w, h = armed.width, armed.height
    rgba = np.zeros((h, w, 4), np.float32)
    rgba[..., 3] = 1.0
    frame = armed.frames.get(scene.frame_current)
    maps = None
    if frame is not None:
        maps = armed.sidecar.frame_at(frame["index"], track_file.frame_k(frame), w, h)
    if maps is not None:
        rgba[..., 0], rgba[..., 1] = maps
    image = bpy.data.images.get(IMAGE_NAME)
    if image is None:  # removed by the user: nothing to update
        _ARMED.pop(scene.name, None)
        return
    image.pixels.foreach_set(rgba[::-1].ravel())
    image.update()
    armed.shown = scene.frame_current


@persistent
def _on_frame(scene, depsgraph=None):
    update(scene)


@persistent
def _on_load(*_args):
    """Another file: the sidecars armed for this one's scenes no longer apply."""
    _ARMED.clear()


@persistent
def _on_load_post(*_args):
    """An opened file's scenes with a depth holdout are armed again."""
    for scene in bpy.data.scenes:
        try:
            rearm(scene)
        except depth_sidecar.DepthSidecarError as exc:
            print(f"vanelia: depth holdout of scene '{scene.name}' not armed: {exc}")


def register():
    if _on_load_post not in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.append(_on_load_post)


def unregister():
    for handlers, handler in (
        (bpy.app.handlers.frame_change_pre, _on_frame),
        (bpy.app.handlers.load_pre, _on_load),
        (bpy.app.handlers.load_post, _on_load_post),
    ):
        if handler in handlers:
            handlers.remove(handler)
    _ARMED.clear()
