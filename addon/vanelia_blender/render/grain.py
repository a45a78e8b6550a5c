"""Grain: the plate's noise given to the rendered product and its shadow, so
the product does not look cleaner than the footage it stands in (issue 21).

The plate's noise is measured natively (core/image_noise.hpp: Immerkaer's
estimator over the flattest blocks of a few frames; pipeline/plate_grain.cpp)
and handed to the batch as `--grain R,G,B`, the standard deviation per
channel in 8-bit code values. The build stores it in the scene
(`SCENE_PROPERTY`: sigma R, G, B and the seed), so a farm's scene.blend
carries it to every render node. After each frame is rendered
(region_render.render_frame), Gaussian noise of that deviation is added to
the colour of every pixel the render covers (alpha > 0: the product and the
shadow's matte; the overlay blends it by alpha, so a half-covered pixel gets
half the grain). The noise of frame i is drawn from a generator seeded by
(seed, i): the same frame gets the same grain whichever machine renders it.
White noise: the plate's grain is often softened by compression, which
this does not model. The passes stay clean (a compositor adds its own).
"""

import numpy as np

SCENE_PROPERTY = "vanelia_grain"
# Below this deviation (code values) in every channel the plate counts as
# clean (a CG render, heavy compression): no grain is added.
MIN_SIGMA = 0.3


class GrainError(ValueError):
    """A bad --grain value; names it."""


def parse_sigma(text):
    """'R,G,B' (code values, >= 0) -> (r, g, b); GrainError otherwise."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(np.isfinite(v) and 0.0 <= v <= 64.0 for v in values):
        raise GrainError(
            f"--grain '{text}': must be three deviations R,G,B in 8-bit code values, "
            "each 0 to 64"
        )
    return values


def set_grain(scene, sigma, seed):
    """Stores the grain in `scene` (None or a clean plate: none)."""
    if sigma is None or max(sigma) < MIN_SIGMA:
        if SCENE_PROPERTY in scene:
            del scene[SCENE_PROPERTY]
        return False
    scene[SCENE_PROPERTY] = [float(sigma[0]), float(sigma[1]), float(sigma[2]), float(seed)]
    return True


def grain_of(scene):
    """((r, g, b), seed) stored in `scene`, or None."""
    value = scene.get(SCENE_PROPERTY)
    if value is None or len(value) != 4:
        return None
    return (float(value[0]), float(value[1]), float(value[2])), int(value[3])


def noise(height, width, sigma, seed, index):
    """[height, width, 3] float32 Gaussian noise, deviation `sigma` per
    channel, the same for the same (seed, index) on every machine (the
    whole frame's pattern is drawn, so a pixel's grain does not depend on
    what else the render covers)."""
    rng = np.random.Generator(np.random.PCG64([int(seed), int(index)]))
    n = rng.standard_normal((height, width, 3), dtype=np.float32)
    return n * np.asarray(sigma, dtype=np.float32)


def add_grain(rgba, sigma, seed, index):
    """`rgba` ([H, W, 4] uint8, straight alpha) with the grain of frame
    `index` added to the colour where alpha > 0; a new array. Only the
    covered pixels are touched (the render usually covers a small part of
    the frame: 10x faster than the whole frame at 640x360)."""
    out = rgba.copy()
    covered = rgba[..., 3] > 0
    if not covered.any():
        return out
    n = noise(rgba.shape[0], rgba.shape[1], sigma, seed, index)[covered]
    values = rgba[..., :3][covered].astype(np.float32) + n
    out[..., :3][covered] = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return out


def apply_to_png(path, sigma, seed, index):
    """Adds the grain of frame `index` to the RGBA PNG at `path`, through
    Blender's own PNG reader and writer (8-bit RGBA kept), as add_grain
    does on its bytes; a frame the render does not cover is left as it is."""
    import bpy

    image = bpy.data.images.load(path, check_existing=False)
    try:
        width, height = image.size
        flat = np.empty(width * height * 4, dtype=np.float32)
        image.pixels.foreach_get(flat)
        pixels = flat.reshape(height, width, 4)
        covered = pixels[..., 3] > 0
        if not covered.any():
            return
        # Blender's rows run bottom to top; the seed's pattern is laid out
        # top to bottom like the file, so it does not depend on the reader.
        n = noise(height, width, sigma, seed, index)[::-1][covered]
        values = np.rint(pixels[..., :3][covered] * 255.0) + n
        pixels[..., :3][covered] = np.clip(np.rint(values), 0, 255) / 255.0
        image.pixels.foreach_set(flat)
        image.filepath_raw = path
        image.file_format = "PNG"
        image.save()
    finally:
        bpy.data.images.remove(image)
