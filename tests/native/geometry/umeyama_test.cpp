#include "vanelia/geometry/umeyama.hpp"

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
using testing::Rigid3dNear;
using testing::Sim3dNear;
using ::testing::ThrowsMessage;

Eigen::Matrix3Xd Apply(const Sim3d& b_from_a, const Eigen::Matrix3Xd& x) {
  Eigen::Matrix3Xd y(3, x.cols());
  for (Eigen::Index i = 0; i < x.cols(); ++i) {
    y.col(i) = b_from_a * Eigen::Vector3d(x.col(i));
  }
  return y;
}

bool AllFinite(const Sim3d& s) {
  return std::isfinite(s.scale) && s.rotation.coeffs().allFinite() &&
         s.translation.allFinite();
}

TEST(EstimateSim3d, RecoversAKnownSimilarityExactly) {
  std::mt19937_64 rng(21);
  for (int trial = 0; trial < 10; ++trial) {
    const Sim3d truth = testing::RandomSim3d(rng);
    const Eigen::Matrix3Xd src = testing::RandomPointsInBox(
        20, Eigen::Vector3d(-2, -2, -2), Eigen::Vector3d(2, 2, 2), rng);
    const std::optional<Sim3d> estimate = EstimateSim3d(src, Apply(truth, src));
    ASSERT_TRUE(estimate.has_value());
    EXPECT_THAT(*estimate, Sim3dNear(truth, 1e-9 * 180 / M_PI, 1e-9, 1e-9));
  }
}

TEST(EstimateSim3d, RecoversFromThreePointsAndFromAPlane) {
  std::mt19937_64 rng(22);
  const Sim3d truth = testing::RandomSim3d(rng);
  Eigen::Matrix3Xd three(3, 3);
  three << 0, 1, 0, 0, 0, 1, 0, 0, 0;
  ASSERT_TRUE(EstimateSim3d(three, Apply(truth, three)).has_value());
  EXPECT_THAT(*EstimateSim3d(three, Apply(truth, three)),
              Sim3dNear(truth, 1e-7, 1e-9, 1e-9));
  // Coplanar points still fix the rotation (no reflection is returned).
  Eigen::Matrix3Xd planar = testing::RandomPointsInBox(
      30, Eigen::Vector3d(-1, -1, 0), Eigen::Vector3d(1, 1, 0), rng);
  EXPECT_THAT(*EstimateSim3d(planar, Apply(truth, planar)),
              Sim3dNear(truth, 1e-7, 1e-9, 1e-9));
}

TEST(EstimateSim3d, IsAccurateWithNoise) {
  std::mt19937_64 rng(23);
  std::normal_distribution<double> noise(0.0, 0.01);
  const Sim3d truth(2.0, testing::RandomRotation(rng), {1.0, -3.0, 0.5});
  const Eigen::Matrix3Xd src = testing::RandomPointsInBox(
      500, Eigen::Vector3d(-5, -5, -1), Eigen::Vector3d(5, 5, 1), rng);
  Eigen::Matrix3Xd dst = Apply(truth, src);
  for (Eigen::Index i = 0; i < dst.size(); ++i) dst.data()[i] += noise(rng);
  const std::optional<Sim3d> estimate = EstimateSim3d(src, dst);
  ASSERT_TRUE(estimate.has_value());
  EXPECT_THAT(*estimate, Sim3dNear(truth, 0.05, 0.01, 1e-3));
}

TEST(EstimateSim3d, ZeroWeightsIgnoreOutliers) {
  std::mt19937_64 rng(24);
  const Sim3d truth = testing::RandomSim3d(rng);
  const Eigen::Matrix3Xd src = testing::RandomPointsInBox(
      60, Eigen::Vector3d(-2, -2, -2), Eigen::Vector3d(2, 2, 2), rng);
  Eigen::Matrix3Xd dst = Apply(truth, src);
  Eigen::VectorXd weights = Eigen::VectorXd::Ones(60);
  for (int i = 0; i < 60; i += 3) {  // a third are gross outliers
    dst.col(i) += Eigen::Vector3d(50.0, -20.0, 30.0);
    weights(i) = 0.0;
  }
  const std::optional<Sim3d> unweighted = EstimateSim3d(src, dst);
  ASSERT_TRUE(unweighted.has_value());
  EXPECT_THAT(*unweighted, ::testing::Not(Sim3dNear(truth, 1.0, 1.0, 0.1)));
  const std::optional<Sim3d> weighted = EstimateSim3d(src, dst, weights);
  ASSERT_TRUE(weighted.has_value());
  EXPECT_THAT(*weighted, Sim3dNear(truth, 1e-7, 1e-9, 1e-9));
  // Scaling all weights changes nothing.
  EXPECT_THAT(*EstimateSim3d(src, dst, 1e6 * weights),
              Sim3dNear(*weighted, 1e-9, 1e-9, 1e-12));
}

TEST(EstimateRigid3d, RecoversARigidTransformAndIgnoresScale) {
  std::mt19937_64 rng(25);
  const Rigid3d truth(testing::RandomRotation(rng), {0.1, 0.2, 0.3});
  const Eigen::Matrix3Xd src = testing::RandomPointsInBox(
      10, Eigen::Vector3d(-1, -1, -1), Eigen::Vector3d(1, 1, 1), rng);
  const Eigen::Matrix3Xd dst = Apply(Sim3d::FromRigid(truth), src);
  EXPECT_THAT(*EstimateRigid3d(src, dst), Rigid3dNear(truth, 1e-7, 1e-9));
  // With scale disabled a scaled copy gives scale exactly 1.
  const Eigen::Matrix3Xd scaled = 3.0 * dst;
  const std::optional<Sim3d> rigid =
      EstimateSim3d(src, scaled, {}, /*estimate_scale=*/false);
  ASSERT_TRUE(rigid.has_value());
  EXPECT_EQ(rigid->scale, 1.0);
  EXPECT_THAT(rigid->rotation, testing::QuaternionNear(truth.rotation, 1e-7));
}

TEST(EstimateSim3d, DegenerateInputReturnsNoModel) {
  std::mt19937_64 rng(26);
  const Sim3d truth = testing::RandomSim3d(rng);
  // Fewer than three points.
  Eigen::Matrix3Xd two(3, 2);
  two << 0, 1, 0, 0, 0, 0;
  EXPECT_FALSE(EstimateSim3d(two, Apply(truth, two)).has_value());
  EXPECT_FALSE(EstimateSim3d(Eigen::Matrix3Xd(3, 0), Eigen::Matrix3Xd(3, 0))
                   .has_value());
  // Collinear and coincident points.
  Eigen::Matrix3Xd line(3, 5);
  for (int i = 0; i < 5; ++i) line.col(i) = Eigen::Vector3d(1, 2, 3) * i;
  EXPECT_FALSE(EstimateSim3d(line, Apply(truth, line)).has_value());
  EXPECT_FALSE(EstimateRigid3d(line, Apply(truth, line)).has_value());
  const Eigen::Matrix3Xd same = Eigen::Matrix3Xd::Ones(3, 5);
  EXPECT_FALSE(EstimateSim3d(same, same).has_value());
  // Good source, collapsed destination.
  const Eigen::Matrix3Xd src = testing::RandomPointsInBox(
      10, Eigen::Vector3d(-1, -1, -1), Eigen::Vector3d(1, 1, 1), rng);
  EXPECT_FALSE(EstimateSim3d(src, Eigen::Matrix3Xd::Zero(3, 10)).has_value());
  // Zero weights, or only two positive weights.
  EXPECT_FALSE(EstimateSim3d(src, Apply(truth, src), Eigen::VectorXd::Zero(10))
                   .has_value());
  Eigen::VectorXd two_weights = Eigen::VectorXd::Zero(10);
  two_weights.head<2>().setOnes();
  EXPECT_FALSE(EstimateSim3d(src, Apply(truth, src), two_weights).has_value());
  // NaN / infinity anywhere.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Eigen::Matrix3Xd with_nan = src;
  with_nan(1, 4) = nan;
  EXPECT_FALSE(EstimateSim3d(with_nan, Apply(truth, src)).has_value());
  EXPECT_FALSE(EstimateSim3d(src, with_nan).has_value());
  Eigen::VectorXd nan_weights = Eigen::VectorXd::Ones(10);
  nan_weights(3) = nan;
  EXPECT_FALSE(EstimateSim3d(src, Apply(truth, src), nan_weights).has_value());
  Eigen::Matrix3Xd with_inf = src;
  with_inf(0, 0) = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(EstimateSim3d(with_inf, with_inf).has_value());
  // Finite coordinates whose squares overflow give no model, not NaNs.
  EXPECT_FALSE(EstimateSim3d(1e300 * src, src).has_value());
  // Tiny but well-conditioned coordinates still work.
  const std::optional<Sim3d> tiny = EstimateSim3d(1e-100 * src, src);
  ASSERT_TRUE(tiny.has_value());
  EXPECT_TRUE(AllFinite(*tiny));
  EXPECT_NEAR(tiny->scale, 1e100, 1e88);
}

TEST(EstimateSim3dRansac, RecoversTheSimilarityAmongOutliers) {
  std::mt19937_64 rng(27);
  const Sim3d truth = testing::RandomSim3d(rng);
  const Eigen::Matrix3Xd src = testing::RandomPointsInBox(
      100, Eigen::Vector3d(-2, -2, -2), Eigen::Vector3d(2, 2, 2), rng);
  Eigen::Matrix3Xd dst = Apply(truth, src);
  std::normal_distribution<double> noise(0.0, 1e-3);
  for (Eigen::Index i = 0; i < dst.size(); ++i) dst.data()[i] += noise(rng);
  const Eigen::Matrix3Xd junk = testing::RandomPointsInBox(
      40, Eigen::Vector3d(-20, -20, -20), Eigen::Vector3d(20, 20, 20), rng);
  for (int i = 0; i < 40; ++i) dst.col(2 * i + 1) = junk.col(i);  // 40%
  RansacOptions options;
  options.max_error = 0.01;
  options.random_seed = 3;
  const RansacReport<Sim3d> report = EstimateSim3dRansac(src, dst, options);
  ASSERT_TRUE(report.success);
  EXPECT_THAT(report.model, Sim3dNear(truth, 0.05, 0.01, 1e-3));
  EXPECT_EQ(report.num_inliers, 60);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(report.inlier_mask[2 * i + 1], 0);
  // Collinear points: no model, no throw.
  Eigen::Matrix3Xd line(3, 10);
  for (int i = 0; i < 10; ++i) line.col(i) = Eigen::Vector3d(1, 0, 0) * i;
  EXPECT_FALSE(EstimateSim3dRansac(line, line, options).success);
  EXPECT_THAT([&] { EstimateSim3dRansac(line, src, options); },
              ThrowsMessage<InputError>(HasSubstr("dst has 100 points")));
}

TEST(EstimateSim3d, SizeMismatch_badarg) {
  const Eigen::Matrix3Xd src = Eigen::Matrix3Xd::Random(3, 5);
  EXPECT_THAT([&] { EstimateSim3d(src, Eigen::Matrix3Xd::Random(3, 4)); },
              ThrowsMessage<InputError>(HasSubstr("dst has 4 points")));
  EXPECT_THAT([&] { EstimateSim3d(src, src, Eigen::VectorXd::Ones(3)); },
              ThrowsMessage<InputError>(HasSubstr("weights has 3 entries")));
  Eigen::VectorXd negative = Eigen::VectorXd::Ones(5);
  negative(2) = -1.0;
  EXPECT_THAT([&] { EstimateRigid3d(src, src, negative); },
              ThrowsMessage<InputError>(HasSubstr("weights[2]")));
}

}  // namespace
}  // namespace vanelia
