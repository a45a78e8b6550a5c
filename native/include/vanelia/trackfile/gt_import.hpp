// Import of a ground-truth camera file (`gt.json`, format
// "vanelia-gt-track/1", see ../shared/footage/README.md) into a track file.
//
// The ground truth is already in Blender's world (floor z = 0, Z up, metres),
// so the track has world "blender", blender_from_track = identity, scale
// {method "none", value_m null} (metric by construction, nothing rescaled)
// and the gt's ground plane with method "manual", inliers 0, rms 0,
// confidence 1. Poses come from `c2w_blender` (rotation block projected onto
// SO(3): the gt stores single-precision matrices), intrinsics from
// `K_opencv`, timestamps from `time_s` (else index / fps). The tracker is
// {name "ground-truth", version <gt format>, options {}}; source.path is the
// gt's `video` next to gt.json, source.sha256 its hash when the file exists
// (else ""), source.frame_count the gt's num_frames.
// The plane normal is flipped, if need be, to point towards the cameras.
#pragma once

#include "vanelia/trackfile/track_file.hpp"

#include <string>

namespace vanelia {

// Throws InputError naming the file, the key and the rule.
TrackFile ImportGroundTruth(const std::string& gt_path);

// The same from the text of a gt.json; `gt_path` locates the video and
// names the file in errors.
TrackFile ImportGroundTruthString(const std::string& text,
                                  const std::string& gt_path);

// An exact rational for a frame rate given as a JSON number: integers,
// NTSC rates (24000/1001, 30000/1001, 60000/1001) and otherwise
// round(fps * 1000) / 1000.
Rational RationalFromFps(double fps);

}  // namespace vanelia
