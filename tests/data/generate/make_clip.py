"""Render a test clip with exact ground-truth cameras (run by Blender 3.4 headless).

    blender -b --factory-startup --python tests/data/generate/make_clip.py -- \
        --preset sample --out tests/data/sample [--samples 12] [--frames 48] [--keep-png]

Writes OUT/video.mp4 and OUT/gt.json (format `vanelia-gt-track/1`, the format of
../shared/footage/README.md, plus a few fields some presets add). Presets:

- sample:   2 s, 48 frames at 24 fps, 640x360, a 30-degree arc at 1.5 m height looking ~20 deg
            down at a floor point, textured scene, with an AAC audio track (a chirp).
- portrait: 360x640 upright frames stored as 640x360 with display-rotation metadata (90 deg).
- vfr:      frame intervals alternate 1/30 s and 1/20 s (average 24 fps); the camera poses are
            sampled at each frame's true timestamp.
- tripod:   rotation only (camera centre fixed), pan 40 deg left to right, known focal 28 mm.
- lowtex:   nearly uniform concrete floor, two plain boxes, no walls.
- plainfloor: 480x270, the sample's arc over the lowtex floor (untextured) with the rich scene's
            five textured boxes, no walls: nearly every tracked point lies on a box (issue 17).
- distort:  rendered wider, then warped by OpenCV radial distortion (k1, k2 in gt.json).
- blur:     a 60-degree arc (twice the sample's) with motion blur (shutter 0.5 frame): the
            camera is keyframed (linear) at every frame and Cycles blurs between them.
- walker:   the sample's arc while a person-sized textured box walks across the view.
- zoom:     the sample's arc while the lens zooms in from 24 mm to 40 mm (linear in time);
            gt.json gives each frame's focal.
- crane:    the camera rises from 0.8 m to 2.6 m while moving 1 m closer, looking at a point
            0.3 m above the floor, 20 mm.
- handheld: a sideways walk (2 m) with a slow pan and hand shake (about 0.5 deg and 1.5 cm,
            several cycles per clip), 35 mm.
- tele:     a 20-degree arc at 8 m from the target, 50 mm.
- light:    the sample's arc at 320x180 for light estimation; with --sun AZ EL (the sun's
            direction) or --overcast (a uniform sky, no sun). Every clip records its light in
            gt.json `light` (the default sun when neither is given).
- occluder: 320x180, 35 mm, a 40-degree arc around a product spot while a box passes between
            camera and spot, a second box beside it; also renders the truth WITH the product
            (tests/data/generate/occluder_scene.py: OUT/truth/NNNN.png masks, gt.json
            `product_truth`).
- fastpan:  320x180, a tripod pan of 44 deg (4 deg per frame over 12 frames: about 18 px of
            image motion per frame) across the rich scene, for motion blur (give --shutter).
- slider:   the occluder clip's camera arc with one moving box (`Slider`) sliding sideways
            between camera and product spot instead of the two static boxes (issue 20's depth
            holdout); renders the same truth masks (R only).
- exposure: the light preset's arc at 320x180 over the plainfloor scene (a neutral concrete
            floor, albedo 0.51) for exposure / white balance (give --gain and --wb); also
            exports OUT/product.glb (a puck with a grey top) and renders the truth WITH it on
            three frames (tests/data/generate/exposure_scene.py: OUT/truth/, gt.json
            `exposure_truth`, `floor_albedo`).
- push:     a straight 2 m push in (dolly forward) at 1.5 m height, no rotation, 28 mm.
- truck:    a straight 2 m move to the right at 1.5 m height, no rotation, 28 mm.
`--depth-sidecar N` (any preset) also writes OUT/depth/, the gt-derived depth sidecar of a
`vanelia-track` file (tests/data/generate/depth_sidecar.py: Cycles' Z pass of the scene without
the product at 1/N of the resolution), and gt.json `depth_sidecar`, the track's `depth` object.
The 24-frame handheld, tele and truck clips are committed (tests/data/clips); crane and push
are for the accuracy bench only (`native/bench/track_accuracy.py --hard DIR`).

Rendering is Cycles on the CPU, no denoiser, motion blur only in `blur` and with --shutter
FRAMES (any preset: Cycles blurs the camera's motion over that fraction of a frame, centred on
the frame; gt.json `shutter_frames`). --gain G and --wb R G B multiply the linear render
(before the view transform: a camera's gain and white balance; gt.json `camera_gain`). The
sampling seed is fixed (7) for sample, portrait and vfr, so their render noise is the same
pattern in every frame: on a plain surface it is screen-fixed texture that does not move with
the scene. The hard presets (noise="frame": all but sample, portrait and vfr) use seed 7 +
frame index, noise that changes every frame as a sensor's. The camera pose of each frame is set
explicitly (keyframed when blurred), rendered to PNG and read back from `matrix_world`, so
gt.json is exactly what Blender rendered.
"""

import argparse
import json
import math
import os
import sys
import time

import bpy
import mathutils

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clip_encode  # noqa: E402
import depth_sidecar  # noqa: E402
import exposure_scene  # noqa: E402
import occluder_scene  # noqa: E402
import scene_build  # noqa: E402

SENSOR_WIDTH_MM = 36.0

PRESETS = {
    "sample": dict(size=(640, 360), focal_mm=28.0, texture="rich", motion="arc", audio=True),
    "portrait": dict(size=(360, 640), focal_mm=40.0, texture="rich", motion="arc", rotate=-90),
    "vfr": dict(size=(640, 360), focal_mm=28.0, texture="rich", motion="arc", vfr=True),
    "tripod": dict(size=(640, 360), focal_mm=28.0, texture="rich", motion="pan", noise="frame"),
    "lowtex": dict(size=(640, 360), focal_mm=28.0, texture="low", motion="arc", noise="frame"),
    "plainfloor": dict(
        size=(480, 270), focal_mm=28.0, texture="plainfloor", motion="arc", noise="frame"
    ),
    "blur": dict(
        size=(640, 360),
        focal_mm=28.0,
        texture="rich",
        motion="arc",
        arc_deg=60.0,
        shutter=0.5,
        noise="frame",
    ),
    "walker": dict(
        size=(640, 360), focal_mm=28.0, texture="rich", motion="arc", walker=True, noise="frame"
    ),
    "zoom": dict(
        size=(640, 360),
        focal_mm=24.0,
        zoom_to_mm=40.0,
        texture="rich",
        motion="arc",
        noise="frame",
    ),
    "crane": dict(size=(640, 360), focal_mm=20.0, texture="rich", motion="crane", noise="frame"),
    "handheld": dict(
        size=(640, 360), focal_mm=35.0, texture="rich", motion="handheld", noise="frame"
    ),
    "push": dict(size=(640, 360), focal_mm=28.0, texture="rich", motion="push", noise="frame"),
    "truck": dict(size=(640, 360), focal_mm=28.0, texture="rich", motion="truck", noise="frame"),
    "light": dict(size=(320, 180), focal_mm=28.0, texture="rich", motion="arc", noise="frame"),
    "fastpan": dict(
        size=(320, 180), focal_mm=28.0, texture="rich", motion="pan", pan_deg=44.0, noise="frame"
    ),
    "occluder": dict(
        size=(320, 180),
        focal_mm=35.0,
        texture="rich",
        motion="spot_arc",
        noise="frame",
        occluder=True,
    ),
    "slider": dict(
        size=(320, 180),
        focal_mm=35.0,
        texture="rich",
        motion="spot_arc",
        noise="frame",
        slider=True,
    ),
    "exposure": dict(
        size=(320, 180), focal_mm=28.0, texture="plainfloor", motion="arc", noise="frame"
    ),
    "tele": dict(
        size=(640, 360),
        focal_mm=50.0,
        texture="rich",
        motion="arc",
        arc_deg=20.0,
        arc_radius=8.0,
        noise="frame",
    ),
    "distort": dict(
        size=(640, 360),
        focal_mm=24.0,
        texture="rich",
        motion="arc",
        k1=-0.15,
        k2=0.03,
        noise="frame",
    ),
}
DESCRIPTIONS = {
    "arc": "camera 1.5 m high on a 30-degree arc (radius 4.3 m to 3.9 m) around the floor point "
    "(0, 1, 0), looking at it (about 20 deg down)",
    "arc60": "camera 1.5 m high on a 60-degree arc (radius 4.3 m to 3.9 m) around the floor point "
    "(0, 1, 0), looking at it (about 20 deg down), motion blur (shutter 0.5 frame)",
    "crane": "crane: camera rises from 0.8 m to 2.6 m while moving from y = -4.5 m to -3.5 m, "
    "looking at (0, 1, 0.3)",
    "handheld": "handheld: camera 1.6 m high walks from (-1, -4) to (1, -3.4) while panning "
    "10 deg left to right, with hand shake (rotation about 0.5 deg, position about 1.5 cm)",
    "push": "push in: camera 1.5 m high moves from y = -5 m to -3 m, looking along +Y 15 deg "
    "down; no rotation",
    "truck": "truck: camera 1.5 m high moves from x = -1 m to +1 m at y = -4.5 m, looking along "
    "+Y 15 deg down; no rotation",
    "tele": "camera 1.5 m high on a 20-degree arc at 8 m around the floor point (0, 1, 0), "
    "looking at it",
    "pan": "tripod: camera fixed at (0, -3, 1.5), pans 40 deg left to right (yaw +20 to -20 deg) "
    "while tilted 15 deg down; rotation only",
    "fastpan": "fast tripod pan: camera fixed at (0, -3, 1.5), pans 44 deg left to right (yaw +22 "
    "to -22 deg, constant speed) while tilted 15 deg down; rotation only",
    "spot_arc": "camera 1.5 m high on a 40-degree arc of radius 3.2 m around the product spot "
    "(0, 0.6, 0) (azimuth -70 to -30 deg), looking at 0.3 m above it; a box (Occluder) passes "
    "between the camera and the spot, another (Beside) stands just north of it",
}


def parse_args():
    argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else []
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", required=True, choices=sorted(PRESETS))
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--frames", type=int, default=48, help="number of frames (default 48)")
    p.add_argument("--fps", type=int, default=24, help="frame rate (average for vfr)")
    p.add_argument("--samples", type=int, default=8, help="Cycles samples per pixel")
    p.add_argument("--crf", type=int, default=21, help="libx264 crf")
    p.add_argument(
        "--sun",
        nargs=2,
        type=float,
        metavar=("AZ", "EL"),
        help="sun direction: azimuth (deg from +X towards +Y, where the light comes from) and "
        "elevation above the horizon (deg); default: the scene's own sun (gt.json `light`)",
    )
    p.add_argument(
        "--overcast", action="store_true", help="no sun: a uniform overcast sky (soft light)"
    )
    p.add_argument(
        "--shutter",
        type=float,
        metavar="FRAMES",
        help="motion blur: the shutter open this fraction of a frame (0 < FRAMES <= 2, centred "
        "on the frame; overrides the preset's)",
    )
    p.add_argument(
        "--gain", type=float, default=1.0, help="camera gain: the linear render times G (> 0)"
    )
    p.add_argument(
        "--wb",
        nargs=3,
        type=float,
        metavar=("R", "G", "B"),
        default=(1.0, 1.0, 1.0),
        help="white balance: the linear render's channels times R, G, B (> 0)",
    )
    p.add_argument(
        "--depth-sidecar",
        type=int,
        default=0,
        metavar="N",
        help="also write OUT/depth/: the gt depth sidecar at 1/N of the resolution (0 = none)",
    )
    p.add_argument("--keep-png", action="store_true", help="keep the rendered PNGs in OUT/png")
    p.add_argument(
        "--reuse-png",
        action="store_true",
        help="do not render: encode the PNGs a --keep-png run left in OUT/png (same preset)",
    )
    args = p.parse_args(argv)
    if args.sun and args.overcast:
        p.error("--sun and --overcast exclude each other")
    if args.sun and not (-360.0 <= args.sun[0] <= 360.0 and 0.0 < args.sun[1] <= 90.0):
        p.error(f"--sun {args.sun[0]:g} {args.sun[1]:g}: need -360 <= AZ <= 360, 0 < EL <= 90")
    if args.shutter is not None and not 0.0 < args.shutter <= 2.0:
        p.error(f"--shutter {args.shutter:g}: must be in (0, 2] frames")
    if not (args.gain > 0.0 and all(v > 0.0 for v in args.wb)):
        p.error(f"--gain {args.gain:g} --wb {args.wb}: every factor must be > 0")
    return args


def frame_times(num_frames, fps, vfr):
    """Presentation time of each frame in seconds (alternating 1/30, 1/20 s intervals if vfr)."""
    if not vfr:
        return [i / fps for i in range(num_frames)]
    return [(i // 2) / 12.0 + (i % 2) / 30.0 for i in range(num_frames)]


def look_rotation(forward):
    """Blender camera rotation looking along `forward` with world +Z up (no roll)."""
    f = mathutils.Vector(forward).normalized()
    right = f.cross(mathutils.Vector((0, 0, 1))).normalized()
    up = right.cross(f)
    rot = mathutils.Matrix((right, up, -f)).transposed()  # columns: cam X, cam Y, cam Z
    return rot


def camera_pose(motion, u, arc_deg=30.0, arc_radius=None, pan_deg=40.0):
    """Camera-to-world 4x4 at normalised time u in [0, 1]."""
    if motion == "arc":
        target = mathutils.Vector((0.0, 1.0, 0.0))
        radius = 4.3 - 0.4 * u if arc_radius is None else arc_radius
        # camera south of the target, moving east
        azimuth = math.radians(-90.0 - arc_deg / 2.0 + arc_deg * u)
        eye = target + mathutils.Vector(
            (radius * math.cos(azimuth), radius * math.sin(azimuth), 1.5)
        )
        rot = look_rotation(target - eye)
    elif motion == "pan":
        eye = mathutils.Vector((0.0, -3.0, 1.5))
        yaw = math.radians(pan_deg / 2.0 - pan_deg * u)  # + is to the left (towards -x)
        pitch = math.radians(-15.0)
        forward = (
            -math.sin(yaw) * math.cos(pitch),
            math.cos(yaw) * math.cos(pitch),
            math.sin(pitch),
        )
        rot = look_rotation(forward)
    elif motion == "crane":
        eye = mathutils.Vector((0.0, -4.5 + 1.0 * u, 0.8 + 1.8 * u))
        rot = look_rotation(mathutils.Vector((0.0, 1.0, 0.3)) - eye)
    elif motion in ("push", "truck"):
        eye = (
            mathutils.Vector((0.0, -5.0 + 2.0 * u, 1.5))
            if motion == "push"
            else mathutils.Vector((-1.0 + 2.0 * u, -4.5, 1.5))
        )
        pitch = math.radians(-15.0)
        rot = look_rotation((0.0, math.cos(pitch), math.sin(pitch)))
    elif motion == "handheld":
        # Shake: sums of sines at several cycles per clip (deterministic).
        def shake(a, b, c):
            return (
                math.sin(2 * math.pi * (a * u + 0.13 * b))
                + 0.6 * math.sin(2 * math.pi * (b * u + 0.41 * c))
                + 0.3 * math.sin(2 * math.pi * (c * u + 0.77 * a))
            ) / 1.9

        eye = mathutils.Vector(
            (
                -1.0 + 2.0 * u + 0.015 * shake(3.1, 7.3, 11.9),
                -4.0 + 0.6 * u + 0.015 * shake(4.3, 6.1, 13.7),
                1.6 + 0.015 * shake(2.7, 8.9, 12.1),
            )
        )
        yaw = math.radians(5.0 - 10.0 * u + 0.5 * shake(3.7, 5.9, 10.3))
        pitch = math.radians(-14.0 + 0.5 * shake(2.9, 7.7, 9.1))
        roll = math.radians(0.4 * shake(3.3, 6.7, 12.7))
        forward = (
            -math.sin(yaw) * math.cos(pitch),
            math.cos(yaw) * math.cos(pitch),
            math.sin(pitch),
        )
        rot = look_rotation(forward) @ mathutils.Matrix.Rotation(roll, 3, "Z")
    elif motion == "spot_arc":
        return occluder_scene.camera_pose(u)
    else:
        raise ValueError(
            f"motion = {motion!r}; must be 'arc', 'pan', 'crane', 'handheld', 'push' or 'truck'"
        )
    return mathutils.Matrix.Translation(eye) @ rot.to_4x4()


def frame_focal_mm(preset, u):
    """Lens focal length (mm) at normalised time u: fixed, or a linear zoom."""
    return (
        preset["focal_mm"] + (preset.get("zoom_to_mm", preset["focal_mm"]) - preset["focal_mm"]) * u
    )


def setup_render(scene, width, height, samples):
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.use_denoising = False
    scene.cycles.seed = 7
    scene.cycles.max_bounces = 2
    scene.cycles.diffuse_bounces = 1
    scene.cycles.glossy_bounces = 1
    scene.cycles.transmission_bounces = 0
    scene.cycles.volume_bounces = 0
    scene.cycles.caustics_reflective = False
    scene.cycles.caustics_refractive = False
    scene.render.use_motion_blur = False
    scene.render.resolution_x = width
    scene.render.resolution_y = height
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = 1.0
    scene.render.pixel_aspect_y = 1.0
    scene.render.film_transparent = False
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.image_settings.color_depth = "8"
    scene.render.threads_mode = "FIXED"
    scene.render.threads = max(1, min(2, os.cpu_count() or 1))
    scene.view_settings.view_transform = "Filmic"
    scene.view_settings.look = "Medium High Contrast"
    scene.view_settings.exposure = -1.0


def set_camera_gain(scene, factors):
    """The linear render times `factors` (R, G, B) in the compositor, before the view transform
    (a camera's gain and white balance); nothing when they are all 1."""
    if all(f == 1.0 for f in factors):
        return
    scene.use_nodes = True
    scene.render.use_compositing = True
    tree = scene.node_tree
    layers = tree.nodes.get("Render Layers") or tree.nodes.new("CompositorNodeRLayers")
    composite = tree.nodes.get("Composite") or tree.nodes.new("CompositorNodeComposite")
    split = tree.nodes.new("CompositorNodeSepRGBA")
    join = tree.nodes.new("CompositorNodeCombRGBA")
    tree.links.new(layers.outputs["Image"], split.inputs["Image"])
    for i, (channel, factor) in enumerate(zip("RGB", factors)):
        times = tree.nodes.new("CompositorNodeMath")
        times.operation = "MULTIPLY"
        times.inputs[1].default_value = factor
        tree.links.new(split.outputs[i], times.inputs[0])
        tree.links.new(times.outputs[0], join.inputs[i])
    tree.links.new(split.outputs["A"], join.inputs["A"])
    tree.links.new(join.outputs["Image"], composite.inputs["Image"])


def add_camera(scene, focal_mm):
    cam_data = bpy.data.cameras.new("Camera")
    cam_data.lens = focal_mm
    cam_data.sensor_width = SENSOR_WIDTH_MM
    cam_data.sensor_fit = "HORIZONTAL"
    cam_data.shift_x = 0.0
    cam_data.shift_y = 0.0
    cam_data.clip_start = 0.05
    cam_data.clip_end = 200.0
    cam = bpy.data.objects.new("Camera", cam_data)
    scene.collection.objects.link(cam)
    scene.camera = cam
    return cam


def matrix_rows(m):
    return [[float(m[r][c]) for c in range(4)] for r in range(4)]


def opencv_w2c(c2w):
    """w2c in OpenCV axes: inverse(c2w @ diag(1, -1, -1, 1))."""
    flip = mathutils.Matrix.Diagonal((1.0, -1.0, -1.0, 1.0))
    return (c2w @ flip).inverted()


def render_frames(args, preset, png_dir):
    """Render every frame; return (gt frame dicts, camera centres, render seconds)."""
    scene = bpy.context.scene
    out_w, out_h = preset["size"]
    margin = 1.2 if "k1" in preset else 1.0  # distortion pulls in pixels from outside the frame
    render_w, render_h = round(out_w * margin / 2) * 2, round(out_h * margin / 2) * 2
    setup_render(scene, render_w, render_h, args.samples)
    cam = add_camera(scene, preset["focal_mm"] * out_w / render_w)
    times = frame_times(args.frames, args.fps, preset.get("vfr", False))
    duration = (args.frames - 1) / args.fps  # the trajectory spans the first to last frame time
    cx, cy = out_w / 2.0, out_h / 2.0
    arc_deg = preset.get("arc_deg", 30.0)
    us = [min(1.0, t / duration) for t in times]  # normalised time of each frame
    poses = [
        camera_pose(
            preset["motion"], u, arc_deg, preset.get("arc_radius"), preset.get("pan_deg", 40.0)
        )
        for u in us
    ]
    focals_mm = [frame_focal_mm(preset, u) for u in us]
    if "shutter" in preset:
        # Motion blur needs the motion between frames: keyframe the camera (linear).
        scene.render.use_motion_blur = True
        scene.render.motion_blur_shutter = preset["shutter"]
        cam.rotation_mode = "QUATERNION"
        for i, pose in enumerate(poses):
            cam.matrix_world = pose
            cam.keyframe_insert("location", frame=i + 1)
            cam.keyframe_insert("rotation_quaternion", frame=i + 1)
        scene_build.make_keys_linear(cam)
    frames, centres = [], []
    t0 = time.time()
    for i, t in enumerate(times):
        scene.frame_set(i + 1)
        if preset.get("noise") == "frame":
            scene.cycles.seed = 7 + i
        if "shutter" not in preset:
            cam.matrix_world = poses[i]
        # The render is `margin` times wider than the output (distort): same angle of view.
        cam.data.lens = focals_mm[i] * out_w / render_w
        focal_px = focals_mm[i] / SENSOR_WIDTH_MM * out_w
        k_opencv = [[focal_px, 0.0, cx - 0.5], [0.0, focal_px, cy - 0.5], [0.0, 0.0, 1.0]]
        bpy.context.view_layer.update()
        c2w = cam.matrix_world.copy()
        scene.render.filepath = os.path.join(png_dir, f"{i:04d}.png")
        if not args.reuse_png:
            bpy.ops.render.render(write_still=True)
        elif not os.path.exists(scene.render.filepath):
            raise FileNotFoundError(f"--reuse-png: '{scene.render.filepath}' is missing")
        frames.append(
            {
                "index": i,
                "blender_frame": i + 1,
                "time_s": t,
                "focal_mm": focals_mm[i],
                "focal_px": focal_px,
                "c2w_blender": matrix_rows(c2w),
                "w2c_opencv": matrix_rows(opencv_w2c(c2w)),
                "K_opencv": k_opencv,
            }
        )
        centres.append(c2w.translation.copy())
        print(f"make_clip: frame {i + 1}/{len(times)} at {time.time() - t0:.1f} s", flush=True)
    return frames, centres, time.time() - t0


def gt_document(args, preset, objects, frames, centres):
    out_w, out_h = preset["size"]
    length = sum((centres[i + 1] - centres[i]).length for i in range(len(centres) - 1))
    gt = {
        "format": "vanelia-gt-track/1",
        "name": args.preset,
        "description": f"{args.preset}: "
        + DESCRIPTIONS[
            "arc60"
            if args.preset == "blur"
            else "fastpan"
            if args.preset == "fastpan"
            else "tele"
            if "arc_radius" in preset
            else preset["motion"]
        ]
        + ("; a person-sized box walks across the view" if preset.get("walker") else "")
        + (
            "; five textured boxes on an untextured concrete floor (2 % contrast), no walls"
            if preset["texture"] == "plainfloor"
            else ""
        )
        + (
            " (slider: no Occluder or Beside; a box, Slider, slides sideways 1 m in front of "
            "the spot across the line of sight)"
            if preset.get("slider")
            else ""
        )
        + (
            f"; the lens zooms from {preset['focal_mm']:g} mm to {preset['zoom_to_mm']:g} mm "
            "(linear in time)"
            if "zoom_to_mm" in preset
            else ""
        )
        + ".",
        "video": "video.mp4",
        "fps": args.fps,
        "width": out_w,
        "height": out_h,
        "num_frames": len(frames),
        "sensor_width_mm": SENSOR_WIDTH_MM,
        "sensor_fit": "HORIZONTAL",
        "pixel_aspect": 1.0,
        "lens_distortion": "none (ideal pinhole)",
        "principal_point_px": [out_w / 2.0, out_h / 2.0],
        "principal_point_px_opencv": [out_w / 2.0 - 0.5, out_h / 2.0 - 0.5],
        "trajectory_length_m": length,
        "conventions": {
            "index": "frames[i].index is the 0-based decoded frame number of video.mp4 "
            "(blender_frame = index + 1 in the generating scene)",
            "c2w_blender": "camera-to-world 4x4 (row-major rows), Blender world (metres, Z up); "
            "camera looks down its local -Z, local +Y is image up, local +X image right",
            "w2c_opencv": "world-to-camera 4x4 (row-major rows) in OpenCV camera convention "
            "(x right, y down, z forward); X_cam = R X_world + t; same world as c2w_blender",
            "focal_px": "focal_mm / sensor_width_mm * width (horizontal sensor fit, square "
            "pixels)",
            "principal_point_px": "image centre with the image spanning [0,W]x[0,H] (pixel "
            "corners); principal_point_px_opencv / K_opencv use pixel centres at integers",
        },
        "ground_plane": {
            "normal": [0.0, 0.0, 1.0],
            "offset": 0.0,
            "equation": "dot(normal, X) + offset = 0 in world metres; normal points up, towards "
            "the cameras",
        },
        "scale": "metric: 1 Blender unit = 1 m; camera height 1.5 m above the floor; boxes are "
        "0.4-1.2 m tall; box 'location' is the box centre, 'size' its full extent",
        "scene_objects": objects,
        "frames": frames,
        "video_encoding": f"H.264 yuv420p crf {args.crf}, from 8-bit PNG renders (Cycles "
        f"{args.samples} spp, seed "
        + ("7 + frame index" if preset.get("noise") == "frame" else "7 in every frame")
        + ", no denoiser, "
        + (
            f"motion blur shutter {preset['shutter']} frame)"
            if "shutter" in preset
            else "no motion blur)"
        ),
        "generator": "blender -b --factory-startup --python tests/data/generate/make_clip.py -- "
        + " ".join(
            a
            for a in sys.argv[sys.argv.index("--") + 1 :]
            if a not in ("--reuse-png", "--keep-png")
        ),
    }
    if "k1" in preset:
        gt["lens_distortion"] = {
            "model": "opencv",
            "k1": preset["k1"],
            "k2": preset["k2"],
            "p1": 0.0,
            "p2": 0.0,
            "k3": 0.0,
            "note": "x_d = x_u (1 + k1 r^2 + k2 r^4), r^2 = |x_u|^2 in normalised camera "
            "coordinates; K_opencv maps the distorted normalised point to pixels; the pinhole "
            "render was warped with this model",
        }
    if "rotate" in preset:
        gt["display_rotation_deg"] = preset["rotate"]
        gt["stored_width"], gt["stored_height"] = out_h, out_w
        gt["rotation_note"] = (
            "width/height/K/cameras are for the upright (displayed) frames; the stream stores "
            "them rotated 90 deg counter-clockwise (stored_width x stored_height) with a "
            "display matrix that rotates them back 90 deg clockwise; display_rotation_deg is "
            "ffprobe's 'rotation' of that matrix (counter-clockwise degrees), as on phone clips"
        )
    if "shutter" in preset:
        gt["shutter_frames"] = preset["shutter"]
    if args.gain != 1.0 or tuple(args.wb) != (1.0, 1.0, 1.0):
        gt["camera_gain"] = {
            "gain": args.gain,
            "white_balance_rgb": list(args.wb),
            "note": "the linear render's R, G, B times gain * white_balance_rgb (compositor, "
            "before the view transform)",
        }
    if preset.get("vfr"):
        gt["vfr"] = True
        gt["vfr_note"] = (
            "frame intervals alternate 1/30 s and 1/20 s (fps is the average rate); "
            "frames[i].time_s is the true presentation time and the camera pose is the one at "
            "that time"
        )
    if "audio" in preset:
        gt["audio"] = "AAC 48 kHz mono, a 200-800 Hz chirp lasting the clip"
    return gt


def main():
    args = parse_args()
    preset = dict(PRESETS[args.preset])
    if args.shutter is not None:
        preset["shutter"] = args.shutter
    out_dir = os.path.abspath(args.out)
    png_dir = os.path.join(out_dir, "png")
    os.makedirs(png_dir, exist_ok=True)
    light = {"overcast": True} if args.overcast else {"sun": args.sun} if args.sun else None
    objects, light_record = scene_build.build_scene(preset["texture"], light)
    if preset.get("walker"):
        # Walks 3 m left to right, 1.6 m in front of the arc's target, in the camera's view.
        n = args.frames
        path = [(-1.5 + 3.0 * i / max(1, n - 1), -0.6) for i in range(n)]
        objects.append(scene_build.add_walker(path))
    if preset.get("occluder"):
        objects += occluder_scene.add_boxes()
    if preset.get("slider"):
        objects.append(occluder_scene.add_slider(args.frames))
    set_camera_gain(bpy.context.scene, [args.gain * w for w in args.wb])
    frames, centres, seconds = render_frames(args, preset, png_dir)
    gt = gt_document(args, preset, objects, frames, centres)
    if preset.get("occluder") or preset.get("slider"):
        gt["product_truth"] = occluder_scene.render_truth(
            frames, png_dir, out_dir, preset.get("noise") == "frame"
        )
    if args.preset == "exposure":
        n = len(frames)
        gt["exposure_truth"] = exposure_scene.render_truth(
            frames, png_dir, out_dir, sorted({0, n // 2, n - 1}), True
        )
        gt["floor_albedo"] = {
            "rgb": [exposure_scene.FLOOR_ALBEDO] * 3,
            "note": "the plain concrete floor's diffuse albedo (0.5 and 0.52 grey mixed)",
        }
    if args.depth_sidecar:
        gt["depth_sidecar"] = depth_sidecar.render_depth(frames, out_dir, args.depth_sidecar)
    gt["light"] = light_record
    clip_encode.encode(png_dir, os.path.join(out_dir, "video.mp4"), gt, args.crf)
    with open(os.path.join(out_dir, "gt.json"), "w") as f:
        json.dump(gt, f, indent=1)
        f.write("\n")
    if not args.keep_png:
        clip_encode.remove_pngs(png_dir)
    print(f"make_clip: {args.preset}: {len(frames)} frames rendered in {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception:  # exit non-zero so the driver sees the failure
        import traceback

        traceback.print_exc()
        sys.exit(1)
