#!/usr/bin/env bash
# Makes a Debian 13 (trixie) root holding Debian's Blender 4.3.2 (Python 3.13)
# for the tests that run the add-on in Blender 4.x (../shared/BLENDER4.md has
# the recipe and its costs: ~190 s and 1.4 GB, ~380 MB downloaded). Exits at
# once when the root already has Blender, so a machine that keeps it pays once.
# Usage: bash native/scripts/blender4_root.sh [ROOT]
#   ROOT defaults to $VANELIA_BLENDER4_ROOT, else ~/.cache/vanelia/blender4-root.
# Needs root (debootstrap, chroot) and Debian's mirror. Prints the root's path.
set -euo pipefail
root="${1:-${VANELIA_BLENDER4_ROOT:-$HOME/.cache/vanelia/blender4-root}}"
if [ -x "$root/usr/bin/blender" ] && [ -f "$root/.vanelia-complete" ]; then
  echo "$root"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "blender4_root: needs root (debootstrap and chroot)" >&2
  exit 2
fi
mirror="http://deb.debian.org/debian"
if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
started=$(date +%s)
rm -rf "$root"
mkdir -p "$(dirname "$root")"
echo "blender4_root: debootstrap trixie into $root (about a minute)" >&2
debootstrap --variant=minbase trixie "$root" "$mirror" >/dev/null
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
ln -sf ../proc/self/mounts "$root/etc/mtab"
echo "blender4_root: installing blender and python3-numpy in the root (a few minutes)" >&2
# shellcheck disable=SC2016  # expanded by the inner bash
unshare --mount --propagation private --fork bash -euo pipefail -c '
  root="$1"
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  chroot "$root" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends blender python3-numpy >/dev/null
  chroot "$root" apt-get clean
' _ "$root"
touch "$root/.vanelia-complete"
echo "blender4_root: done in $(($(date +%s) - started)) s: $(chroot "$root" blender --version 2>/dev/null | head -1)" >&2
echo "$root"
