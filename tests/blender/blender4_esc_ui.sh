#!/usr/bin/env bash
# blender4/esc_ui: the self-contained extension zip (the one blender4/worker
# installs) in Debian 13's Blender 4.3 with a real window (the root's
# xvfb-run; an 800x600 window keeps llvmpipe's redraws short), the modal
# Track started through the UI and stopped by an Esc event;
# tests/blender/run_blender4_esc_ui.py has the checks.
# Usage: tests/blender/blender4_esc_ui.sh OUT_DIR VIDEO PRODUCT
set -euo pipefail
out="$1" video="$2" product="$3"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# A root kept from before xvfb gets xvfb and xauth added (~8 s); else at once.
bash native/scripts/blender4_root.sh >/dev/null
rm -rf "$out"
zip=$(tests/blender/blender4_selfcontained_zip.sh "$out/zip")
export VANELIA_BLENDER4_BIND="$out"  # writable inside the root (the checkout is read-only)
export VANELIA_BLENDER4_WINDOW=1     # under xvfb-run in the root
status=0
timeout 120 native/scripts/blender4.sh --factory-startup --enable-event-simulate \
  -p 0 0 800 600 --python tests/blender/run_blender4_esc_ui.py \
  -- --zip "$zip" --video "$video" --product "$product" --out "$out" || status=$?
rm -rf "$out/zip"  # 200 MB
exit "$status"
