// The incremental keyframe mapper behind ClassicalTracker (private): owns
// the feature tracks and the reconstruction, decides keyframes, starts the
// map from two views, registers keyframes as they arrive (windowed bundle
// adjustment), and closes with the registration of every frame and a global
// bundle adjustment. See classical_tracker.hpp for the pipeline. Its
// sources: incremental_mapper.cpp (keyframes, registration, triangulation),
// focal_profile.cpp (focal and zoom profiles), global_solve.cpp (Finish's
// solve), rotation_only.cpp (the tripod branch), relocalisation.cpp (lost
// keyframes registered against the map by their features).
#pragma once

#include "vanelia/core/progress.hpp"
#include "vanelia/track/classical/classical_tracker.hpp"

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "track/classical/bundle_adjustment/bundle_adjustment_impl.hpp"
#include "track/classical/features/feature_tracks_impl.hpp"
#include "track/classical/reconstruction_impl.hpp"
#include "track/classical/two_view/two_view_impl.hpp"

namespace vanelia::internal {

// SIFT features of one keyframe, for relocalisation (relocalisation.cpp).
struct SiftView {
  std::vector<cv::KeyPoint> keypoints;  // working-size pixels
  cv::Mat desc;                         // [n,128] f32
};

// A SIFT match of two registered keyframes (rows in each) and its point,
// triangulated from their poses (relocalisation.cpp).
struct SiftMatch {
  int ia = 0;
  int ib = 0;
  Eigen::Vector3d p = Eigen::Vector3d::Zero();
};

// OpenCV's RANSAC draws from the calling thread's cv::theRNG(): seeded before
// every solve so that a track never depends on what ran before it.
inline constexpr int kRansacSeed = 0x5eed;

class IncrementalMapper {
 public:
  // `focal_px`: known focal at the working size, or nullopt to solve it.
  IncrementalMapper(const ClassicalTrackerOptions& options,
                    int width,
                    int height,
                    std::optional<double> focal_px);

  // Tracks a frame (working size) and grows the map when it is a keyframe.
  // `ignore`: null, or a one-channel mask of its size, nonzero = a moving
  // thing (no track starts or continues there, no SIFT feature is taken).
  void AddFrame(const Image& image, const Image* ignore = nullptr);

  // Registers every frame and runs the global bundle adjustment. Throws
  // InputError when the clip cannot be solved.
  void Finish(ProgressReporter* progress);

  // The reporter of the current stage and its count: long steps (every
  // Ceres iteration, frame loops) re-report it, so that a cancel request
  // (the callback returning false -> Cancelled) is seen within one
  // iteration, not at the end of the stage. Null: no polling.
  void SetProgress(ProgressReporter* reporter, int64_t done);

  const FeatureTracker& Tracker() const { return tracker_; }

  const Reconstruction& Rec() const { return rec_; }

  const std::vector<std::string>& Warnings() const { return warnings_; }

  bool RotationOnly() const { return rotation_only_; }

  // Relative standard deviation of the solved focal, from a profile of the
  // keyframe solve at the end (infinity when the footage does not constrain
  // it: no minimum); 0 when the focal was given, per frame or rotation-only.
  double FocalSpread() const { return focal_spread_; }

  // Whether the clip was found to zoom (DetectZoom) and solved with one
  // focal per frame although a shared one was asked for.
  bool ZoomDetected() const { return zoom_detected_; }

  int NumKeyframes() const { return static_cast<int>(keyframes_.size()); }

  // Mean reprojection error (px) and inlier count of one frame slot.
  double FrameError(int frame, int* count) const;

  // Median reprojection error (px) of the inlier observations in registered
  // frames.
  double MedianResidual() const;
  double MedianResidualOf(const Reconstruction& rec) const;

 private:
  bool IsKeyframe(int slot) const;
  // Stores the grey of keyframe `slot` (keyframe_grey_) and where its
  // features may lie (keyframe_usable_).
  void KeepGrey(const Image& image, const Image* ignore, int slot);
  void TryInitialize(int slot);
  // Poses of the two start views and their points; false when too few
  // points triangulate.
  bool StartFromPair(int a,
                     int b,
                     const TwoViewResult& tv,
                     Reconstruction* rec) const;
  void AddKeyframe(int slot);
  void TriangulateFrom(int slot,
                       const std::vector<uint8_t>& usable,
                       Reconstruction* rec) const;
  // body(0..n-1) on up to options_.num_threads threads, statically split.
  void ParallelFor(int n, const std::function<void(int)>& body) const;
  void LocalBundleAdjustment();
  void KeyframeBundleAdjustment(int iterations);
  // Solves the focal by a profile: for each factor, the keyframes' points
  // re-triangulated and bundle adjusted at focal * factor; keeps the best.
  void ProfileFocal(const std::vector<double>& factors);
  // Mean capped squared error (MSAC) of every track seen in two registered
  // `frames` (per slot), triangulated from the poses of `rec`: a score of a
  // solve that does not depend on what it rejected.
  double TrialCost(const Reconstruction& rec,
                   const std::vector<uint8_t>& frames) const;
  void ProfileZoomLevel();
  // Finish's stages from the keyframe map to every frame registered.
  void SolveFromKeyframes();
  // ProfileFocal's other candidate (second_opinion_) solved too; the one
  // that registers more frames kept.
  void TrySecondOpinion();
  void DetectZoom();
  double RotationSpanDeg(const std::vector<int>& kfs) const;
  void RegisterAllFrames();
  // After the solve: every unregistered keyframe registered against the
  // map by its SIFT features (PnP + RANSAC), the map grown from it, until a
  // pass adds no frame. See relocalisation.cpp.
  void Relocalise();
  // One relocalisation attempt of keyframe `slot`; true when registered.
  bool RelocaliseFrame(int slot);
  // Registers what the tracks of the registered frames reach, triangulates
  // the new tracks and adjusts the new frames with their points.
  void GrowFrom();
  // SIFT features of keyframe `slot` (cached in sift_ until Relocalise
  // ends), and 3-D points of keyframe `kf`'s features (by row) triangulated
  // with its nearest `registered` keyframes.
  const SiftView& SiftOf(int slot);
  std::map<int, Eigen::Vector3d> SiftPointsOf(
      int kf, const std::vector<int>& registered);
  // Ratio-tested SIFT matches of registered keyframes `a` and `b` that
  // triangulate from their poses (parallax, in front, small reprojection
  // error in both).
  std::vector<SiftMatch> VerifiedMatches(int a, int b);
  // The relocalised keyframes' SIFT matches with their nearest registered
  // keyframes joined into feature tracks (descriptor-matched, skipping
  // frames) with triangulated points: the map's points that tie a wide-
  // baseline view, which KLT tracks do not reach, into the bundle
  // adjustment. Returns the number of tracks added.
  int AddSiftTracks(const std::vector<int>& relocalised);
  void RefineFramePoses();
  void GlobalBundleAdjustment();
  void SolveLens();
  // Marks observations beyond adaptive_outlier_factor x the median
  // reprojection error (clamped to [min_outlier_threshold_px,
  // max_reprojection_error_px]) as outliers; returns how many.
  int FilterOutliersAdaptive();
  void SolveRotationOnly();
  // After a rotation-only solve: a warning when the camera barely turns yet
  // many tracks travel far (what moves is not the camera).
  void WarnIfStillButMoving();
  double MeasureFocalSpread() const;
  // Counts a tripod vote for keyframe `slot` (homography vs fundamental
  // matrix against an older keyframe).
  void VoteTripod(int slot);
  // Replaces the general solve by a rotation-only one when that registers
  // as many frames and fits about as well.
  void TryRotationOnly();
  int NumRegistered() const;
  // Every point from its inlier observations in all registered frames.
  void RetriangulatePoints();
  std::vector<int> RegisteredKeyframes() const;
  std::vector<uint8_t> KeyframeMask() const;
  std::vector<uint8_t> RegisteredMask() const;

  ClassicalTrackerOptions options_;
  int width_;
  int height_;
  bool focal_known_;
  FeatureTracker tracker_;
  Reconstruction rec_;
  std::vector<int> keyframes_;
  size_t anchor_ = 0;  // index in keyframes_ of the two-view start's first
  bool initialized_ = false;
  bool rotation_only_ = false;
  bool focal_profiled_ = false;
  bool lens_solved_ = false;   // k1 k2 kept by SolveLens: refined from then on
  double focal_spread_ = 0.0;  // MeasureFocalSpread's answer (FocalSpread)
  // ProfileFocal's pick by the trials' own costs, when its fair score
  // (TrialCost) picked another.
  std::optional<Reconstruction> second_opinion_;
  bool zoom_detected_ = false;  // DetectZoom switched to per-frame focals
  std::pair<int, int> init_pair_{0, 0};  // frame slots of the start
  size_t last_global_count_ = 0;
  int tripod_votes_ = 0;  // keyframe pairs a homography explained
  int pair_tests_ = 0;
  std::vector<std::string> warnings_;
  // Grey image of each keyframe slot (working size; empty for the others),
  // kept for relocalisation's descriptors.
  std::vector<cv::Mat> keyframe_grey_;
  // Per keyframe slot: 255 where SIFT may take features, 0 on the ignore
  // mask; empty without a mask.
  std::vector<cv::Mat> keyframe_usable_;
  std::map<int, SiftView> sift_;
  // Cancel polling (SetProgress); Poll() may run on worker threads.
  void Poll() const;
  void Stage(int64_t done, const std::string& message);
  BundleAdjustmentOptions BaOptions() const;
  ProgressReporter* reporter_ = nullptr;
  int64_t done_ = 0;
  std::string message_;
  mutable std::mutex poll_mutex_;
  mutable bool poll_failed_ = false;
};

}  // namespace vanelia::internal
