// The light of a run (light_stage.hpp).
#include "vanelia/pipeline/light_stage.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/floor/alignment.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace vanelia {

void LightStageOptions::Check() const {
  estimate.Check();
  if (max_width < 64) {
    throw InputError("LightStageOptions::max_width = " +
                     std::to_string(max_width) + "; must be >= 64");
  }
}

LightEstimate EstimateTrackLight(const std::string& video,
                                 const std::string& track_path,
                                 const LightStageOptions& options,
                                 FrameSample* sample) {
  options.Check();
  const TrackFile file = ReadTrackFile(track_path);
  if (file.world != TrackWorld::kBlender) {
    throw InputError("track '" + track_path +
                     "': world is not \"blender\"; the light needs the "
                     "floor at z = 0 (align it first: vanelia align)");
  }
  const CameraTrack track = CameraTrackOf(file);
  FrameSample own;
  const std::vector<Frame>& frames =
      (sample != nullptr ? sample : &own)
          ->Spread(
              video, track, options.estimate.max_frames, options.max_width);
  const Eigen::Matrix3Xf points =
      file.points ? file.points->xyz : Eigen::Matrix3Xf(3, 0);
  return EstimateLight(track, points, frames, options.estimate);
}

PipelineOptions WithLight(const PipelineOptions& options,
                          const std::string& track_path,
                          RunReporter* reporter,
                          FrameSample* sample) {
  if (options.light != "auto" || !options.light_json.empty()) return options;
  PipelineOptions lit = options;
  try {
    LightStageOptions stage;
    stage.estimate.floor_albedo = options.floor_albedo;
    const LightEstimate estimate =
        EstimateTrackLight(options.video, track_path, stage, sample);
    lit.light_json = LightEstimateToJson(estimate).dump();
    reporter->Log("light: " + DescribeLight(estimate));
  } catch (const InputError& error) {  // DecodeError included
    reporter->Log(std::string("light: not estimated (") + error.what() +
                  "); the fixed sun");
  }
  return lit;
}

nlohmann::ordered_json LightEstimateToJson(const LightEstimate& e) {
  auto vec = [](const Eigen::Vector3d& v) {
    return nlohmann::ordered_json::array({v.x(), v.y(), v.z()});
  };
  nlohmann::ordered_json json;
  json["format"] = "vanelia-light/1";
  json["supported"] = e.supported;
  json["reason"] = e.reason;
  json["azimuth_deg"] = e.azimuth_deg;
  json["elevation_deg"] = e.elevation_deg;
  json["direction"] = vec(e.direction);
  json["confidence"] = e.confidence;
  json["ambient_fraction"] = e.ambient_fraction;
  json["key_to_ambient"] = e.key_to_ambient;
  json["ambient_rgb"] = vec(e.ambient_rgb);
  json["lit_floor_rgb"] = vec(e.lit_floor_rgb);
  json["shadow_floor_rgb"] = vec(e.shadow_floor_rgb);
  json["sun_rgb"] = vec(e.sun_rgb);
  json["sky_rgb"] = vec(e.sky_rgb);
  json["floor_albedo"] = e.floor_albedo;
  json["objects"] = e.objects;
  json["frames_used"] = e.frames_used;
  json["floor_cells"] = e.floor_cells;
  json["shadow_cells"] = e.shadow_cells;
  json["summary"] = DescribeLight(e);
  return json;
}

}  // namespace vanelia
