// Least-squares similarity / rigid alignment of corresponding 3-D points:
// weighted Umeyama / Procrustes.
//
//   dst_from_src = argmin  sum_i w_i |dst_i - (s R src_i + t)|^2
//
// S. Umeyama, "Least-squares estimation of transformation parameters between
// two point patterns", IEEE TPAMI 13(4), 1991 (eq. 34-42), with per-point
// weights as in Eigen's umeyama() generalised by weighted means and a
// weighted cross-covariance.
//
// Degenerate input is an expected outcome and returns std::nullopt, never
// throws or produces NaNs: fewer than 3 points of positive weight, all
// weights zero, points (source or destination) collinear or coincident, or a
// non-finite coordinate or weight. Inconsistent sizes and negative weights
// are caller bugs and throw InputError naming the argument.
#pragma once

#include "vanelia/geometry/ransac.hpp"
#include "vanelia/geometry/rigid3d.hpp"
#include "vanelia/geometry/sim3d.hpp"

#include <optional>
#include <vector>

#include <Eigen/Core>

namespace vanelia {

// dst_from_src from src (3xN) to dst (3xN). `weights` has N entries >= 0, or
// is empty for uniform weights. With estimate_scale = false the scale is 1
// (rigid Procrustes / Kabsch).
std::optional<Sim3d> EstimateSim3d(const Eigen::Matrix3Xd& src,
                                   const Eigen::Matrix3Xd& dst,
                                   const Eigen::VectorXd& weights = {},
                                   bool estimate_scale = true);

// The rigid case of EstimateSim3d (scale fixed at 1).
std::optional<Rigid3d> EstimateRigid3d(const Eigen::Matrix3Xd& src,
                                       const Eigen::Matrix3Xd& dst,
                                       const Eigen::VectorXd& weights = {});

// One 3-D point seen in two frames.
struct PointCorrespondence3d {
  Eigen::Vector3d src = Eigen::Vector3d::Zero();
  Eigen::Vector3d dst = Eigen::Vector3d::Zero();
};

// RANSAC estimator of dst_from_src: minimal sample of 3 correspondences,
// residual |dst - (s R src + t)| in dst's unit, refined by EstimateSim3d on
// all inliers.
struct Sim3dEstimator {
  using Sample = PointCorrespondence3d;
  using Model = Sim3d;
  static constexpr int kMinNumSamples = 3;

  bool estimate_scale = true;  // false: rigid (scale 1)

  std::vector<Sim3d> Estimate(
      const std::vector<PointCorrespondence3d>& samples) const;
  void Residuals(const Sim3d& dst_from_src,
                 const std::vector<PointCorrespondence3d>& data,
                 std::vector<double>* residuals) const;
  std::optional<Sim3d> Refine(
      const std::vector<PointCorrespondence3d>& inliers) const;
};

// Ransac<Sim3dEstimator> over the columns of src and dst (3xN each; throws
// InputError when their sizes differ); max_error is a distance in dst's
// unit.
RansacReport<Sim3d> EstimateSim3dRansac(const Eigen::Matrix3Xd& src,
                                        const Eigen::Matrix3Xd& dst,
                                        const RansacOptions& options,
                                        bool estimate_scale = true);

}  // namespace vanelia
