#!/usr/bin/env bash
# Reference solves of the real clips with COLMAP 3.8 (Debian 12's `colmap`,
# CPU only), converted to the project's track format with
# `vanelia import-track`.
#
#   tests/data/real/make_references.sh [CLIP ...]     (default: every clip)
#
# Run from the repository root after building (build/bin/vanelia). For each
# clip folder tests/data/real/CLIP (frames/ of JPEGs or video.mp4) it writes
#   CLIP/reference/track.json    the COLMAP solve as a vanelia track file
#   CLIP/reference/colmap.txt    the commands, COLMAP's model_analyzer output,
#                                the chosen model and the wall time
# Protocol (the slow, careful one; the scorer native/bench/real_footage.py
# times the pinned fast one): one shared SIMPLE_RADIAL camera, SIFT on the
# CPU with 2 threads at the committed frames' own resolution, exhaustive
# matching for clips of up to 30 frames and sequential matching of each frame
# with its 20 successors (loop detection off) for longer ones (750 pairs
# instead of 1128 for 48 frames: CPU matching is the slow part on 2 cores),
# the incremental mapper; when the mapper makes several models the one with
# the most registered images is kept; when it makes none, colmap.txt says why
# and there is no track.json. Video clips are decoded to PNG
# with ffmpeg first (frame i -> i.png, 0-based, so import-track's frame index
# is the decoded index). COLMAP runs under `nice -n 10`, one at a time.
set -euo pipefail
root=tests/data/real
vanelia=${VANELIA:-build/bin/vanelia}
threads=${THREADS:-2}
clips=("$@")
if [ ${#clips[@]} -eq 0 ]; then
  clips=(tum_office cyprus_arch sam2_dog sam2_bedroom)
fi

work=""
trap 'rm -rf "$work"' EXIT
for clip in "${clips[@]}"; do
  dir=$root/$clip
  # The work folder lies in the clip's reference/ folder so that the track
  # file's source.path names the model by a repository path; it is removed.
  work=$dir/reference/colmap
  rm -rf "$work" && mkdir -p "$work"
  if [ -d "$dir/frames" ]; then
    source=$dir/frames
    mkdir -p "$work/images" && cp "$dir"/frames/*.jpg "$work/images/"
  else
    source=$dir/video.mp4
    mkdir -p "$work/images"
    ffmpeg -v error -i "$source" -start_number 0 "$work/images/%04d.png"
  fi
  info=$("$vanelia" info "$source" --json)
  fps=$(python3 -c 'import json,sys; f=json.loads(sys.argv[1])["fps"]; print("%d/%d" % (f["num"], f["den"]))' "$info")
  count=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["frame_count"])' "$info")
  mkdir -p "$work/sparse"
  log=$dir/reference/colmap.txt
  start=$(date +%s.%N)
  {
    echo "# $clip: reference solve by tests/data/real/make_references.sh"
    echo "# colmap $(colmap -h 2>&1 | sed -n 's/^COLMAP \([^ ]*\).*/\1/p' | head -1) ($(dpkg-query -W -f='${Version}' colmap 2>/dev/null || echo '?'))"
    echo "# input: $source ($count frames, fps $fps)"
  } > "$log"
  run() {
    echo "\$ $*" | sed "s#$work#WORK#g" >> "$log"
    nice -n 10 "$@" > "$work/last.log" 2>&1 || { cat "$work/last.log" >&2; exit 1; }
  }
  run colmap feature_extractor --database_path "$work/db.db" \
    --image_path "$work/images" --ImageReader.single_camera 1 \
    --ImageReader.camera_model SIMPLE_RADIAL \
    --SiftExtraction.use_gpu 0 --SiftExtraction.num_threads "$threads"
  if [ "$count" -le 30 ]; then
    run colmap exhaustive_matcher --database_path "$work/db.db" \
      --SiftMatching.use_gpu 0 --SiftMatching.num_threads "$threads"
  else
    run colmap sequential_matcher --database_path "$work/db.db" \
      --SiftMatching.use_gpu 0 --SiftMatching.num_threads "$threads" \
      --SequentialMatching.overlap 20 --SequentialMatching.loop_detection 0
  fi
  echo "\$ colmap mapper --database_path WORK/db.db --image_path WORK/images --output_path WORK/sparse --Mapper.num_threads $threads" >> "$log"
  if ! nice -n 10 colmap mapper --database_path "$work/db.db" \
      --image_path "$work/images" --output_path "$work/sparse" \
      --Mapper.num_threads "$threads" > "$work/last.log" 2>&1; then
    # a finding, not a script error: no reference for this clip
    grep -E "ERROR|No good initial" "$work/last.log" | sort | uniq -c >> "$log"
    rm -f "$dir/reference/track.json"
    rm -rf "$work"
    echo "$clip: COLMAP made no model"
    continue
  fi
  end=$(date +%s.%N)
  best=""
  best_n=-1
  for model in "$work"/sparse/*/; do
    n=$(colmap model_analyzer --path "$model" 2>&1 |
        sed -n 's/.*Registered images: *\([0-9]*\).*/\1/p')
    if [ "${n:-0}" -gt "$best_n" ]; then best=$model; best_n=$n; fi
  done
  {
    echo "# models: $(find "$work/sparse" -mindepth 1 -maxdepth 1 -type d | wc -l); kept: $(basename "$best") ($best_n registered)"
    echo "# (WORK = $work, removed after the import)"
    echo "\$ colmap model_analyzer --path WORK/sparse/$(basename "$best")"
    colmap model_analyzer --path "$best" 2>&1 | sed 's/^I[0-9 :.]*[a-z_]*\.cc:[0-9]*\] //'
    printf '# wall time of extraction + matching + mapping: %.1f s\n' \
      "$(echo "$end - $start" | bc)"
  } >> "$log"
  video_arg=()
  if [ -f "$source" ]; then video_arg=(--video "$source"); fi
  "$vanelia" import-track "${best%/}" -o "$dir/reference/track.json" --overwrite \
    --quiet --fps "$fps" --first-number 0 "${video_arg[@]}" \
    --frame-count "$count"
  echo "\$ vanelia import-track ${best%/} -o $dir/reference/track.json --overwrite --quiet --fps $fps --first-number 0 ${video_arg[*]} --frame-count $count" >> "$log"
  rm -rf "$work"
  echo "$clip: $best_n / $count registered"
done
