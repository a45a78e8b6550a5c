"""Where and what to render: bpy-free geometry for the batch renderer.

Cameras are given as `c2w` (4x4 rows, Blender camera: looks down local -Z,
+Y up, metres) and `K` (3x3 rows, OpenCV: +x right, +y down, pixel centres at
integer coordinates), exactly as in the track file.

- `selected_indices`: the CLI's --start/--end/--every over a clip.
- `default_product_location`: the floor point (z = 0) that the image centre
  of a camera looks at, clamped to a sensible distance.
- `render_region`: the pixel box of a frame where the product and its shadow
  can appear (the product's bounding box, its shadow cast along the sun onto
  the floor, a floor margin for contact shadows, projected through the
  camera); `border_of_region` turns it into Blender's border (y up, 0..1).
- `camera_height_scale`: the factor that makes the first camera's height M.
"""

import math
from dataclasses import dataclass


class PlanError(ValueError):
    """Bad frame selection or placement; the message names value and rule."""


def selected_indices(frame_count, start=0, end=-1, every=1):
    """Decoded indices start <= i < end, every `every`-th (end -1 = clip end)."""
    if every < 1:
        raise PlanError(f"--every {every}: must be >= 1")
    if end is None or end < 0:
        end = frame_count
    if start < 0 or start >= frame_count:
        raise PlanError(f"--start {start}: must be in [0, {frame_count})")
    if end <= start or end > frame_count:
        raise PlanError(f"--end {end}: must be in ({start}, {frame_count}]")
    return list(range(start, end, every))


def _mat_vec(m, v):
    return [sum(m[r][c] * v[c] for c in range(len(v))) for r in range(len(m))]


def camera_center(c2w):
    return [c2w[0][3], c2w[1][3], c2w[2][3]]


def world_to_opencv(c2w, p_in_world):
    """Camera-frame point (OpenCV axes: x right, y down, z forward)."""
    d = [p_in_world[i] - c2w[i][3] for i in range(3)]
    # Blender camera axes in world = columns of R; p_cam_blender = R^T d.
    xb = sum(c2w[i][0] * d[i] for i in range(3))
    yb = sum(c2w[i][1] * d[i] for i in range(3))
    zb = sum(c2w[i][2] * d[i] for i in range(3))
    return [xb, -yb, -zb]


def project(K, c2w, p_in_world):
    """(u, v, depth) in OpenCV pixels (centres at integers)."""
    x, y, z = world_to_opencv(c2w, p_in_world)
    if z <= 1e-9:
        return (float("nan"), float("nan"), z)
    return (K[0][0] * x / z + K[0][1] * y / z + K[0][2], K[1][1] * y / z + K[1][2], z)


def pixel_ray(K, c2w, u, v):
    """World direction (unit) of the ray through pixel (u, v)."""
    y = (v - K[1][2]) / K[1][1]
    x = (u - K[0][2] - K[0][1] * y) / K[0][0]
    # OpenCV (x, y, 1) -> Blender camera (x, -y, -1) -> world.
    cam = [x, -y, -1.0]
    d = [sum(c2w[r][c] * cam[c] for c in range(3)) for r in range(3)]
    n = math.sqrt(sum(a * a for a in d))
    return [a / n for a in d]


def default_product_location(K, c2w, width, height, min_m=1.0, max_m=15.0):
    """The floor point the image centre looks at, its distance from the
    camera clamped to [min_m, max_m] (measured along the floor ray; a camera
    looking at or above the horizon gets the point at max_m in front)."""
    origin = camera_center(c2w)
    ray = pixel_ray(K, c2w, (width - 1) / 2.0, (height - 1) / 2.0)
    if ray[2] < -1e-6 and origin[2] > 0:
        t = -origin[2] / ray[2]
    else:
        t = max_m
    t = min(max(t, min_m), max_m)
    return [origin[0] + t * ray[0], origin[1] + t * ray[1], 0.0]


def box_corners(lo, hi):
    return [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]


def shadow_on_floor(points, light_dir):
    """Points moved along `light_dir` (the direction light travels, pointing
    down) onto z = 0. Points already on the floor stay."""
    if light_dir[2] >= -1e-3:
        raise PlanError(f"light direction {light_dir}: must point downwards")
    out = []
    for p in points:
        t = -p[2] / light_dir[2]
        out.append([p[0] + t * light_dir[0], p[1] + t * light_dir[1], 0.0])
    return out


@dataclass
class RegionOptions:
    floor_margin_m: float = 0.2  # contact shadow (sky occlusion) spread, m
    pixel_margin: int = 4  # filter width (1.5 px) + edge antialiasing, pixels
    max_shadow_m: float = 8.0  # longest sun shadow considered, m


def region_points(lo, hi, light_dir, options=RegionOptions()):
    """World points whose projections bound the product and its shadow."""
    corners = box_corners(lo, hi)
    m = options.floor_margin_m
    floor = box_corners([lo[0] - m, lo[1] - m, 0.0], [hi[0] + m, hi[1] + m, 0.0])
    shadow = shadow_on_floor(corners, light_dir)
    cx, cy = (lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2
    clamped = []
    for p in shadow:
        dx, dy = p[0] - cx, p[1] - cy
        n = math.hypot(dx, dy)
        s = min(1.0, options.max_shadow_m / n) if n > 0 else 1.0
        for ex in (-m, m):
            for ey in (-m, m):
                clamped.append([cx + dx * s + ex, cy + dy * s + ey, 0.0])
    return corners + floor[:4] + clamped


def render_region(K, c2w, width, height, points, pixel_margin=RegionOptions.pixel_margin):
    """Pixel box (x0, y0, x1, y1), inclusive, y down, clipped to the frame;
    None when nothing can be seen; the whole frame when a point is behind
    the camera (the box is then unbounded)."""
    us, vs = [], []
    for p in points:
        u, v, z = project(K, c2w, p)
        if z <= 1e-3:
            return (0, 0, width - 1, height - 1)
        us.append(u)
        vs.append(v)
    x0 = math.floor(min(us)) - pixel_margin
    x1 = math.ceil(max(us)) + pixel_margin
    y0 = math.floor(min(vs)) - pixel_margin
    y1 = math.ceil(max(vs)) + pixel_margin
    if x1 < 0 or y1 < 0 or x0 > width - 1 or y0 > height - 1:
        return None
    return (max(x0, 0), max(y0, 0), min(x1, width - 1), min(y1, height - 1))


def border_of_region(region, width, height):
    """Blender's render border (min_x, max_x, min_y, max_y), 0..1, y up."""
    x0, y0, x1, y1 = region
    return (
        x0 / width,
        (x1 + 1) / width,
        1.0 - (y1 + 1) / height,
        1.0 - y0 / height,
    )


def camera_height_scale(c2ws, target_m):
    """Factor that scales the world about the origin so the first camera's
    height above z = 0 becomes `target_m` (the same definition as
    `vanelia align --camera-height`)."""
    if not target_m > 0:
        raise PlanError(f"--camera-height {target_m}: must be > 0 m")
    if not c2ws:
        raise PlanError("--camera-height: the track has no frames")
    first = c2ws[0][2][3]
    if first <= 1e-6:
        raise PlanError(f"first camera height {first} m: the camera must be above the floor")
    return target_m / first


def fps_to_blender(num, den):
    """Blender's (fps int, fps_base float) for the rational rate num/den."""
    if num <= 0 or den <= 0:
        raise PlanError(f"frame rate {num}/{den}: must be positive")
    fps = max(1, math.ceil(num / den - 1e-9))
    return fps, fps * den / num
