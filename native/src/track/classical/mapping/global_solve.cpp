// Finish's solve of the incremental mapper: from the keyframe map to every
// frame registered (focal, zoom and lens solved on the keyframes first),
// ProfileFocal's second opinion tried when the first answer is weak, the
// global bundle adjustment, and the rotation-only alternative of a tripod.
#include "vanelia/core/error.hpp"

#include <algorithm>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "track/classical/bundle_adjustment/bundle_adjustment_impl.hpp"
#include "track/classical/mapping/incremental_mapper_impl.hpp"
#include "track/classical/two_view/two_view_impl.hpp"

namespace vanelia::internal {

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
  // Frames that tracking lost (a gap, a fast turn, an occlusion): brought
  // back against the map by their descriptors.
  if (NumRegistered() < tracker_.NumFrames()) Relocalise();
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

}  // namespace vanelia::internal
