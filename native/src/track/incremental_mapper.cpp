#include "vanelia/core/check.hpp"
#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <exception>
#include <functional>
#include <limits>
#include <sstream>
#include <thread>

#include <opencv2/calib3d.hpp>
#include <opencv2/core.hpp>

#include "bundle_adjustment_impl.hpp"
#include "incremental_mapper_impl.hpp"
#include "two_view_impl.hpp"

namespace vanelia::internal {

namespace {

constexpr double kInitMinAngleDeg = 1.0;
// OpenCV's RANSAC draws from the calling thread's cv::theRNG(): seeded before
// every solve so that a track never depends on what ran before it.
constexpr int kRansacSeed = 0x5eed;
constexpr int kInitMinPoints = 50;
// Keyframes registered before the focal is first solved (by a profile).
constexpr int kProfileKeyframes = 6;
// ... and the rotation they span: the focal shows in how far the image
// moves for a rotation; with too little of it (a dolly straight ahead) the
// focal and the depths trade off against each other.
constexpr double kProfileRotationDeg = 10.0;
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

// Largest rotation angle between the first keyframe and any other.
double SpanOf(const std::vector<FramePose>& poses,
              const std::vector<int>& kfs) {
  double span = 0.0;
  const Eigen::Vector3d& r0 = poses[kfs.front()].rvec;
  const Eigen::Quaterniond q0(Eigen::AngleAxisd(
      r0.norm(), r0.norm() > 0 ? r0.normalized() : Eigen::Vector3d::UnitX()));
  for (int kf : kfs) {
    const Eigen::Vector3d& r = poses[kf].rvec;
    const Eigen::Quaterniond q(Eigen::AngleAxisd(
        r.norm(), r.norm() > 0 ? r.normalized() : Eigen::Vector3d::UnitX()));
    span = std::max(span, q0.angularDistance(q) * 180.0 / M_PI);
  }
  return span;
}

double MedianOf(std::vector<double> v) {
  if (v.empty()) return 0.0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  return v[mid];
}

}  // namespace

void IncrementalMapper::ParallelFor(
    int n, const std::function<void(int)>& body) const {
  const int workers = std::min(options_.num_threads, n);
  if (workers <= 1) {
    for (int i = 0; i < n; ++i) body(i);
    return;
  }
  // Static interleaved split: which thread runs an item never changes what
  // the item computes. The first exception is rethrown here.
  std::vector<std::exception_ptr> errors(workers);
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      try {
        for (int i = w; i < n; i += workers) body(i);
      } catch (...) {
        errors[w] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

IncrementalMapper::IncrementalMapper(const ClassicalTrackerOptions& options,
                                     int width,
                                     int height,
                                     std::optional<double> focal_px)
    : options_(options),
      width_(width),
      height_(height),
      focal_known_(focal_px.has_value()),
      tracker_(FeatureTrackerOptions{options.max_features,
                                     options.min_distance_px,
                                     options.klt_window_px,
                                     options.klt_levels,
                                     options.max_forward_backward_px,
                                     4.0}) {
  rec_.camera.cx = 0.5 * width - 0.5;
  rec_.camera.cy = 0.5 * height - 0.5;
  // Unknown focal: a normal lens (about 36 mm full-frame) until solved.
  rec_.camera.focal = focal_px.value_or(1.0 * width);
  rec_.per_frame_focal = options.common.per_frame_focal;
  cv::setRNGSeed(kRansacSeed);
}

std::vector<int> IncrementalMapper::RegisteredKeyframes() const {
  std::vector<int> out;
  for (int kf : keyframes_) {
    if (rec_.poses[kf].registered) out.push_back(kf);
  }
  return out;
}

std::vector<uint8_t> IncrementalMapper::KeyframeMask() const {
  std::vector<uint8_t> mask(rec_.poses.size(), 0);
  for (int kf : keyframes_) mask[kf] = 1;
  return mask;
}

std::vector<uint8_t> IncrementalMapper::RegisteredMask() const {
  std::vector<uint8_t> mask(rec_.poses.size(), 0);
  for (size_t f = 0; f < rec_.poses.size(); ++f) {
    mask[f] = rec_.poses[f].registered ? 1 : 0;
  }
  return mask;
}

void IncrementalMapper::AddFrame(const Image& image) {
  const int slot = tracker_.AddFrame(image);
  rec_.Resize(tracker_);
  rec_.poses[slot].focal = rec_.camera.focal;
  if (slot == 0 || !IsKeyframe(slot)) {
    if (slot == 0) {
      keyframes_.push_back(0);
      rec_.poses[0].keyframe = true;
    }
    return;
  }
  keyframes_.push_back(slot);
  rec_.poses[slot].keyframe = true;
  if (!initialized_) {
    TryInitialize(slot);
  } else {
    AddKeyframe(slot);
  }
}

bool IncrementalMapper::IsKeyframe(int slot) const {
  const int last = keyframes_.back();
  const auto& refs = tracker_.Frames()[last].refs;
  std::vector<double> disp;
  for (const auto& [id, k] : refs) {
    const Eigen::Vector2d* x = tracker_.Find(id, slot);
    if (x == nullptr) continue;
    disp.push_back((*x - tracker_.Tracks()[id].obs[k].px).norm());
  }
  if (disp.size() <
      options_.keyframe_min_track_ratio * static_cast<double>(refs.size())) {
    return true;
  }
  return MedianOf(disp) > options_.keyframe_parallax * width_;
}

void IncrementalMapper::TryInitialize(int slot) {
  // Move the anchor on while it shares too few tracks with the new keyframe.
  while (anchor_ + 1 < keyframes_.size()) {
    const int a = keyframes_[anchor_];
    int common = 0;
    for (const auto& ref : tracker_.Frames()[a].refs) {
      if (tracker_.Find(ref.first, slot) != nullptr) ++common;
    }
    if (common >= 60) break;
    ++anchor_;
  }
  const int a = keyframes_[anchor_];
  if (a == slot) return;
  const TwoViewResult tv = EstimateTwoView(
      tracker_, rec_, a, slot, options_.ransac_threshold_px, !focal_known_);
  ++pair_tests_;
  if (tv.num_f_inliers > 0 && tv.num_h_inliers >= 0.9 * tv.num_f_inliers &&
      tv.homography.RotationLike()) {
    ++tripod_votes_;
  }
  if (!tv.success || tv.median_angle_deg < kInitMinAngleDeg ||
      static_cast<int>(tv.inlier_ids.size()) < kInitMinPoints) {
    return;
  }
  const double old_focal = rec_.camera.focal;
  if (!focal_known_ && tv.focal_from_f && *tv.focal_from_f > 0.3 * width_ &&
      *tv.focal_from_f < 3.0 * width_) {
    rec_.camera.focal = *tv.focal_from_f;
  }
  if (!StartFromPair(a, slot, tv, &rec_)) {
    rec_.camera.focal = old_focal;
    return;
  }
  initialized_ = true;
  init_pair_ = {a, slot};
  // Keyframes between the two start views.
  for (size_t i = anchor_ + 1; i + 1 < keyframes_.size(); ++i) {
    AddKeyframe(keyframes_[i]);
  }
}

bool IncrementalMapper::StartFromPair(int a,
                                      int b,
                                      const TwoViewResult& tv,
                                      Reconstruction* rec) const {
  FramePose& pa = rec->poses[a];
  FramePose& pb = rec->poses[b];
  pa.registered = true;
  pa.rvec.setZero();
  pa.t.setZero();
  const Eigen::AngleAxisd aa(tv.R);
  pb.registered = true;
  pb.rvec = aa.angle() * aa.axis();
  pb.t = tv.t;
  for (auto& p : rec->poses) p.focal = rec->camera.focal;
  std::vector<uint8_t> usable(rec->poses.size(), 0);
  usable[a] = 1;
  usable[b] = 1;
  int made = 0;
  for (int id : tv.inlier_ids) {
    made += TriangulateTrack(tracker_,
                             id,
                             usable,
                             0.5 * options_.min_triangulation_angle_deg,
                             options_.max_reprojection_error_px,
                             rec)
                ? 1
                : 0;
  }
  if (made < kInitMinPoints) {
    pa.registered = false;
    pb.registered = false;
    std::fill(rec->has_point.begin(), rec->has_point.end(), 0);
    return false;
  }
  BundleAdjustmentOptions ba = BaOptions();
  ba.variable_frames = {a, b};
  ba.max_iterations = 20;
  BundleAdjust(tracker_, ba, rec);
  FilterOutliers(tracker_, options_.max_reprojection_error_px, rec);
  return true;
}

void IncrementalMapper::TriangulateFrom(int slot,
                                        const std::vector<uint8_t>& usable,
                                        Reconstruction* rec) const {
  for (const auto& [id, k] : tracker_.Frames()[slot].refs) {
    if (rec->has_point[id] || !rec->inlier[id][k]) continue;
    TriangulateTrack(tracker_,
                     id,
                     usable,
                     options_.min_triangulation_angle_deg,
                     options_.max_reprojection_error_px,
                     rec);
  }
}

void IncrementalMapper::VoteTripod(int slot) {
  // Against the oldest keyframe that still shares enough tracks: the
  // largest motion, where parallax (if any) shows best.
  for (int a : keyframes_) {
    if (a >= slot) break;
    std::vector<cv::Point2f> pa;
    std::vector<cv::Point2f> pb;
    for (const auto& [id, k] : tracker_.Frames()[a].refs) {
      const Eigen::Vector2d* x = tracker_.Find(id, slot);
      if (x == nullptr) continue;
      const Eigen::Vector2d& y = tracker_.Tracks()[id].obs[k].px;
      pa.emplace_back(y.x(), y.y());
      pb.emplace_back(x->x(), x->y());
    }
    if (pa.size() < 60) continue;
    std::vector<uint8_t> mask_f;
    const cv::Mat F = cv::findFundamentalMat(
        pa, pb, cv::FM_RANSAC, options_.ransac_threshold_px, 0.999, mask_f);
    HomographyTest h;
    if (F.rows != 3 || F.cols != 3 ||
        !TestHomography(
            pa,
            pb,
            options_.ransac_threshold_px,
            rec_.camera.cx,
            rec_.camera.cy,
            focal_known_ ? std::optional(rec_.camera.focal) : std::nullopt,
            &h)) {
      return;
    }
    const auto num_f = std::count(mask_f.begin(), mask_f.end(), 1);
    ++pair_tests_;
    if (num_f > 0 && h.num_inliers >= 0.9 * num_f && h.RotationLike()) {
      ++tripod_votes_;
    }
    return;
  }
}

void IncrementalMapper::AddKeyframe(int slot) {
  VoteTripod(slot);
  // Prior: the nearest registered keyframe before it.
  const FramePose* prior = nullptr;
  for (int kf : keyframes_) {
    if (kf < slot && rec_.poses[kf].registered) prior = &rec_.poses[kf];
  }
  const PnpResult pnp = RegisterFrame(tracker_,
                                      slot,
                                      options_.ransac_threshold_px,
                                      options_.min_pnp_inliers,
                                      prior,
                                      &rec_);
  if (!pnp.success) return;
  TriangulateFrom(slot, KeyframeMask(), &rec_);
  LocalBundleAdjustment();
  const std::vector<int> kfs = RegisteredKeyframes();
  if (!focal_known_ && !focal_profiled_ &&
      static_cast<int>(kfs.size()) >= kProfileKeyframes &&
      RotationSpanDeg(kfs) >= kProfileRotationDeg) {
    ProfileFocal({0.5, 0.63, 0.8, 1.0, 1.25, 1.6, 2.0});
    focal_profiled_ = true;
  }
  if (kfs.size() >= 4 && 2 * kfs.size() >= 3 * last_global_count_) {
    KeyframeBundleAdjustment(30);
    last_global_count_ = kfs.size();
  }
}

double IncrementalMapper::RotationSpanDeg(const std::vector<int>& kfs) const {
  return kfs.empty() ? 0.0 : SpanOf(rec_.poses, kfs);
}

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

void IncrementalMapper::LocalBundleAdjustment() {
  const std::vector<int> kfs = RegisteredKeyframes();
  BundleAdjustmentOptions ba = BaOptions();
  const size_t n = std::min<size_t>(kfs.size(), options_.local_ba_keyframes);
  ba.variable_frames.assign(kfs.end() - static_cast<std::ptrdiff_t>(n),
                            kfs.end());
  ba.max_iterations = 6;
  BundleAdjust(tracker_, ba, &rec_);
  FilterOutliers(tracker_, options_.max_reprojection_error_px, &rec_);
}

void IncrementalMapper::KeyframeBundleAdjustment(int iterations) {
  BundleAdjustmentOptions ba = BaOptions();
  ba.variable_frames = RegisteredKeyframes();
  ba.refine_focal = !focal_known_ && focal_profiled_;
  ba.refine_k1 = lens_solved_;
  ba.refine_k2 = lens_solved_;
  ba.max_iterations = iterations;
  BundleAdjust(tracker_, ba, &rec_);
  FilterOutliers(tracker_, options_.max_reprojection_error_px, &rec_);
}

void IncrementalMapper::RegisterAllFrames() {
  const int n = tracker_.NumFrames();
  for (int f = 0; f < n; ++f) {
    if (rec_.poses[f].registered) continue;
    Poll();
    // Prior: the nearest registered frame.
    const FramePose* prior = nullptr;
    for (int d = 1; d < n && prior == nullptr; ++d) {
      if (f - d >= 0 && rec_.poses[f - d].registered) {
        prior = &rec_.poses[f - d];
      } else if (f + d < n && rec_.poses[f + d].registered) {
        prior = &rec_.poses[f + d];
      }
    }
    RegisterFrame(tracker_,
                  f,
                  options_.ransac_threshold_px,
                  options_.min_pnp_inliers,
                  prior,
                  &rec_);
  }
  // Tracks that no keyframe pair triangulated.
  const std::vector<uint8_t> usable = RegisteredMask();
  for (size_t id = 0; id < tracker_.Tracks().size(); ++id) {
    if (id % 256 == 0) Poll();
    if (rec_.has_point[id]) continue;
    TriangulateTrack(tracker_,
                     static_cast<int>(id),
                     usable,
                     options_.min_triangulation_angle_deg,
                     options_.max_reprojection_error_px,
                     &rec_);
  }
}

void IncrementalMapper::RefineFramePoses() {
  // Motion only: each frame's solve reads the points and the camera and
  // writes its own pose, so the frames run in parallel.
  std::vector<int> frames;
  for (size_t f = 0; f < rec_.poses.size(); ++f) {
    if (rec_.poses[f].registered && !rec_.poses[f].keyframe) {
      frames.push_back(static_cast<int>(f));
    }
  }
  ParallelFor(static_cast<int>(frames.size()), [&](int i) {
    BundleAdjustmentOptions ba = BaOptions();
    ba.refine_points = false;
    // A zoom: each frame's focal with its pose (the points hold the scale).
    ba.refine_focal = rec_.per_frame_focal && !focal_known_;
    ba.max_iterations = 10;
    ba.variable_frames = {frames[i]};
    BundleAdjust(tracker_, ba, &rec_);
  });
}

void IncrementalMapper::GlobalBundleAdjustment() {
  BundleAdjustmentOptions ba = BaOptions();
  for (size_t f = 0; f < rec_.poses.size(); ++f) {
    if (rec_.poses[f].registered) ba.variable_frames.push_back(f);
  }
  ba.refine_focal = !focal_known_;
  ba.refine_k1 = lens_solved_;
  ba.refine_k2 = lens_solved_;
  ba.max_iterations = 10;
  ba.iterative = true;
  ba.function_tolerance = 1e-8;
  BundleAdjust(tracker_, ba, &rec_);
  FilterOutliers(tracker_, 0.75 * options_.max_reprojection_error_px, &rec_);
}

void IncrementalMapper::SolveLens() {
  const LensMode mode = options_.common.lens;
  if (mode == LensMode::kNone) return;
  const Reconstruction before = rec_;
  // Observations that the pinhole model rejected count again: with a
  // distorted lens they are the periphery, where the distortion shows.
  for (size_t id = 0; id < rec_.inlier.size(); ++id) {
    if (rec_.has_point[id]) {
      std::fill(rec_.inlier[id].begin(), rec_.inlier[id].end(), 1);
    }
  }
  BundleAdjustmentOptions ba = BaOptions();
  ba.variable_frames = RegisteredKeyframes();
  ba.refine_focal = !focal_known_;
  ba.max_iterations = 50;
  ba.function_tolerance = 1e-8;
  // Both models from the same start, scored on the same observations by
  // their median error (robust to the outliers now included).
  Reconstruction pinhole = rec_;
  BundleAdjust(tracker_, ba, &pinhole);
  ba.refine_k1 = true;
  ba.refine_k2 = true;
  BundleAdjust(tracker_, ba, &rec_);
  const double err_pinhole = MedianResidualOf(pinhole);
  const double err_lens = MedianResidualOf(rec_);
  // Auto: keep the lens only when it clearly lowers the error.
  if (mode == LensMode::kAuto &&
      !(err_lens < 0.9 * err_pinhole && err_pinhole - err_lens > 0.02)) {
    rec_ = before;
    return;
  }
  if (!rec_.camera.LensPlausible()) {
    std::ostringstream msg;
    msg << "lens: the radial solve gave k1 = " << rec_.camera.k1
        << ", k2 = " << rec_.camera.k2
        << ", not a real lens over this frame; kept the pinhole model";
    warnings_.push_back(msg.str());
    rec_ = before;
    return;
  }
  lens_solved_ = true;
  FilterOutliers(tracker_, options_.max_reprojection_error_px, &rec_);
}

void IncrementalMapper::SetProgress(ProgressReporter* reporter, int64_t done) {
  reporter_ = reporter;
  done_ = done;
  message_.clear();
}

void IncrementalMapper::Stage(int64_t done, const std::string& message) {
  done_ = done;
  message_ = message;
  if (reporter_ != nullptr) reporter_->Update(done, message);
}

void IncrementalMapper::Poll() const {
  if (reporter_ == nullptr) return;
  // One caller at a time (the reporter is not thread-safe); once one has
  // seen the cancel, the others stop too.
  std::lock_guard<std::mutex> lock(poll_mutex_);
  if (poll_failed_) throw Cancelled("classical tracker: cancelled");
  try {
    reporter_->Update(done_, message_);
  } catch (...) {
    poll_failed_ = true;
    throw;
  }
}

BundleAdjustmentOptions IncrementalMapper::BaOptions() const {
  BundleAdjustmentOptions ba;
  ba.loss_scale_px = options_.loss_scale_px;
  ba.poll = [this] { Poll(); };
  return ba;
}

void IncrementalMapper::Finish(ProgressReporter* progress) {
  reporter_ = progress;
  if (!initialized_) {
    if (pair_tests_ > 0 && tripod_votes_ * 2 >= pair_tests_) {
      SolveRotationOnly();
      return;
    }
    if (tracker_.Tracks().empty()) {
      throw InputError(
          "cannot solve the clip: no feature to track in any frame (a black "
          "or blank clip?)");
    }
    std::ostringstream msg;
    msg << "cannot start the reconstruction: " << tracker_.NumFrames()
        << " frames, " << keyframes_.size()
        << " keyframes, no pair of views with enough parallax and tracks";
    throw InputError(msg.str());
  }
  reporter_ = progress;
  Stage(1, "keyframe bundle adjustment");
  if (!focal_known_ && !focal_profiled_) {
    ProfileFocal({0.5, 0.63, 0.8, 1.0, 1.25, 1.6, 2.0});
    focal_profiled_ = true;
  }
  SolveFromKeyframes();
  if (second_opinion_ && 10 * NumRegistered() < 9 * tracker_.NumFrames()) {
    TrySecondOpinion();
  }
  Stage(3, "global bundle adjustment");
  if (options_.global_ba_all_frames) GlobalBundleAdjustment();
  // A homography explained most keyframe pairs: a tripod shot (or a plane
  // filling the view). The map started anyway from some pair whose noise
  // looked like parallax; keep rotation-only when it fits as well.
  if (pair_tests_ >= 3 && tripod_votes_ * 2 >= pair_tests_) {
    TryRotationOnly();
  }
  if (!focal_known_ && !rec_.per_frame_focal && !rotation_only_) {
    focal_spread_ = MeasureFocalSpread();
  }
}

void IncrementalMapper::SolveFromKeyframes() {
  KeyframeBundleAdjustment(50);
  if (!rec_.per_frame_focal && !focal_known_) DetectZoom();
  if (rec_.per_frame_focal && !focal_known_) {
    ProfileZoomLevel();
    KeyframeBundleAdjustment(50);
  }
  SolveLens();
  FilterOutliersAdaptive();
  KeyframeBundleAdjustment(50);
  Stage(2, "registering every frame");
  RegisterAllFrames();
  RefineFramePoses();
  if (FilterOutliersAdaptive() > 0) RefineFramePoses();
  RetriangulatePoints();
}

void IncrementalMapper::TrySecondOpinion() {
  // The map from ProfileFocal's other candidate, with the keyframes that
  // came after the profile added again as they were then, solved the same
  // way; kept when it registers more frames.
  Reconstruction first_rec = rec_;
  const std::vector<std::string> first_warnings = warnings_;
  const bool first_lens_solved = lens_solved_;
  const bool first_zoom_detected = zoom_detected_;
  const size_t first_global_count = last_global_count_;
  const int first_count = NumRegistered();
  const double first_error = MedianResidual();
  rec_ = std::move(*second_opinion_);
  second_opinion_.reset();
  // The frames registered after the profile are not in this map.
  for (size_t f = 0; f < rec_.poses.size(); ++f) {
    if (!rec_.poses[f].keyframe) rec_.poses[f].registered = false;
  }
  rec_.Resize(tracker_);
  // Adding a keyframe votes on the tripod test: these were counted once.
  const int tripod_votes = tripod_votes_;
  const int pair_tests = pair_tests_;
  for (int kf : keyframes_) {
    if (!rec_.poses[kf].registered) AddKeyframe(kf);
  }
  tripod_votes_ = tripod_votes;
  pair_tests_ = pair_tests;
  SolveFromKeyframes();
  const int count = NumRegistered();
  if (count > first_count ||
      (count == first_count && MedianResidual() < first_error)) {
    return;
  }
  rec_ = std::move(first_rec);
  warnings_ = first_warnings;
  lens_solved_ = first_lens_solved;
  zoom_detected_ = first_zoom_detected;
  last_global_count_ = first_global_count;
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

void IncrementalMapper::RetriangulatePoints() {
  // The keyframe points were solved before the other frames were registered
  // and before the last rejection: each point again from its inlier
  // observations in every registered frame (the floor is fitted to these).
  const std::vector<uint8_t> usable = RegisteredMask();
  for (size_t id = 0; id < tracker_.Tracks().size(); ++id) {
    if (id % 256 == 0) Poll();
    if (!rec_.has_point[id]) continue;
    TriangulateTrack(tracker_,
                     static_cast<int>(id),
                     usable,
                     0.0,
                     options_.max_reprojection_error_px,
                     &rec_);
  }
}

int IncrementalMapper::NumRegistered() const {
  int n = 0;
  for (const FramePose& pose : rec_.poses) n += pose.registered ? 1 : 0;
  return n;
}

void IncrementalMapper::TryRotationOnly() {
  const Reconstruction general = rec_;
  const std::vector<std::string> general_warnings = warnings_;
  const int general_count = NumRegistered();
  const double general_error = MedianResidual();
  for (FramePose& pose : rec_.poses) {
    pose.registered = false;
    pose.rvec.setZero();
    pose.t.setZero();
  }
  std::fill(rec_.has_point.begin(), rec_.has_point.end(), 0);
  for (auto& in : rec_.inlier) std::fill(in.begin(), in.end(), 1);
  rec_.camera.k1 = 0.0;
  rec_.camera.k2 = 0.0;
  bool solved = true;
  try {
    SolveRotationOnly();
  } catch (const InputError&) {
    solved = false;
  }
  const int count = NumRegistered();
  // Medians: robust to the tails the two solves filter differently.
  if (solved && count >= general_count &&
      MedianResidual() <= std::max(1.5 * general_error, general_error + 0.05)) {
    return;
  }
  rec_ = general;
  warnings_ = general_warnings;
  rotation_only_ = false;
}

int IncrementalMapper::FilterOutliersAdaptive() {
  if (options_.adaptive_outlier_factor <= 0.0) return 0;
  const double threshold =
      std::clamp(options_.adaptive_outlier_factor * MedianResidual(),
                 options_.min_outlier_threshold_px,
                 options_.max_reprojection_error_px);
  return FilterOutliers(tracker_, threshold, &rec_);
}

double IncrementalMapper::MedianResidual() const {
  return MedianResidualOf(rec_);
}

double IncrementalMapper::MedianResidualOf(const Reconstruction& rec) const {
  std::vector<double> res;
  for (size_t id = 0; id < tracker_.Tracks().size(); ++id) {
    if (!rec.has_point[id]) continue;
    const auto& obs = tracker_.Tracks()[id].obs;
    for (size_t k = 0; k < obs.size(); ++k) {
      const int f = obs[k].frame;
      if (!rec.poses[f].registered || !rec.inlier[id][k]) continue;
      const double e = ReprojectionError(rec, f, rec.points[id], obs[k].px);
      if (e >= 0.0) res.push_back(e);
    }
  }
  return MedianOf(std::move(res));
}

double IncrementalMapper::FrameError(int frame, int* count) const {
  double sum = 0.0;
  int n = 0;
  for (const auto& [id, k] : tracker_.Frames()[frame].refs) {
    if (!rec_.has_point[id] || !rec_.inlier[id][k]) continue;
    const double e = ReprojectionError(
        rec_, frame, rec_.points[id], tracker_.Tracks()[id].obs[k].px);
    if (e >= 0.0) {
      sum += e;
      ++n;
    }
  }
  if (count != nullptr) *count = n;
  return n > 0 ? sum / n : 0.0;
}

}  // namespace vanelia::internal
