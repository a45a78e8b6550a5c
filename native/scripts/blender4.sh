#!/usr/bin/env bash
# Runs Debian 13's Blender 4.3 from the root made by blender4_root.sh as if it
# were installed here: the same absolute paths inside and out (the working
# folder, the checkout, /tmp and $VANELIA_BLENDER4_BIND, colon-separated, are
# bind-mounted into the root, the checkout read-only), so it can stand in for
# `blender` (vanelia export --blender native/scripts/blender4.sh ...). Blender's
# exit code comes back; /proc is mounted there too. With VANELIA_BLENDER4_WINDOW=1
# Blender runs under the root's xvfb-run (a 1280x800 screen).
# Usage: native/scripts/blender4.sh [blender args...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
root="${VANELIA_BLENDER4_ROOT:-$HOME/.cache/vanelia/blender4-root}"
if [ ! -x "$root/usr/bin/blender" ]; then
  echo "blender4: no Blender 4 root at $root; make it with native/scripts/blender4_root.sh" >&2
  exit 2
fi
binds="$here:$PWD:/tmp${VANELIA_BLENDER4_BIND:+:$VANELIA_BLENDER4_BIND}"
run="exec blender"
if [ -n "${VANELIA_BLENDER4_WINDOW:-}" ]; then
  if [ ! -x "$root/usr/bin/xvfb-run" ]; then
    echo "blender4: no xvfb-run in $root; add it with native/scripts/blender4_root.sh" >&2
    exit 2
  fi
  run="exec xvfb-run -a -s '-screen 0 1280x800x24' blender"
fi
# shellcheck disable=SC2016  # expanded by the inner bash
exec unshare --mount --propagation private --fork bash -euo pipefail -c '
  root="$1"; binds="$2"; here="$3"; cwd="$4"; run="$5"; shift 5
  IFS=: read -r -a paths <<<"$binds"
  for p in "${paths[@]}"; do
    [ -d "$p" ] || continue
    mkdir -p "$root$p"
    mount --bind "$p" "$root$p"
  done
  mount -o remount,bind,ro "$root$here"
  # /proc: the dynamic loader finds $ORIGIN (the CLI of the self-contained zip
  # resolves its libraries through $ORIGIN/../lib) from /proc/self/exe.
  mount -t proc proc "$root/proc"
  home="$(mktemp -d /tmp/vanelia-blender4-home.XXXXXX)"
  trap "rm -rf \"$home\"" EXIT
  chroot "$root" env HOME="$home" PATH=/usr/bin:/bin bash -c "cd \"\$0\" && $run \"\$@\"" "$cwd" "$@"
' _ "$root" "$binds" "$here" "$PWD" "$run" "$@"
