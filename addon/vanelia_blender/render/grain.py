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
    """[height, width, 3] float64 Gaussian noise, deviation `sigma` per
    channel, the same for the same (seed, index) on every machine."""
    rng = np.random.Generator(np.random.PCG64([int(seed), int(index)]))
    return rng.standard_normal((height, width, 3)) * np.asarray(sigma, dtype=np.float64)


def add_grain(rgba, sigma, seed, index):
    """`rgba` ([H, W, 4] uint8, straight alpha) with the grain of frame
    `index` added to the colour where alpha > 0; a new array."""
    out = rgba.astype(np.float64)
    covered = out[..., 3:4] > 0
    out[..., :3] += noise(rgba.shape[0], rgba.shape[1], sigma, seed, index) * covered
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def apply_to_png(path, sigma, seed, index):
    """Adds the grain of frame `index` to the RGBA PNG at `path`, through
    Blender's own PNG reader and writer (8-bit RGBA kept)."""
    import bpy

    image = bpy.data.images.load(path, check_existing=False)
    try:
        width, height = image.size
        flat = np.empty(width * height * 4, dtype=np.float32)
        image.pixels.foreach_get(flat)
        # Blender's rows run bottom to top; the seed's pattern is laid out
        # top to bottom like the file, so it does not depend on the reader.
        rgba = np.rint(flat.reshape(height, width, 4)[::-1] * 255.0).astype(np.uint8)
        grained = add_grain(rgba, sigma, seed, index)
        image.pixels.foreach_set((grained[::-1].astype(np.float32) / 255.0).ravel())
        image.filepath_raw = path
        image.file_format = "PNG"
        image.save()
    finally:
        bpy.data.images.remove(image)
