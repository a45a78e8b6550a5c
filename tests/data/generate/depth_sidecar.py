"""The gt-derived depth sidecar of a generated clip (run inside `blender -b`; imported by
make_clip.py for `--depth-sidecar N`).

`render_depth` renders, for every frame of the clip with its gt camera, Cycles' Z pass of the
scene WITHOUT the product at 1/N of the clip's resolution (1 sample, a 0.01 px box filter: the
depth of the ray through the pixel centre, no mixing across edges) and writes the sidecar folder
of a `vanelia-track` file's `depth` object (README "Formats", core/depth_sidecar.py):
  depth.npy        [F, H, W] '<f2' metres, z along the camera's optical axis (Blender's Z pass
                   of a perspective camera), 0 where the ray hits nothing
  confidence.npy   [F, H, W] '|u1' 255 where the ray hits the scene (exact: gt), 0 elsewhere
  intrinsics.npy   [F, 4] '<f8' fx, fy, cx, cy of the depth map (pixel centres at integers)
  frame_index.npy  [F] '<i8' the decoded frame index of each map
Returns the `depth` object to put into a track of the clip (path relative to the clip folder).
"""

import os

import bpy
import numpy as np


def _depth_tree(scene, folder):
    """Render Layers' Depth into an EXR (32-bit float) per frame in `folder`."""
    scene.use_nodes = True
    tree = scene.node_tree
    for node in list(tree.nodes):
        tree.nodes.remove(node)
    layers = tree.nodes.new("CompositorNodeRLayers")
    out = tree.nodes.new("CompositorNodeOutputFile")
    out.base_path = folder
    out.format.file_format = "OPEN_EXR"
    out.format.color_depth = "32"
    out.format.exr_codec = "ZIP"
    out.file_slots[0].path = "z_####"
    tree.links.new(layers.outputs["Depth"], out.inputs[0])
    composite = tree.nodes.new("CompositorNodeComposite")
    tree.links.new(layers.outputs["Image"], composite.inputs[0])


def _read_exr_r(path):
    img = bpy.data.images.load(path)
    img.colorspace_settings.name = "Non-Color"
    w, h = img.size
    px = np.empty(w * h * img.channels, np.float32)
    img.pixels.foreach_get(px)
    bpy.data.images.remove(img)
    return px.reshape(h, w, -1)[::-1, :, 0]  # top row first


def render_depth(frames, out_dir, divisor, folder_name="depth"):
    """Writes out_dir/folder_name (see the module's doc) for `frames` (gt.json frame dicts, the
    camera already animated by the caller's frame_set); returns the track's `depth` object."""
    import mathutils

    scene = bpy.context.scene
    saved = (
        scene.render.resolution_percentage,
        scene.cycles.samples,
        scene.cycles.max_bounces,
        scene.cycles.pixel_filter_type,
        scene.cycles.filter_width,
        scene.use_nodes,
        scene.render.filepath,
    )
    width, height = scene.render.resolution_x, scene.render.resolution_y
    if width % divisor or height % divisor:
        raise ValueError(f"--depth-sidecar {divisor}: must divide {width}x{height}")
    w, h = width // divisor, height // divisor
    scene.render.resolution_percentage = 100 // divisor
    scene.cycles.samples = 1
    scene.cycles.max_bounces = 0
    scene.cycles.pixel_filter_type = "BOX"
    scene.cycles.filter_width = 0.01
    bpy.context.view_layer.use_pass_z = True
    folder = os.path.join(out_dir, folder_name)
    tmp = os.path.join(folder, "exr-tmp")
    os.makedirs(tmp, exist_ok=True)
    _depth_tree(scene, tmp)
    cam = scene.camera
    depth = np.zeros((len(frames), h, w), np.float32)
    intrinsics = np.zeros((len(frames), 4), np.float64)
    for k, frame in enumerate(frames):
        i = frame["index"]
        scene.frame_set(i + 1)
        cam.matrix_world = mathutils.Matrix(frame["c2w_blender"])
        cam.data.lens = frame["focal_mm"]
        bpy.context.view_layer.update()
        scene.render.filepath = os.path.join(tmp, "image")
        bpy.ops.render.render(write_still=False)
        z = _read_exr_r(os.path.join(tmp, f"z_{i + 1:04d}.exr"))
        if z.shape != (h, w):
            raise RuntimeError(f"depth render {z.shape}; expected {(h, w)}")
        depth[k] = np.where(z < 1e5, z, 0.0)
        kk = np.array(frame["K_opencv"], np.float64)
        s = w / width
        intrinsics[k] = [
            kk[0, 0] * s,
            kk[1, 1] * s,
            (kk[0, 2] + 0.5) * s - 0.5,
            (kk[1, 2] + 0.5) * s - 0.5,
        ]
        print(
            f"depth sidecar: frame {i}: {w}x{h}, z {depth[k][depth[k] > 0].min():.3f}-"
            f"{depth[k].max():.3f} m",
            flush=True,
        )
    for name in os.listdir(tmp):
        os.remove(os.path.join(tmp, name))
    os.rmdir(tmp)
    np.save(os.path.join(folder, "depth.npy"), depth.astype("<f2"))
    np.save(os.path.join(folder, "confidence.npy"), np.where(depth > 0, 255, 0).astype("|u1"))
    np.save(os.path.join(folder, "intrinsics.npy"), intrinsics.astype("<f8"))
    np.save(
        os.path.join(folder, "frame_index.npy"),
        np.array([f["index"] for f in frames], "<i8"),
    )
    (
        scene.render.resolution_percentage,
        scene.cycles.samples,
        scene.cycles.max_bounces,
        scene.cycles.pixel_filter_type,
        scene.cycles.filter_width,
        scene.use_nodes,
        scene.render.filepath,
    ) = saved
    return {"path": folder_name, "format": "npy", "width": w, "height": h, "count": len(frames)}
