// Plane3d, least-squares plane fit and the RANSAC plane estimator (see
// plane.hpp).
#include "vanelia/geometry/plane.hpp"

#include "vanelia/core/error.hpp"

#include <cmath>
#include <sstream>
#include <string>

#include <Eigen/Eigenvalues>

#include "weights_impl.hpp"

namespace vanelia {
namespace {

// Relative tolerance below which points count as collinear.
constexpr double kRelativeRankTolerance = 1e-10;

}  // namespace

Plane3d::Plane3d(const Eigen::Vector3d& normal, double offset) {
  const double norm = normal.norm();
  if (!normal.allFinite() || !std::isfinite(offset) || !(norm > 0.0)) {
    std::ostringstream out;
    out.precision(17);
    out << "Plane3d: normal = [" << normal.transpose()
        << "], offset = " << offset
        << "; the normal must be finite and non-zero, the offset finite";
    throw InputError(out.str());
  }
  this->normal = normal / norm;
  this->offset = offset / norm;
}

std::optional<Plane3d> Plane3d::FromPoints(const Eigen::Vector3d& a,
                                           const Eigen::Vector3d& b,
                                           const Eigen::Vector3d& c) {
  const Eigen::Vector3d ab = b - a;
  const Eigen::Vector3d ac = c - a;
  const Eigen::Vector3d n = ab.cross(ac);
  const double norm = n.norm();
  if (!n.allFinite() || !a.allFinite() ||
      !(norm > kRelativeRankTolerance * ab.norm() * ac.norm())) {
    return std::nullopt;
  }
  Plane3d plane;
  plane.normal = n / norm;
  plane.offset = -plane.normal.dot(a);
  return plane;
}

std::optional<Plane3d> FitPlane(const Eigen::Matrix3Xd& points,
                                const Eigen::VectorXd& weights) {
  const Eigen::Index n = points.cols();
  const std::optional<Eigen::VectorXd> weights_or =
      internal::NormalizedWeights("FitPlane", weights, n, "points");
  if (!weights_or) return std::nullopt;
  if (!points.allFinite()) return std::nullopt;
  const Eigen::VectorXd& w = *weights_or;

  const Eigen::Vector3d centroid = points * w;
  const Eigen::Matrix3Xd centred = points.colwise() - centroid;
  const Eigen::Matrix3d cov =
      (centred.array().rowwise() * w.transpose().array()).matrix() *
      centred.transpose();
  const Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> solver(cov);
  const Eigen::Vector3d& ev = solver.eigenvalues();  // ascending
  if (!(ev(2) > 0.0) || !(ev(1) > kRelativeRankTolerance * ev(2))) {
    return std::nullopt;
  }
  Eigen::Vector3d normal = solver.eigenvectors().col(0).normalized();
  // Deterministic sign: first non-zero of (z, y, x) positive.
  const double sign_key = normal.z() != 0.0   ? normal.z()
                          : normal.y() != 0.0 ? normal.y()
                                              : normal.x();
  if (sign_key < 0.0) normal = -normal;
  if (!normal.allFinite()) return std::nullopt;
  Plane3d plane;
  plane.normal = normal;
  plane.offset = -normal.dot(centroid);
  return plane;
}

double PlaneRmse(const Plane3d& plane, const Eigen::Matrix3Xd& points) {
  if (points.cols() == 0) return 0.0;
  const Eigen::ArrayXd d =
      (plane.normal.transpose() * points).array() + plane.offset;
  return std::sqrt(d.square().mean());
}

std::vector<Plane3d> PlaneEstimator::Estimate(
    const std::vector<Eigen::Vector3d>& samples) const {
  if (samples.size() != static_cast<size_t>(kMinNumSamples)) return {};
  const std::optional<Plane3d> plane =
      Plane3d::FromPoints(samples[0], samples[1], samples[2]);
  if (!plane) return {};
  return {*plane};
}

void PlaneEstimator::Residuals(const Plane3d& plane,
                               const std::vector<Eigen::Vector3d>& data,
                               std::vector<double>* residuals) const {
  residuals->resize(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    (*residuals)[i] = std::abs(plane.SignedDistance(data[i]));
  }
}

std::optional<Plane3d> PlaneEstimator::Refine(
    const std::vector<Eigen::Vector3d>& inliers) const {
  Eigen::Matrix3Xd points(3, static_cast<Eigen::Index>(inliers.size()));
  for (size_t i = 0; i < inliers.size(); ++i) {
    points.col(static_cast<Eigen::Index>(i)) = inliers[i];
  }
  return FitPlane(points);
}

RansacReport<Plane3d> EstimatePlaneRansac(const Eigen::Matrix3Xd& points,
                                          const RansacOptions& options) {
  std::vector<Eigen::Vector3d> data(static_cast<size_t>(points.cols()));
  for (Eigen::Index i = 0; i < points.cols(); ++i) {
    data[static_cast<size_t>(i)] = points.col(i);
  }
  return Ransac(options, PlaneEstimator(), data);
}

}  // namespace vanelia
