// The environment of a run (issue 21): vanelia run builds the map before
// Blender and hands it to batch.py as --environment=PATH (a stand-in
// Blender records its arguments and whether the file is there); --environment
// off hands none; a bad mode is refused naming the option.
#include "vanelia/pipeline/environment_stage.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/trackfile/gt_import.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

namespace vanelia {
namespace {

namespace fs = std::filesystem;

const std::string kSample =
    std::string(VANELIA_SOURCE_DIR) + "/tests/data/sample";

std::vector<std::string> Lines(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool HasPrefix(const std::vector<std::string>& lines,
               const std::string& prefix) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& a) {
    return a.rfind(prefix, 0) == 0;
  });
}

TEST(WithEnvironment, RunBuildsTheMapForBatch) {
  const fs::path dir =
      fs::temp_directory_path() /
      ("vanelia_environment_stage_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path blender = dir / "blender";
  const std::string args_path = (dir / "args").string();
  const std::string seen_path = (dir / "seen").string();
  std::ofstream(blender)
      << "#!/bin/sh\necho 'Blender 3.4.1'\n"
      << "printf '%s\\n' \"$@\" > '" << args_path << "'\n"
      << "rm -f '" << seen_path << "'\n"
      << "for a in \"$@\"; do case \"$a\" in --environment=*) "
      << "head -c 10 \"${a#--environment=}\" > '" << seen_path
      << "';; esac; done\n";
  chmod(blender.c_str(), 0755);
  const std::string track = (dir / "track.json").string();
  WriteTrackFile(track, ImportGroundTruth(kSample + "/gt.json"), true);
  PipelineOptions options;
  options.video = kSample + "/video.mp4";
  options.product = kSample + "/product.glb";
  options.track = track;
  options.output = (dir / "final.mp4").string();
  options.blender = blender.string();
  options.addon_dir = VANELIA_SOURCE_DIR "/addon";
  options.location_m = std::array<double, 3>{0.0, 0.0, 0.0};
  options.light = "fixed";
  options.grain = "off";
  options.motion_blur = "off";
  options.proxies = "off";
  EXPECT_EQ(options.environment, "auto");  // the default
  std::vector<std::string> logs;
  const auto sink = [&](const RunEvent& e) {
    if (e.type == RunEventType::kLog) logs.push_back(e.text);
  };
  RunReporter reporter(sink, PipelineStages(options));
  RunPipeline(options, &reporter);
  std::vector<std::string> args = Lines(dir / "args");
  ASSERT_TRUE(HasPrefix(args, "--environment=")) << args.size();
  EXPECT_EQ(Lines(seen_path), std::vector<std::string>{"#?RADIANCE"});
  ASSERT_TRUE(HasPrefix(logs, "environment: 512x256, "));

  options.environment = "off";
  fs::remove(options.output);
  logs.clear();
  RunReporter off_reporter(sink, PipelineStages(options));
  RunPipeline(options, &off_reporter);
  args = Lines(dir / "args");
  EXPECT_FALSE(HasPrefix(args, "--environment"));
  EXPECT_FALSE(HasPrefix(logs, "environment:"));

  // Not a track file (gt.json): the uniform world, and the log says why.
  options.environment = "auto";
  logs.clear();
  EXPECT_TRUE(
      WithEnvironment(options, kSample + "/gt.json", dir.string(), &reporter)
          .environment_map.empty());
  EXPECT_TRUE(HasPrefix(logs, "environment: not built ("));
  fs::remove_all(dir);
}

TEST(PipelineOptions, EnvironmentMustBeAutoOrOff) {
  PipelineOptions options;
  options.video = kSample + "/video.mp4";
  options.product = kSample + "/product.glb";
  options.output = "/tmp/vanelia_environment_stage_out.mp4";
  options.environment = "on";
  try {
    options.Check();
    ADD_FAILURE() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_NE(
        std::string(e.what()).find("--environment 'on': must be auto or off"),
        std::string::npos)
        << e.what();
  }
}

TEST(EnvironmentStageOptions, Badarg) {
  EnvironmentStageOptions options;
  options.max_width = 10;
  EXPECT_THROW(options.Check(), InputError);
  options = EnvironmentStageOptions();
  options.map.max_frames = 0;
  try {
    options.Check();
    ADD_FAILURE() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("max_frames"), std::string::npos);
  }
}

}  // namespace
}  // namespace vanelia
