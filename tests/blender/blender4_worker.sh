#!/usr/bin/env bash
# blender4/worker: builds the self-contained extension zip here (build_addon.py
# --format extension --self-contained: the module, the vanelia CLI and their
# libraries), runs tests/blender/run_blender4_worker.py in Debian 13's Blender
# 4.3 with it (track -> build -> render through the operators in worker mode),
# then checks the output's pixels here (ffmpeg is not in the root).
# Usage: tests/blender/blender4_worker.sh OUT_DIR VIDEO PRODUCT
set -euo pipefail
out="$1" video="$2" product="$3"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rm -rf "$out"
zip=$(tests/blender/blender4_selfcontained_zip.sh "$out/zip")
export VANELIA_BLENDER4_BIND="$out"  # writable inside the root (the checkout is read-only)
native/scripts/blender4.sh -b --factory-startup --python-exit-code 1 \
  --python tests/blender/run_blender4_worker.py \
  -- --zip "$zip" --video "$video" --product "$product" --out "$out"
rm -rf "$out/zip"  # 200 MB
exec /usr/bin/python3 tests/blender/run_blender4_worker.py --check "$out/result.json"
