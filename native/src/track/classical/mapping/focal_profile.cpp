// The focal and zoom profiles of the incremental mapper: the shared focal
// solved by a profile over trial focals (ProfileFocal, scored by TrialCost),
// the test for a zoom (DetectZoom), the level of a zoom's per-frame focals
// (ProfileZoomLevel), and the spread of the solved focal (MeasureFocalSpread).
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "track/classical/bundle_adjustment/bundle_adjustment_impl.hpp"
#include "track/classical/mapping/incremental_mapper_impl.hpp"
#include "track/classical/two_view/two_view_impl.hpp"

namespace vanelia::internal {

namespace {

// A zoom (DetectZoom): the keyframes' free focals span more than this ratio
// and explain the tracks with a median error below this fraction of the
// shared focal's.
constexpr double kZoomMinRange = 1.1;
constexpr double kZoomMinGain = 0.9;
// ProfileFocal's trials: errors above this (px) count as this (MSAC).
constexpr double kTrialCapPx = 2.0;

// Index of the lowest finite value (the first of equals); size() if none.
size_t LowestOf(const std::vector<double>& values) {
  size_t best = values.size();
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isfinite(values[i]) &&
        (best == values.size() || values[i] < values[best])) {
      best = i;
    }
  }
  return best;
}

}  // namespace

void IncrementalMapper::ProfileFocal(const std::vector<double>& factors) {
  const std::vector<int> kfs = RegisteredKeyframes();
  const Reconstruction& base = rec_;
  const auto [a, b] = init_pair_;
  std::vector<uint8_t> usable(base.poses.size(), 0);
  for (int kf : kfs) usable[kf] = 1;
  // One reconstruction per factor, solved independently (in parallel: the
  // answer does not depend on the thread count).
  std::vector<Reconstruction> trials(factors.size());
  std::vector<double> costs(factors.size(),
                            std::numeric_limits<double>::infinity());
  ParallelFor(static_cast<int>(factors.size()), [&](int i) {
    // Start again from the two views at this focal: poses estimated at
    // another focal would bias the comparison towards that one.
    cv::setRNGSeed(kRansacSeed);
    Reconstruction& rec = trials[i];
    rec = base;
    for (auto& pose : rec.poses) pose.registered = false;
    std::fill(rec.has_point.begin(), rec.has_point.end(), 0);
    for (auto& in : rec.inlier) std::fill(in.begin(), in.end(), 1);
    rec.camera.focal = base.camera.focal * factors[i];
    const TwoViewResult tv = EstimateTwoView(
        tracker_, rec, a, b, options_.ransac_threshold_px, false, false);
    if (!tv.success || !StartFromPair(a, b, tv, &rec)) return;
    for (int kf : kfs) {
      if (kf == a || kf == b) continue;
      const PnpResult pnp = RegisterFrame(tracker_,
                                          kf,
                                          options_.ransac_threshold_px,
                                          options_.min_pnp_inliers,
                                          nullptr,
                                          &rec);
      if (!pnp.success) return;
      TriangulateFrom(kf, usable, &rec);
    }
    BundleAdjustmentOptions ba = BaOptions();
    ba.variable_frames = kfs;
    ba.max_iterations = 20;
    const BundleAdjustmentReport report = BundleAdjust(tracker_, ba, &rec);
    if (!report.solved || report.num_residuals == 0) return;
    costs[i] = report.final_cost / report.num_residuals;
  });
  // The trials' own costs are not comparable: each has rejected its own
  // outliers and triangulated its own tracks, and one that kept only the
  // easy points looks best (a hand-held walk: the focal 1.6x too long at
  // 0.015 per residual with half the points, against 0.020 near the true
  // focal). Each trial is scored instead on the same data: every track seen
  // by two keyframes, triangulated from the trial's poses.
  // The trial that the old rule (its own cost) picks is kept as a second
  // opinion: on a clip whose early frames favour a wrong focal (a person
  // crossing the view) it is the one that registers every frame; Finish
  // tries it when the first answer is weak.
  std::vector<double> scores(factors.size(),
                             std::numeric_limits<double>::infinity());
  for (size_t i = 0; i < factors.size(); ++i) {
    if (std::isfinite(costs[i])) scores[i] = TrialCost(trials[i], usable);
  }
  const size_t best = LowestOf(scores);
  const size_t own = LowestOf(costs);
  if (best >= factors.size()) {
    FilterOutliers(tracker_, options_.max_reprojection_error_px, &rec_);
    return;
  }
  if (own != best) {
    second_opinion_ = std::move(trials[own]);
    FilterOutliers(
        tracker_, options_.max_reprojection_error_px, &*second_opinion_);
  }
  rec_ = std::move(trials[best]);
  FilterOutliers(tracker_, options_.max_reprojection_error_px, &rec_);
}

double IncrementalMapper::TrialCost(const Reconstruction& rec,
                                    const std::vector<uint8_t>& frames) const {
  // Every track with observations in two registered `frames`, triangulated
  // (DLT) from the poses of `rec`, scored as MSAC does: the squared error,
  // capped at kTrialCapPx (a moving object's tracks or a point behind a
  // camera cost the same in every trial, however wrong).
  const auto capped = [](double e) {
    return std::min(e * e, kTrialCapPx * kTrialCapPx);
  };
  double sum = 0.0;
  int n = 0;
  std::vector<int> ks;
  for (const FeatureTrack& track : tracker_.Tracks()) {
    ks.clear();
    for (size_t k = 0; k < track.obs.size(); ++k) {
      const int f = track.obs[k].frame;
      if (f < static_cast<int>(rec.poses.size()) && frames[f] &&
          rec.poses[f].registered) {
        ks.push_back(static_cast<int>(k));
      }
    }
    if (ks.size() < 2) continue;
    const std::optional<Eigen::Vector3d> p = TriangulateDlt(rec, track, ks);
    for (int k : ks) {
      double e =
          p ? ReprojectionError(rec, track.obs[k].frame, *p, track.obs[k].px)
            : -1.0;
      if (e < 0.0) e = 1e3;
      sum += capped(e);
      ++n;
    }
  }
  return n > 0 ? sum / n : std::numeric_limits<double>::infinity();
}

void IncrementalMapper::DetectZoom() {
  // The keyframes solved again with one focal each (tied by the zoom
  // smoothness prior). A zoom shot solved with one focal is a confident
  // wrong track (the scene bends to explain the changing magnification,
  // with small residuals); with free focals its keyframes' focals spread
  // along a trend and the residuals drop. Fixed lenses give a spread of a
  // few per cent at most.
  const std::vector<int> kfs = RegisteredKeyframes();
  if (kfs.size() < 3) return;
  Reconstruction zoom = rec_;
  zoom.per_frame_focal = true;
  for (auto& pose : zoom.poses) pose.focal = zoom.camera.focal;
  BundleAdjustmentOptions ba = BaOptions();
  ba.variable_frames = kfs;
  ba.refine_focal = true;
  ba.max_iterations = 50;
  BundleAdjust(tracker_, ba, &zoom);
  double lo = std::numeric_limits<double>::infinity();
  double hi = 0.0;
  for (int kf : kfs) {
    lo = std::min(lo, zoom.poses[kf].focal);
    hi = std::max(hi, zoom.poses[kf].focal);
  }
  const double error_fixed = MedianResidualOf(rec_);
  const double error_zoom = MedianResidualOf(zoom);
  if (!(hi / lo > kZoomMinRange && error_zoom < kZoomMinGain * error_fixed)) {
    return;
  }
  rec_ = std::move(zoom);
  zoom_detected_ = true;
}

void IncrementalMapper::ProfileZoomLevel() {
  // Per-frame focals: the bundle adjustment finds the zoom's shape (focal
  // ratios between frames) well, but its level only weakly: the valley of
  // all focals scaled together is long and nearly flat, and a descent stops
  // where it started (on the rendered zoom clip, 50 % high after a switch
  // from one focal). A profile of the level: the keyframes solved with the
  // geometric mean of their focals held at each level (shape, poses and
  // points free), a coarse grid over x0.5..x2 then a fine one around its
  // best, the lowest cost kept (parabola through the best and its
  // neighbours).
  const std::vector<int> kfs = RegisteredKeyframes();
  if (kfs.size() < 3) return;
  double log_mean = 0.0;
  for (int kf : kfs) log_mean += std::log(rec_.poses[kf].focal);
  log_mean /= static_cast<double>(kfs.size());
  // Solves at each level (log); returns the costs.
  const auto profile = [&](const std::vector<double>& levels) {
    std::vector<double> costs(levels.size(),
                              std::numeric_limits<double>::infinity());
    ParallelFor(static_cast<int>(levels.size()), [&](int i) {
      Reconstruction rec = rec_;
      const double scale = std::exp(levels[i] - log_mean);
      for (auto& pose : rec.poses) pose.focal *= scale;
      BundleAdjustmentOptions ba = BaOptions();
      ba.variable_frames = kfs;
      ba.variable_frames_only = true;
      ba.refine_focal = true;
      ba.focal_level_px = std::exp(levels[i]);
      ba.max_iterations = 40;
      const BundleAdjustmentReport report = BundleAdjust(tracker_, ba, &rec);
      if (report.solved && report.num_residuals > 0) {
        costs[i] = report.final_cost;
      }
    });
    return costs;
  };
  std::vector<double> coarse;
  for (int i = -9; i <= 9; ++i) coarse.push_back(log_mean + i * std::log(1.08));
  const std::vector<double> coarse_costs = profile(coarse);
  const size_t c = LowestOf(coarse_costs);
  if (c >= coarse.size()) return;
  const double step = std::log(1.015);
  std::vector<double> fine;
  for (int i = -5; i <= 5; ++i) fine.push_back(coarse[c] + i * step);
  const std::vector<double> costs = profile(fine);
  const size_t k = LowestOf(costs);
  if (k >= fine.size()) return;
  double level = fine[k];
  if (k > 0 && k + 1 < fine.size() && std::isfinite(costs[k - 1]) &&
      std::isfinite(costs[k + 1])) {
    level += ParabolaVertexOffset(costs[k - 1], costs[k], costs[k + 1]) * step;
  }
  const double scale = std::exp(level - log_mean);
  for (auto& pose : rec_.poses) pose.focal *= scale;
  BundleAdjustmentOptions ba = BaOptions();
  ba.variable_frames = kfs;
  ba.refine_focal = true;
  ba.focal_level_px = std::exp(level);
  ba.max_iterations = 40;
  BundleAdjust(tracker_, ba, &rec_);
  FilterOutliers(tracker_, options_.max_reprojection_error_px, &rec_);
}

double IncrementalMapper::MeasureFocalSpread() const {
  // Profile of the keyframe solve over the focal: its cost at the solved
  // focal and 3 % either side (poses and points re-solved each time); the
  // curvature against the residual variance gives the focal's variance.
  constexpr double kDelta = 0.03;
  const double factors[3] = {1.0 - kDelta, 1.0 + kDelta, 1.0};
  std::vector<BundleAdjustmentReport> reports(3);
  // Up to 12 keyframes spread over the clip: the span that constrains the
  // focal at a fraction of the cost.
  const std::vector<int> all = RegisteredKeyframes();
  std::vector<int> kfs;
  const size_t n = std::min<size_t>(all.size(), 12);
  for (size_t i = 0; i < n; ++i) {
    kfs.push_back(all[n > 1 ? i * (all.size() - 1) / (n - 1) : 0]);
  }
  // The three solves in parallel (each on the keyframes' observations
  // only: a small problem).
  ParallelFor(3, [&](int i) {
    Reconstruction rec = rec_;
    rec.camera.focal *= factors[i];
    for (auto& pose : rec.poses) pose.focal = rec.camera.focal;
    BundleAdjustmentOptions ba = BaOptions();
    ba.variable_frames = kfs;
    ba.variable_frames_only = true;
    ba.max_iterations = 10;
    reports[i] = BundleAdjust(tracker_, ba, &rec);
  });
  const double curvature = (reports[0].final_cost + reports[1].final_cost -
                            2.0 * reports[2].final_cost) /
                           std::pow(kDelta * rec_.camera.focal, 2);
  const double variance =
      2.0 * reports[2].final_cost / std::max(1, reports[2].num_residuals);
  if (!(curvature > 0.0)) return std::numeric_limits<double>::infinity();
  return std::sqrt(variance / curvature) / rec_.camera.focal;
}

}  // namespace vanelia::internal
