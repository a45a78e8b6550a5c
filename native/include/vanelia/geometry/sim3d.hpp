// Similarity transforms between frames:
//
//   x_in_b = s * R * x_in_a + t      with b_from_a = {s > 0, R, t}
//
// Used to move a tracker's arbitrary world into Blender's metric world
// (blender_from_track). Applying b_from_a to a camera pose cam_from_a gives
// cam_from_b = cam_from_a * a_from_b with the translation rescaled so that
// the camera stays rigid (see TransformPose).
#pragma once

#include "vanelia/geometry/rigid3d.hpp"

#include <Eigen/Core>
#include <Eigen/Geometry>

namespace vanelia {

struct Sim3d {
  double scale = 1.0;
  Eigen::Quaterniond rotation = Eigen::Quaterniond::Identity();
  Eigen::Vector3d translation = Eigen::Vector3d::Zero();

  Sim3d() = default;

  Sim3d(double s, const Eigen::Quaterniond& r, const Eigen::Vector3d& t)
      : scale(s), rotation(r.normalized()), translation(t) {}

  // The rigid transform as a similarity with scale 1.
  static Sim3d FromRigid(const Rigid3d& b_from_a) {
    return Sim3d(1.0, b_from_a.rotation, b_from_a.translation);
  }

  // b_from_a from [s R | t] (3x4) or a homogeneous 4x4 matrix; s is the cube
  // root of det(s R). Throws InputError when an entry is not finite, when
  // det(s R) <= 0 (scale not positive, or a reflection), when (s R) / s is
  // not a rotation (|R^T R - I| > 1e-6), or when the last row of a 4x4 is
  // not [0 0 0 1].
  static Sim3d FromMatrix(const Eigen::Matrix<double, 3, 4>& matrix);
  static Sim3d FromMatrix4(const Eigen::Matrix4d& matrix);

  Eigen::Matrix<double, 3, 4> ToMatrix() const {
    Eigen::Matrix<double, 3, 4> m;
    m.leftCols<3>() = scale * rotation.toRotationMatrix();
    m.col(3) = translation;
    return m;
  }

  Eigen::Matrix4d ToMatrix4() const {
    Eigen::Matrix4d m = Eigen::Matrix4d::Identity();
    m.topLeftCorner<3, 3>() = scale * rotation.toRotationMatrix();
    m.topRightCorner<3, 1>() = translation;
    return m;
  }

  Sim3d Inverse() const {
    const Eigen::Quaterniond inv = rotation.conjugate();
    return Sim3d(1.0 / scale, inv, -(inv * translation) / scale);
  }

  Eigen::Vector3d operator*(const Eigen::Vector3d& x_in_a) const {
    return scale * (rotation * x_in_a) + translation;
  }

  Sim3d operator*(const Sim3d& b_from_a) const {
    return Sim3d(scale * b_from_a.scale,
                 rotation * b_from_a.rotation,
                 scale * (rotation * b_from_a.translation) + translation);
  }

  // Given cam_from_a (rigid), returns cam_from_b where this is b_from_a: the
  // camera keeps its orientation relative to the scene and its centre moves
  // with the similarity (c_b = s R c_a + t).
  Rigid3d TransformPose(const Rigid3d& cam_from_a) const {
    const Eigen::Quaterniond r = cam_from_a.rotation * rotation.conjugate();
    const Eigen::Vector3d centre_a = cam_from_a.Inverse().translation;
    const Eigen::Vector3d centre_b = (*this) * centre_a;
    return Rigid3d(r, -(r * centre_b));
  }
};

}  // namespace vanelia
