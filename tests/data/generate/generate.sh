#!/usr/bin/env bash
# Make one test fixture with Blender 3.4 headless (Cycles on the CPU) and ffmpeg.
#
#   tests/data/generate/generate.sh FIXTURE [OUT]
#
# FIXTURE  OUT default                  what (committed ones are in tests/data/README.md)
# sample   tests/data/sample            2 s 640x360 clip with audio + gt.json (committed)
# product  tests/data/sample/product.glb  30 cm bottle, PBR, near-black cap (committed)
# portrait tests/data/clips/portrait    1 s portrait clip stored rotated + rotation metadata
# vfr      tests/data/clips/vfr         1 s clip, intervals alternate 1/30 s and 1/20 s
# tripod   tests/data/clips/tripod       1 s (24 frames) rotation-only pan, 28 mm
# lowtex   tests/data/clips/lowtex       1 s arc over a nearly uniform floor, per-frame noise
# distort  tests/data/clips/distort      1 s arc with OpenCV k1=-0.15, k2=0.03 distortion
# blur     tests/data/clips/blur         1 s 60-degree arc with motion blur (shutter 0.5)
# walker   tests/data/clips/walker       1 s arc while a person-sized box walks across the view
# zoom     tests/data/clips/zoom         1 s arc while the lens zooms 24 -> 40 mm
# handheld tests/data/clips/handheld     1 s sideways walk with a pan and hand shake, 35 mm
# tele     tests/data/clips/tele         1 s 20-degree arc at 8 m, 50 mm
# crane    tests/data/clips/crane        1 s crane up (0.8 -> 2.6 m), 20 mm (not committed)
# truck    tests/data/clips/truck        1 s straight 2 m move to the right, no rotation, 28 mm
# push     tests/data/clips/push         1 s straight 2 m push in, no rotation, 28 mm (not committed)
# light-east     tests/data/clips/light-east      1 s 320x180 arc, sun from azimuth 30, elevation 40
# light-north    tests/data/clips/light-north     1 s 320x180 arc, sun from azimuth 150, elevation 55
# light-low      tests/data/clips/light-low       1 s 320x180 arc, sun from azimuth -120, elevation 30
# light-overcast tests/data/clips/light-overcast  1 s 320x180 arc, overcast sky (no sun)
# fastpan  tests/data/clips/fastpan      0.5 s 320x180 fast tripod pan, shutter 1.0 frame (motion blur)
# fastpan025 tests/data/clips/fastpan025 the same pan with a 0.25-frame shutter
# plainfloor tests/data/clips/plainfloor 1 s 480x270 arc: textured boxes on an untextured floor (issue 17)
# occluder tests/data/clips/occluder     1 s 320x180 orbit: a box passes in front of the product spot, truth/ masks WITH the product
# exposure tests/data/clips/exposure     0.5 s 320x180 arc, gain 1.6, white balance (1.15, 1, 0.8), truth WITH a grey-topped puck
# (the hard clips: 24 frames, 6 spp, crf 23; add --frames 48 --samples 8 --crf 21 by hand
#  for the 2 s versions, e.g. into $TMPDIR/vanelia-clips)
#
# Run from anywhere; paths are relative to the repository root. Render times on 2 busy cores:
# sample ~6 min CPU (8 spp, 48 frames); the 24-frame clips ~0.5-2 min.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"
fixture="${1:?usage: generate.sh FIXTURE [OUT] (sample|product|portrait|vfr|tripod|lowtex|distort|blur|walker|zoom|handheld|tele|crane|truck|push)}"
blender_run() { blender -b --factory-startup --python "$@"; }
clip() { blender_run tests/data/generate/make_clip.py -- "$@"; }
case "$fixture" in
  sample) clip --preset sample --out "${2:-tests/data/sample}" ;;
  product) blender_run tests/data/generate/make_product.py -- --out "${2:-tests/data/sample/product.glb}" ;;
  portrait) clip --preset portrait --frames 24 --samples 4 --crf 24 --out "${2:-tests/data/clips/portrait}" ;;
  vfr) clip --preset vfr --frames 24 --samples 4 --crf 24 --out "${2:-tests/data/clips/vfr}" ;;
  tripod | lowtex | distort | blur | walker | zoom | handheld | tele | crane | truck | push)
    clip --preset "$fixture" --frames 24 --samples 6 --crf 23 --out "${2:-tests/data/clips/$fixture}" ;;
  light-east) clip --preset light --sun 30 40 --frames 24 --samples 8 --crf 20 --out "${2:-tests/data/clips/$fixture}" ;;
  light-north) clip --preset light --sun 150 55 --frames 24 --samples 8 --crf 20 --out "${2:-tests/data/clips/$fixture}" ;;
  light-low) clip --preset light --sun -120 30 --frames 24 --samples 8 --crf 20 --out "${2:-tests/data/clips/$fixture}" ;;
  fastpan) clip --preset fastpan --shutter 1.0 --frames 12 --samples 24 --crf 23 --out "${2:-tests/data/clips/fastpan}" ;;
  fastpan025) clip --preset fastpan --shutter 0.25 --frames 12 --samples 24 --crf 23 --out "${2:-tests/data/clips/fastpan025}" ;;
  light-overcast) clip --preset light --overcast --frames 24 --samples 8 --crf 20 --out "${2:-tests/data/clips/$fixture}" ;;
  plainfloor) clip --preset plainfloor --frames 24 --samples 8 --crf 23 --out "${2:-tests/data/clips/plainfloor}" ;;
  occluder) clip --preset occluder --frames 24 --samples 6 --crf 23 --out "${2:-tests/data/clips/occluder}" ;;
  exposure) clip --preset exposure --sun 30 40 --gain 1.6 --wb 1.15 1.0 0.8 --frames 12 --samples 8 --crf 20 --out "${2:-tests/data/clips/exposure}" ;;
  *) echo "generate.sh: unknown fixture '$fixture'; must be one of sample product portrait vfr tripod lowtex distort blur walker zoom handheld tele crane truck push light-east light-north light-low light-overcast occluder plainfloor fastpan fastpan025" >&2; exit 2 ;;
esac
