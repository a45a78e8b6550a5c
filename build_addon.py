#!/usr/bin/env python3
"""Makes dist/vanelia_blender-<version>.zip, the add-on as Blender installs it.

The zip holds addon/vanelia_blender/ (Python sources and data, no caches)
and the built native module `_vanelia<EXT_SUFFIX>` for the Python that the
target Blender runs, placed inside the package (native.py imports it from
there). The version comes from bl_info in addon/vanelia_blender/__init__.py,
read without importing it (fSpy-Blender's build.py does the same).

    python3 build_addon.py [--native build/python] [--python-tag cpython-311]
                           [--out dist] [--no-native]

Install with Blender's Preferences > Add-ons > Install..., or
bpy.ops.preferences.addon_install(filepath=ZIP) + addon_enable("vanelia_blender").
"""

import argparse
import ast
import glob
import os
import sys
import sysconfig
import zipfile

ROOT = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "vanelia_blender"
SOURCE = os.path.join(ROOT, "addon", PACKAGE)


def read_version(init_path=os.path.join(SOURCE, "__init__.py")):
    tree = ast.parse(open(init_path, encoding="utf-8").read(), init_path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "bl_info" for t in node.targets
        ):
            version = ast.literal_eval(node.value)["version"]
            return ".".join(str(v) for v in version)
    raise SystemExit(f"build_addon: no bl_info in '{init_path}'")


def find_native(folder, suffix):
    matches = sorted(glob.glob(os.path.join(folder, "_vanelia*" + suffix)))
    if not matches:
        found = sorted(glob.glob(os.path.join(folder, "_vanelia*")))
        raise SystemExit(
            f"build_addon: no _vanelia{suffix} in '{folder}' (found: "
            f"{', '.join(map(os.path.basename, found)) or 'nothing'}); build the "
            "_vanelia target for the Python the target Blender runs, or pass "
            "--native / --python-tag"
        )
    return matches[0]


def source_files():
    for folder, dirs, files in os.walk(SOURCE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")) or name.startswith("_vanelia"):
                continue
            yield os.path.join(folder, name)


def build(out_dir, native_path):
    version = read_version()
    os.makedirs(out_dir, exist_ok=True)
    zip_path = os.path.join(out_dir, f"{PACKAGE}-{version}.zip")
    tmp = zip_path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for path in source_files():
            z.write(path, os.path.join(PACKAGE, os.path.relpath(path, SOURCE)))
        if native_path:
            z.write(native_path, os.path.join(PACKAGE, os.path.basename(native_path)))
    os.replace(tmp, zip_path)
    return zip_path


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--native", default=os.path.join(ROOT, "build", "python"))
    p.add_argument(
        "--python-tag",
        default=None,
        help="e.g. cpython-311 (default: this interpreter's, "
        + str(sysconfig.get_config_var("EXT_SUFFIX"))
        + ")",
    )
    p.add_argument("--out", default=os.path.join(ROOT, "dist"))
    p.add_argument("--no-native", action="store_true", help="Python only (for tests)")
    args = p.parse_args(argv)
    if args.python_tag:
        suffix = f".{args.python_tag}-*.so"
    else:
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
    native_path = None if args.no_native else find_native(args.native, suffix)
    zip_path = build(args.out, native_path)
    print(zip_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
