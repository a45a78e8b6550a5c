#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test:
# C++ (ctest, one GoogleTest binary per module), Blender (ctest, real
# `blender -b`), Python (pytest), then the lint checks.
# Usage: bash native/scripts/test.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
start=$(date +%s)
bash native/scripts/install_deps.sh
echo "== Blender 4.3 root (Debian 13; made once, ~5 min cold: native/scripts/blender4_root.sh)"
bash native/scripts/blender4_root.sh >/dev/null
echo "== bare Debian 12 root (made once, ~1.5 min cold: native/scripts/bare_root.sh)"
bash native/scripts/bare_root.sh >/dev/null
echo "== build"
bash native/scripts/build.sh
echo "== ctest (C++ and Blender; GPU tests excluded)"
status=0
ctest --test-dir build -LE gpu --output-on-failure -j "$(nproc)" || status=1
echo "== pytest"
PYTHONPATH="$root/build/python:$root/addon" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
  tests/python tests/addon tests/farm || status=1
echo "== lint"
bash native/scripts/lint.sh || status=1
echo "== done in $(( $(date +%s) - start ))s, status $status"
exit $status
