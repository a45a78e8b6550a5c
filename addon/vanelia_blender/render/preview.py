"""The preview's render settings (`vanelia run --preview`): a quick look at
placement and light, a few seconds per second of footage.

Applied after the scene is built (scene/build.py, render/cycles.py), so the
preview has the full render's camera, product, ground, sun and shadow
catcher: the same placement, light direction and shadow. What changes is
what costs time: the render is half size (Cycles' resolution percentage;
the encode scales the plate to match, encode/encode.py), takes at most
PREVIEW_SAMPLES samples, follows shorter light paths (one bounce of each
kind: the product's reflections of the world and the shadow stay, the
inter-reflections go) and writes uncompressed PNGs. Without lens
distortion the compositor is off: its output is then the render itself,
and running it costs more than the render (80 ms a frame against 30 on the
sample).
"""

# pipeline.hpp kPreviewSamples.
PREVIEW_SAMPLES = 8
RESOLUTION_PERCENT = 50


def preview_samples(samples):
    """The preview's samples: PREVIEW_SAMPLES, fewer when asked for fewer."""
    return min(samples, PREVIEW_SAMPLES)


def configure_preview(scene, distorted):
    """Turns the built scene's render settings into the preview's;
    `distorted`: the plate has lens distortion (the compositor distorts the
    render to match, so it stays on)."""
    render = scene.render
    render.use_compositing = bool(distorted)
    render.resolution_percentage = RESOLUTION_PERCENT
    render.image_settings.compression = 0
    cycles = scene.cycles
    cycles.samples = preview_samples(cycles.samples)
    cycles.max_bounces = 2
    cycles.diffuse_bounces = 1
    cycles.glossy_bounces = 1
    cycles.transmission_bounces = 2
    cycles.transparent_max_bounces = 4
