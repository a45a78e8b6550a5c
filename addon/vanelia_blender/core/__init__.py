"""bpy-free core of the add-on: the track file and the camera conventions.

Everything here runs under plain python3 (the tests) as well as inside Blender.
"""
