#!/usr/bin/env bash
# blender4/classical: builds the classical-only extension zip here
# (build_addon.py --format extension --native-build CLASSICAL_BUILD: the module
# and the CLI of a build without the networks, their libraries, no LibTorch)
# and runs tests/blender/run_blender4_classical.py in Debian 13's Blender 4.3
# with it (panel and Track without the networks, worker mode).
# Usage: tests/blender/blender4_classical.sh OUT_DIR CLASSICAL_BUILD VIDEO
set -euo pipefail
out="$1" build="$2" video="$3"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rm -rf "$out"
/usr/bin/python3 build_addon.py --format extension --native-build "$build" --out "$out/zip" >/dev/null
zip=("$out"/zip/*-classical-selfcontained-extension.zip)
[ -f "${zip[0]}" ] || { echo "blender4_classical: no *-classical-selfcontained-extension.zip made" >&2; exit 1; }
export VANELIA_BLENDER4_BIND="$out"  # writable inside the root (the checkout is read-only)
status=0
native/scripts/blender4.sh -b --factory-startup --python-exit-code 1 \
  --python tests/blender/run_blender4_classical.py \
  -- --zip "${zip[0]}" --video "$video" --out "$out" || status=$?
rm -rf "$out/zip"  # ~90 MB
exit $status
