#include "vanelia/pipeline/proxy_stage.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/trackfile/gt_import.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

namespace vanelia {
namespace {

namespace fs = std::filesystem;

const std::string kSample =
    std::string(VANELIA_SOURCE_DIR) + "/tests/data/sample";

// The sample's gt track carrying the points of one 0.5 x 0.4 x 0.6 m box
// (its sides and top, 1 cm noise) at (1, 2) and floor points.
std::string TrackWithABox() {
  TrackFile file = ImportGroundTruth(kSample + "/gt.json");
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> unit(-0.5F, 0.5F);
  std::normal_distribution<float> noise(0.0F, 0.01F);
  const Eigen::Vector3f centre(1.0F, 2.0F, 0.3F);
  const Eigen::Vector3f size(0.5F, 0.4F, 0.6F);
  std::vector<Eigen::Vector3f> points;
  for (int k = 0; k < 1000; ++k) {
    Eigen::Vector3f q(unit(rng), unit(rng), unit(rng));
    q[k % 3] = (k % 2 == 0 || k % 3 == 2) ? 0.5F : -0.5F;
    points.push_back(centre + q.cwiseProduct(size) +
                     Eigen::Vector3f(noise(rng), noise(rng), noise(rng)));
    points.emplace_back(unit(rng) * 6.0F, unit(rng) * 6.0F, noise(rng));
  }
  PointCloud cloud;
  cloud.xyz.resize(3, static_cast<int64_t>(points.size()));
  for (size_t k = 0; k < points.size(); ++k) {
    cloud.xyz.col(static_cast<int64_t>(k)) = points[k];
  }
  cloud.rgb.setConstant(3, cloud.xyz.cols(), 128);
  cloud.confidence.setOnes(cloud.xyz.cols());
  file.points = cloud;
  const std::string path =
      (fs::temp_directory_path() /
       ("vanelia_proxy_stage_" + std::to_string(::getpid()) + ".json"))
          .string();
  WriteTrackFile(path, file, true);
  return path;
}

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

// vanelia run builds the proxies before Blender, says how many and hands
// them to batch.py as --proxies-json (a stand-in Blender records its
// arguments); --proxies off hands --proxies=off and builds none.
TEST(WithProxies, RunBuildsThemNativelyForBatch) {
  const fs::path dir = fs::temp_directory_path() /
                       ("vanelia_proxy_stage_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path blender = dir / "blender";
  std::ofstream(blender) << "#!/bin/sh\necho 'Blender 3.4.1'\n"
                         << "printf '%s\\n' \"$@\" > '"
                         << (dir / "args").string() << "'\n";
  chmod(blender.c_str(), 0755);
  const std::string track = TrackWithABox();
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
  std::vector<std::string> logs;
  const auto sink = [&](const RunEvent& e) {
    if (e.type == RunEventType::kLog) logs.push_back(e.text);
  };
  RunReporter reporter(sink, PipelineStages(options));
  RunPipeline(options, &reporter);
  std::vector<std::string> args = Lines(dir / "args");
  ASSERT_TRUE(HasPrefix(args, "--proxies-json={"));
  const std::string arg =
      *std::find_if(args.begin(), args.end(), [](const std::string& a) {
        return a.rfind("--proxies-json=", 0) == 0;
      });
  const nlohmann::json json = nlohmann::json::parse(arg.substr(15));
  ASSERT_EQ(json.at("count"), 1) << arg;
  const nlohmann::json& box = json.at("proxies").at(0);
  EXPECT_EQ(box.at("kind"), "box");
  EXPECT_NEAR(box.at("centre")[0].get<double>(), 1.0, 0.01);
  EXPECT_NEAR(box.at("centre")[1].get<double>(), 2.0, 0.01);
  EXPECT_NEAR(box.at("size")[2].get<double>(), 0.6, 0.01);
  EXPECT_TRUE(HasPrefix(logs, "proxies: 1 proxies (1 boxes, 0 walls)"));

  options.proxies = "off";
  fs::remove(options.output);
  logs.clear();
  RunReporter off_reporter(sink, PipelineStages(options));
  RunPipeline(options, &off_reporter);
  args = Lines(dir / "args");
  EXPECT_TRUE(HasPrefix(args, "--proxies=off"));
  EXPECT_FALSE(HasPrefix(args, "--proxies-json"));
  EXPECT_FALSE(HasPrefix(logs, "proxies:"));

  // Not a track file (gt.json): nothing here, batch.py says why.
  options.proxies = "auto";
  EXPECT_TRUE(WithProxies(options, kSample + "/gt.json", &reporter)
                  .proxies_json.empty());
  fs::remove(track);
  fs::remove_all(dir);
}

TEST(PipelineOptions, ProxiesMustBeAutoOrOff) {
  PipelineOptions options;
  options.video = kSample + "/video.mp4";
  options.product = kSample + "/product.glb";
  options.output = "/tmp/vanelia_proxy_stage_out.mp4";
  options.proxies = "on";
  try {
    options.Check();
    ADD_FAILURE() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--proxies 'on': must be auto or off"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace vanelia
