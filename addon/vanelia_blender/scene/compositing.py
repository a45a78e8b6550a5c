"""The compositing node tree: the render (film transparent, with the shadow
catcher's alpha) laid over the plate, the render distorted like the plate
when the track has lens distortion.

All of the version-specific compositor API is in this module:
- Blender 3.x and 4.x: `scene.use_nodes = True`, the tree is
  `scene.node_tree`, the result goes to a Composite node.
- Blender 5.x: the tree is a node group in `scene.compositing_node_group`
  whose Group Output is the result.
Our nodes are named `Vanelia ...` and updated in place; the user's other
nodes are left alone. Only the link into the output is taken over.

The render border limits the compositor to the border (Blender computes only
that region), so a border render cannot show the plate around it: the batch
renderer builds the tree with `over_plate=False` and composites the region
over the decoded source with FFmpeg (encode/encode.py).
"""

import bpy

from ..core import blender_compat

TREE_NAME = "Vanelia Compositing"


def _new_api():
    return blender_compat.compositor_node_group(bpy.app.version)


def _tree(scene):
    if _new_api():
        tree = scene.compositing_node_group
        if tree is None:
            tree = bpy.data.node_groups.new(TREE_NAME, "CompositorNodeTree")
            tree["vanelia_owned"] = True
            scene.compositing_node_group = tree
        return tree
    scene.use_nodes = True
    return scene.node_tree


def _node(tree, name, bl_idname, location):
    node = tree.nodes.get(name)
    if node is None or node.bl_idname != bl_idname:
        if node is not None:
            tree.nodes.remove(node)
        node = tree.nodes.new(bl_idname)
        node.name = name
        node.label = name
    node.location = location
    return node


def _output_socket(tree):
    """The socket the final image goes into."""
    if _new_api():
        if not any(
            item.item_type == "SOCKET" and item.in_out == "OUTPUT"
            for item in tree.interface.items_tree
        ):
            tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        out = _node(tree, "Vanelia Output", "NodeGroupOutput", (900, 0))
        return out.inputs[0]
    for node in tree.nodes:
        if node.bl_idname == "CompositorNodeComposite":
            node.location = (900, 0)
            return node.inputs["Image"]
    return _node(tree, "Vanelia Composite", "CompositorNodeComposite", (900, 0)).inputs["Image"]


def _link(tree, from_socket, to_socket):
    for link in list(to_socket.links):
        tree.links.remove(link)
    tree.links.new(from_socket, to_socket)


def render_source(tree, layers):
    """The render as everything downstream uses it: through the depth holdout when one is
    set up (scene/depth_holdout.py), else the Render Layers' image."""
    holdout = tree.nodes.get("Vanelia Depth Holdout")
    return holdout.outputs[0] if holdout is not None else layers.outputs["Image"]


def build_compositing(scene, clip, distort, over_plate=True):
    """Plate (movie clip) under the render; returns the tree.

    With `over_plate` False the output is the (distorted) render alone, with
    its alpha: a render border limits Blender's compositor to the border, so
    the batch renderer lays the render region over the plate itself
    (encode/encode.py, with FFmpeg) and needs the transparent render."""
    tree = _tree(scene)
    layers = _node(tree, "Vanelia Render Layers", "CompositorNodeRLayers", (0, 0))
    layers.scene = scene
    plate = _node(tree, "Vanelia Plate", "CompositorNodeMovieClip", (0, 400))
    plate.clip = clip
    render_image = render_source(tree, layers)
    if distort:
        lens = _node(tree, "Vanelia Distortion", "CompositorNodeMovieDistortion", (300, 0))
        lens.clip = clip
        lens.distortion_type = "DISTORT"
        _link(tree, render_image, lens.inputs[0])
        render_image = lens.outputs[0]
    elif tree.nodes.get("Vanelia Distortion") is not None:
        tree.nodes.remove(tree.nodes["Vanelia Distortion"])
    over = _node(tree, "Vanelia Over", "CompositorNodeAlphaOver", (600, 200))
    blender_compat.set_node_option(over, "use_premultiply", "Straight Alpha", False)
    back, front = blender_compat.alpha_over_inputs([(s.name, s.type) for s in over.inputs])
    _link(tree, plate.outputs["Image"], over.inputs[back])
    _link(tree, render_image, over.inputs[front])
    result = over.outputs[0] if over_plate else render_image
    _link(tree, result, _output_socket(tree))
    return tree


def add_index_mask_viewer(scene, index):
    """Test/diagnostic aid: an ID mask of object index `index` to the Viewer
    (binary, not antialiased). Needs the view layer's object index pass."""
    tree = _tree(scene)
    layers = tree.nodes["Vanelia Render Layers"]
    mask = _node(tree, "Vanelia Index Mask", "CompositorNodeIDMask", (300, -300))
    blender_compat.set_node_option(mask, "index", "Index", index)
    blender_compat.set_node_option(mask, "use_antialiasing", "Anti-Aliasing", False)
    viewer = _node(tree, "Vanelia Viewer", "CompositorNodeViewer", (600, -300))
    _link(tree, layers.outputs["IndexOB"], mask.inputs[0])
    _link(tree, mask.outputs[0], viewer.inputs[0])
    return viewer


def _distorted(tree, name, clip, socket, location):
    """`socket` distorted like the plate by a node called `name` (undistorted
    render -> the plate's lens); `clip` None: the socket itself."""
    if clip is None:
        if tree.nodes.get(name) is not None:
            tree.nodes.remove(tree.nodes[name])
        return socket
    lens = _node(tree, name, "CompositorNodeMovieDistortion", location)
    lens.clip = clip
    lens.distortion_type = "DISTORT"
    _link(tree, socket, lens.inputs[0])
    return lens.outputs[0]


def _inverted(tree, name, socket, location):
    """1 - socket (colour), clamped to [0, 1], by a node called `name`."""
    node = _node(tree, name, "CompositorNodeMixRGB", location)
    node.blend_type, node.use_alpha, node.use_clamp = "SUBTRACT", False, True
    node.inputs[0].default_value = 1.0
    node.inputs[1].default_value = (1.0, 1.0, 1.0, 1.0)
    _link(tree, socket, node.inputs[2])
    return node.outputs[0]


def pass_sockets(scene, clip, distort, holdout_aov):
    """The deliverable passes as compositor sockets, every one distorted like
    the plate when `distort`: 'product' (the render without the shadow,
    premultiplied RGBA), 'shadow' (what the plate is multiplied by: 1 where
    unshadowed; clamped to [0, 1] as the video's shadow matte is),
    'holdout' (the coverage of the holdout objects, from the AOV
    `holdout_aov`), 'plate' and 'composite' (plate x shadow, then the
    product over it: the passes recombined, in scene-linear light). Needs
    the view layer's shadow catcher pass and the AOV (render/passes.py)."""
    tree = _tree(scene)
    layers = tree.nodes["Vanelia Render Layers"]
    plate = tree.nodes["Vanelia Plate"].outputs["Image"]
    lens = clip if distort else None
    product = _distorted(
        tree, "Vanelia Pass Product Lens", lens, render_source(tree, layers), (300, -500)
    )
    # The multiplier is distorted as a density (1 - m): outside the lens'
    # image the density is 0, so the plate is left as it is there.
    density = _inverted(tree, "Vanelia Pass Density", layers.outputs["Shadow Catcher"], (150, -700))
    density = _distorted(tree, "Vanelia Pass Shadow Lens", lens, density, (300, -700))
    shadow = _inverted(tree, "Vanelia Pass Shadow", density, (450, -700))
    # Cycles writes the AOV once per path, and a scene with shadow catchers
    # splits camera paths: covered pixels read 2 or 4. Clamped to [0, 1].
    coverage = _node(tree, "Vanelia Pass Holdout Clamp", "CompositorNodeMath", (150, -900))
    coverage.operation, coverage.use_clamp = "MULTIPLY", True
    coverage.inputs[1].default_value = 1.0
    _link(tree, layers.outputs[holdout_aov], coverage.inputs[0])
    holdout = _distorted(tree, "Vanelia Pass Holdout Lens", lens, coverage.outputs[0], (300, -900))
    shade = _node(tree, "Vanelia Pass Shade", "CompositorNodeMixRGB", (600, -600))
    shade.blend_type, shade.use_alpha, shade.use_clamp = "MULTIPLY", False, False
    shade.inputs[0].default_value = 1.0
    _link(tree, plate, shade.inputs[1])
    _link(tree, shadow, shade.inputs[2])
    over = _node(tree, "Vanelia Pass Over", "CompositorNodeAlphaOver", (750, -500))
    blender_compat.set_node_option(over, "use_premultiply", "Straight Alpha", False)
    back, front = blender_compat.alpha_over_inputs([(s.name, s.type) for s in over.inputs])
    _link(tree, shade.outputs[0], over.inputs[back])
    _link(tree, product, over.inputs[front])
    _link(tree, _shadow_matte_over(tree, product, density), _output_socket(tree))
    return {
        "product": product,
        "shadow": shadow,
        "holdout": holdout,
        "plate": plate,
        "composite": over.outputs[0],
    }


def _shadow_matte_over(tree, product, density):
    """The render as it is without the shadow catcher pass: the shadow as
    black with alpha = its density (Cycles' matte), the product over it. The
    output of a run with passes, so its video matches one without."""
    grey = _node(tree, "Vanelia Pass Density Grey", "CompositorNodeRGBToBW", (600, -800))
    _link(tree, density, grey.inputs[0])
    matte = _node(tree, "Vanelia Pass Matte", "CompositorNodeSetAlpha", (750, -800))
    matte.inputs["Image"].default_value = (0.0, 0.0, 0.0, 1.0)
    _link(tree, grey.outputs[0], matte.inputs["Alpha"])
    over = _node(tree, "Vanelia Pass Matte Over", "CompositorNodeAlphaOver", (900, -800))
    blender_compat.set_node_option(over, "use_premultiply", "Straight Alpha", False)
    back, front = blender_compat.alpha_over_inputs([(s.name, s.type) for s in over.inputs])
    _link(tree, matte.outputs[0], over.inputs[back])
    _link(tree, product, over.inputs[front])
    return over.outputs[0]


def build_pass_outputs(scene, sockets, base_path, formats):
    """One File Output node writing each socket of `sockets` (name ->
    socket) to base_path/<path> with its own image format; `formats` maps
    the name to (path, settings) where settings(format) configures an
    ImageFormatSettings. Blender numbers the files by the scene frame."""
    tree = _tree(scene)
    node = _node(tree, "Vanelia Passes", "CompositorNodeOutputFile", (1100, -600))
    node.base_path = base_path
    node.file_slots.clear()
    for name, socket in sockets.items():
        path, settings = formats[name]
        node.file_slots.new(path)
        slot = node.file_slots[len(node.file_slots) - 1]
        slot.use_node_format = False
        settings(slot.format)
        _link(tree, socket, node.inputs[len(node.inputs) - 1])
    return node
