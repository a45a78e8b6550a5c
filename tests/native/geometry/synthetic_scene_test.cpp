// Sanity of the shared synthetic scene generator and matchers that other
// modules' tests rely on.
#include "testing/synthetic_scene.hpp"

#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/matchers.hpp"

namespace vanelia::testing {
namespace {

TEST(SyntheticScene, CamerasSeeTheFloorAndPointsAreWherePromised) {
  SyntheticSceneOptions options;
  options.seed = 51;
  const SyntheticScene scene = MakeSyntheticScene(options);
  ASSERT_EQ(scene.cameras.size(), 8U);
  ASSERT_EQ(scene.points_in_world.cols(), 300);
  for (int i = 0; i < scene.num_floor_points; ++i) {
    EXPECT_EQ(scene.floor.SignedDistance(scene.points_in_world.col(i)), 0.0);
  }
  for (int i = scene.num_floor_points; i < 300; ++i) {
    EXPECT_GE(scene.points_in_world(2, i), options.object_min_z_m);
  }
  const auto observations = ProjectPoints(scene.cameras,
                                          scene.points_in_world,
                                          /*pixel_noise_px=*/0.0,
                                          /*outlier_fraction=*/0.0,
                                          /*seed=*/1);
  ASSERT_EQ(observations.size(), scene.cameras.size());
  for (size_t c = 0; c < scene.cameras.size(); ++c) {
    const SyntheticCamera& camera = scene.cameras[c];
    // The camera is above the floor, looking down towards it (+y image down
    // means world up maps to image up).
    const Eigen::Vector3d centre = camera.cam_from_world.Inverse().translation;
    EXPECT_NEAR(centre.z(), options.camera_height_m, 0.5);
    int num_visible = 0;
    for (int i = 0; i < 300; ++i) {
      if (!observations[c].visible[i]) continue;
      ++num_visible;
      const Eigen::Vector3d x_in_cam =
          camera.cam_from_world * Eigen::Vector3d(scene.points_in_world.col(i));
      EXPECT_THAT(observations[c].pixels.col(i),
                  MatrixNear(camera.intrinsics.Project(x_in_cam), 1e-9));
    }
    EXPECT_GT(num_visible, 150) << "camera " << c;
    const Eigen::Vector3d up_in_cam =
        camera.cam_from_world.rotation * Eigen::Vector3d::UnitZ();
    EXPECT_LT(up_in_cam.y(), -0.9);
  }
}

TEST(SyntheticScene, NoiseAndOutliersFollowTheOptions) {
  SyntheticSceneOptions options;
  options.seed = 52;
  const SyntheticScene scene = MakeSyntheticScene(options);
  const auto clean =
      ProjectPoints(scene.cameras, scene.points_in_world, 0.0, 0.0, 3);
  const auto noisy =
      ProjectPoints(scene.cameras, scene.points_in_world, 1.0, 0.2, 3);
  double sum_sq = 0.0;
  int num_inliers = 0;
  for (size_t c = 0; c < scene.cameras.size(); ++c) {
    int num_visible = 0;
    int num_outliers = 0;
    for (int i = 0; i < scene.points_in_world.cols(); ++i) {
      if (!noisy[c].visible[i]) continue;
      ++num_visible;
      if (noisy[c].outlier[i]) {
        ++num_outliers;
        continue;
      }
      if (!clean[c].visible[i]) continue;
      sum_sq += (noisy[c].pixels.col(i) - clean[c].pixels.col(i)).squaredNorm();
      ++num_inliers;
    }
    EXPECT_EQ(num_outliers, std::lround(0.2 * num_visible)) << "camera " << c;
  }
  // Per-axis standard deviation of 1 px.
  EXPECT_NEAR(std::sqrt(sum_sq / (2.0 * num_inliers)), 1.0, 0.05);
  // Same seed, same observations.
  const auto again =
      ProjectPoints(scene.cameras, scene.points_in_world, 1.0, 0.2, 3);
  EXPECT_EQ(again[0].pixels, noisy[0].pixels);
  EXPECT_EQ(again[0].outlier, noisy[0].outlier);
}

}  // namespace
}  // namespace vanelia::testing
