#include "vanelia/geometry/plane.hpp"

#include "vanelia/core/error.hpp"

#include <limits>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/matchers.hpp"
#include "testing/synthetic_scene.hpp"

namespace vanelia {
namespace {

using ::testing::HasSubstr;
using testing::MatrixNear;
using testing::Plane3dNear;
using ::testing::ThrowsMessage;

// A tilted plane and points on it (3xN), uniform over a 4 m square.
Eigen::Matrix3Xd PointsOnPlane(const Plane3d& plane,
                               int num_points,
                               std::mt19937_64& rng) {
  const Eigen::Matrix3Xd raw = testing::RandomPointsInBox(
      num_points, Eigen::Vector3d(-2, -2, -2), Eigen::Vector3d(2, 2, 2), rng);
  Eigen::Matrix3Xd points(3, num_points);
  for (int i = 0; i < num_points; ++i) {
    points.col(i) = plane.Project(raw.col(i));
  }
  return points;
}

TEST(Plane3d, NormalisesAndMeasuresSignedDistance) {
  const Plane3d plane(Eigen::Vector3d(0.0, 0.0, 2.0), -4.0);  // z = 2
  EXPECT_THAT(plane.normal, MatrixNear(Eigen::Vector3d::UnitZ(), 0.0));
  EXPECT_EQ(plane.offset, -2.0);
  EXPECT_EQ(plane.SignedDistance({5.0, 1.0, 3.5}), 1.5);
  EXPECT_EQ(plane.SignedDistance({5.0, 1.0, 0.0}), -2.0);
  EXPECT_THAT(plane.Project({1.0, 2.0, 7.0}),
              MatrixNear(Eigen::Vector3d(1, 2, 2), 1e-15));
  const Plane3d flipped = plane.FlipTowards({0.0, 0.0, -10.0});
  EXPECT_THAT(flipped.normal, MatrixNear(-Eigen::Vector3d::UnitZ(), 0.0));
  EXPECT_GT(flipped.SignedDistance({0.0, 0.0, -10.0}), 0.0);
  EXPECT_EQ(plane.FlipTowards({0.0, 0.0, 10.0}).offset, plane.offset);
}

TEST(Plane3d, Constructor_badarg) {
  EXPECT_THAT([] { Plane3d(Eigen::Vector3d::Zero(), 1.0); },
              ThrowsMessage<InputError>(HasSubstr("normal")));
  EXPECT_THAT(
      [] {
        Plane3d(Eigen::Vector3d::UnitX(),
                std::numeric_limits<double>::infinity());
      },
      ThrowsMessage<InputError>(HasSubstr("offset = inf")));
}

TEST(Plane3d, FromPointsAndDegenerateTriples) {
  const std::optional<Plane3d> plane =
      Plane3d::FromPoints({0.0, 0.0, 1.0}, {1.0, 0.0, 1.0}, {0.0, 1.0, 1.0});
  ASSERT_TRUE(plane.has_value());
  EXPECT_THAT(*plane, Plane3dNear(Plane3d({0, 0, 1}, -1.0), 1e-12, 1e-12));
  EXPECT_FALSE(
      Plane3d::FromPoints({0, 0, 0}, {1, 1, 1}, {2, 2, 2}).has_value());
  EXPECT_FALSE(
      Plane3d::FromPoints({0, 0, 0}, {0, 0, 0}, {0, 0, 0}).has_value());
  EXPECT_FALSE(
      Plane3d::FromPoints({0, 0, 0},
                          {1, 0, 0},
                          {0, std::numeric_limits<double>::quiet_NaN(), 0})
          .has_value());
}

TEST(FitPlane, RecoversAPlaneExactlyAndWithNoise) {
  std::mt19937_64 rng(41);
  const Plane3d truth(Eigen::Vector3d(0.3, -0.2, 1.0), 0.7);
  Eigen::Matrix3Xd points = PointsOnPlane(truth, 200, rng);
  const std::optional<Plane3d> exact = FitPlane(points);
  ASSERT_TRUE(exact.has_value());
  EXPECT_THAT(*exact, Plane3dNear(truth, 1e-7, 1e-10));  // normal.z > 0
  EXPECT_LT(PlaneRmse(*exact, points), 1e-12);
  std::normal_distribution<double> noise(0.0, 0.01);
  for (int i = 0; i < 200; ++i) points.col(i) += noise(rng) * truth.normal;
  const std::optional<Plane3d> noisy = FitPlane(points);
  ASSERT_TRUE(noisy.has_value());
  EXPECT_THAT(*noisy, Plane3dNear(truth, 0.5, 0.005));
  EXPECT_NEAR(PlaneRmse(*noisy, points), 0.01, 0.002);
}

TEST(FitPlane, ZeroWeightsIgnoreOutliers) {
  std::mt19937_64 rng(42);
  const Plane3d truth(Eigen::Vector3d(0.0, 1.0, 1.0), -0.5);
  Eigen::Matrix3Xd points = PointsOnPlane(truth, 90, rng);
  Eigen::VectorXd weights = Eigen::VectorXd::Ones(90);
  for (int i = 0; i < 90; i += 3) {
    points.col(i) += 3.0 * truth.normal + Eigen::Vector3d(0.0, 0.0, 0.1 * i);
    weights(i) = 0.0;
  }
  EXPECT_THAT(*FitPlane(points), ::testing::Not(Plane3dNear(truth, 1.0, 0.1)));
  EXPECT_THAT(*FitPlane(points, weights), Plane3dNear(truth, 1e-7, 1e-10));
}

TEST(FitPlane, DegenerateInputReturnsNoModel) {
  EXPECT_FALSE(FitPlane(Eigen::Matrix3Xd(3, 0)).has_value());
  Eigen::Matrix3Xd two(3, 2);
  two << 0, 1, 0, 1, 0, 1;
  EXPECT_FALSE(FitPlane(two).has_value());
  Eigen::Matrix3Xd line(3, 6);
  for (int i = 0; i < 6; ++i) line.col(i) = Eigen::Vector3d(1, -2, 0.5) * i;
  EXPECT_FALSE(FitPlane(line).has_value());
  EXPECT_FALSE(FitPlane(Eigen::Matrix3Xd::Ones(3, 6)).has_value());
  Eigen::Matrix3Xd square(3, 4);
  square << 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0;
  ASSERT_TRUE(FitPlane(square).has_value());
  EXPECT_FALSE(FitPlane(square, Eigen::VectorXd::Zero(4)).has_value());
  Eigen::Matrix3Xd with_nan = square;
  with_nan(2, 1) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(FitPlane(with_nan).has_value());
}

TEST(FitPlane, Weights_badarg) {
  const Eigen::Matrix3Xd points = Eigen::Matrix3Xd::Random(3, 5);
  EXPECT_THAT([&] { FitPlane(points, Eigen::VectorXd::Ones(4)); },
              ThrowsMessage<InputError>(HasSubstr("weights has 4 entries")));
  Eigen::VectorXd negative = Eigen::VectorXd::Ones(5);
  negative(1) = -2.0;
  EXPECT_THAT([&] { FitPlane(points, negative); },
              ThrowsMessage<InputError>(HasSubstr("weights[1]")));
}

// The floor of a synthetic scene among 40% off-floor points.
TEST(EstimatePlaneRansac, FindsTheFloorAmongFortyPercentOutliers) {
  testing::SyntheticSceneOptions options;
  options.num_floor_points = 300;
  options.num_object_points = 200;
  options.floor_noise_m = 0.003;
  options.object_min_z_m = 0.05;
  options.seed = 43;
  const testing::SyntheticScene scene = testing::MakeSyntheticScene(options);
  RansacOptions ransac;
  ransac.max_error = 0.01;
  ransac.min_inlier_ratio = 0.3;
  ransac.random_seed = 7;
  const RansacReport<Plane3d> report =
      EstimatePlaneRansac(scene.points_in_world, ransac);
  ASSERT_TRUE(report.success);
  const Eigen::Vector3d camera_centre =
      scene.cameras[0].cam_from_world.Inverse().translation;
  const Plane3d floor = report.model.FlipTowards(camera_centre);
  EXPECT_THAT(floor, Plane3dNear(scene.floor, 0.5, 0.003));
  EXPECT_GE(report.num_inliers, 290);
  int missed = 0;
  int false_inliers = 0;
  for (int i = 0; i < scene.points_in_world.cols(); ++i) {
    const bool on_floor = i < scene.num_floor_points;
    if (on_floor && !report.inlier_mask[i]) ++missed;
    if (!on_floor && report.inlier_mask[i]) ++false_inliers;
  }
  EXPECT_LE(missed, 10);
  EXPECT_EQ(false_inliers, 0);
  // Deterministic with the same seed.
  const RansacReport<Plane3d> again =
      EstimatePlaneRansac(scene.points_in_world, ransac);
  EXPECT_EQ(again.inlier_mask, report.inlier_mask);
  EXPECT_EQ(again.model.normal, report.model.normal);
}

TEST(EstimatePlaneRansac, DegenerateInputReportsNoModel) {
  RansacOptions options;
  options.max_num_trials = 100;
  Eigen::Matrix3Xd line(3, 20);
  for (int i = 0; i < 20; ++i) line.col(i) = Eigen::Vector3d(1, 2, 3) * i;
  const RansacReport<Plane3d> report = EstimatePlaneRansac(line, options);
  EXPECT_FALSE(report.success);
  EXPECT_EQ(report.num_inliers, 0);
  EXPECT_FALSE(EstimatePlaneRansac(Eigen::Matrix3Xd(3, 2), options).success);
  options.max_error = -1.0;
  EXPECT_THAT([&] { EstimatePlaneRansac(line, options); },
              ThrowsMessage<InputError>(HasSubstr("RansacOptions::max_error")));
}

}  // namespace
}  // namespace vanelia
