#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test:
# C++ (ctest, one GoogleTest binary per module), Blender (ctest, real
# `blender -b`), Python (pytest), then the lint checks.
# Usage: bash native/scripts/test.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
start=$(date +%s)
# Each stage's line says when it starts (seconds since the start).
at() { echo "== $* (at $(($(date +%s) - start)) s)"; }
bash native/scripts/install_deps.sh
# The two roots are mostly downloads and unpacking: they are made while the
# compiler runs, and waited for before the tests that use them.
roots_log="$(mktemp -d)"
echo "== Blender 4.3 root (Debian 13) and bare Debian 12 root, made once in the background" \
  "(~5 + ~1.5 min cold: native/scripts/blender4_root.sh, bare_root.sh; logs in $roots_log)"
(bash native/scripts/blender4_root.sh >"$roots_log/blender4.log" 2>&1 &&
  bash native/scripts/bare_root.sh >"$roots_log/bare.log" 2>&1) &
roots_pid=$!
at build
bash native/scripts/build.sh
if ! wait "$roots_pid"; then
  echo "error: making the Blender 4.3 or bare Debian 12 root failed:" >&2
  tail -n 40 "$roots_log"/*.log >&2
  exit 1
fi
at roots ready
# The classical-only zip's build (no LibTorch; `vanelia` and `_vanelia` only)
# runs at the lowest priority beside the tests, on the CPU they leave idle;
# its tests (label classical) run last, their fixture waiting for it.
echo "== build without the networks, in the background (native/scripts/build_classical.sh)"
nice -n 19 bash native/scripts/build_classical.sh >"$roots_log/classical.log" 2>&1 &
classical_pid=$!
at "ctest (C++ and Blender; GPU tests excluded)"
status=0
ctest --test-dir build -LE 'gpu|classical' --output-on-failure -j "$(nproc)" || status=1
at pytest
PYTHONPATH="$root/build/python:$root/addon" /usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=15 \
  tests/python tests/addon tests/farm || status=1
at lint
bash native/scripts/lint.sh || status=1
at "ctest of the classical-only zip (label classical)"
wait "$classical_pid" || echo "the background build failed: bundle/classical_build repeats it"
ctest --test-dir build -L classical --output-on-failure || status=1
echo "== done in $(( $(date +%s) - start ))s, status $status"
exit $status
