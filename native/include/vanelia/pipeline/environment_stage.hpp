// The environment of a run (issue 21): the equirectangular world texture
// made from the clip's frames around the product's spot
// (floor/environment_map.hpp), written as a Radiance .hdr that batch.py
// puts in the world shader (lighting and reflections; the camera still sees
// the plate), and its summary as JSON (`vanelia-environment/1`).
#pragma once

#include "vanelia/floor/environment_map.hpp"
#include "vanelia/pipeline/frame_sample.hpp"
#include "vanelia/pipeline/pipeline.hpp"
#include "vanelia/pipeline/run_events.hpp"

#include <array>
#include <string>

#include <nlohmann/json.hpp>

namespace vanelia {

struct EnvironmentStageOptions {
  EnvironmentMapOptions map;
  // Frames are decoded at most this wide, pixels (>= 64): a 512-texel map
  // spends under a degree a texel, a few pixels of a 480-wide frame. The
  // light stage's width (960), so that a run decodes one sample for both.
  int max_width = 960;

  // Throws InputError naming the first field that breaks its rule.
  void Check() const;
};

// Decodes map.max_frames frames of `video` spread over the track's frames
// (through `sample` when given: the light stage's frames when it decoded the
// same ones),
// builds the map around `spot_m` (world) and writes it to `output` (.hdr;
// an existing file only with `overwrite`). The track file must be in
// Blender's world (floor z = 0). Throws InputError (a track not in
// Blender's world, unreadable, an unwritable output) and DecodeError.
EnvironmentMap BuildTrackEnvironment(const std::string& video,
                                     const std::string& track_path,
                                     const std::array<double, 3>& spot_m,
                                     const std::string& output,
                                     bool overwrite,
                                     const EnvironmentStageOptions& options,
                                     FrameSample* sample = nullptr);

// The map's summary as JSON: {"format": "vanelia-environment/1", "path",
// "width", "height", "centre_m", "floor_rgb" (linear), "seen_fraction",
// "seen_above", "seen_below", "frames_used", "summary"}.
nlohmann::ordered_json EnvironmentToJson(const EnvironmentMap& map,
                                         const std::string& path);

// The options Blender gets: with environment "auto" and a product spot
// (location_m, set by WithPlacement), the map of `video` around it written
// to `folder`/environment.hdr and its path in environment_map, its summary
// logged through `reporter` ("environment: ..."). A track that is not in
// Blender's world or a clip that does not decode leaves environment_map
// empty (the uniform world) and says so.
PipelineOptions WithEnvironment(const PipelineOptions& options,
                                const std::string& track_path,
                                const std::string& folder,
                                RunReporter* reporter,
                                FrameSample* sample = nullptr);

}  // namespace vanelia
