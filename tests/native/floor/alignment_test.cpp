#include "vanelia/floor/alignment.hpp"

#include "vanelia/core/error.hpp"

#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "floor/floor_fixture.hpp"

namespace vanelia {
namespace {

// blender_from_track composed with track_from_world must be a rigid motion
// about Z (floor stays z = 0, no tilt, unit scale when the camera height is
// the true one).
TEST(ComputeAlignment, RecoversMetricFloorWorld) {
  for (unsigned seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    testing::IndoorSceneOptions scene_options;
    scene_options.seed = seed;
    scene_options.noise_m = 0.0;
    const testing::IndoorScene scene = testing::MakeIndoorScene(scene_options);
    AlignmentOptions options;
    options.camera_height_m = scene.first_camera_height_m;
    const Alignment alignment =
        ComputeAlignment(scene.track, scene.points, options);
    ASSERT_TRUE(alignment.aligned);
    EXPECT_EQ(alignment.method, GroundPlaneMethod::kRansac);
    const Sim3d blender_from_world =
        alignment.blender_from_track * scene.track_from_world;
    EXPECT_NEAR(blender_from_world.scale, 1.0, 1e-6);
    const Eigen::Vector3d z =
        blender_from_world.rotation * Eigen::Vector3d::UnitZ();
    EXPECT_NEAR(z.z(), 1.0, 1e-9);
    EXPECT_NEAR(blender_from_world.translation.z(), 0.0, 1e-6);
    // First camera: height and heading along +Y.
    const Rigid3d cam = alignment.blender_from_track.TransformPose(
        scene.track.frames.front().cam_from_world);
    const Eigen::Vector3d centre = cam.Inverse().translation;
    EXPECT_NEAR(centre.z(), scene.first_camera_height_m, 1e-6);
    const Eigen::Vector3d forward =
        cam.rotation.conjugate() * Eigen::Vector3d::UnitZ();
    EXPECT_NEAR(forward.x(), 0.0, 1e-9);
    EXPECT_GT(forward.y(), 0.0);
    // The origin is where the first image centre looks: straight ahead.
    EXPECT_NEAR(centre.x(), 0.0, 1e-6);
    EXPECT_LT(centre.y(), 0.0);
  }
}

TEST(ComputeAlignment, DistanceScale) {
  testing::IndoorSceneOptions scene_options;
  scene_options.noise_m = 0.0;
  const testing::IndoorScene scene = testing::MakeIndoorScene(scene_options);
  AlignmentOptions options;
  options.scale = ScaleMethod::kDistance;
  // Two floor points 2 m apart in the true world.
  options.distance_a = scene.track_from_world * Eigen::Vector3d(0, 0, 0);
  options.distance_b = scene.track_from_world * Eigen::Vector3d(2, 0, 0);
  options.distance_m = 2.0;
  const Alignment alignment =
      ComputeAlignment(scene.track, scene.points, options);
  ASSERT_TRUE(alignment.aligned);
  EXPECT_NEAR(
      (alignment.blender_from_track * scene.track_from_world).scale, 1.0, 1e-9);
  EXPECT_EQ(alignment.scale_method, ScaleMethod::kDistance);
}

TEST(ComputeAlignment, ManualPlane) {
  const testing::IndoorScene scene =
      testing::MakeIndoorScene(testing::IndoorSceneOptions());
  AlignmentOptions options;
  // The table top given by hand: the cameras are above it too.
  options.manual_plane =
      Plane3d::FromPoints(scene.track_from_world * Eigen::Vector3d(0, 0, 0.6),
                          scene.track_from_world * Eigen::Vector3d(1, 0, 0.6),
                          scene.track_from_world * Eigen::Vector3d(0, 1, 0.6));
  ASSERT_TRUE(options.manual_plane.has_value());
  const Alignment alignment =
      ComputeAlignment(scene.track, scene.points, options);
  ASSERT_TRUE(alignment.aligned);
  EXPECT_EQ(alignment.method, GroundPlaneMethod::kManual);
  const Eigen::Vector3d table_point =
      alignment.blender_from_track *
      (scene.track_from_world * Eigen::Vector3d(0.3, 0.2, 0.6));
  EXPECT_NEAR(table_point.z(), 0.0, 1e-9);
}

TEST(ComputeAlignment, TripodFallsBackToLevelHorizon) {
  testing::IndoorSceneOptions scene_options;
  scene_options.tripod = true;
  const testing::IndoorScene scene = testing::MakeIndoorScene(scene_options);
  AlignmentOptions options;
  options.camera_height_m = 1.7;
  const Alignment alignment =
      ComputeAlignment(scene.track, scene.points, options);
  ASSERT_TRUE(alignment.aligned);
  EXPECT_EQ(alignment.method, GroundPlaneMethod::kHorizon);
  ASSERT_FALSE(alignment.warnings.empty());
  EXPECT_NE(alignment.warnings.front().find("tripod"), std::string::npos);
  const Rigid3d cam = alignment.blender_from_track.TransformPose(
      scene.track.frames.front().cam_from_world);
  EXPECT_NEAR(cam.Inverse().translation.z(), 1.7, 1e-9);
  // Level: the camera x axis stays horizontal in the Blender world.
  const Eigen::Vector3d x = cam.rotation.conjugate() * Eigen::Vector3d::UnitX();
  EXPECT_NEAR(x.z(), 0.0, 1e-6);
}

TEST(ComputeAlignment, NoFloorKeepsRawWorldWithWarning) {
  testing::IndoorScene scene =
      testing::MakeIndoorScene(testing::IndoorSceneOptions());
  scene.points.xyz.conservativeResize(3, 5);
  const Alignment alignment =
      ComputeAlignment(scene.track, scene.points, AlignmentOptions());
  EXPECT_FALSE(alignment.aligned);
  ASSERT_FALSE(alignment.warnings.empty());
  EXPECT_NE(alignment.warnings.back().find("no floor found"),
            std::string::npos);
}

TEST(ApplyAlignment, MovesFramesPointsAndPlane) {
  testing::IndoorSceneOptions scene_options;
  scene_options.noise_m = 0.0;
  const testing::IndoorScene scene = testing::MakeIndoorScene(scene_options);
  TrackFile file;
  file.width = 640;
  file.height = 360;
  file.frames = scene.track.frames;
  file.points = scene.points;
  AlignmentOptions options;
  options.camera_height_m = scene.first_camera_height_m;
  const Alignment alignment =
      ComputeAlignment(CameraTrackOf(file), *file.points, options);
  ASSERT_TRUE(alignment.aligned);
  ApplyAlignment(alignment, &file);
  EXPECT_EQ(file.world, TrackWorld::kBlender);
  ASSERT_TRUE(file.ground_plane.has_value());
  EXPECT_EQ(file.ground_plane->normal, Eigen::Vector3d::UnitZ());
  EXPECT_EQ(file.scale.method, ScaleMethod::kCameraHeight);
  // The floor points are now at z = 0.
  int floor_points = 0;
  for (size_t i = 0; i < scene.labels.size(); ++i) {
    if (scene.labels[i] != 0) continue;
    ++floor_points;
    EXPECT_NEAR(file.points->xyz(2, static_cast<Eigen::Index>(i)), 0.0F, 1e-4F);
  }
  EXPECT_GT(floor_points, 100);
  EXPECT_NEAR(file.frames.front().cam_from_world.Inverse().translation.z(),
              scene.first_camera_height_m,
              1e-9);
  // Re-aligning the aligned file changes nothing (idempotent).
  const Alignment again =
      ComputeAlignment(CameraTrackOf(file), *file.points, options);
  ASSERT_TRUE(again.aligned);
  EXPECT_NEAR(again.blender_from_track.scale, 1.0, 1e-6);
  EXPECT_LT(again.blender_from_track.translation.norm(), 1e-5);
}

TEST(AlignmentOptions, Badarg_NamesTheField) {
  AlignmentOptions options;
  options.camera_height_m = -1.0;
  try {
    options.Check();
    FAIL();
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("camera_height_m"),
              std::string::npos);
  }
  AlignmentOptions distance;
  distance.scale = ScaleMethod::kDistance;
  EXPECT_THROW(distance.Check(), InputError);  // identical points
}

}  // namespace
}  // namespace vanelia
