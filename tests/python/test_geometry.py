"""Bindings of the geometry module: transforms, Umeyama, planes, rotations."""

import math

import _vanelia
import numpy as np
import pytest


def random_rotation_wxyz(rng):
    q = rng.normal(size=4)
    return q / np.linalg.norm(q)


def random_sim3d(rng):
    return _vanelia.Sim3d(
        scale=float(np.exp(rng.uniform(-1.0, 1.0))),
        rotation_wxyz=random_rotation_wxyz(rng),
        translation=rng.uniform(-5.0, 5.0, size=3),
    )


def test_rigid3d_matrix_round_trip_and_inverse():
    rng = np.random.default_rng(1)
    pose = _vanelia.Rigid3d(rotation_wxyz=random_rotation_wxyz(rng), translation=[1.0, 2.0, 3.0])
    m = pose.matrix()
    assert m.shape == (4, 4)
    np.testing.assert_allclose(m[3], [0, 0, 0, 1])
    again = _vanelia.Rigid3d.from_matrix(m)
    np.testing.assert_allclose(again.matrix(), m, atol=1e-12)
    np.testing.assert_allclose((pose * pose.inverse()).matrix(), np.eye(4), atol=1e-12)
    x = np.array([0.3, -0.2, 5.0])
    np.testing.assert_allclose(pose * x, m[:3, :3] @ x + m[:3, 3], atol=1e-12)
    points = rng.normal(size=(7, 3))
    np.testing.assert_allclose(
        pose.transform_points(points), points @ m[:3, :3].T + m[:3, 3], atol=1e-12
    )
    assert "Rigid3d(rotation_wxyz=" in repr(pose)


def test_rigid3d_from_matrix_rejects_non_rotation():
    scaled = np.eye(4)
    scaled[:3, :3] *= 2.0
    with pytest.raises(_vanelia.InputError, match="must be a rotation"):
        _vanelia.Rigid3d.from_matrix(scaled)
    with pytest.raises(_vanelia.InputError, match=r"must be \(3, 4\) or \(4, 4\)"):
        _vanelia.Rigid3d.from_matrix(np.eye(3))
    with pytest.raises(_vanelia.InputError, match="rotation_wxyz"):
        _vanelia.Rigid3d(rotation_wxyz=[0, 0, 0, 0])


def test_sim3d_matrix_compose_and_transform_pose():
    rng = np.random.default_rng(2)
    b_from_a = random_sim3d(rng)
    m = b_from_a.matrix()
    np.testing.assert_allclose(_vanelia.Sim3d.from_matrix(m).matrix(), m, atol=1e-12)
    assert math.isclose(np.cbrt(np.linalg.det(m[:3, :3])), b_from_a.scale)
    np.testing.assert_allclose((b_from_a.inverse() * b_from_a).matrix(), np.eye(4), atol=1e-9)
    # A point projects to the same pixel before and after moving both the
    # world and the camera by the similarity.
    k = _vanelia.Intrinsics.centered(focal_px=500.0, width=640, height=360)
    cam_from_a = _vanelia.Rigid3d(translation=[0.0, 0.0, 4.0])
    cam_from_b = b_from_a.transform_pose(cam_from_a)
    x_in_a = np.array([0.2, -0.1, 0.5])
    before = k.project(cam_from_a * x_in_a)
    after = k.project(cam_from_b * (b_from_a * x_in_a))
    np.testing.assert_allclose(after, before, atol=1e-9)


def test_sim3d_from_matrix_rejects_bad_scale():
    with pytest.raises(_vanelia.InputError, match="must be > 0"):
        _vanelia.Sim3d.from_matrix(np.diag([-1.0, -1.0, -1.0, 1.0]))
    with pytest.raises(_vanelia.InputError, match="scale"):
        _vanelia.Sim3d(scale=0.0)


def test_intrinsics_pixel_centres_are_integers():
    k = _vanelia.Intrinsics.centered(focal_px=500.0, width=640, height=360)
    assert (k.cx, k.cy) == (319.5, 179.5)
    np.testing.assert_allclose(k.K, [[500, 0, 319.5], [0, 500, 179.5], [0, 0, 1]])
    np.testing.assert_allclose(k.project([0.0, 0.0, 2.0]), [319.5, 179.5])
    np.testing.assert_allclose(k.unproject([319.5 + 50.0, 179.5]), [0.1, 0, 1])
    half = k.rescaled(width=320, height=180)
    assert (half.fx, half.cx) == (250.0, 159.5)


def test_estimate_sim3d_recovers_truth_and_weights_ignore_outliers():
    rng = np.random.default_rng(3)
    truth = random_sim3d(rng)
    src = rng.uniform(-2.0, 2.0, size=(40, 3))
    dst = truth.transform_points(src)
    estimate = _vanelia.estimate_sim3d(src, dst)
    np.testing.assert_allclose(estimate.matrix(), truth.matrix(), atol=1e-9)
    dst[::4] += 10.0
    weights = np.ones(40)
    weights[::4] = 0.0
    weighted = _vanelia.estimate_sim3d(src=src, dst=dst, weights=weights)
    np.testing.assert_allclose(weighted.matrix(), truth.matrix(), atol=1e-9)
    rigid = _vanelia.estimate_sim3d(src, dst, weights, estimate_scale=False)
    assert rigid.scale == 1.0
    assert isinstance(
        _vanelia.estimate_rigid3d(src, truth.transform_points(src)),
        _vanelia.Rigid3d,
    )


def test_estimate_sim3d_degenerate_is_none_and_bad_sizes_raise():
    line = np.outer(np.arange(5.0), [1.0, 2.0, 3.0])
    assert _vanelia.estimate_sim3d(line, line) is None
    assert _vanelia.estimate_sim3d(line[:2], line[:2]) is None
    points = np.random.default_rng(4).normal(size=(6, 3))
    assert _vanelia.estimate_sim3d(points, points, weights=np.zeros(6)) is None
    nan_points = points.copy()
    nan_points[2, 1] = np.nan
    assert _vanelia.estimate_sim3d(nan_points, points) is None
    with pytest.raises(_vanelia.InputError, match="dst has 5 points"):
        _vanelia.estimate_sim3d(points, points[:5])
    with pytest.raises(_vanelia.InputError, match=r"weights\[1\]"):
        _vanelia.estimate_sim3d(points, points, weights=[1, -1, 1, 1, 1, 1])


def test_fit_plane_and_ransac_plane_with_outliers():
    rng = np.random.default_rng(5)
    floor = np.column_stack(
        [rng.uniform(-3, 3, 300), rng.uniform(-3, 3, 300), rng.normal(0, 0.002, 300)]
    )
    clutter = rng.uniform([-1, -1, 0.1], [1, 1, 1.5], size=(200, 3))
    points = np.vstack([floor, clutter])
    plane = _vanelia.fit_plane(floor)
    np.testing.assert_allclose(plane.normal, [0, 0, 1], atol=1e-2)
    assert abs(plane.offset) < 1e-2
    assert _vanelia.fit_plane(np.outer(np.arange(4.0), [1, 1, 0])) is None

    options = _vanelia.RansacOptions()
    options.max_error = 0.01
    options.random_seed = 3
    report = _vanelia.estimate_plane_ransac(points, options=options)
    assert report.success
    assert report.inlier_mask.dtype == bool
    assert report.inlier_mask.shape == (500,)
    assert report.inlier_mask[:300].sum() >= 295
    assert report.inlier_mask[300:].sum() == 0
    assert report.num_inliers == report.inlier_mask.sum()
    oriented = report.plane.flip_towards([0.0, 0.0, 5.0])
    np.testing.assert_allclose(oriented.normal, [0, 0, 1], atol=1e-2)
    assert oriented.signed_distance([0.0, 0.0, 2.0]) == pytest.approx(2.0, abs=1e-2)
    np.testing.assert_allclose(
        oriented.signed_distances(points[:3]),
        [oriented.signed_distance(p) for p in points[:3]],
    )


def test_ransac_options_check_names_the_field():
    options = _vanelia.RansacOptions()
    options.check()
    options.confidence = 1.5
    with pytest.raises(_vanelia.InputError, match="RansacOptions::confidence = 1.5"):
        options.check()
    with pytest.raises(_vanelia.InputError, match="confidence"):
        _vanelia.estimate_plane_ransac(np.zeros((5, 3)), options)


def test_quaternion_helpers():
    angles = np.radians(np.arange(0, 720, 20.0))
    q = np.column_stack(
        [np.cos(angles / 2), np.zeros_like(angles), np.zeros_like(angles), np.sin(angles / 2)]
    )
    flipped = q * np.where(np.arange(len(q)) % 3 == 1, -1.0, 1.0)[:, None]
    continuous = _vanelia.make_quaternions_continuous(flipped)
    assert np.all(np.sum(continuous[1:] * continuous[:-1], axis=1) > 0)
    for a, b in zip(continuous, q):
        assert _vanelia.rotation_angle_deg(a, b) < 1e-9
    assert _vanelia.rotation_angle_deg(q[0], q[1]) == pytest.approx(20.0)
    noisy = np.eye(3) + 1e-4 * np.arange(9.0).reshape(3, 3)
    wxyz = _vanelia.quaternion_from_matrix(noisy)
    assert np.linalg.norm(wxyz) == pytest.approx(1.0)
    assert _vanelia.rotation_angle_deg(wxyz, [1, 0, 0, 0]) < 0.05


def test_estimate_sim3d_ransac_rejects_outliers():
    rng = np.random.default_rng(6)
    truth = random_sim3d(rng)
    src = rng.uniform(-2.0, 2.0, size=(50, 3))
    dst = truth.transform_points(src)
    dst[::5] = rng.uniform(-20.0, 20.0, size=(10, 3))
    options = _vanelia.RansacOptions()
    options.max_error = 1e-6
    report = _vanelia.estimate_sim3d_ransac(src, dst, options=options)
    assert report.success
    assert report.num_inliers == 40
    assert not report.inlier_mask[::5].any()
    np.testing.assert_allclose(report.dst_from_src.matrix(), truth.matrix(), atol=1e-9)
