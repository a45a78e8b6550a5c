#!/usr/bin/env bash
# Makes a bare Debian 12 (bookworm) root, `debootstrap --variant=minbase`:
# glibc, libstdc++ and libgcc but none of the libraries Vanelia builds with,
# no Blender, no Python, no FFmpeg. tests/bundle/bare_check.sh runs the
# self-contained native bundle (native/scripts/bundle_native.py) in it. Exits
# at once when the root exists, so a machine that keeps it pays once
# (~1-2 min and ~200 MB, ~50 MB downloaded, the first time).
# Usage: bash native/scripts/bare_root.sh [ROOT]
#   ROOT defaults to $VANELIA_BARE_ROOT, else ~/.cache/vanelia/bookworm-bare-root.
# Needs root (debootstrap) and Debian's mirror. Prints the root's path.
set -euo pipefail
root="${1:-${VANELIA_BARE_ROOT:-$HOME/.cache/vanelia/bookworm-bare-root}}"
if [ -f "$root/.vanelia-complete" ]; then
  echo "$root"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "bare_root: needs root (debootstrap and chroot)" >&2
  exit 2
fi
if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
started=$(date +%s)
rm -rf "$root"
mkdir -p "$(dirname "$root")"
echo "bare_root: debootstrap --variant=minbase bookworm into $root" >&2
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
chroot "$root" apt-get clean
touch "$root/.vanelia-complete"
echo "bare_root: done in $(($(date +%s) - started)) s" >&2
echo "$root"
