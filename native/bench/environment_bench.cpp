// The environment map (issue 21; floor/environment_map.hpp through
// pipeline/environment_stage.hpp): what `vanelia run --environment auto`
// adds to a run, against a peer in the same process: decoding the whole
// clip once at the stage's width (what any pass over the footage costs).
//
//   build/bin/environment_bench [--repetitions N] [--width W] [CLIP_DIR...]
//
// Each CLIP_DIR holds video.mp4 and gt.json (its cameras, imported as the
// track; default tests/data/sample). The spot is where the first camera's
// optical axis meets the floor. Lines: "environment/stage" (decode the
// sampled frames + map + write the .hdr), "environment/map" (the map alone,
// frames decoded beforehand), "decode/clip" (the peer), each with the
// ratio to the peer. Sane = the map saw 5-95 % of the sphere and every
// texel is finite.
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/floor/alignment.hpp"
#include "vanelia/floor/environment_map.hpp"
#include "vanelia/pipeline/environment_stage.hpp"
#include "vanelia/trackfile/gt_import.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_harness.hpp"

namespace vanelia {
namespace {

namespace fs = std::filesystem;

std::array<double, 3> AxisOnFloor(const CameraTrack& track) {
  const Rigid3d world_from_cam = track.frames.front().cam_from_world.Inverse();
  const Eigen::Vector3d c = world_from_cam.translation;
  const Eigen::Vector3d d = world_from_cam.rotation * Eigen::Vector3d::UnitZ();
  const double t = d.z() < -1e-3 ? -c.z() / d.z() : 3.0;
  const Eigen::Vector3d p = c + std::min(t, 20.0) * d;
  return {p.x(), p.y(), 0.0};
}

bool Sane(const EnvironmentMap& map) {
  if (!(map.seen_fraction > 0.05 && map.seen_fraction < 0.95)) return false;
  return std::all_of(
      map.rgb.begin(), map.rgb.end(), [](float v) { return std::isfinite(v); });
}

void BenchClip(const std::string& dir, int repetitions, int width) {
  const std::string video = dir + "/video.mp4";
  const TrackFile file = ImportGroundTruth(dir + "/gt.json");
  const fs::path tmp = fs::temp_directory_path() / "vanelia-environment-bench";
  fs::create_directories(tmp);
  const std::string track_path = (tmp / "track.json").string();
  WriteTrackFile(track_path, file, /*overwrite=*/true);
  const CameraTrack track = CameraTrackOf(file);
  const std::array<double, 3> spot = AxisOnFloor(track);
  EnvironmentStageOptions options;
  options.map.width = width;
  const std::string out = (tmp / "environment.hdr").string();

  ReadOptions read;
  read.max_width = options.max_width;
  int64_t decoded = 0;
  const bench::Timing peer = bench::Measure(
      [&] {
        const auto reader = VideoReader::Open(video, read);
        decoded = 0;
        Frame frame;
        while (reader->Next(&frame)) ++decoded;
      },
      repetitions);

  EnvironmentMap map;
  const bench::Timing stage = bench::Measure(
      [&] {
        map =
            BuildTrackEnvironment(video, track_path, spot, out, true, options);
      },
      repetitions);
  std::fprintf(
      stderr, "%s: %s\n", dir.c_str(), DescribeEnvironment(map).c_str());

  std::vector<Frame> frames;
  {
    const auto reader = VideoReader::Open(video, read);
    Frame frame;
    while (reader->Next(&frame)) frames.push_back(frame);
  }
  EnvironmentMapOptions map_options = options.map;
  EnvironmentMap alone;
  const bench::Timing build = bench::Measure(
      [&] {
        alone = BuildEnvironmentMap(track,
                                    frames,
                                    Eigen::Vector3d(spot[0], spot[1], spot[2]),
                                    map_options);
      },
      repetitions);

  const double base = std::max(peer.median_s, 1e-9);
  const double frames_n = static_cast<double>(decoded);
  bench::Report("decode/clip", peer, {{"frames", frames_n}}, decoded > 0);
  bench::Report("environment/stage",
                stage,
                {{"frames", frames_n},
                 {"width", static_cast<double>(width)},
                 {"ratio_to_decode", stage.median_s / base}},
                Sane(map));
  bench::Report("environment/map",
                build,
                {{"frames_used", static_cast<double>(alone.frames_used)},
                 {"width", static_cast<double>(width)},
                 {"ratio_to_decode", build.median_s / base}},
                Sane(alone));
}

}  // namespace
}  // namespace vanelia

int main(int argc, char** argv) {
  int repetitions = 3;
  int width = 512;
  std::vector<std::string> clips;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--repetitions" && i + 1 < argc) {
      repetitions = std::atoi(argv[++i]);
    } else if (arg == "--width" && i + 1 < argc) {
      width = std::atoi(argv[++i]);
    } else {
      clips.push_back(arg);
    }
  }
  if (clips.empty()) clips.push_back(VANELIA_SOURCE_ROOT "/tests/data/sample");
  try {
    for (const std::string& clip : clips) {
      vanelia::BenchClip(clip, repetitions, width);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "environment_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
