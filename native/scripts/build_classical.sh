#!/usr/bin/env bash
# Builds the native part of the classical-only add-on zip into ./build-classical:
# the same sources configured without the networks (-DVANELIA_WITH_TORCH=OFF:
# no LibTorch, no model module; tests and benchmarks off), and only the two
# targets the zip carries, the `vanelia` CLI and the `_vanelia` module. Then
#   python3 build_addon.py --native-build build-classical
# makes vanelia_blender-<version>-classical-selfcontained{,-extension}.zip.
# One build of a folder at a time: a second call waits for the first (flock),
# so test.sh starts it in the background and the ctest fixture
# bundle/classical_build waits for it, then finds it done.
# Usage: bash native/scripts/build_classical.sh [BUILD_DIR]
#   BUILD_DIR defaults to ./build-classical; VANELIA_JOBS as build.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="${1:-$root/build-classical}"
jobs="${VANELIA_JOBS:-$(nproc)}"
mkdir -p "$dir"
exec 9>"$dir/.vanelia-build.lock"
flock 9
if [ ! -f "$dir/build.ninja" ]; then  # later, ninja re-runs cmake when a CMakeLists changes
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVANELIA_WITH_TORCH=OFF \
    -DVANELIA_BUILD_TESTS=OFF -DVANELIA_BUILD_BENCH=OFF >"$dir/configure.log" 2>&1 \
    || { cat "$dir/configure.log"; exit 1; }
fi
cmake --build "$dir" -j "$jobs" --target vanelia _vanelia
