"""The Preview button on a built scene: the preview rendered in this Blender,
frame by frame, with no Blender or `vanelia` to start (`vanelia run
--preview` starts both, which is most of its time on a short clip).

The built Vanelia scene is rendered with the preview's settings
(render/preview.py: half size, at most 8 samples, short light paths, the
compositor off unless the plate is distorted) and each frame goes straight
to FFmpeg (encode.PipedEncode), which lays it over the plate and writes a
half-size H.264 MP4, as `vanelia run --preview` does. The scene's settings
are put back exactly as they were whatever happens (done, cancelled,
failed); nothing in the scene is created or removed.
"""

import os
import shutil
import tempfile
import time

# Scene settings the preview changes: (owner path, attribute).
_SETTINGS = (
    ("render", "resolution_percentage"),
    ("render", "use_compositing"),
    ("render", "film_transparent"),
    ("render", "use_border"),
    ("render", "filepath"),
    ("render.image_settings", "file_format"),
    ("render.image_settings", "color_mode"),
    ("render.image_settings", "color_depth"),
    ("render.image_settings", "compression"),
    ("cycles", "samples"),
    ("cycles", "max_bounces"),
    ("cycles", "diffuse_bounces"),
    ("cycles", "glossy_bounces"),
    ("cycles", "transmission_bounces"),
    ("cycles", "transparent_max_bounces"),
    ("", "frame_current"),
)


class PreviewError(ValueError):
    """A scene that cannot be previewed here; the message says why."""


def _owner(scene, path):
    owner = scene
    for part in filter(None, path.split(".")):
        owner = getattr(owner, part)
    return owner


def save_settings(scene):
    return {(p, a): getattr(_owner(scene, p), a) for p, a in _SETTINGS}


def restore_settings(scene, saved):
    for (path, attribute), value in saved.items():
        if path == "" and attribute == "frame_current":
            scene.frame_set(value)
        else:
            setattr(_owner(scene, path), attribute, value)


class LivePreview:
    """Renders Blender frames `frames` of the built scene and encodes them over
    `plate_path` (the scene's movie clip) into `out_path`; `info` is the
    source's MediaInfo. Use as a context manager: `step()` renders the next
    frame (returns False when all are done), `finish()` writes the output."""

    def __init__(
        self, scene, distorted, plate_path, info, out_path, frames, every, overwrite, points=None
    ):
        """`points`: world points bounding the product and its shadow; each frame
        then renders only their region (render/region_render.py), as the batch does."""
        from ..encode import encode
        from . import cycles, preview, region_render

        if not frames:
            raise PreviewError("no frames to preview: the scene's frame range is empty")
        self.scene, self.frames, self.done = scene, list(frames), 0
        self.points = points
        w, h = scene.render.resolution_x, scene.render.resolution_y
        self.margin = region_render.region_margin(w, h, distorted)
        self.started = time.monotonic()
        self._saved = save_settings(scene)
        self._folder = tempfile.mkdtemp(prefix="vanelia-preview-")
        try:
            preview.configure_preview(scene, distorted)
            scene.render.film_transparent = True
            scene.render.image_settings.file_format = "PNG"
            scene.render.image_settings.color_mode = "RGB" if distorted else "RGBA"
            scene.render.image_settings.color_depth = "8"
            cycles.set_border(scene, None)
            first = self.frames[0] - 1  # decoded index of the first frame
            self._encode = encode.PipedEncode(
                plate_path, info, out_path, first, every, len(self.frames), overwrite, preview=True
            )
        except BaseException:
            self._cleanup()
            raise

    def __enter__(self):
        return self

    def step(self):
        """Renders and hands over the next frame; False once all are done."""
        from . import region_render

        if self.done == len(self.frames):
            return False
        path = os.path.join(self._folder, f"{self.done:06d}.png")
        # The batch's per-frame render: Blender frame -> decoded index - 1,
        # the region's border (the whole frame without points).
        region_render.render_frame(
            self.scene,
            self.scene.camera,
            self.frames[self.done] - 1,
            self.points or [],
            self.margin,
            self.points is None,
            path,
        )
        self._encode.add(path)
        os.remove(path)
        self.done += 1
        return True

    def eta_s(self):
        if not self.done:
            return -1.0
        per = (time.monotonic() - self.started) / self.done
        return per * (len(self.frames) - self.done)

    def finish(self):
        return self._encode.finish()

    def _cleanup(self):
        restore_settings(self.scene, self._saved)
        shutil.rmtree(self._folder, ignore_errors=True)

    def __exit__(self, *exc):
        try:
            if hasattr(self, "_encode"):
                self._encode.__exit__(*exc)
        finally:
            self._cleanup()
        return False
