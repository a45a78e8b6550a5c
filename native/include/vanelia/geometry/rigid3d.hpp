// Rigid transforms between frames (COLMAP's Rigid3d):
//
//   x_in_b = R * x_in_a + t        with b_from_a = {R (unit quaternion), t}
//
// Names follow `target_from_source`: cam_from_world maps world points into
// the camera frame. Composition: c_from_a = c_from_b * b_from_a.
// FromMatrix/FromMatrix4 (src/geometry/transforms.cpp) validate their input
// and throw InputError on a matrix that is not a rigid transform.
#pragma once

#include <Eigen/Core>
#include <Eigen/Geometry>

namespace vanelia {

struct Rigid3d {
  Eigen::Quaterniond rotation = Eigen::Quaterniond::Identity();
  Eigen::Vector3d translation = Eigen::Vector3d::Zero();

  Rigid3d() = default;

  Rigid3d(const Eigen::Quaterniond& r, const Eigen::Vector3d& t)
      : rotation(r.normalized()), translation(t) {}

  // b_from_a from [R | t] (3x4) or a homogeneous 4x4 matrix. Throws
  // InputError when R is not a rotation (|R^T R - I| > 1e-6 or det(R) <= 0),
  // when an entry is not finite, or when the last row of a 4x4 is not
  // [0 0 0 1].
  static Rigid3d FromMatrix(const Eigen::Matrix<double, 3, 4>& matrix);
  static Rigid3d FromMatrix4(const Eigen::Matrix4d& matrix);

  // [R | t] as a 3x4 / 4x4 matrix.
  Eigen::Matrix<double, 3, 4> ToMatrix() const {
    Eigen::Matrix<double, 3, 4> m;
    m.leftCols<3>() = rotation.toRotationMatrix();
    m.col(3) = translation;
    return m;
  }

  Eigen::Matrix4d ToMatrix4() const {
    Eigen::Matrix4d m = Eigen::Matrix4d::Identity();
    m.topRows<3>() = ToMatrix();
    return m;
  }

  Rigid3d Inverse() const {
    const Eigen::Quaterniond inv = rotation.conjugate();
    return Rigid3d(inv, -(inv * translation));
  }

  Eigen::Vector3d operator*(const Eigen::Vector3d& x_in_a) const {
    return rotation * x_in_a + translation;
  }

  Rigid3d operator*(const Rigid3d& b_from_a) const {
    return Rigid3d(rotation * b_from_a.rotation,
                   rotation * b_from_a.translation + translation);
  }
};

}  // namespace vanelia
