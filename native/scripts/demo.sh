#!/usr/bin/env bash
# The demo: installs what is missing, builds, and puts the bundled product
# into the bundled sample clip, end to end:
#   tests/data/sample/video.mp4 + product.glb -> out/demo/final.mp4
# Stages: describe the video, track the camera (classical tracker, no
# weights needed) and align the floor, build the Blender scene and render.
# Usage: bash native/scripts/demo.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash native/scripts/install_deps.sh
echo "== build" >&2
bash native/scripts/build.sh >/dev/null
vanelia="$root/build/bin/vanelia"
video="tests/data/sample/video.mp4"
product="tests/data/sample/product.glb"
out="out/demo"
mkdir -p "$out"

has_stage() { "$vanelia" --help | grep -qE "^  $1 "; }
missing() {
  echo "demo: stage '$1' is not available in this build yet ($2); stopping here." >&2
  exit 1
}

for f in "$video" "$product"; do
  [ -f "$f" ] || missing "sample data" "$f is missing"
done

echo "== 1/3 video" >&2
has_stage info || missing "info" "video decoding"
"$vanelia" info "$video"

echo "== 2/3 track + align" >&2
has_stage track || missing "track" "camera tracking"
"$vanelia" track "$video" -o "$out/track.json" --overwrite

echo "== 3/3 render" >&2
has_stage run || missing "run" "Blender scene and render"
"$vanelia" run "$video" "$product" --track "$out/track.json" -o "$out/final.mp4" --overwrite
echo "demo: wrote $out/final.mp4" >&2
