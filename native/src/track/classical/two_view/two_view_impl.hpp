// Multi-view geometry steps of the classical tracker (private): the two-view
// start (essential matrix vs homography, focal sweep), triangulation and
// PnP registration, over OpenCV's RANSAC estimators.
#pragma once

#include <optional>
#include <vector>

#include <Eigen/Core>
#include <opencv2/core/types.hpp>

#include "track/classical/features/feature_tracks_impl.hpp"
#include "track/classical/reconstruction_impl.hpp"

namespace vanelia::internal {

// Where the parabola through three equally spaced samples (c1 the lowest)
// has its minimum, in steps from the middle one, clamped to [-1, 1]; 0 when
// the samples do not curve upwards.
double ParabolaVertexOffset(double c0, double c1, double c2);

// Focal length (pixels) that makes E = K^T F K closest to an essential matrix
// (two equal singular values; Mendonca & Cipolla 1999), from a geometric
// sweep of [0.3, 3] x width. nullopt when the residual has no clear minimum
// (degenerate motion: e.g. optical axes that meet).
std::optional<double> FocalFromFundamental(const Eigen::Matrix3d& F,
                                           double cx,
                                           double cy,
                                           int width);

// The rotation nearest to M / cbrt(det M) (SVD), and the Frobenius distance
// to it when `residual` is not null.
Eigen::Matrix3d NearestRotation(const Eigen::Matrix3d& M, double* residual);

// How well a rotation about the camera centre (H = K R K^-1) explains a pair
// of views: the best focal (the known one, or a sweep of [0.3, 3] x width)
// and the median transfer error (px) of `pa` -> `pb` under it.
struct RotationFit {
  double focal = 0.0;
  double median_error_px = 0.0;
};

RotationFit FitRotation(const Eigen::Matrix3d& H,
                        const std::vector<Eigen::Vector2d>& pa,
                        const std::vector<Eigen::Vector2d>& pb,
                        double cx,
                        double cy,
                        int width,
                        std::optional<double> known_focal);

// The homography of `pa` -> `pb` (pixels, RANSAC): its inlier count, the
// median error of its inliers, and theirs under the best rotation-only model
// (FitRotation). TestHomography returns false when OpenCV finds none.
struct HomographyTest {
  int num_inliers = 0;
  double h_error_px = 0.0;
  double rotation_error_px = 0.0;
  // Whether the homography comes from a rotation about the camera centre (a
  // pan: no parallax) rather than from a plane seen by a translating camera:
  // the rotation explains its inliers about as well as the homography (within
  // 4x its median error or 2 px).
  bool RotationLike() const;
};

bool TestHomography(const std::vector<cv::Point2f>& pa,
                    const std::vector<cv::Point2f>& pb,
                    double threshold_px,
                    double cx,
                    double cy,
                    std::optional<double> known_focal,
                    HomographyTest* out);

struct TwoViewResult {
  bool success = false;
  Eigen::Matrix3d R = Eigen::Matrix3d::Identity();  // second_from_first
  Eigen::Vector3d t = Eigen::Vector3d::Zero();      // unit norm
  int num_f_inliers = 0;
  int num_h_inliers = 0;
  // The homography's errors (TestHomography): a plane seen with translation
  // fits the homography, not a rotation.
  HomographyTest homography;
  double median_angle_deg = 0.0;
  std::optional<double> focal_from_f;  // the sweep's answer, if any
  std::vector<int> inlier_ids;         // track ids
};

// Relative pose between frame slots a and b from their common tracks with
// the current camera model. Fails (success = false) when the homography
// explains the tracks nearly as well as the essential matrix (too little
// parallax; skipped when `check_parallax` is false) or when too few points
// triangulate.
TwoViewResult EstimateTwoView(const FeatureTracker& tracker,
                              const Reconstruction& rec,
                              int a,
                              int b,
                              double threshold_px,
                              bool estimate_focal,
                              bool check_parallax = true);

// Normalised (z = 1) ray of a pixel, radial distortion removed.
Eigen::Vector2d Normalize(const CameraModel& camera,
                          double focal,
                          const Eigen::Vector2d& px);

// Camera centre of a pose.
Eigen::Vector3d CenterOf(const FramePose& pose);

// The point (world) whose projections best match observations `ks` of
// `track` in the poses of `rec`, by linear triangulation (DLT) on
// normalised coordinates; nullopt when degenerate (at infinity).
std::optional<Eigen::Vector3d> TriangulateDlt(const Reconstruction& rec,
                                              const FeatureTrack& track,
                                              const std::vector<int>& ks);

// Triangulates track `id` from its inlier observations in registered frames
// of `frames` (slots; empty = all registered). Stores the point when the
// largest ray angle >= min_angle_deg, every observation lies in front and
// reprojects within max_error_px (observations beyond are marked outliers
// if at least two good ones remain). Returns whether a point was stored.
bool TriangulateTrack(const FeatureTracker& tracker,
                      int id,
                      const std::vector<uint8_t>& usable_frame,
                      double min_angle_deg,
                      double max_error_px,
                      Reconstruction* rec);

struct PnpResult {
  bool success = false;
  int num_inliers = 0;
  int num_correspondences = 0;
};

// Registers frame slot `frame` from the 2-D/3-D matches of its tracks
// (RANSAC, then Levenberg-Marquardt on the inliers). Observations outside
// the inlier set are marked outliers. `prior` seeds the refinement.
PnpResult RegisterFrame(const FeatureTracker& tracker,
                        int frame,
                        double threshold_px,
                        int min_inliers,
                        const FramePose* prior,
                        Reconstruction* rec);

}  // namespace vanelia::internal
