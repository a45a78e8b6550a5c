#include "vanelia/core/error.hpp"
#include "vanelia/trackfile/colmap_import.hpp"
#include "vanelia/trackfile/conventions.hpp"
#include "vanelia/trackfile/gt_import.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vanelia {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
namespace fs = std::filesystem;

std::string TempDir(const std::string& name) {
  const fs::path dir =
      fs::path(VANELIA_BINARY_DIR) / "test_tmp" / "track" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

TEST(GroundTruthImport, OrbitIsInBlenderWorldWithItsPlane) {
  const std::string gt =
      std::string(VANELIA_SOURCE_DIR) + "/tests/data/footage/orbit/gt.json";
  const TrackFile track = ImportGroundTruth(gt);
  EXPECT_EQ(track.world, TrackWorld::kBlender);
  EXPECT_EQ(track.width, 640);
  EXPECT_EQ(track.height, 360);
  EXPECT_EQ(track.fps.num, 24);
  EXPECT_EQ(track.fps.den, 1);
  ASSERT_EQ(track.frames.size(), 96u);
  EXPECT_EQ(track.source.frame_count, 96);
  // The video next to gt.json is hashed (the sha256 of shared/footage/orbit).
  EXPECT_EQ(track.source.sha256,
            "aed9139ad4d788ebcb50027bfd2ba0e2e18b97b44c408152e251053106eb85f5");
  ASSERT_TRUE(track.ground_plane.has_value());
  EXPECT_EQ(track.ground_plane->normal, Eigen::Vector3d::UnitZ());
  EXPECT_EQ(track.ground_plane->method, GroundPlaneMethod::kManual);
  EXPECT_EQ(track.blender_from_track.ToMatrix4(), Eigen::Matrix4d::Identity());
  // README check: orbit frame 60 looks at the world origin, which projects
  // onto the principal point (319.5, 179.5).
  const TrackedFrame& f60 = track.frames[60];
  EXPECT_EQ(f60.index, 60);
  const Eigen::Vector2d p =
      f60.intrinsics.Project(f60.cam_from_world * Eigen::Vector3d::Zero());
  EXPECT_NEAR(p.x(), 319.5, 1e-4);
  EXPECT_NEAR(p.y(), 179.5, 1e-4);
  // Camera 1.6 m above the floor.
  const Eigen::Vector3d centre = f60.cam_from_world.Inverse().translation;
  EXPECT_NEAR(centre.z(), 1.6, 1e-6);
  // The written file reads back.
  const TrackFile back = ReadTrackFileString(WriteTrackFileString(track), "t");
  EXPECT_EQ(back.frames.size(), 96u);
}

TEST(GroundTruthImport, Badarg) {
  EXPECT_THAT([] { ImportGroundTruthString("{\"format\": \"x\"}", "g.json"); },
              ThrowsMessage<InputError>(HasSubstr("gt 'g.json': format")));
  EXPECT_THAT([] { ImportGroundTruth("/nonexistent/gt.json"); },
              ThrowsMessage<InputError>(HasSubstr("/nonexistent/gt.json")));
  const std::string bad_k =
      R"({"format": "vanelia-gt-track/1", "width": 640, "height": 360, "fps": 24,
          "num_frames": 2, "frames": [{"index": 0, "c2w_blender":
          [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]], "K_opencv": [[1,0],[0,1]]}]})";
  EXPECT_THAT(
      [&] { ImportGroundTruthString(bad_k, "g.json"); },
      ThrowsMessage<InputError>(HasSubstr("frames[0].K_opencv: must be 3x3")));
}

TEST(GroundTruthImport, PlaneNormalPointsTowardsTheCameras) {
  // A camera 2 m above the floor; the gt gives the floor normal pointing down.
  const std::string gt =
      R"({"format": "vanelia-gt-track/1", "width": 64, "height": 48, "fps": 24,
          "num_frames": 1, "ground_plane": {"normal": [0, 0, -2], "offset": 0.5},
          "frames": [{"index": 0, "c2w_blender":
          [[1,0,0,0],[0,1,0,0],[0,0,1,2],[0,0,0,1]],
          "K_opencv": [[50,0,31.5],[0,50,23.5],[0,0,1]]}]})";
  const TrackFile track = ImportGroundTruthString(gt, "g.json");
  ASSERT_TRUE(track.ground_plane.has_value());
  EXPECT_EQ(track.ground_plane->normal, Eigen::Vector3d(0.0, 0.0, 1.0));
  EXPECT_EQ(track.ground_plane->offset, -0.25);
  EXPECT_EQ(track.frames[0].intrinsics.cx, 31.5);
}

TEST(GroundTruthImport, RationalFromFps) {
  EXPECT_EQ(RationalFromFps(24.0).num, 24);
  EXPECT_EQ(RationalFromFps(29.97002997).num, 30000);
  EXPECT_EQ(RationalFromFps(29.97002997).den, 1001);
  EXPECT_EQ(RationalFromFps(12.5).num, 12500);
  EXPECT_EQ(RationalFromFps(12.5).den, 1000);
}

// A small synthetic COLMAP reconstruction, written by the test in COLMAP's
// text and binary formats (colmap/scene/reconstruction_io.cc).
struct SyntheticModel {
  struct Camera {
    uint32_t id;
    int model_id;
    const char* model_name;
    uint64_t width;
    uint64_t height;
    std::vector<double> params;
  };

  struct Image {
    uint32_t id;
    Rigid3d cam_from_world;
    uint32_t camera_id;
    std::string name;
  };

  struct Point {
    uint64_t id;
    Eigen::Vector3d xyz;
    uint8_t rgb[3];
    double error;
    std::vector<uint32_t> image_ids;
  };

  std::vector<Camera> cameras;
  std::vector<Image> images;
  std::vector<Point> points;
};

SyntheticModel MakeModel(int num_points, int model_id) {
  SyntheticModel model;
  if (model_id == 3) {
    model.cameras.push_back(
        {1, 3, "RADIAL", 640, 360, {500.0, 330.0, 170.0, -0.02, 0.003}});
  } else {
    model.cameras.push_back(
        {1,
         4,
         "OPENCV",
         640,
         360,
         {500.0, 498.0, 330.0, 170.0, -0.02, 0.003, 0.0, 0.0}});
  }
  std::mt19937_64 rng(3);
  std::normal_distribution<double> n(0.0, 0.3);
  // Images named out of order; frame numbers 11, 3, 7 (first_number 1 -> 10, 2,
  // 6).
  const int numbers[] = {11, 3, 7};
  for (int i = 0; i < 3; ++i) {
    const Eigen::Quaterniond q(1.0, n(rng), n(rng), n(rng));
    char name[64];
    std::snprintf(name, sizeof(name), "frames/frame_%06d.png", numbers[i]);
    model.images.push_back(
        {static_cast<uint32_t>(i + 1),
         Rigid3d(q.normalized(), Eigen::Vector3d(n(rng), n(rng), 4.0)),
         1,
         name});
  }
  for (int i = 0; i < num_points; ++i) {
    SyntheticModel::Point p{
        static_cast<uint64_t>(num_points - i),  // ids descending
        Eigen::Vector3d(n(rng), n(rng), n(rng)),
        {static_cast<uint8_t>(i % 256), 20, 30},
        0.5,
        {1, 2}};
    model.points.push_back(p);
  }
  return model;
}

void WriteText(const SyntheticModel& m, const std::string& dir) {
  std::ofstream cams(dir + "/cameras.txt");
  cams.precision(17);
  cams << "# Camera list with one line of data per camera:\n";
  for (const auto& c : m.cameras) {
    cams << c.id << " " << c.model_name << " " << c.width << " " << c.height;
    for (double p : c.params) cams << " " << p;
    cams << "\n";
  }
  std::ofstream imgs(dir + "/images.txt");
  imgs.precision(17);
  imgs << "# Image list with two lines of data per image:\n";
  for (const auto& im : m.images) {
    const auto& q = im.cam_from_world.rotation;
    const auto& t = im.cam_from_world.translation;
    imgs << im.id << " " << q.w() << " " << q.x() << " " << q.y() << " "
         << q.z() << " " << t.x() << " " << t.y() << " " << t.z() << " "
         << im.camera_id << " " << im.name << "\n";
    imgs << "100.5 200.5 -1 10.0 20.0 -1\n";
  }
  std::ofstream pts(dir + "/points3D.txt");
  pts.precision(17);
  for (const auto& p : m.points) {
    pts << p.id << " " << p.xyz.x() << " " << p.xyz.y() << " " << p.xyz.z()
        << " " << int{p.rgb[0]} << " " << int{p.rgb[1]} << " " << int{p.rgb[2]}
        << " " << p.error;
    for (uint32_t id : p.image_ids) pts << " " << id << " 0";
    pts << "\n";
  }
}

template <typename T>
void Put(std::ofstream& out, T value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof(T));
}

void WriteBinary(const SyntheticModel& m, const std::string& dir) {
  std::ofstream cams(dir + "/cameras.bin", std::ios::binary);
  Put<uint64_t>(cams, m.cameras.size());
  for (const auto& c : m.cameras) {
    Put<uint32_t>(cams, c.id);
    Put<int32_t>(cams, c.model_id);
    Put<uint64_t>(cams, c.width);
    Put<uint64_t>(cams, c.height);
    for (double p : c.params) Put<double>(cams, p);
  }
  std::ofstream imgs(dir + "/images.bin", std::ios::binary);
  Put<uint64_t>(imgs, m.images.size());
  for (const auto& im : m.images) {
    Put<uint32_t>(imgs, im.id);
    const auto& q = im.cam_from_world.rotation;
    for (double v : {q.w(), q.x(), q.y(), q.z()}) Put<double>(imgs, v);
    for (int j = 0; j < 3; ++j)
      Put<double>(imgs, im.cam_from_world.translation(j));
    Put<uint32_t>(imgs, im.camera_id);
    imgs.write(im.name.c_str(),
               static_cast<std::streamsize>(im.name.size() + 1));
    Put<uint64_t>(imgs, 2);
    for (int k = 0; k < 2; ++k) {
      Put<double>(imgs, 100.5);
      Put<double>(imgs, 200.5);
      Put<int64_t>(imgs, -1);
    }
  }
  std::ofstream pts(dir + "/points3D.bin", std::ios::binary);
  Put<uint64_t>(pts, m.points.size());
  for (const auto& p : m.points) {
    Put<uint64_t>(pts, p.id);
    for (int j = 0; j < 3; ++j) Put<double>(pts, p.xyz(j));
    for (uint8_t c : p.rgb) Put<uint8_t>(pts, c);
    Put<double>(pts, p.error);
    Put<uint64_t>(pts, p.image_ids.size());
    for (uint32_t id : p.image_ids) {
      Put<uint32_t>(pts, id);
      Put<uint32_t>(pts, 0);
    }
  }
}

void ExpectMatchesModel(const TrackFile& track,
                        const SyntheticModel& m,
                        bool opencv) {
  EXPECT_EQ(track.world, TrackWorld::kTrack);
  EXPECT_EQ(track.width, 640);
  EXPECT_EQ(track.height, 360);
  ASSERT_EQ(track.frames.size(), 3u);
  // Names 3, 7, 11 with first_number 1 -> indices 2, 6, 10, ascending.
  EXPECT_EQ(track.frames[0].index, 2);
  EXPECT_EQ(track.frames[1].index, 6);
  EXPECT_EQ(track.frames[2].index, 10);
  EXPECT_EQ(track.source.frame_count, 11);
  EXPECT_DOUBLE_EQ(track.frames[1].timestamp_s, 6.0 / 24.0);
  // frames[0] (number 3) is image 2.
  EXPECT_TRUE(track.frames[0].cam_from_world.ToMatrix().isApprox(
      m.images[1].cam_from_world.ToMatrix(), 1e-15));
  const Intrinsics& k = track.frames[0].intrinsics;
  EXPECT_EQ(k.fx, 500.0);
  EXPECT_EQ(k.fy, opencv ? 498.0 : 500.0);
  EXPECT_EQ(k.cx, 329.5);  // COLMAP's pixel centres are at +0.5
  EXPECT_EQ(k.cy, 169.5);
  EXPECT_EQ(track.lens.model, LensDistortion::Model::kRadialK1K2);
  EXPECT_EQ(track.lens.k1, -0.02);
  EXPECT_EQ(track.lens.k2, 0.003);
  ASSERT_TRUE(track.frames[0].reproj_err_px.has_value());
  EXPECT_DOUBLE_EQ(*track.frames[0].reproj_err_px, 0.5);
  // frames[1] (number 7) is image 3, which sees no point.
  EXPECT_FALSE(track.frames[1].reproj_err_px.has_value());
}

class ColmapImport : public ::testing::TestWithParam<bool> {};

TEST_P(ColmapImport, TextAndBinaryModelsImport) {
  const bool binary = GetParam();
  const std::string dir = TempDir(binary ? "colmap_bin" : "colmap_txt");
  const SyntheticModel model = MakeModel(25, binary ? 4 : 3);
  binary ? WriteBinary(model, dir) : WriteText(model, dir);
  ASSERT_TRUE(IsColmapModel(dir));
  ColmapImportOptions options;
  options.first_number = 1;
  const TrackFile track = ImportColmapModel(dir, options);
  ExpectMatchesModel(track, model, binary);
  ASSERT_TRUE(track.points.has_value());
  ASSERT_EQ(track.points->Size(), 25);
  // Sorted by POINT3D_ID: id 1 is the last point written.
  EXPECT_EQ(track.points->xyz.col(0), model.points.back().xyz.cast<float>());
  EXPECT_FLOAT_EQ(track.points->confidence(0), 1.0f / 1.5f);
  // And the track file round-trips.
  const TrackFile back = ReadTrackFileString(WriteTrackFileString(track), "t");
  EXPECT_EQ(back.points->Size(), 25);
}

INSTANTIATE_TEST_SUITE_P(TextAndBinary,
                         ColmapImport,
                         ::testing::Values(false, true));

TEST(ColmapImportPoints, SubsampledDeterministicallyToMaxPoints) {
  const std::string dir = TempDir("colmap_many");
  const SyntheticModel model = MakeModel(1001, 3);
  WriteBinary(model, dir);
  ColmapImportOptions options;
  options.first_number = 1;
  options.max_points = 100;
  const TrackFile a = ImportColmapModel(dir, options);
  const TrackFile b = ImportColmapModel(dir, options);
  ASSERT_TRUE(a.points.has_value());
  EXPECT_LE(a.points->Size(), 100);
  EXPECT_GE(a.points->Size(), 90);
  EXPECT_EQ(a.points->xyz, b.points->xyz);
}

TEST(ColmapImportBadarg, NamesTheImageFileAndRule) {
  EXPECT_THAT([] { ImageNumberFromName("dir/frame.png"); },
              ThrowsMessage<InputError>(HasSubstr("'dir/frame.png'")));
  EXPECT_EQ(ImageNumberFromName("a/img42.jpg"), 42);
  EXPECT_EQ(ImageNumberFromName("frame_000123.png"), 123);

  const std::string dir = TempDir("colmap_bad");
  SyntheticModel model = MakeModel(3, 3);
  model.images[2].name = "frame_000003.jpg";  // same number as images[1]
  WriteText(model, dir);
  ColmapImportOptions options;
  EXPECT_THAT(
      [&] { ImportColmapModel(dir, options); },
      ThrowsMessage<InputError>(HasSubstr("two images map to frame index 3")));

  model = MakeModel(3, 3);
  model.cameras[0] = {
      1, 5, "OPENCV_FISHEYE", 640, 360, {1, 1, 1, 1, 0, 0, 0, 0}};
  WriteBinary(model, TempDir("colmap_fisheye"));
  EXPECT_THAT(
      [&] {
        ImportColmapModel(TempDir("colmap_fisheye") + "/../colmap_fisheye",
                          options);
      },
      ThrowsMessage<InputError>(HasSubstr("not a folder with cameras")));
  const std::string fisheye = TempDir("colmap_fisheye2");
  WriteBinary(model, fisheye);
  EXPECT_THAT([&] { ImportColmapModel(fisheye, options); },
              ThrowsMessage<InputError>(HasSubstr("OPENCV_FISHEYE")));

  const std::string truncated = TempDir("colmap_truncated");
  WriteBinary(MakeModel(3, 3), truncated);
  fs::resize_file(truncated + "/images.bin", 50);
  EXPECT_THAT([&] { ImportColmapModel(truncated, options); },
              ThrowsMessage<InputError>(HasSubstr("truncated")));

  options.max_points = 200000;
  EXPECT_THAT(
      [&] { options.Check(); },
      ThrowsMessage<InputError>(HasSubstr("ColmapImportOptions::max_points")));
}

}  // namespace
}  // namespace vanelia
