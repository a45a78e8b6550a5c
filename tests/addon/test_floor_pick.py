"""The bpy-free floor pick (addon/vanelia_blender/core/floor_pick.py): where a view ray meets
the floor z = 0, and the ray of a camera's image point."""

import math

import pytest

from vanelia_blender.core import floor_pick


def test_a_ray_down_meets_the_floor_below_and_ahead():
    assert floor_pick.ray_floor_hit((1.0, 2.0, 3.0), (0.0, 0.0, -1.0)) == (1.0, 2.0, 0.0)
    x, y, z = floor_pick.ray_floor_hit((0.0, 0.0, 1.5), (1.0, 2.0, -0.5))
    assert (x, y, z) == pytest.approx((3.0, 6.0, 0.0))
    # the length of the direction does not matter
    assert floor_pick.ray_floor_hit((0.0, 0.0, 1.5), (10.0, 20.0, -5.0)) == pytest.approx(
        (3.0, 6.0, 0.0)
    )


def test_a_grazing_ray_still_hits_far_away():
    x, _, z = floor_pick.ray_floor_hit((0.0, 0.0, 1.0), (1.0, 0.0, -1e-3))
    assert x == pytest.approx(1000.0) and z == 0.0


@pytest.mark.parametrize(
    "direction, word",
    [((0.0, 1.0, 0.5), "up"), ((0.0, 1.0, 0.0), "along the floor"), ((1.0, 0.0, -1e-9), "along")],
)
def test_a_ray_that_misses_the_floor_is_refused(direction, word):
    with pytest.raises(floor_pick.FloorPickError, match=word):
        floor_pick.ray_floor_hit((0.0, 0.0, 1.5), direction)


def test_a_view_from_below_the_floor_or_not_a_ray_is_refused():
    with pytest.raises(floor_pick.FloorPickError, match="below the floor"):
        floor_pick.ray_floor_hit((0.0, 0.0, -0.5), (0.0, 0.0, -1.0))
    with pytest.raises(floor_pick.FloorPickError, match="not a ray"):
        floor_pick.ray_floor_hit((0.0, 0.0, 1.0), (0.0, 0.0, 0.0))
    with pytest.raises(floor_pick.FloorPickError, match="not a ray"):
        floor_pick.ray_floor_hit((0.0, float("nan"), 1.0), (0.0, 0.0, -1.0))


def _camera(height, tilt_deg):
    """A camera at (0, 0, height) looking along +y, tilted down by tilt_deg (Blender: the
    camera looks down its -z, +y up): rotation about x by (90 - tilt)."""
    a = math.radians(90.0 - tilt_deg)
    c, s = math.cos(a), math.sin(a)
    return [[1, 0, 0, 0], [0, c, -s, 0], [0, s, c, height], [0, 0, 0, 1]]


# view_frame of a 36 mm sensor, 50 mm lens, 16:9, at distance 1: top-right, bottom-right,
# bottom-left, top-left
_HX, _HY = 0.36, 0.2025
FRAME = [(_HX, _HY, -1.0), (_HX, -_HY, -1.0), (-_HX, -_HY, -1.0), (-_HX, _HY, -1.0)]


def test_the_camera_centre_ray_meets_the_floor_where_the_tilt_says():
    origin, direction = floor_pick.camera_ray(_camera(1.5, 30.0), FRAME, (0.5, 0.5))
    assert origin == pytest.approx((0.0, 0.0, 1.5))
    x, y, z = floor_pick.ray_floor_hit(origin, direction)
    assert (x, y, z) == pytest.approx((0.0, 1.5 / math.tan(math.radians(30.0)), 0.0))


def test_camera_image_corners_follow_blender_orientation():
    m = _camera(1.5, 30.0)
    _, bottom = floor_pick.camera_ray(m, FRAME, (0.5, 0.0))
    _, top = floor_pick.camera_ray(m, FRAME, (0.5, 1.0))
    _, right = floor_pick.camera_ray(m, FRAME, (1.0, 0.5))
    assert bottom[2] < top[2]  # the bottom of the image looks further down
    assert right[0] > 0.0  # image right is world +x for a camera looking along +y
    near = floor_pick.ray_floor_hit((0.0, 0.0, 1.5), bottom)
    far = floor_pick.ray_floor_hit((0.0, 0.0, 1.5), top)
    assert near[1] < far[1]


def test_an_orthographic_camera_shoots_parallel_rays_from_its_frame():
    m = _camera(2.0, 90.0)  # straight down
    o1, d1 = floor_pick.camera_ray(m, FRAME, (0.0, 0.0), ortho=True)
    o2, d2 = floor_pick.camera_ray(m, FRAME, (1.0, 1.0), ortho=True)
    assert d1 == pytest.approx(d2) and d1 == pytest.approx((0.0, 0.0, -1.0))
    assert floor_pick.ray_floor_hit(o1, d1) == pytest.approx((-_HX, -_HY, 0.0))
    assert floor_pick.ray_floor_hit(o2, d2) == pytest.approx((_HX, _HY, 0.0))
