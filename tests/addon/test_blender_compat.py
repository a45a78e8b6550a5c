"""core/blender_compat.py (bpy-free): the version switches and the choices
made from what a Blender offers, with stand-ins for bpy objects of 3.4 and of
later versions."""

import pytest

from vanelia_blender.core import blender_compat as bc


def test_version_switches():
    for version, layered, group in (
        ((3, 4, 1), False, False),
        ((4, 2, 3), False, False),
        ((4, 3, 2), False, False),
        ((4, 4, 0), True, False),
        ((4, 5, 1), True, False),
        ((5, 0, 0), True, True),
        ((5, 1, 0, "alpha"), True, True),
    ):
        assert bc.layered_actions(version) is layered, version
        assert bc.compositor_node_group(version) is group, version


def test_alpha_over_inputs_old_and_new_layouts():
    blender_3 = [("Fac", "VALUE"), ("Image", "RGBA"), ("Image", "RGBA")]
    assert bc.alpha_over_inputs(blender_3) == (1, 2)
    named = [("Foreground", "RGBA"), ("Background", "RGBA"), ("Factor", "VALUE")]
    assert bc.alpha_over_inputs(named) == (1, 0)
    with pytest.raises(ValueError, match="two colour inputs"):
        bc.alpha_over_inputs([("Fac", "VALUE"), ("Image", "RGBA")])


class Socket:
    def __init__(self, name, value=None):
        self.name, self.default_value = name, value


class Inputs(list):
    def __getitem__(self, key):
        if isinstance(key, str):
            return next(s for s in self if s.name == key)
        return list.__getitem__(self, key)


class OldIdMask:  # 3.4: options are properties
    def __init__(self):
        self.index, self.use_antialiasing = 0, True
        self.inputs = Inputs([Socket("ID value")])


class NewIdMask:  # 4.5: options are input sockets, the properties unused aliases
    def __init__(self):
        self.index, self.use_antialiasing = 0, True
        self.inputs = Inputs(
            [Socket("ID value"), Socket("Index", 0), Socket("Anti-Aliasing", True)]
        )


def test_node_option_property_or_socket():
    old, new = OldIdMask(), NewIdMask()
    assert bc.set_node_option(old, "index", "Index", 3) == "attribute" and old.index == 3
    assert bc.set_node_option(new, "index", "Index", 3) == "socket"
    assert new.inputs["Index"].default_value == 3 and new.index == 0
    assert bc.set_node_option(new, "use_antialiasing", "Anti-Aliasing", False) == "socket"
    assert new.inputs["Anti-Aliasing"].default_value is False
    assert bc.set_node_option(new, "use_premultiply", "Straight Alpha", False) is None


class EnumItem:
    def __init__(self, identifier):
        self.identifier = identifier


class Prop:
    def __init__(self, kind, items=()):
        self.type, self.enum_items = kind, [EnumItem(i) for i in items]


class Rna:
    def __init__(self, props):
        self.properties = props


class WorldCycles:
    def __init__(self, items):
        self.sampling_method = items[0]
        self.bl_rna = Rna({"sampling_method": Prop("ENUM", items)})


def test_enum_set_only_when_offered():
    world = WorldCycles(["AUTOMATIC", "NONE", "MANUAL"])
    assert bc.set_enum_if_offered(world, "sampling_method", "NONE")
    assert world.sampling_method == "NONE"
    later = WorldCycles(["AUTOMATIC", "MANUAL"])
    assert not bc.set_enum_if_offered(later, "sampling_method", "NONE")
    assert later.sampling_method == "AUTOMATIC"
    assert not bc.set_enum_if_offered(object(), "sampling_method", "NONE")
