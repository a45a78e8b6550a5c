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
                                 const LightStageOptions& options) {
  options.Check();
  const TrackFile file = ReadTrackFile(track_path);
  if (file.world != TrackWorld::kBlender) {
    throw InputError("track '" + track_path +
                     "': world is not \"blender\"; the light needs the "
                     "floor at z = 0 (align it first: vanelia align)");
  }
  const CameraTrack track = CameraTrackOf(file);
  ReadOptions read;
  read.max_width = options.max_width;
  const auto reader = VideoReader::Open(video, read);
  const size_t n = track.frames.size();
  const size_t count =
      std::min<size_t>(n, static_cast<size_t>(options.estimate.max_frames));
  std::vector<Frame> frames;
  for (size_t s = 0; s < count; ++s) {
    const size_t j = count == 1 ? 0 : s * (n - 1) / (count - 1);
    const int64_t index = track.frames[j].index;
    if (index >= reader->Info().frame_count) continue;
    frames.push_back(reader->Read(index));
  }
  const Eigen::Matrix3Xf points =
      file.points ? file.points->xyz : Eigen::Matrix3Xf(3, 0);
  return EstimateLight(track, points, frames, options.estimate);
}

PipelineOptions WithLight(const PipelineOptions& options,
                          const std::string& track_path,
                          RunReporter* reporter) {
  if (options.light != "auto" || !options.light_json.empty()) return options;
  PipelineOptions lit = options;
  try {
    const LightEstimate estimate =
        EstimateTrackLight(options.video, track_path, LightStageOptions());
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
  json["objects"] = e.objects;
  json["frames_used"] = e.frames_used;
  json["floor_cells"] = e.floor_cells;
  json["shadow_cells"] = e.shadow_cells;
  json["summary"] = DescribeLight(e);
  return json;
}

}  // namespace vanelia
