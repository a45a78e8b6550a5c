"""The bare Debian 12 check of the self-contained native bundle.

    /usr/bin/python3 tests/bundle/run_bare_check.py --vanelia build/bin/vanelia \
        --module build/python/_vanelia.cpython-311-x86_64-linux-gnu.so --work DIR \
        [--classical --host-vanelia build/bin/vanelia]

The self-contained add-on zip (build_addon.py --self-contained: the module,
bin/vanelia and lib/*, run paths $ORIGIN-relative, made by
native/scripts/bundle_native.py) is unpacked into DIR/addon as Blender does,
then checked inside a Debian 12 root made with
`debootstrap --variant=minbase bookworm` (native/scripts/bare_root.sh): no
Blender, no Python, no FFmpeg, no OpenCV, no LibTorch, only what minbase
holds (glibc, libstdc++, libgcc). In that root (chroot, DIR and the sample
bind-mounted at their own paths):

- `ldd` of the CLI, the module and every bundled library resolves each need
  inside the bundle, except glibc, libstdc++ and libgcc_s from the root's
  /lib; nothing is "not found";
- `vanelia track` of the sample (classical tracker, FFmpeg decoding, Ceres)
  registers every frame, and its cameras equal those of the unbundled build
  run on this machine (the same code and the same library files: the
  centres within 1e-9 m).

With --classical the binaries come from a build without the networks
(native/scripts/build_classical.sh) and the zip is the classical-only one:
named *-classical-selfcontained*, no LibTorch in it, and in the bare root
`vanelia track --tracker must3r` / `dust3r` exit 2 saying the tracker is not
available in this build; its cameras are compared with --host-vanelia (the
full build: the classical tracker is the same code in both).

Prints the bundle's size and library count. Exits 1 on the first failed
check.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "native", "scripts"))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "addon"))
import build_addon  # noqa: E402
import bundle_native  # noqa: E402
from vanelia_blender.core import worker  # noqa: E402

SAMPLE = os.path.join(REPO, "tests", "data", "sample")


def check(cond, message):
    if not cond:
        print(f"FAIL: {message}", file=sys.stderr, flush=True)
        raise SystemExit(1)
    print(f"ok: {message}", flush=True)


def in_root(root, binds, argv):
    """Runs argv chrooted into `root` with `binds` mounted at their own
    paths (read-only where asked); returns the CompletedProcess."""
    script = (
        'root="$1"; shift; while [ "$1" != -- ]; do p="$1"; mode="$2"; shift 2; '
        'mkdir -p "$root$p"; mount --bind "$p" "$root$p"; '
        '[ "$mode" = ro ] && mount -o remount,bind,ro "$root$p"; done; shift; '
        'mount -t proc proc "$root/proc"; '
        'exec chroot "$root" env -i PATH=/usr/bin:/bin HOME=/tmp "$@"'
    )
    cmd = ["unshare", "--mount", "--propagation", "private", "--fork", "bash", "-c", script]
    cmd += ["_", root]
    for path, mode in binds:
        cmd += [path, mode]
    cmd += ["--", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def elf_files(folder):
    for base, _, names in os.walk(folder):
        for name in sorted(names):
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    yield path


def check_ldd(root, binds, bundle):
    """Every need of every ELF file of the bundle resolves inside it, except
    the system's glibc, libstdc++ and libgcc_s."""
    files = list(elf_files(bundle))
    run = in_root(
        root, binds, ["sh", "-c", 'for f in "$@"; do echo "== $f"; ldd "$f"; done', "_", *files]
    )
    check(
        run.returncode == 0,
        f"ldd runs in the bare root on {len(files)} files ({run.stderr.strip()[-300:]})",
    )
    outside, missing = set(), []
    for block in run.stdout.split("== ")[1:]:
        current, _, text = block.partition("\n")
        found, lost = bundle_native.parse_ldd(text)
        missing += [f"{os.path.relpath(current, bundle)}: {soname}" for soname in lost]
        outside.update(s for s, where in found.items() if not where.startswith(bundle + os.sep))
    check(not missing, f"nothing is 'not found' ({missing[:5]})")
    foreign = sorted(s for s in outside if not bundle_native.is_system_library(s))
    check(
        not foreign,
        f"only glibc, libstdc++ and libgcc_s come from the root: {sorted(outside)} "
        f"(others: {foreign})",
    )


def centres(track_path):
    with open(track_path) as f:
        track = json.load(f)
    return {fr["index"]: [row[3] for row in fr["c2w_blender"][:3]] for fr in track["frames"]}


def check_no_networks(root, binds, cli, video, work):
    """The networks of a classical-only build fail at once and say why."""
    for tracker in ("must3r", "dust3r"):
        out = os.path.join(work, f"{tracker}.json")
        run = in_root(root, binds, [cli, "track", video, "-o", out, "--tracker", tracker])
        said = run.stderr.strip()
        check(
            run.returncode == 2
            and f"tracker = '{tracker}': not available in this build (available: classical)" in said
            and not os.path.exists(out),
            f"--tracker {tracker} exits 2: '{said[-200:]}' (exit {run.returncode})",
        )


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--vanelia", required=True)
    p.add_argument("--module", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--classical", action="store_true", help="a build without the networks")
    p.add_argument("--host-vanelia", help="the CLI whose cameras the bundle's must equal")
    args = p.parse_args(argv)
    root = subprocess.run(
        ["bash", os.path.join(REPO, "native", "scripts", "bare_root.sh")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    check(not os.path.exists(os.path.join(root, "usr", "bin", "python3")), "the root has no Python")
    check(not os.path.exists(os.path.join(root, "usr", "bin", "ffmpeg")), "the root has no FFmpeg")
    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    # The self-contained add-on zip, unpacked as Blender does (Python's
    # zipfile: no file modes), the CLI made executable as worker mode does.
    (zip_path,) = build_addon.build(os.path.join(work, "dist"), args.module, "legacy", args.vanelia)
    with zipfile.ZipFile(zip_path) as z:
        unpacked = sum(i.file_size for i in z.infolist())
        z.extractall(os.path.join(work, "addon"))
    print(
        f"zip: {os.path.basename(zip_path)}, {os.path.getsize(zip_path) / 2**20:.0f} MiB "
        f"({unpacked / 2**20:.0f} MiB unpacked)",
        flush=True,
    )
    tail = "-classical-selfcontained.zip" if args.classical else "-selfcontained.zip"
    check(zip_path.endswith(f"-{build_addon.read_version()}{tail}"), f"the zip is named *{tail}")
    bundle = os.path.join(work, "addon", "vanelia_blender")
    check(
        worker.find_cli(bundle) == os.path.join(bundle, "bin", "vanelia"),
        "worker mode finds the zip's CLI",
    )
    module = os.path.basename(args.module)
    check(os.path.isfile(os.path.join(bundle, module)), f"the zip holds {module}")
    libs = os.listdir(os.path.join(bundle, "lib"))
    print(f"bundle: {len(libs)} libraries", flush=True)
    if args.classical:
        torch = sorted(n for n in libs if n.startswith(("libtorch", "libc10")))
        check(not torch, f"no LibTorch in the classical bundle ({torch[:3]})")
    binds = [(work, "rw"), (SAMPLE, "ro")]
    check_ldd(root, binds, bundle)
    video = os.path.join(SAMPLE, "video.mp4")
    bare_track = os.path.join(work, "bare.json")
    run = in_root(
        root,
        binds,
        [os.path.join(bundle, "bin", "vanelia"), "track", video, "-o", bare_track, "--quiet"],
    )
    check(
        run.returncode == 0,
        f"the bundle's vanelia track runs in the bare root ({run.stderr.strip()[-400:]})",
    )
    if args.classical:
        check_no_networks(root, binds, os.path.join(bundle, "bin", "vanelia"), video, work)
    host_track = os.path.join(work, "host.json")
    host = args.host_vanelia or args.vanelia
    subprocess.run([host, "track", video, "-o", host_track, "--quiet"], check=True)
    bare, host = centres(bare_track), centres(host_track)
    check(
        len(bare) == 48,
        f"every frame of the sample registered in the bare root ({len(bare)} of 48)",
    )
    worst = max(max(abs(a - b) for a, b in zip(bare[i], host[i])) for i in host)
    check(
        bare.keys() == host.keys() and worst <= 1e-9,
        f"cameras equal the host build's (worst {worst:.1e} m)",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
