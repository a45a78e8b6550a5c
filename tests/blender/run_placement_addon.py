"""The add-on's Build scene places the product with the native placement
(issue 20): the zip installed into a fresh profile, the sample's gt track
(with the points of a box standing where the product would go) built
through the operator.

    blender -b --factory-startup --python tests/blender/run_placement_addon.py -- NATIVE_DIR

Checks: the product's empty stands on the spot and heading that
`_vanelia.place_product` chooses for the product's own size (the same
function `vanelia run` calls), not inside the box; the panel's report line
is set and says so; the panel's location and turn still override (and get a
report); a rebuild after the artist's change of location keeps the new one.
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import addon_testing as at  # noqa: E402


def box_points(x, y, side=0.6, height=0.6, n=10):
    pts = []
    for i in range(n + 1):
        for j in range(n + 1):
            u, v = side * (i / n - 0.5), side * (j / n - 0.5)
            pts.append([x + u, y + v, height])
            pts.append([x + u, y - side / 2, height * j / n])
            pts.append([x - side / 2, y + u, height * j / n])
    return pts


def child(args):
    import bpy

    at.install(at.option(args, "--zip"))
    from vanelia_blender import native
    from vanelia_blender.core import track_file
    from vanelia_blender.scene import product

    work = at.option(args, "--work")
    vanelia = native.module()
    doc = vanelia.import_ground_truth(os.path.join(at.SAMPLE, "gt.json"))
    size = [0.081, 0.081, 0.30]  # product.glb
    free = vanelia.place_product(doc, size)
    pts = box_points(*free["location"][:2])
    doc["points"] = {"xyz": pts, "rgb": [[90, 90, 90]] * len(pts), "confidence": [1.0] * len(pts)}
    path = os.path.join(work, "track.json")
    track_file.dump(doc, path)
    want = vanelia.place_product(doc, size)
    assert want["report"]["reason"] == "", want["report"]["reason"]

    s = bpy.context.scene.vanelia
    s.video_path = os.path.join(at.SAMPLE, "video.mp4")
    s.product_path = os.path.join(at.SAMPLE, "product.glb")
    s.track_path = path
    assert s.auto_location
    assert bpy.ops.vanelia.build_scene() == {"FINISHED"}
    empty = bpy.data.objects[product.EMPTY_NAME]
    got = [round(v, 5) for v in product.natural_size(empty)]
    assert got == [0.081, 0.081, 0.3], got
    assert math.dist(empty.location, want["location"]) < 1e-5, (list(empty.location), want)
    assert abs(math.degrees(empty.rotation_euler[2]) - want["heading_deg"]) < 1e-4
    d = [abs(a - b) for a, b in zip(empty.location[:2], free["location"][:2])]
    assert max(d) > 0.3, f"the product stands in the box: {list(empty.location)}"
    assert s.placement_report.startswith("automatic: spot ("), s.placement_report
    print(f"ok: automatic: {s.placement_report}")

    s.auto_location = False
    s.location = (0.25, 1.5, 0.0)
    s.rotation_z = 0.5
    assert bpy.ops.vanelia.build_scene() == {"FINISHED"}
    assert math.dist(empty.location, (0.25, 1.5, 0.0)) < 1e-6
    assert abs(empty.rotation_euler[2] - 0.5) < 1e-6
    assert s.placement_report.startswith(
        "given location: spot (0.250, 1.500, 0)"
    ), s.placement_report
    print(f"ok: given: {s.placement_report}")
    print("run_placement_addon: OK")


if __name__ == "__main__":
    at.run(__file__, child)
