#!/usr/bin/env bash
# Makes the short clips of tests/data/real/ from their public sources (see each
# clip's README.md for source, commit, licence and what it shows).
#
#   tests/data/real/make_clips.sh SRC_ROOT [CLIP ...]   (default: every clip)
#
# SRC_ROOT holds bare git clones of the source repositories, one folder each:
#   SRC_ROOT/magicleap+SuperGluePretrainedNetwork  (commit below)
#   SRC_ROOT/3DOM-FBK+deep-image-matching
#   SRC_ROOT/facebookresearch+sam2
# (a folder may also be the repository's .git directory). Files are read with
# `git show COMMIT:PATH`, so the clips come from the pinned commits whatever
# the clones' HEAD is. Needs ffmpeg 5.1 (Debian 12). Run from the repository
# root; it rewrites the clip folders' footage, not their README.md.
set -euo pipefail
src=${1:?usage: make_clips.sh SRC_ROOT [CLIP ...]}
shift
wanted=" ${*:-tum_office cyprus_arch sam2_dog sam2_bedroom} "
out=tests/data/real
superglue_commit=ddcf11f42e7e0732a0c4607648f9448ea8d73590
dim_commit=74d7bd55ef52e961e25b60c203383fbac60db378
sam2_commit=2b90b9f5ceec907a1c18123530e92e794ad901a4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

show() {  # show REPO_DIR COMMIT PATH > file
  git --git-dir="$1" show "$2:$3"
}

want() {
  [[ $wanted == *" $1 "* ]]
}

gitdir() {
  if [ -d "$src/$1/repo" ]; then echo "$src/$1/repo"; else echo "$src/$1"; fi
}

# 1. tum_office: the 17 frames of TUM RGB-D fr3/long_office_household that
#    SuperGlue ships (one frame a second), PNG -> JPEG at ffmpeg -q:v 3.
if want tum_office; then
  repo=$(gitdir magicleap+SuperGluePretrainedNetwork)
  rm -rf "$out/tum_office/frames" && mkdir -p "$out/tum_office/frames"
  i=0
  for path in $(git --git-dir="$repo" ls-tree --name-only "$superglue_commit" \
      assets/freiburg_sequence/ | sort); do
    show "$repo" "$superglue_commit" "$path" > "$tmp/in.png"
    ffmpeg -v error -y -i "$tmp/in.png" -q:v 3 \
      "$out/tum_office/frames/$(printf %04d $i).jpg"
    i=$((i + 1))
  done
fi

# 2. cyprus_arch: the 10 Nikon D3X photos of deep-image-matching's
#    assets/example_cyprus (1500x1000) in file order; that repository turned
#    two of them on purpose (DSC_6468 by 180 deg, DSC_6471 by 90 deg
#    clockwise, stored 1000x1500) to test rotation-invariant matchers: they
#    are turned back upright here, as a camera would have written them.
#    JPEG at ffmpeg -q:v 8, metadata dropped.
if want cyprus_arch; then
  repo=$(gitdir 3DOM-FBK+deep-image-matching)
  rm -rf "$out/cyprus_arch/frames" && mkdir -p "$out/cyprus_arch/frames"
  i=0
  for n in $(seq 6466 6475); do
    case $n in
      6468) filter=(-vf "hflip,vflip") ;;
      6471) filter=(-vf "transpose=2") ;;
      *) filter=() ;;
    esac
    show "$repo" "$dim_commit" "assets/example_cyprus/images/DSC_$n.JPG" \
      > "$tmp/in.jpg"
    ffmpeg -v error -y -i "$tmp/in.jpg" "${filter[@]}" -q:v 8 -map_metadata -1 \
      "$out/cyprus_arch/frames/$(printf %04d $i).jpg"
    i=$((i + 1))
  done
fi

# 3. sam2_dog: demo/data/gallery/01_dog.mp4 (1280x720, 30000/1001 fps):
#    every 2nd of its first 96 frames -> 48 frames at 15000/1001 fps,
#    downscaled to 640x360 (lanczos; COLMAP on 48 frames at 720p takes over
#    half an hour on 2 cores), H.264 crf 20, no audio.
if want sam2_dog; then
  repo=$(gitdir facebookresearch+sam2)
  mkdir -p "$out/sam2_dog"
  show "$repo" "$sam2_commit" demo/data/gallery/01_dog.mp4 > "$tmp/dog.mp4"
  ffmpeg -v error -y -i "$tmp/dog.mp4" -map 0:v:0 -an -dn -map_metadata -1 \
    -vf "select='lt(n\,96)*not(mod(n\,2))',setpts=N/(15000/1001)/TB,scale=640:360:flags=lanczos" \
    -r 15000/1001 -frames:v 48 -c:v libx264 -preset slow -crf 20 \
    -pix_fmt yuv420p -movflags +faststart "$out/sam2_dog/video.mp4"
fi

# 4. sam2_bedroom: notebooks/videos/bedroom.mp4 (960x540, 30 fps): every 4th
#    of its first 192 frames -> 48 frames at 7.5 fps, downscaled to 640x360
#    (lanczos, as sam2_dog), H.264 crf 20, no audio.
if want sam2_bedroom; then
  repo=$(gitdir facebookresearch+sam2)
  show "$repo" "$sam2_commit" notebooks/videos/bedroom.mp4 > "$tmp/bedroom.mp4"
  mkdir -p "$out/sam2_bedroom"
  ffmpeg -v error -y -i "$tmp/bedroom.mp4" -map 0:v:0 -an -dn -map_metadata -1 \
    -vf "select='lt(n\,192)*not(mod(n\,4))',setpts=N/7.5/TB,scale=640:360:flags=lanczos" \
    -r 7.5 -frames:v 48 -c:v libx264 -preset slow -crf 20 \
    -pix_fmt yuv420p -movflags +faststart "$out/sam2_bedroom/video.mp4"
fi
