"""The panel's "Pick spot" modal in a real window (Xvfb, Blender's event loop; issue 20):
vanelia.pick_spot invoked in the 3D viewport, the mouse moved and clicked with
event_simulate.

    blender -b --factory-startup --python tests/blender/run_pick_spot_ui.py
(relaunches itself under xvfb-run with --enable-event-simulate.)

On the sample built by Build scene from its gt track, in the viewport looking through the
camera and in a free perspective view: a left click moves the product onto the floor (z 0)
at the clicked pixel (the spot projected back into the viewport within 0.01 px through the
camera, 0.2 px in the free view, where the floor point is far and grazing) and makes it the
panel's location; then, picking again, the product follows the mouse and Esc puts it (and the
panel) back. Exits 1 on a failed check.
"""

import json
import math
import os
import subprocess
import sys
import traceback

import bpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scene_testing as st  # noqa: E402

sys.path.insert(0, st.ADDON)
import vanelia_blender  # noqa: E402
from vanelia_blender.core import track_file  # noqa: E402
from vanelia_blender.scene import product  # noqa: E402

WORK = os.path.join(bpy.app.tempdir, "pick_spot_ui")
VIEWS = (("CAMERA", 0.01), ("PERSP", 0.2))


def viewport():
    window = bpy.context.window_manager.windows[0]
    area = max((a for a in window.screen.areas if a.type == "VIEW_3D"), key=lambda a: a.width)
    region = next(r for r in area.regions if r.type == "WINDOW")
    return window, area, region


def mouse(window, region, kind, value, px):
    window.event_simulate(type=kind, value=value, x=region.x + px[0], y=region.y + px[1])


def build():
    os.makedirs(WORK, exist_ok=True)
    gt = json.load(open(os.path.join(st.SAMPLE, "gt.json")))
    path = os.path.join(WORK, "track.json")
    track_file.dump(st.gt_to_track(gt), path, overwrite=True)
    s = bpy.context.scene.vanelia
    s.video_path = os.path.join(st.SAMPLE, "video.mp4")
    s.product_path = os.path.join(st.SAMPLE, "product.glb")
    s.track_path, s.light_mode, s.samples = path, "FIXED", 1
    assert bpy.ops.vanelia.build_scene() == {"FINISHED"}


def steps():
    from bpy_extras import view3d_utils

    vanelia_blender.register()
    window, area, region = viewport()
    window.event_simulate(type="ESC", value="PRESS")  # the splash
    window.event_simulate(type="ESC", value="RELEASE")
    yield 0.3
    build()
    s = bpy.context.scene.vanelia
    for view, tolerance in VIEWS:
        window, area, region = viewport()
        rv3d = area.spaces.active.region_3d
        rv3d.view_perspective = view
        area.tag_redraw()
        yield 0.3
        empty = bpy.data.objects[product.EMPTY_NAME]
        with bpy.context.temp_override(window=window, area=area, region=region):
            st.check(
                bpy.ops.vanelia.pick_spot("INVOKE_DEFAULT") == {"RUNNING_MODAL"},
                f"{view}: Pick spot waits for a click",
            )
        px = (int(region.width * 0.45), int(region.height * 0.3))
        mouse(window, region, "MOUSEMOVE", "NOTHING", px)
        yield 0.2
        mouse(window, region, "LEFTMOUSE", "PRESS", px)
        mouse(window, region, "LEFTMOUSE", "RELEASE", px)
        yield 0.3
        spot = tuple(empty.location)
        back = tuple(view3d_utils.location_3d_to_region_2d(region, rv3d, empty.location))
        st.check(abs(spot[2]) < 1e-9, f"{view}: clicked spot {spot} on the floor")
        st.check(
            math.dist(back, px) < tolerance,
            f"{view}: the spot shows at pixel {back}, the clicked {px} (< {tolerance} px)",
        )
        st.check(not s.auto_location and math.dist(tuple(s.location), spot) < 1e-6, "panel spot")
        with bpy.context.temp_override(window=window, area=area, region=region):
            bpy.ops.vanelia.pick_spot("INVOKE_DEFAULT")
        other = (int(region.width * 0.6), int(region.height * 0.2))
        mouse(window, region, "MOUSEMOVE", "NOTHING", other)
        yield 0.2
        moved = tuple(empty.location)
        st.check(math.dist(moved, spot) > 0.01, f"{view}: the product follows the mouse {moved}")
        mouse(window, region, "ESC", "PRESS", other)
        mouse(window, region, "ESC", "RELEASE", other)
        yield 0.3
        st.check(math.dist(tuple(empty.location), spot) < 1e-9, f"{view}: Esc puts it back")
        st.check(math.dist(tuple(s.location), spot) < 1e-9, f"{view}: and the panel's spot")
    print("run_pick_spot_ui: OK", flush=True)


def child():
    gen = steps()

    def tick():
        try:
            return next(gen)
        except StopIteration:
            os._exit(0)
        except BaseException:  # noqa: BLE001 - the test's verdict
            traceback.print_exc()
            sys.stdout.flush()
            os._exit(1)

    bpy.app.timers.register(tick, first_interval=1.0)


def parent():
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", bpy.app.binary_path]
    cmd += ["--factory-startup", "--enable-event-simulate", "-p", "0", "0", "1280", "800"]
    cmd += ["--python", os.path.abspath(__file__), "--", "--child"]
    try:
        code = subprocess.run(cmd, timeout=120).returncode
    except subprocess.TimeoutExpired:
        print("FAIL: the windowed Blender did not finish in 120 s", flush=True)
        code = 1
    sys.stdout.flush()
    os._exit(code)


if __name__ == "__main__":
    if "--child" in sys.argv:
        child()
    else:
        parent()
