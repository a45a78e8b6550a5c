#!/usr/bin/env bash
# Format and lint checks (STYLE.md): clang-format on every C++ file,
# clang-tidy on core, geometry, floor and the track file, black and flake8 on
# Python, and the size limits (check_sizes.py: no source file over 600 lines,
# no function over 80, in native/src, native/tools, native/python, addon/).
# Needs a configured ./build (compile_commands.json).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
status=0
mapfile -t cxx < <(git ls-files 'native/*.hpp' 'native/*.cpp' 'tests/*.hpp' 'tests/*.cpp')
if [ ${#cxx[@]} -gt 0 ]; then
  clang-format --dry-run -Werror "${cxx[@]}" || { echo "lint: clang-format differs (run clang-format -i)"; status=1; }
fi
mapfile -t tidy < <(git ls-files 'native/src/core/*.cpp' 'native/src/geometry/*.cpp' \
                                 'native/src/floor/*.cpp' 'native/src/trackfile/track_file*.cpp')
if [ ${#tidy[@]} -gt 0 ] && [ -f build/compile_commands.json ]; then
  # One clang-tidy per core, a few files each (it is the slow part of the lint).
  printf '%s\0' "${tidy[@]}" |
    xargs -0 -n 3 -P "$(nproc)" clang-tidy -p build --quiet 2>/dev/null ||
    { echo "lint: clang-tidy failed"; status=1; }
fi
mapfile -t py < <(git ls-files '*.py')
if [ ${#py[@]} -gt 0 ]; then
  black --check -q "${py[@]}" || { echo "lint: black differs (run black)"; status=1; }
  flake8 "${py[@]}" || { echo "lint: flake8 failed"; status=1; }
fi
/usr/bin/python3 native/scripts/check_sizes.py . || { echo "lint: size limits exceeded"; status=1; }
[ $status -eq 0 ] && echo "lint: clean"
exit $status
