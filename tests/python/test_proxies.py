"""Bindings of the floor module: proxy shapes of what stands on the floor."""

import math
import os

import _vanelia
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE_GT = os.path.join(ROOT, "tests", "data", "sample", "gt.json")


def _box_points(x, y, sx, sy, height, yaw_deg, n=12):
    """Points on the top and the four sides of a box standing on the floor."""
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    local = []
    for i in range(n + 1):
        for j in range(n + 1):
            u, v = i / n - 0.5, j / n - 0.5
            local.append((u * sx, v * sy, height))
            for side in (-0.5, 0.5):
                local.append((side * sx, u * sy, (j / n) * height))
                local.append((u * sx, side * sy, (j / n) * height))
    return [[x + c * a - s * b, y + s * a + c * b, z] for a, b, z in local]


def _with_points(points):
    doc = _vanelia.import_ground_truth(SAMPLE_GT)
    doc["points"] = {
        "xyz": points,
        "rgb": [[128, 128, 128]] * len(points),
        "confidence": [1.0] * len(points),
    }
    return doc


def test_a_box_and_a_wall():
    points = _box_points(0.5, 1.0, 0.8, 0.4, 0.6, 30.0)
    points += _box_points(0.0, 6.0, 6.0, 0.1, 2.5, 0.0, n=80)
    r = _vanelia.build_proxies(_with_points(points))
    assert r["count"] == 2 and r["boxes"] == 1 and r["walls"] == 1, r["summary"]
    box = next(p for p in r["proxies"] if p["kind"] == "box")
    assert box["centre"] == pytest.approx([0.5, 1.0, 0.3], abs=0.02)
    assert box["size"] == pytest.approx([0.8, 0.4, 0.6], abs=0.03)
    assert box["yaw_deg"] == pytest.approx(30.0, abs=1.0)
    assert box["points"] > 100
    assert r["points_used"] <= r["points_above_floor"]
    assert r["summary"].startswith("2 proxies (1 boxes, 1 walls)")


def test_min_points_and_no_points():
    points = _box_points(0.5, 1.0, 0.8, 0.4, 0.6, 0.0, n=8)  # 405 points
    assert _vanelia.build_proxies(_with_points(points))["count"] == 1
    assert _vanelia.build_proxies(_with_points(points), min_points=1000)["count"] == 0
    doc = _vanelia.import_ground_truth(SAMPLE_GT)
    doc.pop("points", None)
    r = _vanelia.build_proxies(doc)
    assert r["count"] == 0 and r["proxies"] == [] and r["points_above_floor"] == 0


def test_badarg():
    doc = _with_points(_box_points(0.0, 0.0, 0.5, 0.5, 0.5, 0.0))
    with pytest.raises(_vanelia.InputError, match="min_height_m = -1"):
        _vanelia.build_proxies(doc, min_height_m=-1.0)
    with pytest.raises(_vanelia.InputError, match="min_points = 1; must be >= 3"):
        _vanelia.build_proxies(doc, min_points=1)
    doc["world"] = "track"
    with pytest.raises(_vanelia.InputError, match="build_proxies: the track's world is 'track'"):
        _vanelia.build_proxies(doc)
