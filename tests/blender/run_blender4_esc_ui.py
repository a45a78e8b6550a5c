"""Esc in Debian 13's Blender 4.3.2 with a real window (Xvfb in the root of
native/scripts/blender4_root.sh, --enable-event-simulate): the
self-contained extension zip installed and enabled as blender4/worker does
(worker mode: the bundled `vanelia` CLI tracks), the modal Track started
through the UI (INVOKE_DEFAULT in the window's 3D view), and once the CLI's
progress shows in the panel an Esc event injected with
Window.event_simulate. The operator must report CANCELLED within a second of
the Esc, the CLI process must be gone, and nothing may be made: no object,
no track, no summary, no file under the output folder.

    VANELIA_BLENDER4_WINDOW=1 native/scripts/blender4.sh --factory-startup \\
        --enable-event-simulate -p 0 0 800 600 \\
        --python tests/blender/run_blender4_esc_ui.py \\
        -- --zip ADDON-selfcontained-extension.zip --video V --product P.glb --out DIR
"""

import importlib
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_blender4_worker as worker  # noqa: E402
import scene_testing as st  # noqa: E402

KEY = "VANELIA_OT_track_video"
RESULT = {"code": 1}


def ui_context(bpy):
    window = bpy.context.window_manager.windows[0]
    area = max((a for a in window.screen.areas if a.type == "VIEW_3D"), key=lambda a: a.width)
    region = next(r for r in area.regions if r.type == "WINDOW")
    return window, area, region


def esc(window):
    window.event_simulate(type="ESC", value="PRESS")
    window.event_simulate(type="ESC", value="RELEASE")


def files_under(folder):
    return sorted(
        os.path.relpath(os.path.join(d, f), folder)
        for d, _, names in os.walk(folder)
        for f in names
        if not os.path.join(d, f).startswith(os.path.join(folder, "zip"))
    )


def cli_running(cli):
    """Processes running the bundled CLI (the root's /proc sees them all)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if cli.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def steps(bpy, args):
    """A generator of waits (seconds) that a timer drives."""
    native = worker.install(bpy, args.zip)
    operators = importlib.import_module(worker.MODULE + ".operators")
    cli = native.worker().cli
    window, area, region = ui_context(bpy)
    st.check(not bpy.app.background, f"a real window ({window.width}x{window.height})")
    esc(window)  # closes the first-run splash
    yield 0.3
    s = bpy.context.scene.vanelia
    s.video_path, s.product_path, s.camera_height = args.video, args.product, 1.5
    objects, before = len(bpy.data.objects), files_under(args.out)
    with bpy.context.temp_override(window=window, area=area, region=region):
        started = bpy.ops.vanelia.track_video("INVOKE_DEFAULT", use_cache=False)
    st.check(started == {"RUNNING_MODAL"}, f"Track runs modally: {started}")
    t0 = time.monotonic()
    while not s.job_text.startswith("Tracking: track ·"):  # the CLI tracks frames
        if KEY in operators.LAST or time.monotonic() - t0 > 30:
            st.check(False, f"Track not tracking: {s.job_text!r}, {operators.LAST.get(KEY)}")
        yield 0.05
    print(f"while running: {s.job_text}")
    st.check(cli_running(cli), "the bundled CLI is tracking")
    t_esc = time.monotonic()
    esc(window)
    while KEY not in operators.LAST:
        if time.monotonic() - t_esc > 5:
            st.check(False, "no end 5 s after Esc")
        yield 0.02
    reported = time.monotonic() - t_esc
    snap = operators.LAST.pop(KEY)
    reached = snap.cancel_at is not None
    st.check(reached, "the Esc reached the operator" + ("" if reached else f": {snap}"))
    print(
        f"Esc reached the operator {snap.cancel_at - t_esc:.3f} s after it was sent; "
        f"{snap.state} at {snap.done}/{snap.total} in '{snap.stage}', reported after "
        f"{reported:.3f} s (worker still in a step: {snap.worker_running})"
    )
    st.check(snap.state == "CANCELLED" and snap.result is None, f"cancelled: {snap.state}")
    st.check(reported < 1.0, f"reported {reported:.3f} s after Esc (< 1 s)")
    st.check(not (snap.stage == "align" and snap.done == snap.total), "stopped before the end")
    while cli_running(cli):
        if time.monotonic() - t_esc > 5:
            st.check(False, "the CLI still runs 5 s after Esc")
        yield 0.05
    print(f"the CLI gone {time.monotonic() - t_esc:.2f} s after Esc")
    st.check(len(bpy.data.objects) == objects, "no object made")
    st.check(not s.track_path and not s.summary.valid, "no track, no summary")
    st.check(s.job_text == "", "the panel's job line cleared")
    after = files_under(args.out)
    st.check(after == before, f"nothing written: {sorted(set(after) - set(before))}")
    print("blender4 esc_ui: all checks passed", flush=True)
    RESULT["code"] = 0


def main():
    import bpy

    args = worker.parse(sys.argv[sys.argv.index("--") + 1 :])
    os.makedirs(args.out, exist_ok=True)
    os.environ["VANELIA_CACHE_DIR"] = os.path.join(args.out, "cache")
    gen = steps(bpy, args)

    def tick():
        try:
            return next(gen)
        except StopIteration:
            pass
        except SystemExit:  # a failed check (it said why)
            pass
        except Exception:  # noqa: BLE001 - the test's verdict
            traceback.print_exc()
        sys.stdout.flush()
        os._exit(RESULT["code"])

    bpy.app.timers.register(tick, first_interval=1.0)


if __name__ == "__main__":
    main()
