"""The render stage: the render plan (which frames, the border around the
product and its shadow; bpy-free), Cycles settings (bpy) and the add-on's
render job, which runs the native pipeline (bpy-free)."""
