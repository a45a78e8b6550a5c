"""The scene's Vanelia settings (`scene.vanelia`): what the panel shows and
the operators read. Thin: no logic beyond defaults and limits."""

import bpy
from bpy.props import (
    BoolProperty,
    EnumProperty,
    FloatProperty,
    FloatVectorProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from . import preferences

TRACKER_ITEMS = [
    ("classical", "Classical", "Features + bundle adjustment (OpenCV, Ceres); no weights"),
    ("must3r", "MUSt3R", "MUSt3R network (needs its checkpoint in the preferences)"),
    ("dust3r", "DUSt3R", "DUSt3R network (needs its checkpoint in the preferences)"),
]


class VaneliaSummary(bpy.types.PropertyGroup):
    """The last solve, as the panel shows it."""

    valid: BoolProperty(default=False)
    tracker: StringProperty(name="Tracker")
    registered: IntProperty(name="Frames registered")
    total: IntProperty(name="Frames given")
    reproj_err_px: FloatProperty(name="Reprojection error", default=-1.0)
    focal_px: FloatProperty(name="Solved focal", default=-1.0)
    ground_confidence: FloatProperty(name="Ground-plane confidence", default=-1.0)
    aligned: BoolProperty(name="Aligned to the floor")
    from_cache: BoolProperty(name="From the cache")
    warnings: StringProperty(name="Warnings")


def _get_tracker(self):
    """The scene's choice, else the preferences' default tracker."""
    if "tracker" in self:
        return self["tracker"]
    prefs = preferences.get()
    keys = [item[0] for item in TRACKER_ITEMS]
    return keys.index(prefs.default_tracker) if prefs else 0


def _set_tracker(self, value):
    self["tracker"] = value


def _get_device(self):
    """The scene's choice, else the preferences' device."""
    if "device" in self:
        return self["device"]
    prefs = preferences.get()
    return {"AUTO": 0, "CPU": 1, "CUDA": 2}.get(prefs.device, 0) if prefs else 0


def _set_device(self, value):
    self["device"] = value


IMAGE_SIZE_ITEMS = [
    ("0", "Auto", "The resolution the weights were trained at"),
    ("512", "512", "MUSt3R_512 weights"),
    ("224", "224", "MUSt3R_224 weights (faster, coarser)"),
]
DTYPE_ITEMS = [
    ("fp32", "Float32", "Full precision (CPU and GPU)"),
    ("bf16", "BFloat16", "Half precision decoder (CUDA only)"),
    ("fp16", "Float16", "Half precision decoder (CUDA only)"),
]


class VaneliaSettings(bpy.types.PropertyGroup):
    video_path: StringProperty(name="Video", subtype="FILE_PATH", description="Footage")
    product_path: StringProperty(
        name="Product", subtype="FILE_PATH", description="The product (.glb, metres)"
    )
    tracker: EnumProperty(
        name="Tracker",
        items=TRACKER_ITEMS,
        get=_get_tracker,
        set=_set_tracker,
        description="How the camera is tracked (default: the preferences')",
    )
    device: EnumProperty(
        name="Device",
        items=preferences.device_items,
        get=_get_device,
        set=_set_device,
        description="Where the networks run (default: the preferences'; the classical "
        "tracker uses the CPU)",
    )
    image_size: EnumProperty(
        name="Image size",
        items=IMAGE_SIZE_ITEMS,
        description="Network resolution; must match the weights (Auto takes theirs)",
    )
    dtype: EnumProperty(name="Precision", items=DTYPE_ITEMS, description="Decoder precision")
    keyframe_every: IntProperty(
        name="Keyframe every", default=3, min=1, description="A memory keyframe every n frames"
    )
    local_context: IntProperty(
        name="Working window", default=25, min=0, description="Recent frames kept in memory"
    )
    max_keyframes: IntProperty(
        name="Max keyframes", default=300, min=1, description="Bound on the memory (keyframes)"
    )
    init_frames: IntProperty(
        name="First batch", default=8, min=1, description="Frames of the first network call"
    )
    batch_frames: IntProperty(
        name="Batch", default=4, min=1, description="Frames per later network call"
    )
    frame_start: IntProperty(name="Start", default=0, min=0, description="First frame (0-based)")
    frame_end: IntProperty(
        name="End",
        default=-1,
        min=-1,
        description="End frame (exclusive, 0-based); -1 = to the end of the clip",
    )
    frame_step: IntProperty(name="Step", default=1, min=1, description="Every k-th frame")
    focal_px: FloatProperty(
        name="Known focal (px)",
        default=0.0,
        min=0.0,
        description="Focal length in pixels of the source frames, when known; 0 = solve it "
        "from the footage",
    )
    mask_path: StringProperty(
        name="Mask",
        subtype="FILE_PATH",
        description="Keeps moving things (people, cars, sky, a screen) out of the solve: a "
        "folder of images (the n-th for frame n), a video, or one image for every frame, of "
        "the clip's size; white = ignore (classical tracker)",
    )
    camera_height: FloatProperty(
        name="Camera height",
        default=1.5,
        min=0.01,
        unit="LENGTH",
        description="Height of the first camera above the floor (sets the scale)",
    )
    auto_location: BoolProperty(
        name="Auto placement",
        default=True,
        description="Choose the product's spot and heading: in frame on most frames, clear "
        "of what stands on the floor, large enough to see, facing the cameras",
    )
    placement_report: StringProperty(
        name="Placement report",
        description="What the last Build scene chose and how well the product is seen",
    )
    light_mode: EnumProperty(
        name="Light",
        items=[
            (
                "AUTO",
                "From the footage",
                "The sun's direction and the ambient light "
                "estimated from the shadows the footage's objects cast (a soft top-down "
                "light when it shows none)",
            ),
            ("FIXED", "Fixed sun", "The sun of Azimuth and Elevation"),
        ],
        default="AUTO",
        description="Where the product's light comes from",
    )
    floor_albedo: FloatProperty(
        name="Floor albedo",
        default=0.35,
        min=0.01,
        max=1.0,
        description="With the light from the footage: the floor's (neutral) reflectance; the "
        "plate's floor colour over it sets the level and colour of the product's light, so "
        "the product takes the plate's exposure and white balance (0.35: a mid-grey floor)",
    )
    sun_azimuth: FloatProperty(
        name="Sun azimuth",
        default=-60.0,
        min=-360.0,
        max=360.0,
        description="Where the fixed sun comes from, degrees from +X towards +Y",
    )
    sun_elevation: FloatProperty(
        name="Sun elevation",
        default=50.0,
        min=1.0,
        max=90.0,
        description="The fixed sun's height above the floor, degrees",
    )
    environment: BoolProperty(
        name="Environment from the footage",
        default=True,
        description="Light the product with a world texture made from the plate's frames "
        "around its spot and show it in the product's reflections (the camera still sees "
        "the plate)",
    )
    environment_report: StringProperty(
        name="Environment report",
        description="The world texture the last Build scene made from the footage: how much "
        "of the sphere the frames saw",
    )
    light_report: StringProperty(
        name="Light report",
        description="The light the last Build scene estimated from the footage and its "
        "confidence",
    )
    proxies_report: StringProperty(
        name="Proxies report",
        description="The proxies (shadow-catcher boxes of the real objects) the last Build "
        "scene made: their count and sizes",
    )
    location: FloatVectorProperty(name="Location", size=3, subtype="TRANSLATION", unit="LENGTH")
    rotation_z: FloatProperty(name="Turn", subtype="ANGLE", description="Rotation about Z")
    height: FloatProperty(
        name="Height",
        default=0.0,
        min=0.0,
        unit="LENGTH",
        description="Product height; 0 = the file's real size",
    )
    samples: IntProperty(
        name="Samples", default=256, min=1, max=65536, description="Cycles samples per pixel"
    )
    output_path: StringProperty(
        name="Output",
        subtype="FILE_PATH",
        description="Final MP4; empty = beside the video, <name>_vanelia.mp4",
    )
    overwrite: BoolProperty(name="Overwrite", description="Replace an existing output file")
    codec: EnumProperty(
        name="Codec",
        items=[
            ("h264", "H.264 MP4", "8-bit 4:2:0, plays anywhere (.mp4)"),
            ("hevc", "HEVC 10-bit MP4", "Main 10, the plate's colour tags (.mp4)"),
            ("prores", "ProRes 422 HQ", "10-bit 4:2:2 for editing and grading (.mov)"),
            ("dnxhr", "DNxHR HQX", "10-bit 4:2:2 for Avid and Resolve (.mov)"),
        ],
        default="h264",
        description="The final video's codec; the output's extension follows it",
    )
    grain: BoolProperty(
        name="Match the plate's grain",
        default=True,
        description="Measure the plate's noise and add the same to the product and its "
        "shadow (not in previews or passes)",
    )
    motion_blur: BoolProperty(
        name="Match the plate's motion blur",
        default=True,
        description="Estimate the plate's shutter from its blur on fast moves (180 degrees "
        "when it cannot be measured) and blur the product with the camera's motion over it "
        "(not in previews)",
    )
    passes: BoolProperty(
        name="Passes",
        description="Also write product, shadow, holdout, plate and composite image "
        "sequences for compositing (renders whole frames)",
    )
    passes_path: StringProperty(
        name="Passes folder",
        subtype="DIR_PATH",
        description="Folder of the passes; empty = beside the output, <name>_passes",
    )
    passes_format: EnumProperty(
        name="Format",
        items=[
            ("exr", "OpenEXR (half, ZIP)", "Scene-linear, premultiplied: Nuke, Fusion, Resolve"),
            ("png16", "PNG 16-bit", "sRGB images, straight alpha: After Effects, any tool"),
        ],
        default="exr",
    )
    track_path: StringProperty(
        name="Track", subtype="FILE_PATH", description="The aligned track used to build"
    )
    summary: PointerProperty(type=VaneliaSummary)
    job_text: StringProperty(name="Progress")  # the running job, for the panel
    job_fraction: FloatProperty(min=0.0, max=1.0, subtype="FACTOR")


CLASSES = (VaneliaSummary, VaneliaSettings)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.vanelia = PointerProperty(type=VaneliaSettings)


def unregister():
    del bpy.types.Scene.vanelia
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
