"""Vanelia: put a product into real footage (camera track, floor, render).

The add-on's parts: properties.py (scene.vanelia), preferences.py,
operators.py (vanelia.track_video / build_scene / render_video), panels.py
(View3D > Sidebar > Vanelia); native.py imports the compiled module.
"""

bl_info = {
    "name": "Vanelia",
    "author": "Vanelia developers",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "View3D > Sidebar > Vanelia",
    "description": "Track a video's camera and render a product into it",
    "category": "Compositing",
}

_MODULES = (
    "preferences",
    "properties",
    "operators",
    "operators_preview",
    "operators_pick",
    "panels",
    "scene.depth_holdout",  # re-arms a depth holdout of an opened .blend
)


def _modules():
    import importlib

    return [importlib.import_module(f"{__package__}.{name}") for name in _MODULES]


def register():
    for module in _modules():
        module.register()


def unregister():
    for module in reversed(_modules()):
        module.unregister()
