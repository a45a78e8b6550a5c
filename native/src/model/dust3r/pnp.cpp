// Object-space PnP (the SQPnP objective) by DLT + Gauss-Newton.
#include "vanelia/model/dust3r/pnp.hpp"

#include <cmath>
#include <vector>

#include <Eigen/Dense>
#include <Eigen/SVD>

namespace vanelia::model {

namespace {

Eigen::Matrix3d Skew(const Eigen::Vector3d& v) {
  Eigen::Matrix3d s;
  s << 0, -v.z(), v.y(), v.z(), 0, -v.x(), -v.y(), v.x(), 0;
  return s;
}

Eigen::Matrix3d ExpSo3(const Eigen::Vector3d& w) {
  const double theta = w.norm();
  const Eigen::Matrix3d k = Skew(w);
  if (theta < 1e-12) return Eigen::Matrix3d::Identity() + k;
  return Eigen::Matrix3d::Identity() + std::sin(theta) / theta * k +
         (1.0 - std::cos(theta)) / (theta * theta) * k * k;
}

struct Pose {
  Eigen::Matrix3d r;
  Eigen::Vector3d t;
};

// Linear start: rays v_i x (P X_i) = 0 for P = [R | t] (12 unknowns), on
// centred and scaled points; R projected onto SO(3).
std::optional<Pose> Dlt(const Eigen::Matrix3Xd& x,
                        const Eigen::Matrix3Xd& rays) {
  const Eigen::Vector3d mean = x.rowwise().mean();
  const Eigen::Matrix3Xd xc = x.colwise() - mean;
  const double scale = std::sqrt(xc.squaredNorm() / x.cols()) + 1e-300;
  Eigen::Matrix<double, 12, 12> ata = Eigen::Matrix<double, 12, 12>::Zero();
  for (Eigen::Index i = 0; i < x.cols(); ++i) {
    const Eigen::Vector4d p(
        xc(0, i) / scale, xc(1, i) / scale, xc(2, i) / scale, 1.0);
    const Eigen::Vector3d v = rays.col(i);
    // Rows of [v]_x (P p) = 0 with P row-major in 12 unknowns.
    const Eigen::Matrix3d s = Skew(v);
    Eigen::Matrix<double, 3, 12> a;
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c)
        a.block<1, 4>(r, 4 * c) = s(r, c) * p.transpose();
    }
    ata += a.transpose() * a;
  }
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix<double, 12, 12>> eig(ata);
  const Eigen::Matrix<double, 12, 1> sol = eig.eigenvectors().col(0);
  Eigen::Matrix<double, 3, 4> p;
  for (int r = 0; r < 3; ++r) p.row(r) = sol.segment<4>(4 * r).transpose();
  // Dynamic-size SVD: GCC 12 flags the fixed 3x3 JacobiSVD's members as
  // maybe-uninitialised (-Werror).
  const Eigen::MatrixXd m = p.leftCols<3>();
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(
      m, Eigen::ComputeFullU | Eigen::ComputeFullV);
  double s = svd.singularValues().mean();
  if (!(s > 0)) return std::nullopt;
  Eigen::Matrix3d r = svd.matrixU() * svd.matrixV().transpose();
  if (r.determinant() < 0) {
    r = -r;
    s = -s;
  }
  Eigen::Vector3d t = p.col(3) / s;
  // Most points must be in front of the camera; else the other sign.
  int front = 0;
  for (Eigen::Index i = 0; i < x.cols(); ++i) {
    front += (r * xc.col(i) / scale + t).dot(rays.col(i)) > 0 ? 1 : -1;
  }
  if (front < 0) return std::nullopt;
  // Undo the normalisation: X' = (X - mean) / scale.
  Pose pose;
  pose.r = r;
  pose.t = t * scale - r * mean;
  return pose;
}

// Gauss-Newton on sum_i |A_i (R X_i + t)|^2 (A_i as in SolvePnpObjectSpace).
Pose Refine(const Eigen::Matrix3Xd& x,
            const std::vector<Eigen::Matrix3d>& a,
            Pose pose,
            int iterations) {
  for (int it = 0; it < iterations; ++it) {
    Eigen::Matrix<double, 6, 6> h = Eigen::Matrix<double, 6, 6>::Zero();
    Eigen::Matrix<double, 6, 1> g = Eigen::Matrix<double, 6, 1>::Zero();
    for (Eigen::Index i = 0; i < x.cols(); ++i) {
      const Eigen::Vector3d rx = pose.r * x.col(i);
      Eigen::Matrix<double, 3, 6> j;
      j.leftCols<3>() = -a[i] * Skew(rx);
      j.rightCols<3>() = a[i];
      const Eigen::Vector3d res = a[i] * (rx + pose.t);
      h += j.transpose() * j;
      g += j.transpose() * res;
    }
    const Eigen::Matrix<double, 6, 1> d = -h.ldlt().solve(g);
    if (!d.allFinite()) break;
    pose.r = ExpSo3(d.head<3>()) * pose.r;
    pose.t += d.tail<3>();
    if (d.norm() < 1e-13) break;
  }
  return pose;
}

}  // namespace

std::optional<PnpResult> SolvePnpObjectSpace(
    const Eigen::Matrix3Xd& points_in_world,
    const Eigen::Matrix2Xd& pixels,
    const PnpOptions& options) {
  const Eigen::Index n = points_in_world.cols();
  if (n < 4 || pixels.cols() != n || !(options.focal_px > 0)) {
    return std::nullopt;
  }
  Eigen::Matrix3Xd rays(3, n);
  rays.row(0) = (pixels.row(0).array() - options.cx) / options.focal_px;
  rays.row(1) = (pixels.row(1).array() - options.cy) / options.focal_px;
  rays.row(2).setOnes();
  std::vector<Eigen::Index> inliers(n);
  for (Eigen::Index i = 0; i < n; ++i) inliers[i] = i;
  std::optional<Pose> pose;
  for (int round = 0; round < options.max_inlier_rounds; ++round) {
    const Eigen::Index m = static_cast<Eigen::Index>(inliers.size());
    if (m < 4) return std::nullopt;
    Eigen::Matrix3Xd x(3, m);
    Eigen::Matrix3Xd v(3, m);
    std::vector<Eigen::Matrix3d> a(m);
    for (Eigen::Index k = 0; k < m; ++k) {
      x.col(k) = points_in_world.col(inliers[k]);
      v.col(k) = rays.col(inliers[k]);
      // OpenCV's SQPnP Omega: Q_i = A_i^T A_i with A_i = [[1, 0, -x],
      // [0, 1, -y]] (x, y) the normalised image point (third row zero).
      a[k] << 1.0, 0.0, -v(0, k), 0.0, 1.0, -v(1, k), 0.0, 0.0, 0.0;
    }
    if (!pose.has_value()) pose = Dlt(x, v);
    if (!pose.has_value()) return std::nullopt;
    pose = Refine(x, a, *pose, options.max_gauss_newton);
    std::vector<Eigen::Index> next;
    for (Eigen::Index i = 0; i < n; ++i) {
      const Eigen::Vector3d c = pose->r * points_in_world.col(i) + pose->t;
      if (!(c.z() > 0)) continue;
      const double du =
          options.focal_px * c.x() / c.z() + options.cx - pixels(0, i);
      const double dv =
          options.focal_px * c.y() / c.z() + options.cy - pixels(1, i);
      if (du * du + dv * dv <= options.inlier_px * options.inlier_px) {
        next.push_back(i);
      }
    }
    const bool stable = next == inliers;
    inliers = std::move(next);
    if (stable) break;
  }
  if (inliers.size() < 4) return std::nullopt;
  PnpResult result;
  result.cam_from_world_rotation = pose->r;
  result.cam_from_world_translation = pose->t;
  result.num_inliers = static_cast<int>(inliers.size());
  return result;
}

}  // namespace vanelia::model
