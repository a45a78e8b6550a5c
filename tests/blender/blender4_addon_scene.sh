#!/usr/bin/env bash
# blender4/addon_scene: builds the add-on zip here (build_addon.py) and runs
# tests/blender/run_blender4_scene.py in Debian 13's Blender 4.3 with it.
# Usage: tests/blender/blender4_addon_scene.sh OUT_DIR VIDEO GT PRODUCT
set -euo pipefail
out="$1" video="$2" gt="$3" product="$4"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rm -rf "$out"
/usr/bin/python3 build_addon.py --format legacy --out "$out/zip" >/dev/null
zip=("$out"/zip/*.zip)
export VANELIA_BLENDER4_BIND="$out"  # writable inside the root (the checkout is read-only)
exec native/scripts/blender4.sh -b --factory-startup --python tests/blender/run_blender4_scene.py \
  -- --zip "${zip[0]}" --video "$video" --gt "$gt" --product "$product" --out "$out"
