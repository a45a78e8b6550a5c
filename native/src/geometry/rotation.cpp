// Rotation helpers (see rotation.hpp).
#include "vanelia/geometry/rotation.hpp"

#include <algorithm>
#include <cmath>

#include <Eigen/SVD>

namespace vanelia {

double RotationAngleDeg(const Eigen::Quaterniond& a,
                        const Eigen::Quaterniond& b) {
  const Eigen::Quaterniond d = a.normalized().conjugate() * b.normalized();
  const double angle_rad = 2.0 * std::atan2(d.vec().norm(), std::abs(d.w()));
  return angle_rad * 180.0 / M_PI;
}

Eigen::Matrix3d ProjectToRotation(const Eigen::Matrix3d& matrix) {
  const Eigen::JacobiSVD<Eigen::Matrix3d> svd(
      matrix, Eigen::ComputeFullU | Eigen::ComputeFullV);
  Eigen::Matrix3d u = svd.matrixU();
  const Eigen::Matrix3d& v = svd.matrixV();
  if ((u * v.transpose()).determinant() < 0.0) u.col(2) *= -1.0;
  return u * v.transpose();
}

Eigen::Quaterniond QuaternionFromMatrix(const Eigen::Matrix3d& matrix) {
  return Eigen::Quaterniond(ProjectToRotation(matrix)).normalized();
}

void MakeQuaternionsContinuous(std::vector<Eigen::Quaterniond>& quaternions) {
  for (size_t i = 1; i < quaternions.size(); ++i) {
    if (quaternions[i].coeffs().dot(quaternions[i - 1].coeffs()) < 0.0) {
      quaternions[i].coeffs() *= -1.0;
    }
  }
}

Rigid3d InterpolateRigid3d(const Rigid3d& start, const Rigid3d& end, double t) {
  // Eigen's slerp takes the shortest arc (it flips the sign internally).
  return Rigid3d(start.rotation.slerp(t, end.rotation),
                 (1.0 - t) * start.translation + t * end.translation);
}

}  // namespace vanelia
