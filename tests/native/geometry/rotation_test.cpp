#include "vanelia/geometry/rotation.hpp"

#include <cmath>
#include <random>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/matchers.hpp"
#include "testing/synthetic_scene.hpp"

namespace vanelia {
namespace {

using testing::MatrixNear;
using testing::QuaternionNear;

Eigen::Quaterniond AxisAngleDeg(double angle_deg, const Eigen::Vector3d& axis) {
  return Eigen::Quaterniond(
      Eigen::AngleAxisd(angle_deg * M_PI / 180.0, axis.normalized()));
}

TEST(RotationAngleDeg, MeasuresAnglesSignAgnostically) {
  const Eigen::Quaterniond a = AxisAngleDeg(30.0, {1, 2, 3});
  const Eigen::Quaterniond b = a * AxisAngleDeg(12.5, {0, 1, -1});
  EXPECT_NEAR(RotationAngleDeg(a, b), 12.5, 1e-10);
  Eigen::Quaterniond minus_b = b;
  minus_b.coeffs() *= -1.0;
  EXPECT_NEAR(RotationAngleDeg(a, minus_b), 12.5, 1e-10);
  EXPECT_NEAR(
      RotationAngleDeg(a, a * AxisAngleDeg(179.0, {1, 0, 0})), 179.0, 1e-9);
  EXPECT_NEAR(
      RotationAngleDeg(a, a * AxisAngleDeg(1e-7, {0, 0, 1})), 1e-7, 1e-13);
  EXPECT_EQ(RotationAngleDeg(a, a), 0.0);
}

TEST(QuaternionNear, IsSignAgnosticAndCanFail) {
  const Eigen::Quaterniond q = AxisAngleDeg(40.0, {0, 0, 1});
  Eigen::Quaterniond minus_q = q;
  minus_q.coeffs() *= -1.0;
  EXPECT_THAT(minus_q, QuaternionNear(q, 1e-9));
  EXPECT_THAT(q * AxisAngleDeg(0.1, {1, 0, 0}),
              ::testing::Not(QuaternionNear(q, 0.05)));
}

TEST(ProjectToRotation, RecoversTheRotationOfANoisyMatrix) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> noise(0.0, 1e-3);
  for (int trial = 0; trial < 20; ++trial) {
    const Eigen::Quaterniond truth = testing::RandomRotation(rng);
    Eigen::Matrix3d noisy = truth.toRotationMatrix();
    for (int i = 0; i < 9; ++i) noisy(i / 3, i % 3) += noise(rng);
    const Eigen::Matrix3d r = ProjectToRotation(noisy);
    EXPECT_THAT(r.transpose() * r,
                MatrixNear(Eigen::Matrix3d::Identity(), 1e-12));
    EXPECT_NEAR(r.determinant(), 1.0, 1e-12);
    EXPECT_THAT(QuaternionFromMatrix(noisy), QuaternionNear(truth, 0.5));
    EXPECT_THAT(QuaternionFromMatrix(truth.toRotationMatrix()),
                QuaternionNear(truth, 1e-9));
  }
  // A reflection projects onto a proper rotation.
  const Eigen::Matrix3d reflection = Eigen::Vector3d(1, 1, -1).asDiagonal();
  EXPECT_NEAR(ProjectToRotation(reflection).determinant(), 1.0, 1e-12);
}

TEST(MakeQuaternionsContinuous, FlipsSignsButKeepsRotations) {
  std::vector<Eigen::Quaterniond> truth;
  for (int i = 0; i < 50; ++i) {
    truth.push_back(AxisAngleDeg(15.0 * i, {0.2, 1.0, 0.1}));  // > 360 deg
  }
  std::vector<Eigen::Quaterniond> q = truth;
  std::mt19937_64 rng(12);
  std::bernoulli_distribution flip(0.5);
  int num_flipped = 0;
  for (Eigen::Quaterniond& x : q) {
    if (flip(rng)) {
      x.coeffs() *= -1.0;
      ++num_flipped;
    }
  }
  ASSERT_GT(num_flipped, 10);
  const Eigen::Vector4d first = q[0].coeffs();
  MakeQuaternionsContinuous(q);
  for (size_t i = 0; i < q.size(); ++i) {
    EXPECT_THAT(q[i], QuaternionNear(truth[i], 1e-9)) << "index " << i;
    if (i > 0) {
      EXPECT_GT(q[i].coeffs().dot(q[i - 1].coeffs()), 0.0) << "index " << i;
    }
  }
  // The first quaternion is never flipped; empty and single inputs are fine.
  EXPECT_EQ(q[0].coeffs(), first);
  std::vector<Eigen::Quaterniond> empty;
  MakeQuaternionsContinuous(empty);
  EXPECT_TRUE(empty.empty());
}

TEST(InterpolateRigid3d, HitsEndpointsAndMidpoint) {
  const Rigid3d start(AxisAngleDeg(10.0, {0, 0, 1}), {0, 0, 0});
  Eigen::Quaterniond end_rotation = AxisAngleDeg(50.0, {0, 0, 1});
  end_rotation.coeffs() *= -1.0;  // the short way must still be taken
  const Rigid3d end(end_rotation, {2, 4, 6});
  EXPECT_THAT(InterpolateRigid3d(start, end, 0.0).rotation,
              QuaternionNear(start.rotation, 1e-9));
  EXPECT_THAT(InterpolateRigid3d(start, end, 1.0).rotation,
              QuaternionNear(end.rotation, 1e-9));
  const Rigid3d mid = InterpolateRigid3d(start, end, 0.5);
  EXPECT_THAT(mid.rotation,
              QuaternionNear(AxisAngleDeg(30.0, {0, 0, 1}), 1e-9));
  EXPECT_THAT(mid.translation, MatrixNear(Eigen::Vector3d(1, 2, 3), 1e-12));
}

}  // namespace
}  // namespace vanelia
