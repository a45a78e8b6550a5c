"""Render settings: Cycles (EEVEE has no shadow catcher), film transparent,
colour management that passes the plate through unchanged (Standard, look
None, no dither), 8-bit PNG frames, and the render border.
"""


# The default quality: the lowest sample count at which two renders of the
# sample with different seeds differ by <= 2/255 RMS over the product and its
# shadow (native/bench/scene_bench.py: 128 -> 2.49, 256 -> 1.72).
DEFAULT_SAMPLES = 256


def configure_render(scene, samples=DEFAULT_SAMPLES, seed=0, threads=0, alpha=False):
    scene.render.engine = "CYCLES"
    cycles = scene.cycles
    cycles.device = "CPU"
    cycles.samples = samples
    cycles.seed = seed
    cycles.use_animated_seed = False
    # A fixed sample count: adaptive sampling's default threshold (0.01)
    # stops well above the 2/255 noise the default quality is chosen for.
    cycles.use_adaptive_sampling = False
    cycles.use_denoising = False  # Debian's Blender has no OpenImageDenoise
    cycles.max_bounces = 4
    cycles.diffuse_bounces = 1
    cycles.glossy_bounces = 2
    cycles.transmission_bounces = 4
    cycles.transparent_max_bounces = 8
    cycles.blur_glossy = 1.0
    # Clamp sample radiance: the sun's highlight on a metal part found by
    # BSDF sampling makes fireflies that dominate the noise of a small
    # product (see native/bench/scene_bench.py).
    cycles.sample_clamp_direct = 4.0
    cycles.sample_clamp_indirect = 2.0
    cycles.caustics_reflective = False
    cycles.caustics_refractive = False
    render = scene.render
    render.film_transparent = True
    render.use_compositing = True
    render.use_sequencer = False
    render.dither_intensity = 0.0
    render.use_persistent_data = True
    render.threads_mode = "FIXED" if threads else "AUTO"
    if threads:
        render.threads = threads
    render.image_settings.file_format = "PNG"
    render.image_settings.color_mode = "RGBA" if alpha else "RGB"
    render.image_settings.color_depth = "8"
    render.image_settings.compression = 15
    scene.display_settings.display_device = "sRGB"
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    scene.view_settings.use_curve_mapping = False
    scene.sequencer_colorspace_settings.name = "sRGB"


def set_motion_blur(scene, shutter):
    """Cycles motion blur over `shutter` frames (0 < shutter <= 1, centred
    on the frame; the plate's, pipeline/motion_blur_stage.hpp): the product
    is blurred by the camera's motion (its keys are linear from frame to
    frame) as the plate was. None or 0 turns it off."""
    render = scene.render
    if not shutter:
        render.use_motion_blur = False
        return
    if not 0.0 < shutter <= 1.0:
        raise ValueError(f"--motion-blur {shutter}: must be a shutter 0 < S <= 1 frames")
    render.use_motion_blur = True
    render.motion_blur_shutter = float(shutter)
    # Centred as the plate's blur is measured (about the frame's camera):
    # scene.render in Blender 4.x, scene.cycles in 3.x (a user's scene may
    # have moved it to the frame's start or end).
    for owner in (render, getattr(scene, "cycles", None)):
        if hasattr(owner, "motion_blur_position"):
            owner.motion_blur_position = "CENTER"


def set_border(scene, border):
    """Renders only `border` (min_x, max_x, min_y, max_y; 0..1, y up), the
    rest transparent at full size; None renders the whole frame."""
    render = scene.render
    if border is None:
        render.use_border = False
        return
    render.use_border = True
    render.use_crop_to_border = False
    (render.border_min_x, render.border_max_x, render.border_min_y, render.border_max_y) = border
