#include "vanelia/pipeline/product_placement.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/trackfile/gt_import.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include <unistd.h>

namespace vanelia {
namespace {

namespace fs = std::filesystem;

const std::string kSample =
    std::string(VANELIA_SOURCE_DIR) + "/tests/data/sample";

std::string TempPath(const std::string& name) {
  return (fs::temp_directory_path() /
          ("vanelia_placement_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// tests/data/sample/product.glb: a 30 cm bottle, 8.1 cm wide (make_product.py).
TEST(ReadProductBoxSize, SampleBottle) {
  const Eigen::Vector3d size = ReadProductBoxSize(kSample + "/product.glb");
  EXPECT_NEAR(size.x(), 0.081, 1e-6);
  EXPECT_NEAR(size.y(), 0.081, 1e-6);
  EXPECT_NEAR(size.z(), 0.300, 1e-6);
}

// Node transforms apply, and glTF +Z (the front) becomes Blender's depth.
TEST(ReadProductBoxSize, NodeTransformsAndAxes) {
  const std::string path = TempPath("box.gltf");
  WriteFileAtomic(path,
                  R"({"asset": {"version": "2.0"}, "scene": 0,
  "scenes": [{"nodes": [1]}],
  "nodes": [{"mesh": 0, "scale": [2, 1, 1]},
            {"children": [0], "translation": [5, 5, 5]}],
  "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
  "accessors": [{"type": "VEC3", "componentType": 5126, "count": 8,
                 "min": [-0.1, 0, -0.3], "max": [0.1, 0.5, 0.3]}]})",
                  true);
  const Eigen::Vector3d size = ReadProductBoxSize(path);
  EXPECT_NEAR(size.x(), 0.4, 1e-12);  // glTF x, scaled by 2
  EXPECT_NEAR(size.y(), 0.6, 1e-12);  // glTF z
  EXPECT_NEAR(size.z(), 0.5, 1e-12);  // glTF y (up)
  fs::remove(path);
}

TEST(ReadProductBoxSize, Badarg) {
  const std::string path = TempPath("nomesh.gltf");
  WriteFileAtomic(path, R"({"asset": {"version": "2.0"}, "nodes": []})", true);
  try {
    ReadProductBoxSize(path);
    ADD_FAILURE() << "no exception";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no mesh"), std::string::npos)
        << e.what();
  }
  WriteFileAtomic(path, "not json", true);
  EXPECT_THROW(ReadProductBoxSize(path), InputError);
  fs::remove(path);
}

// vanelia run's placement of a given track: automatic without --location,
// the track scaled to --camera-height first as batch.py does.
TEST(PlaceRunProduct, GivenTrackAutomaticAndScaled) {
  const std::string track = TempPath("track.json");
  WriteTrackFile(track, ImportGroundTruth(kSample + "/gt.json"), true);
  PipelineOptions options;
  options.product = kSample + "/product.glb";
  options.track = track;
  const auto automatic = PlaceRunProduct(options, track);
  ASSERT_TRUE(automatic.has_value());
  EXPECT_EQ(automatic->report.reason, "");
  EXPECT_GE(automatic->report.FullyVisibleFraction(), 0.95);
  options.camera_height_m = 3.0;  // the sample's first camera is at 1.5 m
  const auto doubled = PlaceRunProduct(options, track);
  ASSERT_TRUE(doubled.has_value());
  // Twice the world, the same bottle: it looks about half as tall where it
  // stood before.
  options.location_m = {
      2.0 * automatic->location_m.x(), 2.0 * automatic->location_m.y(), 0.0};
  const auto given = PlaceRunProduct(options, track);
  ASSERT_TRUE(given.has_value());
  EXPECT_NEAR(given->report.height_px_median,
              0.5 * automatic->report.height_px_median,
              0.1 * automatic->report.height_px_median);
  fs::remove(track);
}

}  // namespace
}  // namespace vanelia
