#!/usr/bin/env python3
"""Makes the native part of the add-on self-contained: the binaries and every
shared library they need, except glibc, libstdc++ and libgcc, found through
`$ORIGIN`-relative run paths (the way auditwheel repairs a Python wheel).

    python3 native/scripts/bundle_native.py --out DIR [--lib-dir lib] \
        DEST=SOURCE [DEST=SOURCE ...]

Each SOURCE (an executable or a Python extension module) is copied to
DIR/DEST; the libraries `ldd` resolves for them (the whole closure: ldd lists
indirect needs too) are copied to DIR/lib under their soname, symlinks
followed. `patchelf` then sets each copy's run path: a binary at DIR/DEST
looks in `$ORIGIN/<relative path to DIR/lib>`, a library in `$ORIGIN`. The
copies keep their other contents unchanged (patchelf rewrites only the
dynamic section), so a bundled library is the system's own file.

Left out, as the system of every Linux machine has them (and a second copy
of glibc cannot work): the glibc family (the dynamic loader, libc, libm,
libpthread, libdl, librt, libresolv, libutil, libanl), libstdc++ and libgcc_s.
The oldest system the bundle runs on is therefore the build machine's glibc
and libstdc++ (Debian 12: glibc 2.36, GCC 12's libstdc++).

As a module, `bundle(files, out_dir)` returns a `Bundle` (the libraries
copied, their total size) for build_addon.py. Exit codes: 0 done, 2 bad
input (a SOURCE missing, a library ldd cannot find, no patchelf).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

# The libraries a bundle never carries: glibc's, libstdc++ and libgcc_s
# (matched on the soname without its version).
SYSTEM_LIBRARIES = (
    "ld-linux-x86-64.so",
    "ld-linux-aarch64.so",
    "libc.so",
    "libm.so",
    "libpthread.so",
    "libdl.so",
    "librt.so",
    "libresolv.so",
    "libutil.so",
    "libanl.so",
    "libstdc++.so",
    "libgcc_s.so",
    "linux-vdso.so",
)
_LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(\S+)\s+\(0x[0-9a-f]+\)\s*$")
_LDD_MISSING = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$")


class BundleError(RuntimeError):
    """Bad input: the message names the file and what is wrong."""


@dataclass
class Bundle:
    out_dir: str
    binaries: list = field(default_factory=list)  # paths under out_dir
    libraries: list = field(default_factory=list)  # sonames copied to lib/
    library_bytes: int = 0


def is_system_library(soname):
    base = soname.split(".so")[0] + ".so"
    return base in SYSTEM_LIBRARIES


def parse_ldd(text):
    """ldd's output for one file -> ({soname: resolved path}, [sonames it
    cannot find])."""
    found, missing = {}, []
    for line in text.splitlines():
        m = _LDD_MISSING.match(line)
        if m:
            missing.append(m.group(1))
            continue
        m = _LDD_LINE.match(line)
        if m:
            found[m.group(1)] = m.group(2)
    return found, missing


def ldd(path):
    """{soname: resolved path} of everything the dynamic loader would load
    for `path`; BundleError naming what it cannot find."""
    run = subprocess.run(["ldd", path], capture_output=True, text=True)
    if run.returncode != 0:
        raise BundleError(f"'{path}': ldd failed: {run.stderr.strip() or run.stdout.strip()}")
    found, missing = parse_ldd(run.stdout)
    if missing:
        raise BundleError(f"'{path}': ldd cannot find {', '.join(missing)}")
    return found


def _patchelf(*args):
    run = subprocess.run(["patchelf", *args], capture_output=True, text=True)
    if run.returncode != 0:
        raise BundleError(f"patchelf {' '.join(args)}: {run.stderr.strip()}")


def bundle(files, out_dir, lib_dir="lib"):
    """Copies `files` ({dest relative to out_dir: source}) and their
    libraries into `out_dir`; returns the Bundle."""
    if shutil.which("patchelf") is None:
        raise BundleError("patchelf: not found (apt install patchelf)")
    result = Bundle(out_dir)
    libs = {}
    for dest, source in files.items():
        if not os.path.isfile(source):
            raise BundleError(f"'{source}': no such file")
        for soname, path in ldd(source).items():
            if not is_system_library(soname):
                libs.setdefault(soname, path)
    lib_path = os.path.join(out_dir, lib_dir)
    os.makedirs(lib_path, exist_ok=True)
    for soname, path in sorted(libs.items()):
        target = os.path.join(lib_path, soname)
        shutil.copyfile(os.path.realpath(path), target)
        os.chmod(target, 0o755)
        _patchelf("--set-rpath", "$ORIGIN", target)
        result.libraries.append(soname)
        result.library_bytes += os.path.getsize(target)
    for dest, source in files.items():
        target = os.path.join(out_dir, dest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(source, target)
        shutil.copymode(source, target)
        relative = os.path.relpath(lib_path, os.path.dirname(target))
        _patchelf("--set-rpath", "$ORIGIN" if relative == "." else f"$ORIGIN/{relative}", target)
        result.binaries.append(dest)
    return result


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="the bundle's folder")
    p.add_argument("--lib-dir", default="lib", help="libraries' folder inside --out")
    p.add_argument("files", nargs="+", metavar="DEST=SOURCE")
    args = p.parse_args(argv)
    files = {}
    for item in args.files:
        dest, sep, source = item.partition("=")
        if not sep or not dest or not source:
            p.error(f"'{item}': must be DEST=SOURCE")
        files[dest] = source
    try:
        made = bundle(files, args.out, args.lib_dir)
    except BundleError as e:
        print(f"bundle_native: error: {e}", file=sys.stderr)
        return 2
    print(
        f"bundle_native: {len(made.binaries)} binaries, {len(made.libraries)} libraries "
        f"({made.library_bytes / 2**20:.0f} MiB) in {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
