// Weighted Umeyama / Procrustes (see umeyama.hpp).
#include "vanelia/geometry/umeyama.hpp"

#include "vanelia/core/error.hpp"

#include <cmath>
#include <string>

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>

#include "weights_impl.hpp"

namespace vanelia {
namespace {

// A spread (eigen- or singular value) below this fraction of the largest
// one counts as zero: the points span a line (or a point) only.
constexpr double kRelativeRankTolerance = 1e-10;

// True when the weighted covariance `cov` spans at least a plane.
bool SpansPlane(const Eigen::Matrix3d& cov) {
  const Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> solver(
      cov, Eigen::EigenvaluesOnly);
  const Eigen::Vector3d& ev = solver.eigenvalues();  // ascending
  return ev(2) > 0.0 && ev(1) > kRelativeRankTolerance * ev(2);
}

}  // namespace

std::optional<Sim3d> EstimateSim3d(const Eigen::Matrix3Xd& src,
                                   const Eigen::Matrix3Xd& dst,
                                   const Eigen::VectorXd& weights,
                                   bool estimate_scale) {
  const Eigen::Index n = src.cols();
  if (dst.cols() != n) {
    throw InputError("EstimateSim3d: dst has " + std::to_string(dst.cols()) +
                     " points; must equal the " + std::to_string(n) +
                     " points of src");
  }
  const std::optional<Eigen::VectorXd> weights_or =
      internal::NormalizedWeights("EstimateSim3d", weights, n, "points of src");
  if (!weights_or) return std::nullopt;
  if (!src.allFinite() || !dst.allFinite()) return std::nullopt;
  const Eigen::VectorXd& w = *weights_or;

  const Eigen::Vector3d mean_src = src * w;
  const Eigen::Vector3d mean_dst = dst * w;
  const Eigen::Matrix3Xd centred_src = src.colwise() - mean_src;
  const Eigen::Matrix3Xd centred_dst = dst.colwise() - mean_dst;
  const Eigen::Matrix3Xd weighted_src =
      (centred_src.array().rowwise() * w.transpose().array()).matrix();
  const Eigen::Matrix3d cov_src = weighted_src * centred_src.transpose();
  const Eigen::Matrix3Xd weighted_dst =
      (centred_dst.array().rowwise() * w.transpose().array()).matrix();
  const Eigen::Matrix3d cov_dst = weighted_dst * centred_dst.transpose();
  if (!SpansPlane(cov_src) || !SpansPlane(cov_dst)) return std::nullopt;

  // Cross-covariance dst/src (Umeyama eq. 38) and its SVD.
  const Eigen::Matrix3d sigma = centred_dst * weighted_src.transpose();
  const Eigen::JacobiSVD<Eigen::Matrix3d> svd(
      sigma, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Eigen::Vector3d& sv = svd.singularValues();  // descending
  if (!(sv(0) > 0.0) || !(sv(1) > kRelativeRankTolerance * sv(0))) {
    return std::nullopt;
  }
  Eigen::Vector3d s_diag(1.0, 1.0, 1.0);
  if (svd.matrixU().determinant() * svd.matrixV().determinant() < 0.0) {
    s_diag(2) = -1.0;
  }
  const Eigen::Matrix3d r =
      svd.matrixU() * s_diag.asDiagonal() * svd.matrixV().transpose();

  double scale = 1.0;
  if (estimate_scale) {
    const double var_src = cov_src.trace();  // Umeyama eq. 36
    scale = sv.dot(s_diag) / var_src;        // Umeyama eq. 42
    if (!(scale > 0.0) || !std::isfinite(scale)) return std::nullopt;
  }
  const Eigen::Vector3d t = mean_dst - scale * (r * mean_src);  // eq. 41
  const Sim3d dst_from_src(scale, Eigen::Quaterniond(r), t);
  if (!dst_from_src.rotation.coeffs().allFinite() ||
      !dst_from_src.translation.allFinite()) {
    return std::nullopt;
  }
  return dst_from_src;
}

std::optional<Rigid3d> EstimateRigid3d(const Eigen::Matrix3Xd& src,
                                       const Eigen::Matrix3Xd& dst,
                                       const Eigen::VectorXd& weights) {
  const std::optional<Sim3d> sim =
      EstimateSim3d(src, dst, weights, /*estimate_scale=*/false);
  if (!sim) return std::nullopt;
  return Rigid3d(sim->rotation, sim->translation);
}

namespace {

// 3xN source and destination columns of correspondences.
void ToColumns(const std::vector<PointCorrespondence3d>& pairs,
               Eigen::Matrix3Xd* src,
               Eigen::Matrix3Xd* dst) {
  const auto n = static_cast<Eigen::Index>(pairs.size());
  src->resize(3, n);
  dst->resize(3, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    src->col(i) = pairs[static_cast<size_t>(i)].src;
    dst->col(i) = pairs[static_cast<size_t>(i)].dst;
  }
}

}  // namespace

std::vector<Sim3d> Sim3dEstimator::Estimate(
    const std::vector<PointCorrespondence3d>& samples) const {
  std::optional<Sim3d> model = Refine(samples);
  if (!model) return {};
  return {*model};
}

void Sim3dEstimator::Residuals(const Sim3d& dst_from_src,
                               const std::vector<PointCorrespondence3d>& data,
                               std::vector<double>* residuals) const {
  residuals->resize(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    (*residuals)[i] = (data[i].dst - dst_from_src * data[i].src).norm();
  }
}

std::optional<Sim3d> Sim3dEstimator::Refine(
    const std::vector<PointCorrespondence3d>& inliers) const {
  Eigen::Matrix3Xd src;
  Eigen::Matrix3Xd dst;
  ToColumns(inliers, &src, &dst);
  return EstimateSim3d(src, dst, Eigen::VectorXd(), estimate_scale);
}

RansacReport<Sim3d> EstimateSim3dRansac(const Eigen::Matrix3Xd& src,
                                        const Eigen::Matrix3Xd& dst,
                                        const RansacOptions& options,
                                        bool estimate_scale) {
  if (dst.cols() != src.cols()) {
    throw InputError("EstimateSim3dRansac: dst has " +
                     std::to_string(dst.cols()) + " points; must equal the " +
                     std::to_string(src.cols()) + " points of src");
  }
  std::vector<PointCorrespondence3d> data(static_cast<size_t>(src.cols()));
  for (Eigen::Index i = 0; i < src.cols(); ++i) {
    data[static_cast<size_t>(i)].src = src.col(i);
    data[static_cast<size_t>(i)].dst = dst.col(i);
  }
  Sim3dEstimator estimator;
  estimator.estimate_scale = estimate_scale;
  return Ransac(options, estimator, data);
}

}  // namespace vanelia
