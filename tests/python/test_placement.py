"""Bindings of the floor module: the product's automatic placement."""

import copy
import math
import os

import _vanelia
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE_GT = os.path.join(ROOT, "tests", "data", "sample", "gt.json")
BOTTLE = [0.081, 0.081, 0.30]  # tests/data/sample/product.glb


def _sample():
    return _vanelia.import_ground_truth(SAMPLE_GT)


def _box_points(x, y, side=0.6, height=0.6, n=10):
    pts = []
    for i in range(n + 1):
        for j in range(n + 1):
            u, v = side * (i / n - 0.5), side * (j / n - 0.5)
            pts.append([x + u, y + v, height])
            pts.append([x + u, y - side / 2, height * j / n])
    return pts


def test_automatic_spot_is_in_frame_large_and_faces_the_cameras():
    doc = _sample()
    r = _vanelia.place_product(doc, BOTTLE)
    rep = r["report"]
    assert r["automatic"] and r["location"][2] == 0.0
    assert rep["reason"] == "", rep["reason"]
    assert rep["fully_visible_fraction"] >= 0.95
    assert 0.15 <= rep["median_height_fraction"] <= 0.50
    assert rep["frames"] == len(doc["frames"])
    assert r["summary"].startswith("spot (")
    # The front (Rz(h) (0, -1)) points at the average camera.
    cams = [[f["c2w_blender"][0][3], f["c2w_blender"][1][3]] for f in doc["frames"]]
    mx = sum(c[0] for c in cams) / len(cams) - r["location"][0]
    my = sum(c[1] for c in cams) / len(cams) - r["location"][1]
    h = math.radians(r["heading_deg"])
    assert (math.sin(h) * mx - math.cos(h) * my) / math.hypot(mx, my) > 0.999


def test_path_and_document_agree(tmp_path):
    path = str(tmp_path / "t.json")
    _vanelia.write_track_file(path, _sample())
    assert _vanelia.place_product(path, BOTTLE) == _vanelia.place_product(_sample(), BOTTLE)


def test_points_above_the_floor_move_the_spot():
    free = _vanelia.place_product(_sample(), BOTTLE)
    doc = _sample()
    pts = _box_points(*free["location"][:2])
    doc["points"] = {
        "xyz": pts,
        "rgb": [[128, 128, 128]] * len(pts),
        "confidence": [1.0] * len(pts),
    }
    moved = _vanelia.place_product(doc, BOTTLE)
    assert moved["report"]["obstacle_points"] == 0
    dx = abs(moved["location"][0] - free["location"][0])
    dy = abs(moved["location"][1] - free["location"][1])
    assert max(dx, dy) > 0.3
    given = _vanelia.place_product(doc, BOTTLE, location=free["location"])
    assert given["report"]["obstacle_points"] > 0
    assert "something stands there" in given["report"]["reason"]


def test_given_location_is_evaluated_not_moved():
    r = _vanelia.place_product(_sample(), BOTTLE, location=[0.0, 1.0, 0.0], heading_deg=30.0)
    assert not r["automatic"]
    assert r["location"] == [0.0, 1.0, 0.0] and r["heading_deg"] == pytest.approx(30.0)
    assert r["report"]["candidates"] == 1


def test_target_height_scales():
    r = _vanelia.place_product(_sample(), BOTTLE, target_height_m=0.6)
    assert r["scale"] == pytest.approx(2.0)


def test_bad_input_names_the_rule():
    raw = copy.deepcopy(_sample())
    raw["world"] = "track"
    with pytest.raises(_vanelia.InputError, match="align it to the floor"):
        _vanelia.place_product(raw, BOTTLE)
    with pytest.raises(_vanelia.InputError, match="ProductBox::size_m"):
        _vanelia.place_product(_sample(), [0.1, 0.1, 0.0])
    with pytest.raises(_vanelia.InputError, match="front 'side'"):
        _vanelia.place_product(_sample(), BOTTLE, front="side")
    with pytest.raises(_vanelia.InputError, match="target_height_m"):
        _vanelia.place_product(_sample(), BOTTLE, target_height_m=-1.0)
