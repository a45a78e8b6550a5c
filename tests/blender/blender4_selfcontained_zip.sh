#!/usr/bin/env bash
# Builds the self-contained extension zip (build_addon.py --format extension
# --self-contained: the module, the vanelia CLI and their libraries, ~200 MB)
# into DIR and prints its path; the zip blender4/worker and blender4/esc_ui
# install in Debian 13's Blender 4.3.
# Usage: tests/blender/blender4_selfcontained_zip.sh DIR
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
/usr/bin/python3 build_addon.py --format extension --self-contained --out "$1" >/dev/null
zip=("$1"/*-selfcontained-extension.zip)
echo "${zip[0]}"
