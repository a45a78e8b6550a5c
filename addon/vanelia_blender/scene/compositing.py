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
    render_image = layers.outputs["Image"]
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
