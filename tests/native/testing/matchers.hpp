// GMock matchers for geometry values, shared by every module's tests:
//
//   EXPECT_THAT(estimate, Rigid3dNear(truth, /*max_angle_deg=*/1e-6,
//                                     /*max_translation=*/1e-9));
//   EXPECT_THAT(estimate, Sim3dNear(truth, 1e-6, 1e-9,
//   /*max_rel_scale=*/1e-9)); EXPECT_THAT(q, QuaternionNear(expected,
//   /*max_angle_deg=*/1e-6));
//
// Rotations are compared by the angle of a^-1 b (sign-agnostic: q and -q are
// the same rotation, as in Ceres' quaternion matchers); translations by the
// Euclidean distance; scales by |s_a / s_b - 1|. A mismatch prints every
// error next to its bound.
#pragma once

#include "vanelia/geometry/plane.hpp"
#include "vanelia/geometry/rigid3d.hpp"
#include "vanelia/geometry/rotation.hpp"
#include "vanelia/geometry/sim3d.hpp"

#include <cmath>
#include <ostream>

#include <Eigen/Core>
#include <Eigen/Geometry>
#include <gmock/gmock.h>

namespace vanelia {

// Readable values in GoogleTest failure messages (found by ADL).
inline void PrintTo(const Rigid3d& value, std::ostream* os) {
  *os << "Rigid3d{q(wxyz)=[" << value.rotation.w() << ", "
      << value.rotation.vec().transpose() << "], t=["
      << value.translation.transpose() << "]}";
}

inline void PrintTo(const Sim3d& value, std::ostream* os) {
  *os << "Sim3d{s=" << value.scale << ", q(wxyz)=[" << value.rotation.w()
      << ", " << value.rotation.vec().transpose() << "], t=["
      << value.translation.transpose() << "]}";
}

inline void PrintTo(const Plane3d& value, std::ostream* os) {
  *os << "Plane3d{normal=[" << value.normal.transpose()
      << "], offset=" << value.offset << "}";
}

}  // namespace vanelia

namespace vanelia::testing {

MATCHER_P2(QuaternionNear,
           expected,
           max_angle_deg,
           "is a rotation within " + ::testing::PrintToString(max_angle_deg) +
               " deg of " + ::testing::PrintToString(expected.coeffs())) {
  const double angle = RotationAngleDeg(arg, expected);
  *result_listener << "angle " << angle << " deg";
  return std::isfinite(angle) && angle <= max_angle_deg;
}

MATCHER_P3(Rigid3dNear,
           expected,
           max_angle_deg,
           max_translation,
           "is a Rigid3d within " + ::testing::PrintToString(max_angle_deg) +
               " deg and " + ::testing::PrintToString(max_translation) +
               " of " + ::testing::PrintToString(expected.ToMatrix())) {
  const double angle = RotationAngleDeg(arg.rotation, expected.rotation);
  const double distance = (arg.translation - expected.translation).norm();
  *result_listener << "rotation error " << angle << " deg, translation error "
                   << distance;
  return std::isfinite(angle) && std::isfinite(distance) &&
         angle <= max_angle_deg && distance <= max_translation;
}

MATCHER_P4(Sim3dNear,
           expected,
           max_angle_deg,
           max_translation,
           max_rel_scale,
           "is a Sim3d within " + ::testing::PrintToString(max_angle_deg) +
               " deg, " + ::testing::PrintToString(max_translation) +
               " and relative scale " +
               ::testing::PrintToString(max_rel_scale) + " of " +
               ::testing::PrintToString(expected.ToMatrix4())) {
  const double angle = RotationAngleDeg(arg.rotation, expected.rotation);
  const double distance = (arg.translation - expected.translation).norm();
  const double scale_error = std::abs(arg.scale / expected.scale - 1.0);
  *result_listener << "rotation error " << angle << " deg, translation error "
                   << distance << ", relative scale error " << scale_error;
  return std::isfinite(angle) && std::isfinite(distance) &&
         std::isfinite(scale_error) && angle <= max_angle_deg &&
         distance <= max_translation && scale_error <= max_rel_scale;
}

// The same plane (orientation included) within an angle between normals and
// a difference of offsets.
MATCHER_P3(Plane3dNear,
           expected,
           max_angle_deg,
           max_offset,
           "is a plane within " + ::testing::PrintToString(max_angle_deg) +
               " deg and offset " + ::testing::PrintToString(max_offset) +
               " of normal " +
               ::testing::PrintToString(expected.normal.transpose()) +
               ", offset " + ::testing::PrintToString(expected.offset)) {
  const double angle = std::atan2(arg.normal.cross(expected.normal).norm(),
                                  arg.normal.dot(expected.normal)) *
                       180.0 / M_PI;
  const double offset_error = std::abs(arg.offset - expected.offset);
  *result_listener << "normal [" << arg.normal.transpose() << "] offset "
                   << arg.offset << ": angle " << angle << " deg, offset error "
                   << offset_error;
  return std::isfinite(angle) && std::isfinite(offset_error) &&
         angle <= max_angle_deg && offset_error <= max_offset;
}

// Every entry of a matrix within max_abs of the expected one.
MATCHER_P2(MatrixNear,
           expected,
           max_abs,
           "is a matrix within " + ::testing::PrintToString(max_abs) + " of\n" +
               ::testing::PrintToString(expected)) {
  if (arg.rows() != expected.rows() || arg.cols() != expected.cols()) {
    *result_listener << "size " << arg.rows() << "x" << arg.cols();
    return false;
  }
  const double error = (arg - expected).cwiseAbs().maxCoeff();
  *result_listener << "max abs error " << error;
  return std::isfinite(error) && error <= max_abs;
}

}  // namespace vanelia::testing
