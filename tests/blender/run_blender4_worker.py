"""Worker mode in Debian 13's Blender 4.3.2 (Python 3.13; the root of
native/scripts/blender4_root.sh: none of the project's libraries, no ffmpeg):
the self-contained extension zip (build_addon.py --format extension
--self-contained) installed into user_default and enabled; its Python 3.11
module cannot load, so the add-on runs the bundled `vanelia` CLI and the panel
says "worker". Then, through the operators as an artist would: Track (the
classical tracker, `vanelia track --progress json`: every frame registered,
the floor found, the job's stages seen), Build scene (probe, automatic
placement, proxies and the light estimate through `vanelia call`: the
reports say they ran), Render (`vanelia run --progress json`, which runs
this Blender with batch.py, whose probe and overlay + encode go through the
CLI too), and a render cancelled after its first frame: cancelled within a
second, nothing written. Blender's part writes result.json; the output's
pixels are then checked outside the root as the 3.4 tests check them
(run_render_cli.py's check: the plate at PSNR >= 40 dB away from the
product and its shadow, the product rendered where it stands). A text file
named .mp4 is refused with the CLI's error line as the operator's report.

    native/scripts/blender4.sh -b --factory-startup \\
        --python tests/blender/run_blender4_worker.py \\
        -- --zip ADDON-selfcontained-extension.zip --video V --product P.glb --out DIR
    /usr/bin/python3 tests/blender/run_blender4_worker.py --check DIR/result.json
"""

import argparse
import importlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scene_testing as st  # noqa: E402

MODULE = "bl_ext.user_default.vanelia_blender"
FRAMES = 3  # rendered (decoded frames 0, 1, 2)


def parse(argv):
    p = argparse.ArgumentParser()
    for name in ("--zip", "--video", "--product", "--out"):
        p.add_argument(name, required=True)
    return p.parse_args(argv)


def install(bpy, zip_path):
    result = bpy.ops.extensions.package_install_files(
        filepath=zip_path, repo="user_default", enable_on_install=True
    )
    st.check(result == {"FINISHED"}, f"Blender {bpy.app.version_string}: extension installed")
    st.check(MODULE in bpy.context.preferences.addons, f"enabled as {MODULE}")
    native = importlib.import_module(MODULE + ".native")
    st.check(not native.available(), "the Python 3.11 module does not load in Python 3.13")
    st.check(native.mode() == "worker", f"worker mode ({native.mode()})")
    text = native.mode_text()
    st.check("worker" in text and "3.13" in text, f"the panel says: {text}")
    where = os.path.dirname(native.worker().cli)
    st.check(where.endswith(os.path.join("vanelia_blender", "bin")), f"the bundled CLI: {where}")
    return native


def bad_input(bpy, ops, out):
    """The CLI's error line comes back as the operator's report."""
    bad = os.path.join(out, "not_a_video.mp4")
    with open(bad, "w") as f:
        f.write("not a video")
    bpy.context.scene.vanelia.video_path = bad
    try:
        ops.track_video()
        st.check(False, "a text file named .mp4 must be refused")
    except RuntimeError as e:
        text = str(e).strip()
        st.check(text.startswith("Error: Tracking:") and bad in text, f"reported: {text}")


def track(bpy, ops):
    s = bpy.context.scene.vanelia
    seen = set()
    jobs = importlib.import_module(MODULE + ".core.jobs")
    progress = jobs.Job.progress

    def spy(job, record=None, **fields):
        seen.add(fields.get("stage"))
        return progress(job, record, **fields)

    jobs.Job.progress = spy
    try:
        start = time.monotonic()
        st.check(ops.track_video() == {"FINISHED"}, "Track: FINISHED")
    finally:
        jobs.Job.progress = progress
    sm = s.summary
    print(f"track: {time.monotonic() - start:.1f} s, stages {sorted(filter(None, seen))}")
    st.check(sm.valid and sm.registered == sm.total == 48, f"{sm.registered}/{sm.total} registered")
    st.check(sm.aligned and 0 < sm.reproj_err_px < 1.0, f"aligned, {sm.reproj_err_px:.3f} px")
    st.check(
        {"track", "align"} <= seen,
        f"the CLI's stages reached the job: {sorted(filter(None, seen))}",
    )


def build(bpy, ops):
    s = bpy.context.scene.vanelia
    s.light_mode = "AUTO"
    s.floor_albedo = 0.5
    start = time.monotonic()
    st.check(ops.build_scene() == {"FINISHED"}, "Build scene: FINISHED")
    print(f"build: {time.monotonic() - start:.1f} s")
    print(f"placement: {s.placement_report}\nproxies: {s.proxies_report}\nlight: {s.light_report}")
    st.check(s.placement_report.startswith("automatic"), "placement ran (vanelia call)")
    st.check("not available" not in s.proxies_report, "proxies ran (vanelia call)")
    st.check(not s.light_report.startswith("light not estimated"), "light estimated")
    st.check(
        "at floor albedo 0.50" in s.light_report, "the panel's floor albedo reached the worker"
    )
    names = {o.name for o in bpy.data.collections["Vanelia"].all_objects}
    for name in ("Vanelia Camera", "Vanelia Product", "Vanelia Ground", "Vanelia Sun"):
        st.check(any(n.startswith(name) for n in names), f"{name} built")


def render(bpy, ops, out):
    s = bpy.context.scene.vanelia
    s.samples, s.frame_start, s.frame_end = 8, 0, FRAMES
    s.output_path = os.path.join(out, "final.mp4")
    start = time.monotonic()
    st.check(ops.render_video() == {"FINISHED"}, "Render: FINISHED")
    print(f"render: {time.monotonic() - start:.1f} s")
    st.check(os.path.isfile(s.output_path), f"wrote {s.output_path}")
    return s.output_path


def cancel_render(bpy, out):
    """The render job of the operator, started as the modal operator starts
    it, cancelled once the first frame is rendered (Esc's path)."""
    operators = importlib.import_module(MODULE + ".operators")
    s = bpy.context.scene.vanelia
    s.output_path = os.path.join(out, "cancelled.mp4")
    s.frame_end = 24
    job = operators.VANELIA_OT_render_video.make_job(_OpStandIn(), bpy.context).start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        snap = job.snapshot()
        if snap.finished or (snap.stage == "render" and snap.done >= 1):
            break
        time.sleep(0.05)
    st.check(not job.snapshot().finished, "the render was still going when cancelled")
    job.cancel()
    snap = job.settled()
    while not snap.finished:
        time.sleep(0.02)
        snap = job.settled()
    after = time.monotonic() - snap.cancel_at
    st.check(snap.state == "CANCELLED" and after < 1.0, f"cancelled after {after:.2f} s")
    st.check(job.wait(15.0), "the CLI stopped")
    stopped = job.snapshot().cancelled_after_s
    print(f"cancel: reported after {after:.2f} s, the CLI and Blender gone after {stopped:.2f} s")
    st.check(stopped < 5.0, f"the CLI and its Blender gone {stopped:.2f} s after the cancel")
    st.check(not os.path.exists(s.output_path), "nothing written")


class _OpStandIn:
    output, preview = "", False


def blender_main(argv):
    import bpy

    args = parse(argv)
    os.makedirs(args.out, exist_ok=True)
    os.environ["VANELIA_CACHE_DIR"] = os.path.join(args.out, "cache")
    install(bpy, args.zip)
    bad_input(bpy, bpy.ops.vanelia, args.out)
    s = bpy.context.scene.vanelia
    s.video_path, s.product_path, s.camera_height = args.video, args.product, 1.5
    track(bpy, bpy.ops.vanelia)
    build(bpy, bpy.ops.vanelia)
    output = render(bpy, bpy.ops.vanelia, args.out)
    empty = bpy.data.objects["Vanelia Product"]
    result = {
        "output": output,
        "video": args.video,
        "track": os.path.abspath(bpy.path.abspath(s.track_path)),
        "location": list(empty.location),
        "frames": FRAMES,
    }
    st.write_json(result, os.path.join(args.out, "result.json"))
    cancel_render(bpy, args.out)
    print("blender4 worker: all checks passed", flush=True)


def check_main(result_path):
    """Outside the root: the output's frames against the plate."""
    import numpy as np

    result = json.load(open(result_path))
    sys.path.insert(0, st.ADDON)
    from vanelia_blender.core import track_file
    from vanelia_blender.render import render_plan

    got, plates = st.decode_frames(result["output"]), st.decode_frames(result["video"])
    st.check(len(got) == result["frames"], f"{len(got)} frames == {result['frames']}")
    track = track_file.load(result["track"])
    h, w = plates.shape[1:3]
    x, y, _ = result["location"]
    pts = render_plan.region_points(
        [x - 0.6, y - 0.6, 0.0], [x + 0.6, y + 0.6, 1.2], [0.3, -0.5, -0.8]
    )
    for k in range(result["frames"]):
        f = track["frames"][k]
        K, c2w = track_file.frame_k(f), track_file.frame_c2w(f)
        region = render_plan.render_region(K, c2w, w, h, pts, pixel_margin=8)
        st.check(region is not None, f"frame {k}: the product is in frame")
        x0, y0, x1, y1 = region
        away = np.ones((h, w), bool)
        away[y0 : y1 + 1, x0 : x1 + 1] = False
        value = st.psnr(got[k], plates[k], away)
        st.check(value >= 40.0, f"frame {k}: plate PSNR {value:.1f} dB >= 40 away from the product")
        diff = np.abs(got[k].astype(int) - plates[k])[y0 : y1 + 1, x0 : x1 + 1]
        st.check(diff.max() > 60, f"frame {k}: the product is rendered (max diff {diff.max()})")
    print("blender4 worker: output checks passed", flush=True)


if __name__ == "__main__":
    try:
        if "--check" in sys.argv:
            check_main(sys.argv[sys.argv.index("--check") + 1])
        else:
            blender_main(sys.argv[sys.argv.index("--") + 1 :])
    except SystemExit:
        raise
    except Exception:
        import traceback

        traceback.print_exc()
        sys.exit(1)
    sys.exit(0)
