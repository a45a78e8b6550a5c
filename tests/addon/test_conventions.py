"""The bpy-free camera conventions (addon/vanelia_blender/core/conventions.py)."""

import math
import random

import pytest

from vanelia_blender.core import conventions


def random_rotation(rng):
    q = [rng.gauss(0, 1) for _ in range(4)]
    n = math.sqrt(sum(c * c for c in q))
    w, x, y, z = (c / n for c in q)
    return [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]


def test_identity_pose_looks_down_world_plus_z():
    c2w = conventions.blender_c2w_from_cam_from_world([[1, 0, 0], [0, 1, 0], [0, 0, 1]], [0, 0, 0])
    assert c2w == [[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 0], [0, 0, 0, 1]]


def test_round_trip_random_poses():
    rng = random.Random(1)
    for _ in range(100):
        r = random_rotation(rng)
        t = [rng.gauss(0, 1) for _ in range(3)]
        r2, t2 = conventions.cam_from_world_from_blender_c2w(
            conventions.blender_c2w_from_cam_from_world(r, t)
        )
        assert max(abs(a - b) for ra, rb in zip(r, r2) for a, b in zip(ra, rb)) < 1e-14
        assert max(abs(a - b) for a, b in zip(t, t2)) < 1e-14


def test_inverse_rejects_scale():
    c2w = [[2.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]]
    with pytest.raises(ValueError, match="rotation block"):
        conventions.cam_from_world_from_blender_c2w(c2w)


@pytest.mark.parametrize(
    "k, w, h, fit",
    [
        ([[497.7, 0, 319.5], [0, 497.7, 179.5], [0, 0, 1]], 640, 360, "HORIZONTAL"),
        ([[610.0, 0, 290.25], [0, 610.0, 200.75], [0, 0, 1]], 640, 360, "HORIZONTAL"),
        ([[800.0, 0, 170.0], [0, 800.0, 330.0], [0, 0, 1]], 360, 640, "VERTICAL"),
        ([[500.0, 0, 320.0], [0, 450.0, 170.0], [0, 0, 1]], 640, 360, "HORIZONTAL"),
        ([[450.0, 0, 200.0], [0, 500.0, 300.0], [0, 0, 1]], 400, 600, "VERTICAL"),
    ],
)
def test_blender_params_invert_to_the_same_k(k, w, h, fit):
    params = conventions.blender_camera_params(k, w, h)
    assert params["sensor_fit"] == fit
    assert params["pixel_aspect_x"] >= 1.0 and params["pixel_aspect_y"] >= 1.0
    back = conventions.opencv_k_from_blender_params(params)
    for ra, rb in zip(k, back):
        for a, b in zip(ra, rb):
            assert abs(a - b) < 1e-9
    # AUTO picks the same fit and the same camera.
    auto = dict(params, sensor_fit="AUTO")
    auto_k = conventions.opencv_k_from_blender_params(auto)
    assert max(abs(a - b) for ra, rb in zip(k, auto_k) for a, b in zip(ra, rb)) < 1e-9


def test_centred_principal_point_has_no_shift():
    params = conventions.blender_camera_params(
        [[497.77777777777777, 0, 319.5], [0, 497.77777777777777, 179.5], [0, 0, 1]], 640, 360
    )
    assert params["shift_x"] == 0.0 and params["shift_y"] == 0.0
    assert abs(params["lens"] - 28.0) < 1e-12


def test_principal_point_right_of_centre_is_a_negative_shift_x():
    # Blender's shift_x > 0 moves the image window right, so the optical axis (the principal
    # point) lands left of the image centre.
    params = conventions.blender_camera_params(
        [[500, 0, 339.5], [0, 500, 179.5], [0, 0, 1]], 640, 360
    )
    assert params["shift_x"] == pytest.approx(-20.0 / 640.0)
    params = conventions.blender_camera_params(
        [[500, 0, 319.5], [0, 500, 199.5], [0, 0, 1]], 640, 360
    )
    assert params["shift_y"] == pytest.approx(20.0 / 640.0)


def test_quaternions_are_sign_continuous():
    rng = random.Random(2)
    qs = []
    for _ in range(50):
        q = conventions.quaternion_from_rotation(random_rotation(rng))
        qs.append(q if rng.random() < 0.5 else tuple(-c for c in q))
    out = conventions.sign_continuous(qs)
    for a, b in zip(out, out[1:]):
        assert sum(x * y for x, y in zip(a, b)) >= 0.0
    for a, b in zip(qs, out):
        assert a == b or a == tuple(-c for c in b)


def test_quaternion_from_rotation_matches_the_matrix():
    rng = random.Random(3)
    for _ in range(100):
        r = random_rotation(rng)
        w, x, y, z = conventions.quaternion_from_rotation(r)
        m = [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
        assert max(abs(a - b) for ra, rb in zip(r, m) for a, b in zip(ra, rb)) < 1e-12
