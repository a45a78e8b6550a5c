#!/usr/bin/env bash
# Configures and builds everything into ./build (Release, Ninja).
# Usage: bash native/scripts/build.sh [extra cmake -D options]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
jobs="${VANELIA_JOBS:-$(nproc)}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >build.configure.log 2>&1 \
  || { cat build.configure.log; exit 1; }
cmake --build build -j "$jobs"
