"""The overlay + encode stage (bpy-free, FFmpeg): the renders laid over the
plate and encoded with the source's audio (encode.py), and the upright
constant-rate proxy of a clip Blender cannot show as it is (proxy.py)."""
