// Planes in 3-D and their estimation: a least-squares fit (weighted) and a
// RANSAC estimator for the Ransac<> template (the floor of a tracked scene).
//
//   plane: { X : dot(normal, X) + offset = 0 },  |normal| = 1
//
// SignedDistance(X) = dot(normal, X) + offset is positive on the side the
// normal points to.
#pragma once

#include "vanelia/geometry/ransac.hpp"

#include <optional>
#include <vector>

#include <Eigen/Core>

namespace vanelia {

struct Plane3d {
  Eigen::Vector3d normal = Eigen::Vector3d::UnitZ();  // unit length
  double offset = 0.0;  // same unit as the points (metres in Blender)

  Plane3d() = default;
  // Normalises (normal, offset) by |normal|. Throws InputError when normal
  // is zero or an entry is not finite.
  Plane3d(const Eigen::Vector3d& normal, double offset);

  // The plane through three points, oriented by (b - a) x (c - a); nullopt
  // when they are (nearly) collinear or not finite.
  static std::optional<Plane3d> FromPoints(const Eigen::Vector3d& a,
                                           const Eigen::Vector3d& b,
                                           const Eigen::Vector3d& c);

  double SignedDistance(const Eigen::Vector3d& point) const {
    return normal.dot(point) + offset;
  }

  // Orthogonal projection of `point` onto the plane.
  Eigen::Vector3d Project(const Eigen::Vector3d& point) const {
    return point - SignedDistance(point) * normal;
  }

  // The same plane with the opposite orientation.
  Plane3d Flipped() const {
    Plane3d p;
    p.normal = -normal;
    p.offset = -offset;
    return p;
  }

  // The same plane oriented so that `point` has SignedDistance >= 0 (the
  // normal points towards it); e.g. the floor's normal towards the cameras.
  [[nodiscard]] Plane3d FlipTowards(const Eigen::Vector3d& point) const {
    return SignedDistance(point) < 0.0 ? Flipped() : *this;
  }
};

// Least-squares plane of points (3xN): the normal is the eigenvector of the
// smallest eigenvalue of the (weighted) covariance, the plane passes through
// the (weighted) centroid. `weights` has N entries >= 0 or is empty for
// uniform weights. The normal's sign is chosen with normal.z() >= 0 (then
// y, then x) so the result is deterministic; use FlipTowards to orient it.
// Returns nullopt for fewer than 3 points of positive weight, collinear or
// coincident points, or non-finite input; throws InputError on a weights
// size mismatch or a negative weight.
std::optional<Plane3d> FitPlane(const Eigen::Matrix3Xd& points,
                                const Eigen::VectorXd& weights = {});

// Root mean square of the point-to-plane distances (0 for no points).
double PlaneRmse(const Plane3d& plane, const Eigen::Matrix3Xd& points);

// RANSAC estimator: minimal sample of 3 points, residual = |distance| in the
// points' unit, refined by FitPlane on the inliers.
struct PlaneEstimator {
  using Sample = Eigen::Vector3d;
  using Model = Plane3d;
  static constexpr int kMinNumSamples = 3;

  std::vector<Plane3d> Estimate(
      const std::vector<Eigen::Vector3d>& samples) const;
  void Residuals(const Plane3d& plane,
                 const std::vector<Eigen::Vector3d>& data,
                 std::vector<double>* residuals) const;
  std::optional<Plane3d> Refine(
      const std::vector<Eigen::Vector3d>& inliers) const;
};

// Ransac<PlaneEstimator> over the columns of points (3xN); max_error is a
// distance in the points' unit.
RansacReport<Plane3d> EstimatePlaneRansac(const Eigen::Matrix3Xd& points,
                                          const RansacOptions& options);

}  // namespace vanelia
