// The environment of a run (environment_stage.hpp).
#include "vanelia/pipeline/environment_stage.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/floor/alignment.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace vanelia {

void EnvironmentStageOptions::Check() const {
  map.Check();
  if (max_width < 64) {
    throw InputError("EnvironmentStageOptions::max_width = " +
                     std::to_string(max_width) + "; must be >= 64");
  }
}

EnvironmentMap BuildTrackEnvironment(const std::string& video,
                                     const std::string& track_path,
                                     const std::array<double, 3>& spot_m,
                                     const std::string& output,
                                     bool overwrite,
                                     const EnvironmentStageOptions& options,
                                     FrameSample* sample) {
  options.Check();
  const TrackFile file = ReadTrackFile(track_path);
  if (file.world != TrackWorld::kBlender) {
    throw InputError("track '" + track_path +
                     "': world is not \"blender\"; the environment needs "
                     "the floor at z = 0 (align it first: vanelia align)");
  }
  const CameraTrack track = CameraTrackOf(file);
  FrameSample own;
  const std::vector<Frame>& frames =
      (sample != nullptr ? sample : &own)
          ->Spread(video, track, options.map.max_frames, options.max_width);
  const EnvironmentMap map =
      BuildEnvironmentMap(track,
                          frames,
                          Eigen::Vector3d(spot_m[0], spot_m[1], spot_m[2]),
                          options.map);
  WriteEnvironmentHdr(map, output, overwrite);
  return map;
}

nlohmann::ordered_json EnvironmentToJson(const EnvironmentMap& map,
                                         const std::string& path) {
  auto vec = [](const Eigen::Vector3d& v) {
    return nlohmann::ordered_json::array({v.x(), v.y(), v.z()});
  };
  nlohmann::ordered_json json;
  json["format"] = "vanelia-environment/1";
  json["path"] = path;
  json["width"] = map.width;
  json["height"] = map.height;
  json["centre_m"] = vec(map.centre_m);
  json["floor_rgb"] = vec(map.floor_rgb);
  json["seen_fraction"] = map.seen_fraction;
  json["seen_above"] = map.seen_above;
  json["seen_below"] = map.seen_below;
  json["frames_used"] = map.frames_used;
  json["summary"] = DescribeEnvironment(map);
  return json;
}

PipelineOptions WithEnvironment(const PipelineOptions& options,
                                const std::string& track_path,
                                const std::string& folder,
                                RunReporter* reporter,
                                FrameSample* sample) {
  if (options.environment != "auto" || !options.environment_map.empty() ||
      !options.location_m) {
    return options;
  }
  PipelineOptions lit = options;
  const std::string path = folder + "/environment.hdr";
  try {
    const EnvironmentMap map = BuildTrackEnvironment(options.video,
                                                     track_path,
                                                     *options.location_m,
                                                     path,
                                                     /*overwrite=*/true,
                                                     EnvironmentStageOptions(),
                                                     sample);
    lit.environment_map = path;
    reporter->Log("environment: " + DescribeEnvironment(map));
  } catch (const InputError& error) {  // DecodeError included
    reporter->Log(std::string("environment: not built (") + error.what() +
                  "); the uniform world");
  }
  return lit;
}

}  // namespace vanelia
