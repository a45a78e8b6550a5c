#!/usr/bin/env bash
# Makes a Debian 13 (trixie) root holding Debian's Blender 4.3.2 (Python 3.13)
# for the tests that run the add-on in Blender 4.x (../shared/BLENDER4.md has
# the recipe and its costs: ~190 s and 1.4 GB, ~380 MB downloaded). Exits at
# once when the root already has Blender, so a machine that keeps it pays once.
# The root also gets xvfb and xauth (xvfb-run: Blender in a real window, for
# blender4/esc_ui); a kept root made before that gets only those two added
# (~8 s: apt-get update and ~20 packages).
# Usage: bash native/scripts/blender4_root.sh [ROOT]
#   ROOT defaults to $VANELIA_BLENDER4_ROOT, else ~/.cache/vanelia/blender4-root.
# Needs root (debootstrap, chroot) and Debian's mirror. Prints the root's path.
set -euo pipefail
root="${1:-${VANELIA_BLENDER4_ROOT:-$HOME/.cache/vanelia/blender4-root}}"
window_packages="xvfb xauth"
has_window() { [ -x "$root/usr/bin/Xvfb" ] && [ -x "$root/usr/bin/xauth" ]; }
complete() { [ -x "$root/usr/bin/blender" ] && [ -f "$root/.vanelia-complete" ]; }
if complete && has_window; then
  echo "$root"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "blender4_root: needs root (debootstrap and chroot)" >&2
  exit 2
fi
# Runs apt-get in the root ($1: the packages), /proc and /dev mounted.
apt_in_root() {
  # shellcheck disable=SC2016  # expanded by the inner bash
  unshare --mount --propagation private --fork bash -euo pipefail -c '
    root="$1"; shift
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    chroot "$root" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    chroot "$root" apt-get clean
  ' _ "$root" "$@"
}
if complete; then  # kept from before the window packages: add only those
  started=$(date +%s)
  echo "blender4_root: adding $window_packages to $root" >&2
  # shellcheck disable=SC2086  # a list of package names
  apt_in_root $window_packages
  echo "blender4_root: $window_packages added in $(($(date +%s) - started)) s" >&2
  echo "$root"
  exit 0
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
echo "blender4_root: installing blender, python3-numpy, $window_packages in the root" \
  "(a few minutes)" >&2
# shellcheck disable=SC2086  # a list of package names
apt_in_root blender python3-numpy $window_packages
touch "$root/.vanelia-complete"
echo "blender4_root: done in $(($(date +%s) - started)) s: $(chroot "$root" blender --version 2>/dev/null | head -1)" >&2
echo "$root"
