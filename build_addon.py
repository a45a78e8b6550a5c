#!/usr/bin/env python3
"""Makes the add-on's two packagings from the same files, in dist/:

- vanelia_blender-<version>.zip, the legacy add-on (bl_info; Blender 3.x and
  4.x install it with Preferences > Add-ons > Install... or
  bpy.ops.preferences.addon_install + addon_enable("vanelia_blender"));
- vanelia_blender-<version>-extension.zip, the Blender 4.2+ extension: the
  same files at the zip's root plus a generated blender_manifest.toml (id,
  version, license, blender_version_min, platforms, permissions). Blender
  imports it as bl_ext.<repository>.vanelia_blender, so the package uses
  relative imports only (batch.py and export_camera.py, run as scripts by
  `blender --python`, put their own folder on sys.path first). Install with
  `blender --command extension install-file -r user_default -e ZIP` or
  bpy.ops.extensions.package_install_files(filepath=ZIP, repo="user_default",
  enable_on_install=True).

Both hold addon/vanelia_blender/ (Python sources and data, no caches) and the
built native module `_vanelia<EXT_SUFFIX>` for the Python that the target
Blender runs, placed inside the package (native.py imports it from there).
The version and the manifest's name, tagline and maintainer come from bl_info
in addon/vanelia_blender/__init__.py, read without importing it
(fSpy-Blender's build.py does the same).

    python3 build_addon.py [--native build/python] [--python-tag cpython-311]
                           [--out dist] [--no-native]
                           [--format legacy|extension|both]
                           [--self-contained [--cli build/bin/vanelia]]
                           [--native-build DIR]

prints the path of each zip made, one a line (legacy first).

--native-build DIR takes the module and the CLI from another CMake build
(DIR/python, DIR/bin/vanelia) and implies --self-contained. A build without
the networks (cmake -DVANELIA_WITH_TORCH=OFF: no LibTorch) gives the smaller
classical-only zips, vanelia_blender-<version>-classical-selfcontained.zip
and ...-classical-selfcontained-extension.zip: the name says "classical"
whenever the CLI's `vanelia track --help` lists no network tracker (the same
list the add-on's panel greys the networks out by).
"""

import argparse
import ast
import glob
import os
import sys
import sysconfig
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "vanelia_blender"
SOURCE = os.path.join(ROOT, "addon", PACKAGE)
FORMATS = ("legacy", "extension", "both")

# The extension's manifest fields that bl_info does not give. Blender's
# extension platform takes GPL-compatible add-ons only (they import bpy).
LICENSE = "SPDX:GPL-3.0-or-later"
BLENDER_VERSION_MIN = "4.2.0"  # the first Blender with extensions
# The platform of the native module in the zip (Blender's names); a zip
# without it runs on every platform (the add-on then needs the module on
# sys.path, or reports that it is missing).
PLATFORMS = {"x86_64-linux-gnu": "linux-x64", "aarch64-linux-gnu": "linux-arm64"}
# Why the add-on needs each permission (Blender shows it at install; at most
# 64 characters, no final full stop).
PERMISSIONS = {
    "files": "Reads footage and products, writes tracks, renders and videos",
}


def read_bl_info(init_path=os.path.join(SOURCE, "__init__.py")):
    tree = ast.parse(open(init_path, encoding="utf-8").read(), init_path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "bl_info" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise SystemExit(f"build_addon: no bl_info in '{init_path}'")


def read_version(init_path=os.path.join(SOURCE, "__init__.py")):
    return ".".join(str(v) for v in read_bl_info(init_path)["version"])


def _toml_string(value):
    """A TOML basic string (the manifest's values are plain text)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def manifest_text(bl_info, platform=None):
    """blender_manifest.toml (schema 1.0.0) for bl_info; `platform` is
    Blender's name of the native module's platform, None for all."""
    tagline = bl_info["description"].rstrip(".")
    if len(tagline) > 64:
        raise SystemExit(f"build_addon: bl_info description '{tagline}': over 64 characters")
    lines = [
        'schema_version = "1.0.0"',
        f"id = {_toml_string(PACKAGE)}",
        f"version = {_toml_string('.'.join(str(v) for v in bl_info['version']))}",
        f"name = {_toml_string(bl_info['name'])}",
        f"tagline = {_toml_string(tagline)}",
        f"maintainer = {_toml_string(bl_info['author'])}",
        'type = "add-on"',
        f"blender_version_min = {_toml_string(BLENDER_VERSION_MIN)}",
        f"license = [{_toml_string(LICENSE)}]",
        f"tags = [{_toml_string(bl_info['category'])}]",
    ]
    if platform is not None:
        lines.append(f"platforms = [{_toml_string(platform)}]")
    lines.append("")
    lines.append("[permissions]")
    for name, reason in PERMISSIONS.items():
        if len(reason) > 64 or reason.endswith("."):
            raise SystemExit(f"build_addon: permission '{name}' reason: <= 64 characters, no '.'")
        lines.append(f"{name} = {_toml_string(reason)}")
    return "\n".join(lines) + "\n"


def native_platform(native_path):
    """Blender's platform name for a native module `_vanelia.<tag>-<platform>.so`."""
    for suffix, name in PLATFORMS.items():
        if native_path.endswith(f"-{suffix}.so"):
            return name
    raise SystemExit(
        f"build_addon: native module '{native_path}': no extension platform known for it "
        f"(known: {', '.join(PLATFORMS)})"
    )


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
            if name == "blender_manifest.toml":
                continue  # generated for the extension zip only
            yield os.path.join(folder, name)


def _write_zip(zip_path, prefix, native_path, extra=None, bundle_dir=None):
    """The package's files under `prefix` ("vanelia_blender/" or "" for the
    extension's root), the native module beside them, `extra` {name: text};
    with `bundle_dir` (bundle_native.py's output), its files instead of the
    module: the module, bin/vanelia and lib/ (stored with light compression:
    the libraries are most of the size)."""
    tmp = zip_path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (extra or {}).items():
            z.writestr(prefix + name, text)
        for path in source_files():
            z.write(path, prefix + os.path.relpath(path, SOURCE).replace(os.sep, "/"))
        if bundle_dir:
            for folder, dirs, files in os.walk(bundle_dir):
                dirs.sort()
                for name in sorted(files):
                    path = os.path.join(folder, name)
                    arc = os.path.relpath(path, bundle_dir).replace(os.sep, "/")
                    z.write(path, prefix + arc, compresslevel=1)
        elif native_path:
            z.write(native_path, prefix + os.path.basename(native_path))
    os.replace(tmp, zip_path)
    return zip_path


def bundle_native(native_path, cli_path, work_dir):
    """The module and the CLI with every library they need but glibc,
    libstdc++ and libgcc (native/scripts/bundle_native.py) in `work_dir`."""
    sys.path.insert(0, os.path.join(ROOT, "native", "scripts"))
    import bundle_native as bundler

    files = {os.path.basename(native_path): native_path, "bin/vanelia": cli_path}
    try:
        made = bundler.bundle(files, work_dir)
    except bundler.BundleError as e:
        raise SystemExit(f"build_addon: --self-contained: {e}")
    print(
        f"build_addon: bundled {len(made.libraries)} libraries "
        f"({made.library_bytes / 2**20:.0f} MiB uncompressed)",
        file=sys.stderr,
    )
    return work_dir


def cli_trackers(cli_path):
    """The trackers of the CLI `cli_path`, read from its `track --help` as
    the add-on does in worker mode (core/worker_calls.py)."""
    if not os.access(cli_path, os.X_OK):
        raise SystemExit(f"build_addon: --cli '{cli_path}': no such executable (build 'vanelia')")
    sys.path.insert(0, os.path.join(ROOT, "addon"))
    from vanelia_blender.core import worker_calls

    return worker_calls.Worker(cli_path).TRACKERS


def selfcontained_tail(cli_path):
    """The self-contained zips' name tail: "-selfcontained", or
    "-classical-selfcontained" for a build without the networks (its CLI
    lists the classical tracker only)."""
    trackers = cli_trackers(cli_path)
    if "classical" not in trackers:
        raise SystemExit(
            f"build_addon: '{cli_path} track --help' lists no classical tracker "
            f"(trackers: {', '.join(trackers) or 'none'})"
        )
    if all(t == "classical" for t in trackers):
        print("build_addon: a build without the networks: classical tracker only", file=sys.stderr)
        return "-classical-selfcontained"
    return "-selfcontained"


def build(out_dir, native_path, fmt="legacy", cli_path=None):
    """Makes the zips of `fmt` (FORMATS) in `out_dir`; returns their paths,
    the legacy one first. With `cli_path` the zips are self-contained: the
    module, the `vanelia` CLI (bin/vanelia, worker mode: core/worker.py) and
    their libraries (lib/), found through $ORIGIN-relative run paths; from a
    build without the networks they are named *-classical-selfcontained*."""
    if fmt not in FORMATS:
        raise SystemExit(f"build_addon: --format '{fmt}': must be one of {', '.join(FORMATS)}")
    bl_info = read_bl_info()
    version = ".".join(str(v) for v in bl_info["version"])
    os.makedirs(out_dir, exist_ok=True)
    tail = selfcontained_tail(cli_path) if cli_path else ""
    with tempfile.TemporaryDirectory(prefix="vanelia-bundle-") as work:
        bundle = bundle_native(native_path, cli_path, work) if cli_path else None
        made = []
        if fmt in ("legacy", "both"):
            zip_path = os.path.join(out_dir, f"{PACKAGE}-{version}{tail}.zip")
            made.append(_write_zip(zip_path, PACKAGE + "/", native_path, None, bundle))
        if fmt in ("extension", "both"):
            platform = native_platform(native_path) if native_path else None
            manifest = {"blender_manifest.toml": manifest_text(bl_info, platform)}
            zip_path = os.path.join(out_dir, f"{PACKAGE}-{version}{tail}-extension.zip")
            made.append(_write_zip(zip_path, "", native_path, manifest, bundle))
    return made


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
    p.add_argument(
        "--format",
        default="both",
        choices=FORMATS,
        help="legacy add-on zip, 4.2+ extension zip, or both (default)",
    )
    p.add_argument(
        "--self-contained",
        action="store_true",
        help="also bundle the vanelia CLI (--cli) and every library the module and the CLI "
        "need but glibc, libstdc++ and libgcc (~290 libraries; names the zips *-selfcontained*)",
    )
    p.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "vanelia"))
    p.add_argument(
        "--native-build",
        metavar="DIR",
        help="take the module and the CLI from this CMake build (DIR/python, DIR/bin/vanelia); "
        "implies --self-contained. A build configured with -DVANELIA_WITH_TORCH=OFF gives the "
        "smaller *-classical-selfcontained* zips (classical tracker only)",
    )
    args = p.parse_args(argv)
    if args.native_build:
        args.native = os.path.join(args.native_build, "python")
        args.cli = os.path.join(args.native_build, "bin", "vanelia")
        args.self_contained = True
    if args.self_contained and args.no_native:
        p.error("--self-contained bundles the native module: not with --no-native")
    if args.python_tag:
        suffix = f".{args.python_tag}-*.so"
    else:
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
    native_path = None if args.no_native else find_native(args.native, suffix)
    cli = args.cli if args.self_contained else None
    for zip_path in build(args.out, native_path, args.format, cli):
        print(zip_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
