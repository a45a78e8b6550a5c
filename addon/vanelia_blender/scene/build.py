"""Builds the whole Vanelia scene from footage, a track and a product.

`build_scene(scene, options)` checks everything it can first (names free,
track matching the footage), then creates or updates, inside the `Vanelia`
collection: the animated camera with the plate as background, the product
under its empty, the shadow-catcher ground, the proxies of the real objects
(scene/proxies.py), the sun and world, the render settings and the
compositing tree. If building fails part-way and the
collection was new, what was made is removed again.

Without a location the product's spot and heading come from the native
placement (floor/placement.hpp through `_vanelia.place_product`: in frame,
free of reconstructed points, large enough, facing the cameras), the same
function `vanelia run` uses; without the native module, where frame 0's
image centre meets the floor, and the placement report says so.
"""

import math
from dataclasses import dataclass, field
from typing import Optional

import bpy

from .. import native
from ..core import light_settings, track_file
from ..render import render_plan
from ..render import cycles
from . import background, compositing, depth_holdout, ground, lighting, product, proxies
from .camera import CAMERA_NAME, build_camera
from .collection import COLLECTION_NAME, check_names, ensure_collection


class TrackMismatchError(ValueError):
    """A track that does not describe this footage."""


@dataclass
class BuildOptions:
    plate_path: str  # the video shown (the source, or its upright CFR proxy)
    info: object  # core.media.MediaInfo of the plate
    track: dict  # the track file, read (core/track_file.load)
    product_path: str  # .glb
    location: Optional[list] = None  # product floor point, m; None = auto
    rotation_z_deg: float = 0.0  # product turn about Z, degrees
    height_m: Optional[float] = None  # product height, m; None = file size
    samples: int = cycles.DEFAULT_SAMPLES  # Cycles samples per pixel
    seed: int = 0  # Cycles seed
    sun_azimuth_deg: float = -60.0  # where the sun is, from +X towards +Y
    sun_elevation_deg: float = 50.0  # above the horizon
    sun_strength: float = 3.0  # W/m^2 (Blender sun units)
    world_strength: float = 0.6  # uniform world light
    frame_start: int = 1  # Blender frames
    frame_end: Optional[int] = None
    threads: int = 0  # 0 = all cores
    over_plate: bool = True  # composite over the plate in Blender (False:
    # RGBA render only, for the batch's border renders)
    proxies: bool = True  # shadow-catcher boxes of the reconstructed objects
    # ... already built (native build_proxies' dict, e.g. by vanelia run);
    # None = computed here from the track's points.
    proxy_result: Optional[dict] = None
    # The light estimated from the footage (a vanelia-light/1 dict, issue 21;
    # core/light_settings.py): replaces the sun and world above when set.
    light_estimate: Optional[dict] = None
    # The world texture made from the footage (an equirectangular .hdr,
    # native build_environment, issue 21): lights the product and shows in
    # its reflections instead of the uniform world's colour; None = uniform.
    environment: Optional[str] = None
    # The track's depth sidecar folder (core/depth_sidecar.folder_of): occlusion by a per-frame
    # depth test (scene/depth_holdout.py) instead of the proxies alone.
    depth_folder: Optional[str] = None


@dataclass
class BuiltScene:
    camera: object
    product: object
    ground: object
    sun: object
    clip: object
    light_dir: list = field(default_factory=list)
    distorted: bool = False  # the render is distorted like the plate
    placement: str = ""  # the placement report, one line
    proxies: list = field(default_factory=list)  # scene/proxies.py objects
    proxies_report: str = ""  # their count and sizes, one line
    occlusion: str = "proxies"  # what hides the product: "depth" (sidecar) or "proxies"


def check_track(track, info):
    if (track["width"], track["height"]) != (info.width, info.height):
        raise TrackMismatchError(
            f"track size {track['width']}x{track['height']} differs from video "
            f"'{info.path}' (upright size {info.width}x{info.height}); the track must be of "
            "this video"
        )
    frames = track["frames"]
    last = frames[-1]["index"] if frames else -1
    if not frames or last >= info.frame_count:
        raise TrackMismatchError(
            f"track frame index {last} (of {len(frames)} frames) outside "
            f"the {info.frame_count} frames of video '{info.path}'"
        )


def _distortion(track):
    lens = track.get("lens")
    if lens is None or lens["model"] == "pinhole":
        return False
    return abs(lens.get("k1", 0.0)) > 0 or abs(lens.get("k2", 0.0)) > 0


def _configure_clip_lens(clip, track):
    cam = clip.tracking.camera
    k = track_file.frame_k(track["frames"][0])
    height = track["height"]
    cam.sensor_width = 36.0
    cam.units = "PIXELS"
    cam.focal_length_pixels = k[0][0]
    # Blender's principal point: pixel corners, v up (core/conventions.py).
    cx, cy = k[0][2] + 0.5, height - (k[1][2] + 0.5)
    if hasattr(cam, "principal_point_pixels"):  # Blender >= 3.5
        cam.principal_point_pixels = (cx, cy)
    else:
        cam.principal = (cx, cy)
    cam.distortion_model = "POLYNOMIAL"
    lens = track["lens"]
    cam.k1, cam.k2, cam.k3 = lens.get("k1", 0.0), lens.get("k2", 0.0), 0.0


def product_location(options):
    if options.location is not None:
        return list(options.location)
    f0 = options.track["frames"][0]
    return render_plan.default_product_location(
        track_file.frame_k(f0),
        track_file.frame_c2w(f0),
        options.track["width"],
        options.track["height"],
    )


def product_placement(options, size_m):
    """(location, heading_deg, report line) of the product whose bounding
    box is `size_m` (x, y, z up, metres, unscaled). A given location keeps
    heading 0 and gets its report; without the native module (or when it
    refuses the product) the default spot, and the line says why."""
    why = "the native module is not available"
    if native.has("place_product"):
        try:
            result = native.backend().place_product(
                options.track,
                list(size_m),
                target_height_m=options.height_m,
                location=options.location,
                heading_deg=options.rotation_z_deg,
            )
        except native.error_types() as e:
            why = str(e)
        else:
            heading = result["heading_deg"] if result["automatic"] else 0.0
            prefix = "automatic" if result["automatic"] else "given location"
            return list(result["location"]), heading, f"{prefix}: {result['summary']}"
    location = product_location(options)
    if options.location is not None:
        return location, 0.0, f"given location (not evaluated: {why})"
    return location, 0.0, f"frame 0's image centre on the floor ({why})"


def build_scene(scene, options):
    check_track(options.track, options.info)
    names = [
        CAMERA_NAME,
        ground.GROUND_NAME,
        lighting.SUN_NAME,
        product.EMPTY_NAME,
    ]
    check_names(
        names,
        [
            (bpy.data.movieclips, background.CLIP_NAME, "movie clip"),
            (bpy.data.worlds, lighting.WORLD_NAME, "world"),
            (bpy.data.lights, lighting.SUN_NAME, "light"),
            (bpy.data.meshes, ground.GROUND_NAME, "mesh"),
        ],
    )
    was_new = bpy.data.collections.get(COLLECTION_NAME) is None
    try:
        return _build(scene, options)
    except Exception:
        if was_new:
            _remove_collection()
        raise


def _remove_collection():
    coll = bpy.data.collections.get(COLLECTION_NAME)
    if coll is None:
        return
    for obj in list(coll.all_objects):
        bpy.data.objects.remove(obj)
    bpy.data.collections.remove(coll)


def _build(scene, options):
    coll = ensure_collection(scene)
    info = options.info
    clip = background.ensure_clip(options.plate_path)
    # The camera sets resolution, pixel aspect and rate from the track (the
    # same as the footage's, checked above); the range is the footage's.
    camera = build_camera(scene, options.track)
    background.configure_footage(scene, info, options.frame_start, options.frame_end)
    background.set_camera_background(camera.data, clip)
    distort = _distortion(options.track)
    if distort:
        _configure_clip_lens(clip, options.track)
    prod = product.ensure_product(
        coll,
        options.product_path,
        options.location or [0.0, 0.0, 0.0],
        math.radians(options.rotation_z_deg),
        options.height_m,
    )
    loc, heading_deg, placement = product_placement(options, product.natural_size(prod))
    product.place(prod, loc, math.radians(options.rotation_z_deg + heading_deg))
    cams = [render_plan.camera_center(f["c2w_blender"]) for f in options.track["frames"]]
    cx, cy, size = ground.ground_extent(cams, loc[:2])
    plane = ground.ensure_ground(coll, cx, cy, size)
    if not options.proxies:
        result, why = None, "off"
    elif options.proxy_result is not None:
        result, why = options.proxy_result, ""
    else:
        result, why = proxies.compute(options.track)
    proxy_objects = proxies.ensure_proxies(coll, result)
    if options.light_estimate is not None:
        sun, light_dir = lighting.ensure_light(
            coll, scene, light_settings.settings(options.light_estimate)
        )
    else:
        sun, light_dir = lighting.ensure_sun(
            coll,
            options.sun_azimuth_deg,
            options.sun_elevation_deg,
            options.sun_strength,
        )
        lighting.ensure_world(scene, options.world_strength)
    lighting.set_world_environment(scene.world, options.environment)
    cycles.configure_render(
        scene,
        options.samples,
        options.seed,
        options.threads,
        alpha=not options.over_plate,
    )
    if options.depth_folder:
        depth_holdout.setup(scene, options.track, options.depth_folder)
    else:
        depth_holdout.disarm(scene)
    compositing.build_compositing(scene, clip, distort, options.over_plate)
    built = BuiltScene(camera, prod, plane, sun, clip, light_dir, distort, placement)
    built.proxies = proxy_objects
    built.proxies_report = proxies.describe(result, why)
    built.occlusion = "depth" if options.depth_folder else "proxies"
    return built


def region_points(built):
    """World points bounding the product and its shadow (render/render_plan)."""
    lo, hi = product.world_bounds(built.product)
    return render_plan.region_points(lo, hi, built.light_dir)
