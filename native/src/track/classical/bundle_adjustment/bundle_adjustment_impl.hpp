// Bundle adjustment of a Reconstruction with Ceres (private to the classical
// tracker). Poses are angle-axis + translation, points are free 3-vectors,
// the focal is shared (or one per frame), the principal point is fixed and
// radial k1 k2 are optional. Inputs are validated first: Ceres CHECKs abort
// and the library must not. Ceres runs on one thread: its threaded cost,
// gradient and Schur sums add in scheduling order, so two runs would differ
// in the last bits and then, through RANSAC and outlier thresholds, visibly.
// Only the values that are refined are written back, so that motion-only
// solves of different frames may run in parallel.
#pragma once

#include <functional>
#include <vector>

#include "track/classical/features/feature_tracks_impl.hpp"
#include "track/classical/reconstruction_impl.hpp"

namespace vanelia::internal {

struct BundleAdjustmentOptions {
  // Frame slots whose poses are refined. Other registered frames that see
  // the same points enter as constants, unless `variable_frames_only`: then
  // only the variable frames' observations count (a sub-problem).
  std::vector<int> variable_frames;
  bool variable_frames_only = false;
  // When no constant frame is involved, the first variable frame is fixed
  // (gauge).
  bool refine_focal = false;
  bool refine_k1 = false;
  bool refine_k2 = false;
  bool refine_points = true;
  // Per-frame focal (zoom) refined: consecutive frames' focals are tied by
  // a prior on the zoom's smoothness, the second difference of log(focal)
  // over time (a steady zoom costs nothing), with this standard deviation
  // per frame of spacing. Without it, the focal of each frame trades
  // against its distance to the scene (both scale the image) and the
  // solve drifts; 0 = no prior.
  double focal_rate_sigma = 0.002;
  // Per-frame focal refined: holds the geometric mean of the variable
  // frames' focals at this value (pixels; a stiff prior), so that the
  // zoom's shape is solved at a given level (a profile over the level).
  // 0 = free.
  double focal_level_px = 0.0;
  // Rotation-only (tripod) solve: translations stay at their values and
  // the points are directions (kept on the unit sphere).
  bool fix_translation = false;
  // Conjugate gradients on the implicit Schur complement instead of a dense
  // factorisation: faster when long tracks tie every frame to every other.
  bool iterative = false;
  int max_iterations = 20;
  double loss_scale_px = 1.0;  // Cauchy scale; <= 0 = plain least squares
  double function_tolerance = 1e-6;
  // Called after every Ceres iteration: cancel requests are polled here. An
  // exception it throws (vanelia::Cancelled) stops the solve at once
  // (ceres::SOLVER_ABORT), leaves `rec` unchanged and is rethrown by
  // BundleAdjust.
  std::function<void()> poll;
};

struct BundleAdjustmentReport {
  bool solved = false;
  int num_residuals = 0;
  double initial_rms_px = 0.0;
  double final_rms_px = 0.0;
  double final_cost = 0.0;
  int iterations = 0;
};

BundleAdjustmentReport BundleAdjust(const FeatureTracker& tracker,
                                    const BundleAdjustmentOptions& options,
                                    Reconstruction* rec);

// Marks observations with a reprojection error above `max_error_px` (or
// behind the camera) as outliers and drops points left with fewer than two
// inlier observations in registered frames. Returns the number marked.
int FilterOutliers(const FeatureTracker& tracker,
                   double max_error_px,
                   Reconstruction* rec);

// Mean reprojection error (pixels) over inlier observations in registered
// frames, and the count.
double MeanReprojectionError(const FeatureTracker& tracker,
                             const Reconstruction& rec,
                             int* count = nullptr);

}  // namespace vanelia::internal
