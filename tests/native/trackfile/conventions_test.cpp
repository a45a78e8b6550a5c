#include "vanelia/trackfile/conventions.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/geometry/intrinsics.hpp"

#include <cmath>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vanelia {
namespace {

Rigid3d RandomPose(std::mt19937_64* rng) {
  std::normal_distribution<double> n(0.0, 1.0);
  const Eigen::Quaterniond q(n(*rng), n(*rng), n(*rng), n(*rng));
  return Rigid3d(q.normalized(), Eigen::Vector3d(n(*rng), n(*rng), n(*rng)));
}

TEST(Conventions, IdentityPoseLooksDownWorldPlusZ) {
  // OpenCV camera at the origin looking down world +z: the Blender camera's
  // -z axis (its viewing direction) is world +z, its +y (image up) world -y.
  const Eigen::Matrix4d c2w = BlenderC2wFromCamFromWorld(Rigid3d());
  Eigen::Matrix4d expected = Eigen::Matrix4d::Identity();
  expected.diagonal() << 1.0, -1.0, -1.0, 1.0;
  EXPECT_EQ(c2w, expected);
  EXPECT_EQ(BlenderCamFromOpenCvCam() * BlenderCamFromOpenCvCam(),
            Eigen::Matrix3d::Identity());
}

TEST(Conventions, CameraCentreAndViewingDirection) {
  // A camera at (0, -4, 1.5) looking along world +y, image up = world +z.
  Eigen::Matrix3d cam_from_world_r;
  cam_from_world_r << 1, 0, 0,  // x_cam = world x
      0, 0, -1,                 // y_cam (down) = -world z
      0, 1, 0;                  // z_cam (forward) = world y
  const Eigen::Vector3d centre(0.0, -4.0, 1.5);
  const Rigid3d cam_from_world(Eigen::Quaterniond(cam_from_world_r),
                               -(cam_from_world_r * centre));
  const Eigen::Matrix4d c2w = BlenderC2wFromCamFromWorld(cam_from_world);
  EXPECT_TRUE((c2w.topRightCorner<3, 1>().isApprox(centre, 1e-15)));
  // Blender camera looks down its local -z.
  EXPECT_TRUE(
      (-c2w.block<3, 1>(0, 2)).isApprox(Eigen::Vector3d::UnitY(), 1e-15));
  EXPECT_TRUE(
      (c2w.block<3, 1>(0, 1).isApprox(Eigen::Vector3d::UnitZ(), 1e-15)));
  EXPECT_TRUE(
      (c2w.block<3, 1>(0, 0).isApprox(Eigen::Vector3d::UnitX(), 1e-15)));
}

TEST(Conventions, InverseRoundTripsRandomPoses) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200; ++i) {
    const Rigid3d pose = RandomPose(&rng);
    const Rigid3d back =
        CamFromWorldFromBlenderC2w(BlenderC2wFromCamFromWorld(pose));
    EXPECT_TRUE(back.ToMatrix().isApprox(pose.ToMatrix(), 1e-13));
  }
}

TEST(Conventions, BlenderProjectionMatchesOpenCvProjection) {
  // Projecting through the Blender camera (looks down -z, y up, pixel
  // corners) gives the OpenCV pixel + 0.5.
  std::mt19937_64 rng(12);
  const Intrinsics k{510.0, 505.0, 300.25, 190.75, 640, 360};
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (int i = 0; i < 100; ++i) {
    const Rigid3d pose = RandomPose(&rng);
    const Eigen::Vector3d x_in_cam(u(rng), u(rng), 2.0 + u(rng));
    const Eigen::Vector3d x_in_world = pose.Inverse() * x_in_cam;
    const Eigen::Vector2d opencv = k.Project(pose * x_in_world);
    const Eigen::Matrix4d c2w = BlenderC2wFromCamFromWorld(pose);
    const Eigen::Vector3d b =
        (c2w.inverse() * x_in_world.homogeneous()).head<3>();
    const double u_corner = k.fx * b.x() / -b.z() + k.cx + 0.5;
    const double v_corner_up =
        k.fy * b.y() / -b.z() + (k.height - (k.cy + 0.5));
    EXPECT_NEAR(u_corner - 0.5, opencv.x(), 1e-9);
    EXPECT_NEAR(k.height - v_corner_up - 0.5, opencv.y(), 1e-9);
  }
}

TEST(Conventions, SinglePrecisionMatricesAreProjectedOntoSo3) {
  std::mt19937_64 rng(13);
  const Rigid3d pose = RandomPose(&rng);
  const Eigen::Matrix4d c2w = BlenderC2wFromCamFromWorld(pose);
  const Eigen::Matrix4d rounded = c2w.cast<float>().cast<double>();
  const Rigid3d back = CamFromWorldFromBlenderC2w(rounded);
  EXPECT_NEAR(back.rotation.angularDistance(pose.rotation), 0.0, 1e-6);
  const Eigen::Matrix3d r = back.rotation.toRotationMatrix();
  EXPECT_TRUE((r.transpose() * r).isApprox(Eigen::Matrix3d::Identity(), 1e-15));
}

TEST(Conventions, InverseBadarg) {
  Eigen::Matrix4d scaled = Eigen::Matrix4d::Identity();
  scaled(0, 0) = 2.0;
  EXPECT_THAT([&] { CamFromWorldFromBlenderC2w(scaled); },
              ::testing::ThrowsMessage<InputError>(
                  ::testing::HasSubstr("c2w_blender: rotation block")));
  Eigen::Matrix4d mirrored = Eigen::Matrix4d::Identity();
  mirrored(2, 2) = -1.0;
  EXPECT_THROW(CamFromWorldFromBlenderC2w(mirrored), InputError);
  Eigen::Matrix4d last_row = Eigen::Matrix4d::Identity();
  last_row(3, 0) = 0.5;
  EXPECT_THAT(
      [&] { CamFromWorldFromBlenderC2w(last_row); },
      ::testing::ThrowsMessage<InputError>(::testing::HasSubstr("last row")));
  Eigen::Matrix4d nan = Eigen::Matrix4d::Identity();
  nan(0, 3) = std::nan("");
  EXPECT_THAT(
      [&] { CamFromWorldFromBlenderC2w(nan); },
      ::testing::ThrowsMessage<InputError>(::testing::HasSubstr("finite")));
}

}  // namespace
}  // namespace vanelia
