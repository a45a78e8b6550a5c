"""Where a view ray meets the floor (bpy-free): the geometry of the panel's "Pick spot"
(operators_pick.py, vanelia.pick_spot).

The floor is the plane z = 0 of Blender's world once the track is aligned (the track file's
`world` "blender"). A ray is (origin, direction), both 3-vectors in world coordinates; it
comes from the 3D viewport under the mouse, or from a camera and a point of its image
(`camera_ray`: normalised image coordinates, (0, 0) the bottom-left corner of the camera's
frame, (1, 1) the top-right, as Blender's world_to_camera_view gives them).
"""

import math

# A ray whose direction's z is not below -PARALLEL (per unit length) runs parallel to the
# floor or away from it: it meets the floor nowhere in front of the viewer.
PARALLEL = 1e-6


class FloorPickError(ValueError):
    """A ray that does not meet the floor in front of its origin; says why."""


def ray_floor_hit(origin, direction):
    """The point (x, y, 0.0) where the ray from `origin` along `direction` meets the floor
    z = 0 in front of the origin; FloorPickError when the ray points up or along the floor,
    or starts below the floor."""
    ox, oy, oz = (float(v) for v in origin)
    dx, dy, dz = (float(v) for v in direction)
    length = math.sqrt(dx * dx + dy * dy + dz * dz)
    values = (ox, oy, oz, dx, dy, dz)
    if not all(math.isfinite(v) for v in values) or length == 0.0:
        raise FloorPickError(f"ray origin {tuple(origin)} direction {tuple(direction)}: not a ray")
    if dz / length > -PARALLEL:
        raise FloorPickError(
            f"the view ray points {'up' if dz > 0 else 'along the floor'} "
            f"(direction z {dz / length:+.3f}): it meets the floor nowhere; point below the "
            "horizon"
        )
    if oz < 0.0:
        raise FloorPickError(f"the view is below the floor (z {oz:.3f}): it cannot see it")
    t = -oz / dz
    return (ox + t * dx, oy + t * dy, 0.0)


def _mat_vec(m, v, w):
    """The 3 first rows of 4x4 `m` times (v, w)."""
    return tuple(sum(m[r][c] * v[c] for c in range(3)) + m[r][3] * w for r in range(3))


def camera_ray(matrix_world, frame, coord, ortho=False):
    """The world ray (origin, direction) through normalised image point `coord` (u, v) of a
    camera: `matrix_world` its 4x4 (rows), `frame` the four corners of its view frame in its
    own coordinates in Blender's order (top-right, bottom-right, bottom-left, top-left; the
    camera data's view_frame), `ortho` an orthographic camera (parallel rays)."""
    u, v = (float(c) for c in coord)
    tr, br, bl, tl = [tuple(float(x) for x in p) for p in frame]
    point = tuple(bl[i] + u * (br[i] - bl[i]) + v * (tl[i] - bl[i]) for i in range(3))
    if ortho:
        origin = _mat_vec(matrix_world, (point[0], point[1], 0.0), 1.0)
        direction = _mat_vec(matrix_world, (0.0, 0.0, -1.0), 0.0)
    else:
        origin = _mat_vec(matrix_world, (0.0, 0.0, 0.0), 1.0)
        direction = _mat_vec(matrix_world, point, 0.0)
    return origin, direction
