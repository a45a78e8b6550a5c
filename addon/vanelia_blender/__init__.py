"""Vanelia: put a product into real footage (camera track, floor, render)."""

bl_info = {
    "name": "Vanelia",
    "author": "Vanelia developers",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "View3D > Sidebar > Vanelia",
    "description": "Track a video's camera and render a product into it",
    "category": "Compositing",
}


def register():
    pass


def unregister():
    pass
