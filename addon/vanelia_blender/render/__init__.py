"""The render stage: the render plan (which frames, the border around the
product and its shadow; bpy-free), Cycles settings (bpy), one frame's border
render shared by the batch and the farm (region_render, bpy), the batch's
render-farm steps (farm_steps) and the add-on's render job, which runs the
native pipeline (bpy-free)."""
