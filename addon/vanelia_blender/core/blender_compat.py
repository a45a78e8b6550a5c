"""What differs between the Blender versions the add-on runs on (3.4 to 5.x),
decided from `bpy.app.version` and from what the running Blender offers.
bpy-free: the scene/ builders pass the version tuple or the bpy objects in,
so the decisions are tested with plain python3 (tests/addon/test_blender_compat.py).

docs/addon.md lists what was reviewed for Blender 4.0-4.2 and later and why
most of the add-on needs no branch.
"""

# Blender 4.4: actions are layered; fcurves are made per data-block with
# Action.fcurve_ensure_for_datablock (Action.fcurves is legacy, gone in 5.0).
LAYERED_ACTIONS = (4, 4, 0)
# Blender 5.0: the compositor tree is a node group in
# scene.compositing_node_group whose Group Output is the result
# (scene.use_nodes / scene.node_tree and the Composite node are gone).
COMPOSITOR_NODE_GROUP = (5, 0, 0)


def _at_least(version, first):
    return tuple(version[:3]) >= first


def layered_actions(version):
    return _at_least(version, LAYERED_ACTIONS)


def compositor_node_group(version):
    return _at_least(version, COMPOSITOR_NODE_GROUP)


def alpha_over_inputs(sockets):
    """(background, foreground) among the Alpha Over node's inputs, given as
    (name, type) pairs in order. Blender 3.x/4.x: 'Fac', 'Image', 'Image'
    (background first); newer Blenders name them 'Background' and
    'Foreground' and add non-colour inputs."""
    names = [name for name, _ in sockets]
    if "Background" in names and "Foreground" in names:
        return names.index("Background"), names.index("Foreground")
    colour = [i for i, (_, kind) in enumerate(sockets) if kind == "RGBA"]
    if len(colour) < 2:
        raise ValueError(f"Alpha Over node without two colour inputs: {sockets}")
    return colour[0], colour[1]


def set_node_option(node, attribute, socket, value):
    """Sets a node option that is a property in older Blenders and an input
    socket in newer ones: 4.5 turned many compositor node options into
    inputs (ID Mask 'Index' and 'Anti-Aliasing', Alpha Over's 'Straight
    Alpha' for use_premultiply) and keeps the old property only as a
    deprecated, unused alias; so the socket wins when it exists. Returns
    where the value went: 'socket', 'attribute' or None (neither exists)."""
    inputs = getattr(node, "inputs", None)
    if inputs is not None and socket in [s.name for s in inputs]:
        inputs[socket].default_value = value
        return "socket"
    if hasattr(node, attribute):
        setattr(node, attribute, value)
        return "attribute"
    return None


def set_enum_if_offered(owner, attribute, value):
    """Sets owner.attribute = value when the property exists and offers the
    value (an enum item removed in a later version is skipped, not an error).
    Returns True when set."""
    if not hasattr(owner, attribute):
        return False
    rna = getattr(owner, "bl_rna", None)
    prop = rna.properties.get(attribute) if rna is not None else None
    if prop is not None and getattr(prop, "type", "") == "ENUM":
        if value not in [item.identifier for item in prop.enum_items]:
            return False
    setattr(owner, attribute, value)
    return True
