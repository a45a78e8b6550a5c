"""The depth sidecar of a track file (bpy-free; numpy): per-frame depth and confidence maps at
a network's resolution, named by the track's optional `depth` object. Twin of
native/include/vanelia/trackfile/depth_sidecar.hpp, which documents the format:

    <folder>/depth.npy        [F, H, W] '<f4' | '<f2'  z along the camera's optical axis, raw
                              tracker world units (x the scale of blender_from_track = the
                              file's world); 0 or not finite = no depth
    <folder>/confidence.npy   [F, H, W] '|u1' (0..255) | '<f4' | '<f2' (0..1)
    <folder>/intrinsics.npy   [F, 4] '<f8' fx, fy, cx, cy in map pixels (centres at integers)
    <folder>/frame_index.npy  [F] '<i8' decoded frame of each map, strictly ascending

track `depth` = {path (relative to the track file's folder, or absolute), format "npy", width,
height, count}.

`Sidecar.frame_at(index, k, width, height)` resamples one frame's maps onto a render's pixel
grid (same camera, intrinsics `k`): the depth map pixel nearest to each render pixel's ray
(nearest, so that no depth is mixed across an occluder's edge), confidence 0 outside the map or
where there is no depth. `visibility` is the depth test itself (numpy reference of the
compositor's nodes, scene/depth_holdout.py).
"""

import os

import numpy as np

FORMAT = "npy"
# The depth test: the product is hidden where the sidecar's surface is nearer than the product
# by more than TOLERANCE of its depth, fading in over BAND of it (a soft edge), weighted by the
# confidence.
TOLERANCE = 0.03
BAND = 0.02


class DepthSidecarError(ValueError):
    """A sidecar that does not match its track or the format; names file and rule."""


def folder_of(doc, track_path):
    """The sidecar folder of track document `doc` read from `track_path`, or None."""
    depth = doc.get("depth")
    if not depth:
        return None
    path = depth["path"]
    if not os.path.isabs(path):
        path = os.path.join(os.path.dirname(os.path.abspath(track_path)), path)
    return os.path.normpath(path)


def world_scale(doc):
    """s of the track's blender_from_track (sidecar units -> the file's world)."""
    m = np.array(doc["blender_from_track"], np.float64)[:3, :3]
    return float(np.cbrt(np.linalg.det(m)))


def _load(folder, name, dtypes, ndim):
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise DepthSidecarError(f"depth sidecar '{path}': missing")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise DepthSidecarError(f"depth sidecar '{path}': not a .npy file: {exc}") from None
    if array.dtype.str not in dtypes:
        raise DepthSidecarError(
            f"depth sidecar '{path}': dtype '{array.dtype.str}'; must be "
            + " or ".join(f"'{d}'" for d in dtypes)
        )
    if array.ndim != ndim:
        raise DepthSidecarError(f"depth sidecar '{path}': {array.ndim} dimensions; must be {ndim}")
    return array


class Sidecar:
    """The maps of a sidecar folder (memory-mapped: opening reads the headers only)."""

    def __init__(self, folder, doc=None):
        self.folder = folder
        self.frame_index = np.asarray(_load(folder, "frame_index.npy", ("<i8",), 1))
        self.intrinsics = np.asarray(_load(folder, "intrinsics.npy", ("<f8",), 2))
        self.depth = _load(folder, "depth.npy", ("<f4", "<f2"), 3)
        self.confidence = _load(folder, "confidence.npy", ("|u1", "<f4", "<f2"), 3)
        count = len(self.frame_index)
        shape = (count,) + self.depth.shape[1:]
        if count < 1 or np.any(np.diff(self.frame_index) <= 0):
            raise DepthSidecarError(
                f"depth sidecar '{folder}': frame_index must be non-empty and strictly ascending"
            )
        for name, array, want in (
            ("intrinsics.npy", self.intrinsics, (count, 4)),
            ("depth.npy", self.depth, shape),
            ("confidence.npy", self.confidence, shape),
        ):
            if array.shape != want:
                raise DepthSidecarError(
                    f"depth sidecar '{os.path.join(folder, name)}': shape {array.shape}; "
                    f"must be {want}"
                )
        self.height, self.width = shape[1], shape[2]
        self.scale = world_scale(doc) if doc is not None else 1.0
        if doc is not None:
            self.check_track(doc)
        self._row = {int(i): k for k, i in enumerate(self.frame_index)}

    def check_track(self, doc):
        """DepthSidecarError unless the sidecar is the one `doc`'s depth object describes."""
        d = doc["depth"]
        got = (self.width, self.height, len(self.frame_index))
        if got != (d["width"], d["height"], d["count"]):
            raise DepthSidecarError(
                f"depth sidecar '{self.folder}': {got[0]}x{got[1]}, {got[2]} maps; the track's "
                f"depth says {d['width']}x{d['height']}, {d['count']}"
            )
        indices = {f["index"] for f in doc["frames"]}
        stray = [int(i) for i in self.frame_index if int(i) not in indices]
        if stray:
            raise DepthSidecarError(
                f"depth sidecar '{self.folder}': frame_index {stray[0]} is not a frame of the "
                "track"
            )

    def has(self, index):
        return int(index) in self._row

    def frame_at(self, index, k, width, height):
        """(depth [height, width] f32 in the file's world units, confidence [height, width]
        f32 0..1) of decoded frame `index` on a render of `width` x `height` pixels with
        OpenCV intrinsics `k` (3x3); None when the sidecar has no map of that frame."""
        row = self._row.get(int(index))
        if row is None:
            return None
        fx, fy, cx, cy = self.intrinsics[row]
        k = np.asarray(k, np.float64)
        u = (np.arange(width) - k[0, 2]) * (fx / k[0, 0]) + cx
        v = (np.arange(height) - k[1, 2]) * (fy / k[1, 1]) + cy
        iu, iv = np.rint(u).astype(np.int64), np.rint(v).astype(np.int64)
        inside = (iu >= 0) & (iu < self.width), (iv >= 0) & (iv < self.height)
        iu, iv = np.clip(iu, 0, self.width - 1), np.clip(iv, 0, self.height - 1)
        depth = np.asarray(self.depth[row], np.float32)[np.ix_(iv, iu)] * self.scale
        conf = np.asarray(self.confidence[row])[np.ix_(iv, iu)].astype(np.float32)
        if self.confidence.dtype == np.uint8:
            conf /= 255.0
        ok = np.isfinite(depth) & (depth > 0) & np.outer(inside[1], inside[0])
        return np.where(ok, depth, 0.0).astype(np.float32), np.where(ok, np.clip(conf, 0, 1), 0)


def visibility(product_z, depth, confidence, tolerance=TOLERANCE, band=BAND):
    """How much of the product stays visible (0..1) at each pixel: hidden where the sidecar's
    surface (depth > 0) is nearer than the product's `product_z` by more than `tolerance` x
    depth, fading over `band` x depth, times the confidence."""
    with np.errstate(divide="ignore", invalid="ignore"):
        behind = (product_z - depth * (1.0 + tolerance)) / (band * depth) + 0.5
    hidden = np.where(depth > 0, np.clip(behind, 0.0, 1.0), 0.0) * confidence
    return 1.0 - hidden
