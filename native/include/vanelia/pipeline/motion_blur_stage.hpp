// The motion blur of a run (issue 21): the plate's shutter estimated from
// the blur of its fast frames along the solved camera's motion
// (floor/shutter_estimate.hpp), handed to Blender, whose Cycles then blurs
// the product with the camera's motion over that shutter.
#pragma once

#include "vanelia/floor/shutter_estimate.hpp"
#include "vanelia/pipeline/pipeline.hpp"
#include "vanelia/pipeline/run_events.hpp"

#include <string>

namespace vanelia {

struct MotionBlurStageOptions {
  ShutterEstimateOptions estimate;
  // Frames are decoded at most this wide, pixels (>= 64): the blur is
  // measured in the decoded frame's pixels.
  int max_width = 960;

  // Throws InputError naming the first field that breaks its rule.
  void Check() const;
};

// Decodes the fastest estimate.max_frames frames of the track (its cameras
// say which) and estimates the plate's shutter. The track file must be in
// Blender's world (floor z = 0). Throws InputError (a track not in
// Blender's world, or unreadable) and DecodeError; a shutter that cannot be
// measured is a value (the default, 180 degrees).
ShutterEstimate EstimateTrackShutter(const std::string& video,
                                     const std::string& track_path,
                                     const MotionBlurStageOptions& options);

// Parses --motion-blur: "auto", "off" or a shutter in frames (0 < s <= 1);
// InputError naming the value otherwise. Returns the shutter given, or -1
// for auto and 0 for off.
double ParseMotionBlur(const std::string& text);

// The options Blender gets: with motion_blur "auto" (no shutter_frames yet)
// the shutter estimated from `video` and the aligned track `track_path`,
// logged through `reporter` ("motion blur: ..."); a number sets it; "off"
// or a preview leaves it unset (no blur). A track that is not in Blender's
// world gives the 180-degree default and says so.
PipelineOptions WithMotionBlur(const PipelineOptions& options,
                               const std::string& track_path,
                               RunReporter* reporter);

}  // namespace vanelia
