#include "vanelia/core/error.hpp"
#include "vanelia/geometry/intrinsics.hpp"
#include "vanelia/geometry/rigid3d.hpp"
#include "vanelia/geometry/sim3d.hpp"

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
using testing::Rigid3dNear;
using testing::Sim3dNear;
using ::testing::ThrowsMessage;

TEST(Rigid3d, InverseAndComposeAreConsistent) {
  std::mt19937_64 rng(1);
  const Rigid3d b_from_a(testing::RandomRotation(rng), {1.0, -2.0, 3.0});
  const Rigid3d c_from_b(testing::RandomRotation(rng), {0.5, 0.1, -4.0});
  EXPECT_THAT(b_from_a * b_from_a.Inverse(),
              Rigid3dNear(Rigid3d(), 1e-9, 1e-12));
  const Eigen::Vector3d x_in_a(0.3, -0.7, 2.0);
  const Eigen::Vector3d x_in_c = (c_from_b * b_from_a) * x_in_a;
  EXPECT_THAT(x_in_c, MatrixNear(c_from_b * (b_from_a * x_in_a), 1e-12));
  EXPECT_THAT(b_from_a.ToMatrix4() * x_in_a.homogeneous(),
              MatrixNear((b_from_a * x_in_a).homogeneous(), 1e-12));
}

TEST(Rigid3d, FromMatrix4RoundTrips) {
  std::mt19937_64 rng(2);
  const Rigid3d b_from_a(testing::RandomRotation(rng), {1.0, 2.0, 3.0});
  EXPECT_THAT(Rigid3d::FromMatrix4(b_from_a.ToMatrix4()),
              Rigid3dNear(b_from_a, 1e-9, 1e-12));
  EXPECT_THAT(Rigid3d::FromMatrix(b_from_a.ToMatrix()),
              Rigid3dNear(b_from_a, 1e-9, 1e-12));
}

TEST(Rigid3d, FromMatrix4_badarg) {
  Eigen::Matrix4d scaled = Eigen::Matrix4d::Identity();
  scaled.topLeftCorner<3, 3>() *= 2.0;
  EXPECT_THAT([&] { Rigid3d::FromMatrix4(scaled); },
              ThrowsMessage<InputError>(HasSubstr("must be a rotation")));
  Eigen::Matrix4d reflection = Eigen::Matrix4d::Identity();
  reflection(0, 0) = -1.0;
  EXPECT_THAT([&] { Rigid3d::FromMatrix4(reflection); },
              ThrowsMessage<InputError>(HasSubstr("det")));
  Eigen::Matrix4d bad_row = Eigen::Matrix4d::Identity();
  bad_row(3, 0) = 0.5;
  EXPECT_THAT([&] { Rigid3d::FromMatrix4(bad_row); },
              ThrowsMessage<InputError>(HasSubstr("last row")));
  Eigen::Matrix4d nan = Eigen::Matrix4d::Identity();
  nan(0, 3) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT([&] { Rigid3d::FromMatrix4(nan); },
              ThrowsMessage<InputError>(HasSubstr("finite")));
}

TEST(Sim3d, InverseAndComposeAreConsistent) {
  std::mt19937_64 rng(3);
  const Sim3d b_from_a = testing::RandomSim3d(rng);
  const Sim3d c_from_b = testing::RandomSim3d(rng);
  EXPECT_THAT(b_from_a * b_from_a.Inverse(),
              Sim3dNear(Sim3d(), 1e-9, 1e-9, 1e-12));
  EXPECT_THAT(b_from_a.Inverse() * b_from_a,
              Sim3dNear(Sim3d(), 1e-9, 1e-9, 1e-12));
  const Eigen::Vector3d x_in_a(0.3, -0.7, 2.0);
  EXPECT_THAT((c_from_b * b_from_a) * x_in_a,
              MatrixNear(c_from_b * (b_from_a * x_in_a), 1e-9));
  EXPECT_THAT(b_from_a.ToMatrix4() * x_in_a.homogeneous(),
              MatrixNear((b_from_a * x_in_a).homogeneous(), 1e-9));
  EXPECT_THAT(b_from_a.Inverse() * (b_from_a * x_in_a),
              MatrixNear(x_in_a, 1e-9));
}

TEST(Sim3d, FromMatrix4RoundTrips) {
  std::mt19937_64 rng(4);
  const Sim3d b_from_a = testing::RandomSim3d(rng);
  EXPECT_THAT(Sim3d::FromMatrix4(b_from_a.ToMatrix4()),
              Sim3dNear(b_from_a, 1e-9, 1e-9, 1e-12));
  EXPECT_THAT(Sim3d::FromMatrix(b_from_a.ToMatrix()),
              Sim3dNear(b_from_a, 1e-9, 1e-9, 1e-12));
  EXPECT_THAT(Sim3d::FromRigid(Rigid3d(b_from_a.rotation, {1, 2, 3})),
              Sim3dNear(Sim3d(1.0, b_from_a.rotation, {1, 2, 3}), 0, 0, 0));
}

TEST(Sim3d, FromMatrix4_badarg) {
  Eigen::Matrix4d negative = Eigen::Matrix4d::Identity();
  negative.topLeftCorner<3, 3>() *= -2.0;
  EXPECT_THAT([&] { Sim3d::FromMatrix4(negative); },
              ThrowsMessage<InputError>(HasSubstr("must be > 0")));
  Eigen::Matrix4d zero = Eigen::Matrix4d::Identity();
  zero.topLeftCorner<3, 3>().setZero();
  EXPECT_THAT([&] { Sim3d::FromMatrix4(zero); },
              ThrowsMessage<InputError>(HasSubstr("det = 0")));
  Eigen::Matrix4d sheared = Eigen::Matrix4d::Identity();
  sheared(0, 1) = 0.3;
  EXPECT_THAT([&] { Sim3d::FromMatrix4(sheared); },
              ThrowsMessage<InputError>(HasSubstr("must be a rotation")));
  Eigen::Matrix4d bad_row = Eigen::Matrix4d::Identity();
  bad_row(3, 3) = 2.0;
  EXPECT_THAT([&] { Sim3d::FromMatrix4(bad_row); },
              ThrowsMessage<InputError>(HasSubstr("last row")));
}

// Moving the world and the cameras by the same similarity leaves every
// projection unchanged.
TEST(Sim3d, TransformPoseKeepsProjections) {
  testing::SyntheticSceneOptions options;
  options.num_cameras = 4;
  options.seed = 5;
  const testing::SyntheticScene scene = testing::MakeSyntheticScene(options);
  std::mt19937_64 rng(6);
  const Sim3d b_from_a = testing::RandomSim3d(rng);
  int num_checked = 0;
  for (const testing::SyntheticCamera& camera : scene.cameras) {
    const Rigid3d cam_from_b = b_from_a.TransformPose(camera.cam_from_world);
    // The camera centre moves with the similarity.
    EXPECT_THAT(
        cam_from_b.Inverse().translation,
        MatrixNear(b_from_a * camera.cam_from_world.Inverse().translation,
                   1e-9));
    for (Eigen::Index i = 0; i < scene.points_in_world.cols(); ++i) {
      const Eigen::Vector3d x_in_a = scene.points_in_world.col(i);
      const Eigen::Vector3d x_in_cam = camera.cam_from_world * x_in_a;
      if (x_in_cam.z() <= 0.1) continue;
      const Eigen::Vector3d x_in_cam_b = cam_from_b * (b_from_a * x_in_a);
      // Same ray, depth scaled by s.
      EXPECT_THAT(x_in_cam_b, MatrixNear(b_from_a.scale * x_in_cam, 1e-8));
      EXPECT_THAT(camera.intrinsics.Project(x_in_cam_b),
                  MatrixNear(camera.intrinsics.Project(x_in_cam), 1e-8));
      ++num_checked;
    }
  }
  EXPECT_GT(num_checked, 100);
}

TEST(Intrinsics, CentredPrincipalPointUsesIntegerPixelCentres) {
  const Intrinsics k = Intrinsics::Centered(500.0, 640, 360);
  EXPECT_DOUBLE_EQ(k.cx, 319.5);
  EXPECT_DOUBLE_EQ(k.cy, 179.5);
  const Eigen::Vector2d pixel = k.Project({0.2, -0.1, 2.0});
  EXPECT_THAT(k.Unproject(pixel),
              MatrixNear(Eigen::Vector3d(0.1, -0.05, 1.0), 1e-12));
  const Intrinsics half = k.Rescaled(320, 180);
  EXPECT_DOUBLE_EQ(half.cx, 159.5);
  EXPECT_DOUBLE_EQ(half.fx, 250.0);
}

}  // namespace
}  // namespace vanelia
