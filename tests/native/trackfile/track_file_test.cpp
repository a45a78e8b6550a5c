#include "vanelia/trackfile/track_file.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/trackfile/conventions.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vanelia {
namespace {

using Json = nlohmann::ordered_json;
using ::testing::HasSubstr;

std::string SourcePath(const std::string& relative) {
  return std::string(VANELIA_SOURCE_DIR) + "/" + relative;
}

std::string TempPath(const std::string& name) {
  const auto dir =
      std::filesystem::path(VANELIA_BINARY_DIR) / "test_tmp" / "track";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

Rigid3d RandomPose(std::mt19937_64* rng) {
  std::normal_distribution<double> n(0.0, 1.0);
  const Eigen::Quaterniond q(n(*rng), n(*rng), n(*rng), n(*rng));
  return Rigid3d(q.normalized(), Eigen::Vector3d(n(*rng), n(*rng), n(*rng)));
}

// A valid track with random poses, intrinsics and points.
TrackFile RandomTrack(uint64_t seed, int num_frames, int num_points) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  TrackFile track;
  track.source = {"clip.mp4", std::string(64, 'a'), 200};
  track.width = 640;
  track.height = 360;
  track.fps = {30000, 1001};
  track.tracker.name = "test";
  track.tracker.version = "1";
  track.tracker.options = {{"every", 2}, {"name", "x"}};
  track.world = TrackWorld::kBlender;
  track.blender_from_track =
      Sim3d(0.37, RandomPose(&rng).rotation, Eigen::Vector3d(1.0, -2.0, 0.5));
  track.scale = {ScaleMethod::kCameraHeight, 1.6};
  track.ground_plane =
      TrackGroundPlane{Eigen::Vector3d(0.1, 0.2, 1.0).normalized(),
                       -0.3,
                       GroundPlaneMethod::kRansac,
                       120,
                       0.01,
                       0.9};
  track.lens = {LensDistortion::Model::kRadialK1K2, -0.05, 0.001};
  for (int i = 0; i < num_frames; ++i) {
    TrackedFrame f;
    f.index = 3 * i + 1;
    f.timestamp_s = f.index * 1001.0 / 30000.0;
    f.cam_from_world = RandomPose(&rng);
    f.intrinsics = {400 + 200 * u(rng),
                    400 + 200 * u(rng),
                    300 + 40 * u(rng),
                    170 + 20 * u(rng),
                    640,
                    360};
    f.confidence = u(rng);
    if (i % 2 == 0) f.reproj_err_px = u(rng);
    track.frames.push_back(f);
  }
  track.summary = {num_frames, 200, 0.5, 480.0, {"a warning", "ünïcode"}};
  PointCloud cloud;
  cloud.xyz = Eigen::Matrix3Xf::Random(3, num_points);
  cloud.rgb.resize(3, num_points);
  cloud.confidence.resize(num_points);
  for (int i = 0; i < num_points; ++i) {
    for (int j = 0; j < 3; ++j)
      cloud.rgb(j, i) = static_cast<uint8_t>(rng() % 256);
    cloud.confidence(i) = static_cast<float>(u(rng));
  }
  track.points = cloud;
  return track;
}

uint64_t Bits(double x) {
  uint64_t b = 0;
  std::memcpy(&b, &x, sizeof(b));
  return b;
}

TEST(TrackFile, WriteReadRoundTripKeepsEveryField) {
  const TrackFile track = RandomTrack(1, 12, 50);
  const TrackFile back = ReadTrackFileString(WriteTrackFileString(track), "t");
  EXPECT_EQ(back.source.path, track.source.path);
  EXPECT_EQ(back.source.sha256, track.source.sha256);
  EXPECT_EQ(back.source.frame_count, 200);
  EXPECT_EQ(back.width, 640);
  EXPECT_EQ(back.fps.num, 30000);
  EXPECT_EQ(back.fps.den, 1001);
  EXPECT_EQ(back.tracker.options, track.tracker.options);
  EXPECT_EQ(back.world, TrackWorld::kBlender);
  EXPECT_NEAR(back.blender_from_track.scale, 0.37, 1e-14);
  EXPECT_TRUE(back.blender_from_track.ToMatrix4().isApprox(
      track.blender_from_track.ToMatrix4(), 1e-13));
  EXPECT_EQ(back.scale.method, ScaleMethod::kCameraHeight);
  ASSERT_TRUE(back.ground_plane.has_value());
  EXPECT_EQ(back.ground_plane->normal, track.ground_plane->normal);
  EXPECT_EQ(back.lens.k1, -0.05);
  ASSERT_EQ(back.frames.size(), track.frames.size());
  for (size_t i = 0; i < track.frames.size(); ++i) {
    const TrackedFrame& a = track.frames[i];
    const TrackedFrame& b = back.frames[i];
    EXPECT_EQ(b.index, a.index);
    EXPECT_EQ(Bits(b.timestamp_s), Bits(a.timestamp_s));
    EXPECT_EQ(b.intrinsics.K(), a.intrinsics.K());
    EXPECT_EQ(b.intrinsics.width, 640);
    EXPECT_EQ(b.confidence, a.confidence);
    EXPECT_EQ(b.reproj_err_px, a.reproj_err_px);
    EXPECT_TRUE(b.cam_from_world.ToMatrix().isApprox(
        a.cam_from_world.ToMatrix(), 1e-14));
  }
  EXPECT_EQ(back.summary.warnings, track.summary.warnings);
  ASSERT_TRUE(back.points.has_value());
  EXPECT_EQ(back.points->xyz, track.points->xyz);
  EXPECT_EQ(back.points->rgb, track.points->rgb);
  EXPECT_EQ(back.points->confidence, track.points->confidence);
}

TEST(TrackFile, RandomDoublesRoundTripBitForBit) {
  std::mt19937_64 rng(7);
  Json doc = TrackFileToJson(RandomTrack(2, 3, 0));
  std::vector<double> values;
  for (int i = 0; i < 2000; ++i) {
    // Random bit patterns of finite doubles in [0, 1e300): every exponent.
    double x = 0.0;
    do {
      const uint64_t b = rng() & 0x7fffffffffffffffULL;
      std::memcpy(&x, &b, sizeof(x));
    } while (!std::isfinite(x) || x > 1e300);
    values.push_back(x);
  }
  doc["tracker"]["options"]["values"] = values;
  for (Json& frame : doc["frames"]) {
    frame["timestamp_s"] = std::ldexp(static_cast<double>(rng() >> 11), -40);
  }
  const std::string text = FormatTrackFileJson(doc);
  const Json back = ParseTrackFileJson(text, "t");
  const auto& read = back["tracker"]["options"]["values"];
  ASSERT_EQ(read.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(Bits(read[i].get<double>()), Bits(values[i])) << i;
  }
  EXPECT_EQ(back, doc);
  EXPECT_EQ(FormatTrackFileJson(back), text);
}

TEST(TrackFile, FramesAreWrittenThroughTheOneConversion) {
  const TrackFile track = RandomTrack(3, 4, 0);
  const Json doc = TrackFileToJson(track);
  for (size_t i = 0; i < track.frames.size(); ++i) {
    const Eigen::Matrix4d c2w =
        BlenderC2wFromCamFromWorld(track.frames[i].cam_from_world);
    for (int r = 0; r < 4; ++r) {
      for (int c = 0; c < 4; ++c) {
        EXPECT_EQ(doc["frames"][i]["c2w_blender"][r][c].get<double>(),
                  c2w(r, c));
      }
    }
    EXPECT_EQ(doc["frames"][i]["focal_px"].get<double>(),
              track.frames[i].intrinsics.fx);
  }
}

TEST(TrackFile, ExampleAndSchemaExampleRead) {
  const TrackFile track = ReadTrackFile(SourcePath("docs/track_example.json"));
  EXPECT_EQ(track.frames.size(), 4u);
  EXPECT_EQ(track.world, TrackWorld::kBlender);
  ASSERT_TRUE(track.ground_plane.has_value());
  EXPECT_EQ(track.ground_plane->method, GroundPlaneMethod::kRansac);
  EXPECT_EQ(track.lens.model, LensDistortion::Model::kRadialK1K2);
  EXPECT_NEAR(track.blender_from_track.scale, 0.5, 1e-15);
  ASSERT_TRUE(track.points.has_value());
  EXPECT_EQ(track.points->Size(), 4);
}

// The shared table of invalid tracks: every reader gives these messages.
TEST(TrackFile, InvalidTracksAreRejectedWithTheSharedMessages) {
  const Json example =
      Json::parse(ReadFile(SourcePath("docs/track_example.json")));
  const Json table =
      Json::parse(ReadFile(SourcePath("tests/data/track/invalid_tracks.json")));
  ASSERT_GT(table["cases"].size(), 40u);
  for (const Json& c : table["cases"]) {
    Json doc = example;
    Json* node = &doc;
    const Json& path = c["path"];
    for (size_t i = 0; i + 1 < path.size(); ++i) {
      node = path[i].is_string() ? &(*node)[path[i].get<std::string>()]
                                 : &(*node)[path[i].get<size_t>()];
    }
    const Json& last = path.back();
    if (c.value("delete", false)) {
      node->erase(last.get<std::string>());
    } else if (last.is_string()) {
      (*node)[last.get<std::string>()] = c["value"];
    } else {
      (*node)[last.get<size_t>()] = c["value"];
    }
    const std::string expected =
        "track 't.json': " + c["message"].get<std::string>();
    try {
      ReadTrackFileString(doc.dump(), "t.json");
      ADD_FAILURE() << "accepted: " << expected;
    } catch (const InputError& error) {
      EXPECT_EQ(std::string(error.what()), expected);
    }
  }
}

TEST(TrackFile, ReadBadarg) {
  EXPECT_THAT([] { ReadTrackFileString("{\"format\": ", "x.json"); },
              ::testing::ThrowsMessage<InputError>(
                  HasSubstr("track 'x.json': not valid JSON")));
  EXPECT_THAT([] { ReadTrackFileString("[1, 2]", "x.json"); },
              ::testing::ThrowsMessage<InputError>(
                  ::testing::StrEq("track 'x.json': must be a JSON object")));
  EXPECT_THAT(
      [] { ReadTrackFile("/nonexistent/t.json"); },
      ::testing::ThrowsMessage<InputError>(HasSubstr("/nonexistent/t.json")));
}

TEST(TrackFile, WriteBadargNamesTheKey) {
  TrackFile track = RandomTrack(4, 3, 0);
  std::swap(track.frames[0], track.frames[1]);
  EXPECT_THAT(
      [&] { WriteTrackFileString(track); },
      ::testing::ThrowsMessage<InputError>(HasSubstr("frames[1].index")));
  track = RandomTrack(4, 3, 0);
  track.summary.registered = 2;
  EXPECT_THAT(
      [&] { WriteTrackFileString(track); },
      ::testing::ThrowsMessage<InputError>(HasSubstr("summary.registered")));
  track = RandomTrack(4, 3, 0);
  track.frames[2].intrinsics.width = 1280;
  EXPECT_THAT(
      [&] { WriteTrackFileString(track); },
      ::testing::ThrowsMessage<InputError>(HasSubstr("frames[2].intrinsics")));
  track = RandomTrack(4, 3, 0);
  track.world = TrackWorld::kTrack;  // with a non-identity blender_from_track
  EXPECT_THAT(
      [&] { WriteTrackFileString(track); },
      ::testing::ThrowsMessage<InputError>(HasSubstr("blender_from_track")));
  track = RandomTrack(4, 3, 3);
  track.points->confidence.resize(2);
  EXPECT_THAT([&] { WriteTrackFileString(track); },
              ::testing::ThrowsMessage<InputError>(HasSubstr("points")));
}

TEST(TrackFile, WriteIsAtomicAndNeverOverwritesUnlessAsked) {
  const std::string path = TempPath("overwrite.json");
  std::filesystem::remove(path);
  const TrackFile track = RandomTrack(5, 2, 0);
  WriteTrackFile(path, track, false);
  EXPECT_EQ(ReadTrackFile(path).frames.size(), 2u);
  const TrackFile other = RandomTrack(6, 5, 0);
  EXPECT_THAT(
      [&] { WriteTrackFile(path, other, false); },
      ::testing::ThrowsMessage<InputError>(HasSubstr("already exists")));
  EXPECT_EQ(ReadTrackFile(path).frames.size(), 2u);
  WriteTrackFile(path, other, true);
  EXPECT_EQ(ReadTrackFile(path).frames.size(), 5u);
  for (const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::path(path).parent_path())) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos)
        << "left a temporary file: " << entry.path();
  }
}

}  // namespace
}  // namespace vanelia
