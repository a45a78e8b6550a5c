// The weights-free default tracker: sparse structure from motion over KLT
// feature tracks (OpenCV), bundle adjustment with Ceres.
//
// Pipeline (a keyframe-based visual odometry closed by a global bundle
// adjustment, in the spirit of ORB-SLAM's mapping and COLMAP's incremental
// mapper):
//  1. Long KLT tracks: Shi-Tomasi corners (goodFeaturesToTrack) followed by
//     pyramidal Lucas-Kanade, kept only when tracking back lands within
//     `max_forward_backward_px`; new corners fill the gaps every frame.
//     Noisy footage (most tracks lost in one step) is smoothed from then on.
//     Frames with an ignore mask (Frame::mask: moving people, cars, sky, a
//     screen) start no corner on it, grown by 3 px at the working size, and
//     a track that enters it ends there; relocalisation takes no SIFT
//     feature on it either.
//  2. Keyframes by parallax (median track displacement) or track loss.
//  3. A two-view start between the first keyframe and a later one, chosen
//     when the essential matrix explains the tracks clearly better than a
//     homography (GRIC-like ratio of inliers), or when the homography is a
//     plane seen from two places rather than a pan (no rotation about the
//     centre explains it: a floor filling the view), and the median
//     triangulation angle is large enough. The focal length, when unknown,
//     starts from a sweep over the self-calibration residual of E = K^T F K
//     (two equal singular values; Mendonca & Cipolla 1999); once six
//     keyframes span 10 degrees (or at the end) a profile restarts the map
//     from the two views at x0.5..x2 of it, scores each trial on the same
//     data (every track seen by two keyframes, triangulated from the trial's
//     poses, squared error capped at 2 px: MSAC) and keeps the best; the
//     bundle adjustment refines it. The trial that its own cost per residual
//     would pick is kept as a second opinion: when the first answer
//     registers fewer than 90 % of the frames, the clip is solved again from
//     it and the one that registers more is kept.
//  4. Every later keyframe: PnP + RANSAC on the tracked 3-D points, motion
//     refinement, triangulation of new tracks (angle, depth and reprojection
//     checks), windowed bundle adjustment of the last keyframes; a bundle
//     adjustment of all keyframes (focal free) whenever their count grows by
//     half.
//  5. Every frame: PnP + RANSAC; a global bundle adjustment of the keyframes
//     and points (Cauchy loss, shared focal, principal point fixed at the
//     centre, optional radial k1 k2) and of every frame against them
//     (optionally all frames and points jointly), outlier rejection: first
//     at a fixed threshold, then at a multiple of the median reprojection
//     error (the noise level of this clip), and the solve repeated.
//  6. No parallax anywhere but a homography that a rotation explains: a
//     tripod shot, solved as rotations + focal with points at infinity. When a
//     homography explained at least half of the keyframe pairs but the map
//     started anyway (noise that looked like parallax), the rotation-only solve
//     replaces the general one if it registers as many frames and its median
//     reprojection error is within 1.5x.
//  Zoom: with the focal unknown and one asked for (the default), the
//  keyframes are solved again with one focal each, tied by a prior on the
//  zoom's smoothness (second difference of log focal over time); when those
//  focals spread by more than 10 % and lower the median reprojection error
//  by more than 10 %, the clip zooms and is solved per frame from then on
//  (a `zoom:` warning). Per frame (detected or --per-frame-focal), the level
//  of the zoom, which the bundle adjustment pins only weakly, is profiled:
//  every focal scaled together, the lowest cost kept.
//  Lens (radial or auto): solved right after the keyframe bundle adjustment,
//  before any adaptive outlier rejection, with the observations the pinhole
//  model had rejected counted again (the periphery of a distorted lens);
//  auto keeps it when its median error is clearly lower than the pinhole's
//  on the same observations. Every later stage then uses and refines it.
//  Weak solves say so in the summary's warnings ("weak solve: ..."): few
//  points or few per frame, a focal the clip barely constrains (its spread,
//  from a profile of the keyframe solve at +/- 3 %, above 2 %), a camera
//  solved as still while many tracks travel, fewer than 90 % of the frames
//  registered, a mean reprojection error above 1 px; an implausible k1/k2
//  (not monotonic, or moving the corner by > 40 %) is dropped for pinhole.
//  Cancel requests (the progress callback returning false) are polled after
//  every Ceres iteration and in the frame loops, not only between stages.
// Frames that cannot be registered are left out and listed in the summary.
#pragma once

#include "vanelia/track/tracker.hpp"

#include <cstdint>

namespace vanelia {

struct ClassicalTrackerOptions {
  TrackerOptions common;

  // Features.
  int max_features = 600;                // corners tracked at once
  double min_distance_px = 10.0;         // between corners, at 640 px width
  int klt_window_px = 21;                // Lucas-Kanade window side
  int klt_levels = 3;                    // pyramid levels above the base
  double max_forward_backward_px = 0.5;  // forward-backward check

  // Keyframes: a new one when the median displacement of the tracks since
  // the last keyframe exceeds this fraction of the image width, or when
  // fewer than `keyframe_min_track_ratio` of its tracks survive.
  double keyframe_parallax = 0.02;
  double keyframe_min_track_ratio = 0.6;

  // Geometry.
  double ransac_threshold_px = 1.5;  // PnP / epipolar inlier threshold
  double min_triangulation_angle_deg = 1.5;
  double max_reprojection_error_px = 3.0;  // observations beyond: outliers
  int local_ba_keyframes = 8;              // sliding window size
  // The closing solve rejects observations beyond this factor times the
  // median reprojection error (clamped to [min_outlier_threshold_px,
  // max_reprojection_error_px]); 0 = off. With Gaussian pixel noise of
  // sigma per axis the median error is 1.18 sigma, so 4 x it is 4.7 sigma
  // (exceeded by 1e-5 of good observations): what lies beyond is drifting
  // KLT (occlusion edges, repeated texture). Its long tail (p90 5 x the
  // median on the rendered clips) biased focal and scale: dolly_pan focal
  // -0.45 % -> -0.1 %, ATE 0.115 % -> 0.068 %. A lower factor (3.2) helps
  // dolly_pan more but hurts the orbit sampled every 4th frame.
  double adaptive_outlier_factor = 4.0;
  double min_outlier_threshold_px = 0.5;
  int min_pnp_inliers = 20;

  // Bundle adjustment.
  double loss_scale_px = 1.0;  // Cauchy scale
  int global_ba_iterations = 40;
  // The closing bundle adjustment: false = keyframes and points, then every
  // other frame refined against them (motion only); true = all frames and
  // points together (slower: long tracks tie every frame to every other;
  // on the rendered test clips it changes the poses by < 0.1 mm).
  bool global_ba_all_frames = false;

  // Work on frames downscaled to at most this width (0 = full size); poses
  // and intrinsics are reported for the source size. Bigger frames cost
  // time, not accuracy that the solve can use.
  int max_work_width = 960;

  // OpenCV and the mapper's parallel steps (focal profile, per-frame
  // refinement); the track does not depend on it. Ceres runs on one thread
  // (its threaded sums are not reproducible).
  int num_threads = 2;

  void Check() const;
};

class ClassicalTracker : public Tracker {
 public:
  explicit ClassicalTracker(ClassicalTrackerOptions options = {});

  std::string Name() const override { return "classical"; }

  TrackResult Track(const FrameFeed& feed,
                    const FrameFeedInfo& info,
                    const ProgressCallback& progress) override;
  using Tracker::Track;

  const ClassicalTrackerOptions& Options() const { return options_; }

 private:
  ClassicalTrackerOptions options_;
};

}  // namespace vanelia
