"""Shared by the add-on's Blender tests: a fresh user profile with the zip
installed. `relaunch(...)` (in the parent `blender -b`) builds the zip with
build_addon.py and starts a child Blender whose BLENDER_USER_CONFIG and
BLENDER_USER_SCRIPTS point into a temporary folder; `install()` (in the
child) installs and enables the zip with Blender's own installer; `run(...)` is
the entry point of each test script (parent and child)."""

import os
import shutil
import subprocess
import sys
import tempfile
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, "tests", "data", "sample")


def script_args():
    return sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else []


def run(script, child, child_args=lambda args: [], windowed=False):
    """The entry point of an add-on test script (`blender -b --python SCRIPT -- ...`). With
    --child, `child(args)` runs the test in the fresh profile; else this parent relaunches SCRIPT
    (native module folder: the first argument, default build/python) with `child_args(args)`
    appended. Ends the process with the verdict (an exception is 1), except a windowed child,
    which returns to Blender's event loop: its timers end the test."""
    try:
        args = script_args()
        if "--child" in args:
            child(args)
            code = None if windowed else 0
        else:
            native_dir = args[0] if args else os.path.join(ROOT, "build", "python")
            code = relaunch(
                os.path.abspath(script), native_dir, child_args(args), windowed=windowed
            )
    except Exception:  # noqa: BLE001 - the test's verdict
        traceback.print_exc()
        code = 1
    if code is not None:
        sys.stdout.flush()
        os._exit(code)


def relaunch(script, native_dir, child_args, windowed=False, timeout=240):
    """Runs `script` in a child Blender with a fresh profile; returns its
    exit code. `windowed`: a real window under Xvfb with event simulation."""
    import bpy

    work = tempfile.mkdtemp(prefix="vanelia-addon-test-")
    dist = os.path.join(work, "dist")
    zip_path = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "build_addon.py"),
            "--native",
            native_dir,
            "--out",
            dist,
            "--format",
            "legacy",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    env = dict(os.environ)
    env["BLENDER_USER_CONFIG"] = os.path.join(work, "config")
    env["BLENDER_USER_SCRIPTS"] = os.path.join(work, "scripts")
    env["VANELIA_CACHE_DIR"] = os.path.join(work, "cache")
    env.pop("PYTHONPATH", None)  # the add-on must load its own _vanelia
    blender = [bpy.app.binary_path, "--factory-startup"]
    if windowed:
        blender = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24"] + blender
        blender += ["--enable-event-simulate", "-p", "0", "0", "1280", "800"]
    else:
        blender.insert(1, "-b")
    cmd = (
        blender
        + [
            "--python-exit-code",
            "1",
            "--python",
            script,
            "--",
            "--child",
            "--zip",
            zip_path,
            "--work",
            work,
        ]
        + child_args
    )
    print("running:", " ".join(cmd), flush=True)
    code = subprocess.run(cmd, env=env, timeout=timeout).returncode
    if code == 0:
        shutil.rmtree(work, ignore_errors=True)
    return code


def install(zip_path):
    import bpy

    scripts = os.environ["BLENDER_USER_SCRIPTS"]
    bpy.ops.preferences.addon_install(filepath=zip_path)
    bpy.ops.preferences.addon_enable(module="vanelia_blender")
    import vanelia_blender
    from vanelia_blender import native

    where = os.path.dirname(vanelia_blender.__file__)
    assert where.startswith(scripts), f"add-on loaded from {where}, not the fresh profile"
    mod = native.module()
    assert os.path.dirname(mod.__file__) == where, f"_vanelia from {mod.__file__}"
    return vanelia_blender


def option(args, name, default=None):
    return args[args.index(name) + 1] if name in args else default


def expect_error(op, fragment, **kwargs):
    """Runs the operator `op(**kwargs)` and asserts it fails with a report
    containing `fragment` (an operator's error report raises RuntimeError)."""
    try:
        op(**kwargs)
    except RuntimeError as e:
        assert fragment in str(e), f"report '{e}' lacks '{fragment}'"
        print(f"ok: clear report: {str(e).strip()}")
        return
    raise AssertionError(f"{op} succeeded; expected a report with '{fragment}'")
