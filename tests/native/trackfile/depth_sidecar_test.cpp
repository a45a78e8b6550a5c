// The depth sidecar of a track file (depth_sidecar.hpp): written with the
// track, named by its `depth` object, read back exactly; the committed
// gt-derived sidecar of tests/data/clips/slider (written by numpy: '<f2'
// depth, '|u1' confidence) read; bad input named.
#include "vanelia/trackfile/depth_sidecar.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vanelia {
namespace {

using ::testing::HasSubstr;

std::string TempDir(const std::string& name) {
  const auto dir =
      std::filesystem::path(VANELIA_BINARY_DIR) / "test_tmp" / "depth" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

TrackFile SmallTrack() {
  TrackFile track;
  track.source = {"clip.mp4", "", 10};
  track.width = 64;
  track.height = 36;
  track.tracker = {"must3r", "1", nlohmann::ordered_json::object()};
  for (int64_t i = 0; i < 4; ++i) {
    TrackedFrame f;
    f.index = 2 * i;
    f.timestamp_s = 0.1 * static_cast<double>(i);
    f.cam_from_world.translation = Eigen::Vector3d(0.1 * i, 0.0, 1.0);
    f.intrinsics = {50.0, 50.0, 31.5, 17.5, 64, 36};
    track.frames.push_back(f);
  }
  track.summary.registered = 4;
  track.summary.total = 4;
  return track;
}

DepthMaps SmallMaps() {
  DepthMaps maps;
  maps.width = 8;
  maps.height = 5;
  for (int64_t k = 0; k < 3; ++k) {
    maps.frame_index.push_back(2 * k);
    maps.intrinsics.emplace_back(6.25, 6.25, 4.0, 2.5);
    for (int64_t p = 0; p < maps.Pixels(); ++p) {
      maps.depth.push_back(1.0f + 0.01f * static_cast<float>(p + 40 * k));
      maps.confidence.push_back(static_cast<uint8_t>((p * 7 + k) % 256));
    }
  }
  return maps;
}

TEST(DepthSidecar, WrittenWithTheTrackAndReadBackExactly) {
  const std::string dir = TempDir("roundtrip");
  TrackFile track = SmallTrack();
  const DepthMaps maps = SmallMaps();
  track.depth_maps = std::make_shared<const DepthMaps>(maps);
  const auto doc = WriteTrackFile(dir + "/clip.track.json", track, false);
  EXPECT_EQ(doc["depth"]["path"], "clip.track.depth");
  const TrackFile read = ReadTrackFile(dir + "/clip.track.json");
  ASSERT_TRUE(read.depth.has_value());
  EXPECT_EQ(read.depth->path, "clip.track.depth");
  EXPECT_EQ(read.depth->width, 8);
  EXPECT_EQ(read.depth->height, 5);
  EXPECT_EQ(read.depth->count, 3);
  EXPECT_EQ(std::filesystem::path(read.depth->folder),
            std::filesystem::path(dir) / "clip.track.depth");
  const DepthMaps back = ReadDepthSidecar(read.depth->folder);
  EXPECT_EQ(back.frame_index, maps.frame_index);
  EXPECT_EQ(back.depth, maps.depth);
  EXPECT_EQ(back.confidence, maps.confidence);
  ASSERT_EQ(back.intrinsics.size(), 3u);
  EXPECT_EQ(back.intrinsics[2], maps.intrinsics[2]);

  // Written elsewhere, the read track names the same sidecar (absolute).
  const std::string other = TempDir("elsewhere") + "/aligned.json";
  const auto moved = WriteTrackFile(other, read, false);
  EXPECT_EQ(std::filesystem::path(moved["depth"]["path"].get<std::string>()),
            std::filesystem::path(read.depth->folder));
  EXPECT_EQ(ReadTrackFile(other).depth->folder, read.depth->folder);
}

TEST(DepthSidecar, ReadsTheCommittedNumpySidecar) {
  const DepthMaps maps = ReadDepthSidecar(std::string(VANELIA_SOURCE_DIR) +
                                          "/tests/data/clips/slider/depth");
  EXPECT_EQ(maps.Count(), 12);
  EXPECT_EQ(maps.width, 80);
  EXPECT_EQ(maps.height, 45);
  EXPECT_NEAR(maps.intrinsics[0][0], 311.111 / 4.0, 1e-3);
  EXPECT_NEAR(maps.intrinsics[0][2], 39.5, 1e-9);
  // The floor below the centre of frame 0 is 2.4355 m deep (planar, from
  // the gt camera); float16 keeps 3 digits.
  EXPECT_NEAR(maps.depth[44 * 80 + 40], 2.4352, 2e-3);
  EXPECT_EQ(maps.confidence[44 * 80 + 40], 255);
}

TEST(DepthSidecar, Badarg) {
  TrackFile track = SmallTrack();
  DepthMaps maps = SmallMaps();
  maps.frame_index[2] = 0;
  track.depth_maps = std::make_shared<const DepthMaps>(maps);
  const std::string dir = TempDir("bad");
  EXPECT_THAT([&] { WriteTrackFile(dir + "/t.json", track, false); },
              ::testing::ThrowsMessage<InputError>(
                  HasSubstr("DepthMaps::frame_index: must ascend")));
  EXPECT_THAT([&] { ReadDepthSidecar(dir + "/missing"); },
              ::testing::ThrowsMessage<InputError>(
                  HasSubstr("missing/frame_index.npy': missing")));
  track.depth_maps = nullptr;
  track.depth = TrackDepth{"t.depth", "", 8, 5, 3};
  auto doc = TrackFileToJson(track);
  doc["depth"]["format"] = "exr";
  EXPECT_THAT([&] { ValidateTrackFileJson(doc, "t.json"); },
              ::testing::ThrowsMessage<InputError>(
                  HasSubstr("track 't.json': depth.format: must be \"npy\"")));
  doc["depth"]["format"] = "npy";
  doc["depth"]["count"] = 5;
  EXPECT_THAT([&] { ValidateTrackFileJson(doc, "t.json"); },
              ::testing::ThrowsMessage<InputError>(
                  HasSubstr("depth.count: must be <= the number of frames")));
}

}  // namespace
}  // namespace vanelia
