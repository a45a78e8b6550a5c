// The light of a run (issue 21): the key light estimated from the clip's
// frames and its Blender-world track (floor/light_estimate.hpp), as the
// typed estimate and as the JSON object the run summary, batch.py and the
// add-on read (`vanelia-light/1`).
#pragma once

#include "vanelia/floor/light_estimate.hpp"
#include "vanelia/pipeline/frame_sample.hpp"
#include "vanelia/pipeline/pipeline.hpp"
#include "vanelia/pipeline/run_events.hpp"

#include <string>

#include <nlohmann/json.hpp>

namespace vanelia {

struct LightStageOptions {
  LightEstimateOptions estimate;
  // Frames are decoded at most this wide, pixels (>= 64): the floor map
  // needs a few pixels per cell, not the full resolution.
  int max_width = 960;

  // Throws InputError naming the first field that breaks its rule.
  void Check() const;
};

// Decodes estimate.max_frames frames of `video` spread over the track's
// frames (through `sample` when given, which keeps them for the next stage
// of the run) and estimates the light. The track file must be in Blender's
// world (floor z = 0). Throws InputError (a track not in Blender's world, or
// unreadable) and DecodeError; an unsupported estimate is a value.
LightEstimate EstimateTrackLight(const std::string& video,
                                 const std::string& track_path,
                                 const LightStageOptions& options,
                                 FrameSample* sample = nullptr);

// The estimate as JSON: {"format": "vanelia-light/1", "supported", "reason",
// "azimuth_deg", "elevation_deg", "direction", "confidence",
// "ambient_fraction", "key_to_ambient", "ambient_rgb", "lit_floor_rgb",
// "shadow_floor_rgb", "sun_rgb", "sky_rgb", "floor_albedo", "objects",
// "frames_used", "floor_cells", "shadow_cells", "summary"}; colours are
// linear RGB.
nlohmann::ordered_json LightEstimateToJson(const LightEstimate& estimate);

// The options Blender gets: with light "auto" (and no estimate yet) the
// estimate of `video` from the aligned track `track_path` in light_json,
// its summary logged through `reporter` ("light: ..."). A track that is not
// in Blender's world or a clip that does not decode leaves light_json empty
// (batch.py then uses sun_deg) and says so.
PipelineOptions WithLight(const PipelineOptions& options,
                          const std::string& track_path,
                          RunReporter* reporter,
                          FrameSample* sample = nullptr);

}  // namespace vanelia
