"""bpy-free render planning, proxy and encode logic (plain python3)."""

import math

import pytest

from vanelia_blender.core import glb
from vanelia_blender.encode import encode, proxy
from vanelia_blender.render import render_plan
from vanelia_blender.core.media import MediaInfo, _is_vfr

K = [[500.0, 0.0, 319.5], [0.0, 500.0, 179.5], [0.0, 0.0, 1.0]]


def look_down_y(height, tilt_deg):
    """c2w of a camera at (0, -d, height) looking along +Y, tilted down."""
    t = math.radians(tilt_deg)
    # Blender camera: -Z forward, +Y up. Forward = (0, cos t, -sin t).
    fwd = [0.0, math.cos(t), -math.sin(t)]
    up = [0.0, math.sin(t), math.cos(t)]
    right = [1.0, 0.0, 0.0]
    cols = [right, up, [-c for c in fwd]]
    return [[cols[0][r], cols[1][r], cols[2][r], [0.0, -4.0, height][r]] for r in range(3)] + [
        [0.0, 0.0, 0.0, 1.0]
    ]


def test_selected_indices():
    assert render_plan.selected_indices(10) == list(range(10))
    assert render_plan.selected_indices(10, 2, 9, 3) == [2, 5, 8]
    for bad in [dict(start=10), dict(start=3, end=3), dict(every=0), dict(end=11)]:
        with pytest.raises(render_plan.PlanError):
            render_plan.selected_indices(10, **bad)


def test_project_principal_point_and_ray_roundtrip():
    c2w = look_down_y(1.5, 20.0)
    ray = render_plan.pixel_ray(K, c2w, 100.0, 50.0)
    p = [c2w[i][3] + 3.0 * ray[i] for i in range(3)]
    u, v, z = render_plan.project(K, c2w, p)
    assert (u, v) == pytest.approx((100.0, 50.0), abs=1e-9)
    assert z > 0


def test_default_location_is_where_the_centre_meets_the_floor():
    c2w = look_down_y(1.5, 20.0)
    loc = render_plan.default_product_location(K, c2w, 640, 360)
    assert loc[2] == 0.0
    assert loc[1] == pytest.approx(-4.0 + 1.5 / math.tan(math.radians(20.0)))
    u, v, _ = render_plan.project(K, c2w, loc)
    assert (u, v) == pytest.approx((319.5, 179.5), abs=1e-9)


def test_default_location_is_clamped_at_the_horizon():
    c2w = look_down_y(1.5, -5.0)  # looking up: no floor hit
    loc = render_plan.default_product_location(K, c2w, 640, 360, max_m=15.0)
    assert math.dist(loc[:2], [0.0, -4.0]) == pytest.approx(15.0, rel=1e-2)
    # Looking almost straight down from 1.5 m: the hit is 1.51 m along the ray.
    near = render_plan.default_product_location(K, look_down_y(1.5, 85.0), 640, 360, min_m=1.0)
    assert near[2] == 0.0 and 0.13 < math.dist(near[:2], [0.0, -4.0]) <= 1.0


def test_shadow_on_floor_and_region():
    pts = render_plan.shadow_on_floor([[0.0, 0.0, 1.0]], [0.0, 1.0, -1.0])
    assert pts[0] == pytest.approx([0.0, 1.0, 0.0])
    with pytest.raises(render_plan.PlanError):
        render_plan.shadow_on_floor(pts, [0.0, 0.0, 1.0])
    c2w = look_down_y(1.5, 20.0)
    loc = render_plan.default_product_location(K, c2w, 640, 360)
    lo = [loc[0] - 0.1, loc[1] - 0.1, 0.0]
    hi = [loc[0] + 0.1, loc[1] + 0.1, 0.3]
    points = render_plan.region_points(lo, hi, [0.3, 0.3, -0.9])
    region = render_plan.render_region(K, c2w, 640, 360, points)
    x0, y0, x1, y1 = region
    assert x0 < 319.5 < x1 and y0 < 179.5 < y1
    assert (x1 - x0) * (y1 - y0) < 0.25 * 640 * 360  # a small part of the frame
    for corner in render_plan.box_corners(lo, hi):
        u, v, _ = render_plan.project(K, c2w, corner)
        assert x0 <= u <= x1 and y0 <= v <= y1
    border = render_plan.border_of_region(region, 640, 360)
    assert border == pytest.approx((x0 / 640, (x1 + 1) / 640, 1 - (y1 + 1) / 360, 1 - y0 / 360))


def test_region_behind_camera_is_whole_frame_and_outside_is_none():
    c2w = look_down_y(1.5, 20.0)
    assert render_plan.render_region(K, c2w, 640, 360, [[0.0, -10.0, 0.0]]) == (0, 0, 639, 359)
    assert render_plan.render_region(K, c2w, 640, 360, [[50.0, 5.0, 0.0]]) is None


def test_camera_height_scale_and_fps():
    c2ws = [look_down_y(h, 10.0) for h in (0.5, 1.0, 2.0)]
    # The first camera's height, as `vanelia align --camera-height`.
    assert render_plan.camera_height_scale(c2ws, 1.5) == pytest.approx(3.0)
    assert render_plan.camera_height_scale(c2ws[1:], 1.5) == pytest.approx(1.5)
    with pytest.raises(render_plan.PlanError):
        render_plan.camera_height_scale(c2ws, 0.0)
    with pytest.raises(render_plan.PlanError):
        render_plan.camera_height_scale([], 1.5)
    with pytest.raises(render_plan.PlanError):
        render_plan.camera_height_scale([look_down_y(-0.5, 10.0)], 1.5)
    assert render_plan.fps_to_blender(24, 1) == (24, 1.0)
    fps, base = render_plan.fps_to_blender(30000, 1001)
    assert fps == 30 and fps / base == pytest.approx(30000 / 1001)


def test_cfr_mapping_nearest_and_vfr_rule():
    assert proxy.cfr_mapping([0.0, 0.1, 0.2], 10) == [0, 1, 2]
    # Uneven: at the average rate 3 / 0.4 s, source 1 is dropped, 2 repeated.
    assert proxy.cfr_mapping([0.0, 0.1, 0.15, 0.4], 7.5) == [0, 2, 2, 3]
    assert not _is_vfr([1 / 24] * 10, 1 / 12288)
    assert _is_vfr([1 / 24] * 5 + [1.5 / 24] * 5 + [1 / 24], 1 / 12288)


def info(**kw):
    base = dict(
        path="/in.mp4",
        width=640,
        height=360,
        rotation_deg=0,
        fps_num=24,
        fps_den=1,
        frame_count=48,
        vfr=False,
        has_audio=True,
        pixel_aspect=1.0,
        pts=[],
    )
    base.update(kw)
    return MediaInfo(**base)


def test_proxy_reason():
    assert proxy.proxy_reason(info()) is None
    assert "rotation" in proxy.proxy_reason(info(rotation_deg=90))
    assert "variable" in proxy.proxy_reason(info(vfr=True))


def test_encode_command_keeps_rate_audio_and_selection(tmp_path):
    cmd = encode.encode_command(
        str(tmp_path), "/plate.mkv", info(fps_num=30000, fps_den=1001), "/out.mp4", 4, 2, 10
    )
    text = " ".join(cmd)
    assert "-framerate 30000/2002" in text and "-r 30000/2002" in text
    assert "between(n\\,4\\,22)" in text and "-c:a copy" in text and "2:a?" in text
    assert cmd[cmd.index("-i") + 1] == "/plate.mkv"
    silent = " ".join(
        encode.encode_command(str(tmp_path), "/p", info(has_audio=False), "/o", 0, 1, 3)
    )
    assert "-c:a" not in silent


def test_encode_never_replaces_without_overwrite(tmp_path):
    out = tmp_path / "final.mp4"
    out.write_text("mine")
    with pytest.raises(ValueError, match="exists"):
        encode.encode(str(tmp_path), "/p", info(), str(out), 0, 1, 1, overwrite=False)
    assert out.read_text() == "mine"


def test_check_product(tmp_path):
    import sys, os  # noqa: E401

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "blender"))
    import scene_testing

    text = tmp_path / "x.glb"
    text.write_text("hello")
    with pytest.raises(glb.ProductError, match="not a GLB"):
        glb.check_product(str(text))
    with pytest.raises(glb.ProductError, match="no mesh"):
        glb.check_product(scene_testing.empty_glb(str(tmp_path / "e.glb")))
    with pytest.raises(glb.ProductError, match="no such file"):
        glb.check_product(str(tmp_path / "missing.glb"))
    sample = os.path.join(scene_testing.SAMPLE, "product.glb")
    assert glb.check_product(sample)["meshes"]
