"""Inside Blender, for preview_bench.py --live: the add-on (source tree) builds the sample's
scene from TRACK with its Build operator, then times its Preview operator (the preview
rendered in this Blender, render/live_preview.py) over the first END frames.

    blender -b --factory-startup --python native/bench/live_preview_blender.py -- \\
        VIDEO PRODUCT TRACK END

Prints `LIVE {"seconds": s, "output": path}`."""

import json
import os
import sys
import time

import bpy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "addon"))
import vanelia_blender  # noqa: E402
from vanelia_blender import operators_preview  # noqa: E402


def main(video, product, track, end):
    vanelia_blender.register()
    s = bpy.context.scene.vanelia
    s.video_path, s.product_path, s.track_path, s.overwrite = video, product, track, True
    if bpy.ops.vanelia.build_scene() != {"FINISHED"}:
        raise SystemExit("build failed")
    bpy.context.scene.frame_end = bpy.context.scene.frame_start + int(end) - 1
    start = time.monotonic()
    if bpy.ops.vanelia.preview() != {"FINISHED"}:
        raise SystemExit("preview failed")
    seconds = time.monotonic() - start
    print("LIVE " + json.dumps({"seconds": seconds, "output": operators_preview.LAST["output"]}))


if __name__ == "__main__":
    main(*sys.argv[sys.argv.index("--") + 1 :])
