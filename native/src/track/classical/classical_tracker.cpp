#include "vanelia/track/classical/classical_tracker.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/option_check.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "track/classical/mapping/incremental_mapper_impl.hpp"

namespace vanelia {

namespace {

template <typename T>
void Require(bool ok, const char* field, T value, const char* rule) {
  internal::RequireOption(ok, "ClassicalTrackerOptions", field, value, rule);
}

// The smallest frame side and the most elongated frame the tracker takes.
constexpr int kMinFrameSide = 64;
constexpr int kMaxAspect = 8;

// Resizes to the working width (area filter); a no-op copy when equal.
Image ToWorkSize(const Image& image, int width, int height) {
  if (image.width == width && image.height == height) return image;
  const cv::Mat src(image.height,
                    image.width,
                    image.channels == 3 ? CV_8UC3 : CV_8UC1,
                    const_cast<uint8_t*>(image.data.data()),
                    static_cast<size_t>(image.stride));
  Image out = Image::Create(width, height, image.channels);
  cv::Mat dst(height,
              width,
              image.channels == 3 ? CV_8UC3 : CV_8UC1,
              out.data.data(),
              static_cast<size_t>(out.stride));
  cv::resize(src, dst, dst.size(), 0, 0, cv::INTER_AREA);
  return out;
}

// Pixels of margin around the ignore mask at the working size: a corner's
// response (5x5 block) and its sub-pixel window reach that far, so a corner
// just outside a tight mask would still sit on the moving thing's edge.
constexpr int kMaskMarginPx = 3;

// The ignore mask of a frame at the working size: a working pixel is
// ignored when any part of its footprint is, then grown by kMaskMarginPx.
Image WorkMask(const Image& mask, int width, int height) {
  const cv::Mat src(mask.height,
                    mask.width,
                    CV_8UC1,
                    const_cast<uint8_t*>(mask.data.data()),
                    static_cast<size_t>(mask.stride));
  Image out = Image::Create(width, height, 1);
  cv::Mat dst(height, width, CV_8UC1, out.data.data(), out.stride);
  if (mask.width == width && mask.height == height) {
    src.copyTo(dst);
  } else {
    cv::resize(src, dst, dst.size(), 0, 0, cv::INTER_AREA);
  }
  cv::threshold(dst, dst, 0, 255, cv::THRESH_BINARY);
  const int side = 2 * kMaskMarginPx + 1;
  cv::dilate(
      dst,
      dst,
      cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(side, side)));
  return out;
}

void CheckFrame(const Frame& frame, const FrameFeedInfo& info, int64_t n) {
  if (frame.rgb.Empty() || frame.rgb.width != info.width ||
      frame.rgb.height != info.height ||
      (frame.rgb.channels != 3 && frame.rgb.channels != 1)) {
    std::ostringstream msg;
    msg << "frame " << frame.index << " (#" << n << "): " << frame.rgb.width
        << "x" << frame.rgb.height << "x" << frame.rgb.channels
        << "; every frame must be " << info.width << "x" << info.height
        << " RGB or grey";
    throw InputError(msg.str());
  }
  if (!frame.mask.Empty() &&
      (frame.mask.width != frame.rgb.width ||
       frame.mask.height != frame.rgb.height || frame.mask.channels != 1)) {
    std::ostringstream msg;
    msg << "frame " << frame.index << " (#" << n << "): mask "
        << frame.mask.width << "x" << frame.mask.height << "x"
        << frame.mask.channels << "; must be one channel of the frame's size "
        << frame.rgb.width << "x" << frame.rgb.height;
    throw InputError(msg.str());
  }
}

}  // namespace

void ClassicalTrackerOptions::Check() const {
  common.Check();
  Require(max_features >= 50, "max_features", max_features, "must be >= 50");
  Require(
      min_distance_px > 0.0, "min_distance_px", min_distance_px, "must be > 0");
  Require(klt_window_px >= 5 && klt_window_px % 2 == 1,
          "klt_window_px",
          klt_window_px,
          "must be odd and >= 5");
  Require(klt_levels >= 0 && klt_levels <= 6,
          "klt_levels",
          klt_levels,
          "must be in [0, 6]");
  Require(max_forward_backward_px > 0.0,
          "max_forward_backward_px",
          max_forward_backward_px,
          "must be > 0");
  Require(keyframe_parallax > 0.0 && keyframe_parallax < 0.5,
          "keyframe_parallax",
          keyframe_parallax,
          "must be in (0, 0.5)");
  Require(keyframe_min_track_ratio > 0.0 && keyframe_min_track_ratio < 1.0,
          "keyframe_min_track_ratio",
          keyframe_min_track_ratio,
          "must be in (0, 1)");
  Require(ransac_threshold_px > 0.0,
          "ransac_threshold_px",
          ransac_threshold_px,
          "must be > 0");
  Require(min_triangulation_angle_deg > 0.0,
          "min_triangulation_angle_deg",
          min_triangulation_angle_deg,
          "must be > 0");
  Require(max_reprojection_error_px > 0.0,
          "max_reprojection_error_px",
          max_reprojection_error_px,
          "must be > 0");
  Require(adaptive_outlier_factor >= 0.0,
          "adaptive_outlier_factor",
          adaptive_outlier_factor,
          "must be >= 0 (0 = off)");
  Require(min_outlier_threshold_px > 0.0,
          "min_outlier_threshold_px",
          min_outlier_threshold_px,
          "must be > 0");
  Require(local_ba_keyframes >= 2,
          "local_ba_keyframes",
          local_ba_keyframes,
          "must be >= 2");
  Require(
      min_pnp_inliers >= 6, "min_pnp_inliers", min_pnp_inliers, "must be >= 6");
  Require(global_ba_iterations >= 1,
          "global_ba_iterations",
          global_ba_iterations,
          "must be >= 1");
  Require(max_work_width == 0 || max_work_width >= 160,
          "max_work_width",
          max_work_width,
          "must be 0 (off) or >= 160");
  Require(num_threads >= 1, "num_threads", num_threads, "must be >= 1");
}

ClassicalTracker::ClassicalTracker(ClassicalTrackerOptions options)
    : options_(std::move(options)) {
  options_.Check();
}

namespace {

TrackResult Collect(const internal::IncrementalMapper& mapper,
                    const std::vector<Frame>& metas,
                    const FrameFeedInfo& info,
                    int work_width,
                    int work_height,
                    const ClassicalTrackerOptions& options);

}  // namespace

TrackResult ClassicalTracker::Track(const FrameFeed& feed,
                                    const FrameFeedInfo& info,
                                    const ProgressCallback& progress) {
  // Corners and their sub-pixel windows need room in both directions, also
  // after the frame is scaled to the working width (a 4000x40 strip would be
  // 10 px tall there).
  const int shorter = std::min(info.width, info.height);
  const int longer = std::max(info.width, info.height);
  if (shorter < kMinFrameSide || longer > kMaxAspect * shorter) {
    std::ostringstream msg;
    msg << "frame size " << info.width << "x" << info.height
        << "; the classical tracker needs frames at least " << kMinFrameSide
        << " px on the shorter side and at most " << kMaxAspect
        << " times as long as they are short";
    throw InputError(msg.str());
  }
  int work_width = info.width;
  int work_height = info.height;
  if (options_.max_work_width > 0 && info.width > options_.max_work_width) {
    work_width = options_.max_work_width;
    work_height = static_cast<int>(std::lround(
        static_cast<double>(info.height) * work_width / info.width));
  }
  std::optional<double> focal;
  if (options_.common.focal_px) {
    focal = *options_.common.focal_px * work_width / info.width;
  }
  cv::setNumThreads(options_.num_threads);
  internal::IncrementalMapper mapper(options_, work_width, work_height, focal);
  std::vector<Frame> metas;  // index and time only
  ProgressReporter track_progress("track", info.expected_frames, progress);
  Frame frame;
  while (feed(&frame)) {
    CheckFrame(frame, info, static_cast<int64_t>(metas.size()));
    mapper.SetProgress(&track_progress, static_cast<int64_t>(metas.size()));
    if (frame.mask.Empty()) {
      mapper.AddFrame(ToWorkSize(frame.rgb, work_width, work_height));
    } else {
      const Image ignore = WorkMask(frame.mask, work_width, work_height);
      mapper.AddFrame(ToWorkSize(frame.rgb, work_width, work_height), &ignore);
    }
    Frame meta;
    meta.index = frame.index;
    meta.timestamp_s = frame.timestamp_s;
    metas.push_back(std::move(meta));
    track_progress.Update(static_cast<int64_t>(metas.size()));
  }
  if (metas.size() < 3) {
    std::ostringstream msg;
    msg << "the clip has " << metas.size()
        << " frame(s); the classical tracker needs at least 3 frames with "
           "camera motion";
    throw InputError(msg.str());
  }
  track_progress.Finish();
  mapper.SetProgress(nullptr, 0);
  ProgressReporter solve_progress("solve", 4, progress);
  mapper.Finish(&solve_progress);
  solve_progress.Finish();
  return Collect(mapper, metas, info, work_width, work_height, options_);
}

namespace {

// Per-frame figures of the registered frames, gathered for the summary.
struct FrameStats {
  std::vector<double> errors;    // reprojection error (px, input size)
  std::vector<double> focals;    // fx (px, input size)
  std::vector<int> counts;       // inlier points per registered frame
  std::vector<int64_t> missing;  // indices of the frames not registered
};

// Appends the registered frames to `track`; returns their figures.
FrameStats CollectFrames(const internal::IncrementalMapper& mapper,
                         const std::vector<Frame>& metas,
                         const FrameFeedInfo& info,
                         int work_width,
                         int work_height,
                         CameraTrack* track) {
  const internal::Reconstruction& rec = mapper.Rec();
  FrameStats stats;
  for (size_t f = 0; f < metas.size(); ++f) {
    const internal::FramePose& pose = rec.poses[f];
    if (!pose.registered) {
      stats.missing.push_back(metas[f].index);
      continue;
    }
    TrackedFrame tf;
    tf.index = metas[f].index;
    tf.timestamp_s = metas[f].timestamp_s;
    const double angle = pose.rvec.norm();
    const Eigen::Quaterniond q =
        angle > 0.0
            ? Eigen::Quaterniond(Eigen::AngleAxisd(angle, pose.rvec / angle))
            : Eigen::Quaterniond::Identity();
    tf.cam_from_world = Rigid3d(q, pose.t);
    const double focal = rec.FocalOf(static_cast<int>(f));
    tf.intrinsics = Intrinsics::Centered(focal, work_width, work_height)
                        .Rescaled(info.width, info.height);
    int count = 0;
    const double err = mapper.FrameError(static_cast<int>(f), &count);
    stats.counts.push_back(count);
    tf.reproj_err_px = err * info.width / work_width;
    tf.confidence = std::clamp(count / 60.0, 0.0, 1.0) *
                    std::exp(-0.5 * (err / 1.5) * (err / 1.5));
    stats.errors.push_back(*tf.reproj_err_px);
    stats.focals.push_back(tf.intrinsics.fx);
    track->frames.push_back(tf);
  }
  return stats;
}

// Fills `cloud` with the triangulated points; returns how many.
// A long clip's points, bounded as the track file bounds them
// (kTrackFileMaxPoints): the best-seen points (most inlier observations,
// ties by id) are kept, in id order, so memory and the file stay bounded.
void CapPoints(const internal::Reconstruction& rec, std::vector<int>* ids) {
  const auto cap = static_cast<size_t>(kTrackFileMaxPoints);
  if (ids->size() <= cap) return;
  std::vector<std::pair<int, int>> seen;  // (-inliers, id)
  seen.reserve(ids->size());
  for (const int id : *ids) {
    int n = 0;
    for (uint8_t in : rec.inlier[id]) n += in;
    seen.emplace_back(-n, id);
  }
  std::nth_element(seen.begin(), seen.begin() + cap, seen.end());
  ids->clear();
  for (size_t i = 0; i < cap; ++i) ids->push_back(seen[i].second);
  std::sort(ids->begin(), ids->end());
}

size_t CollectPoints(const internal::IncrementalMapper& mapper,
                     const std::vector<Frame>& metas,
                     PointCloud* cloud) {
  const internal::Reconstruction& rec = mapper.Rec();
  const internal::FeatureTracker& tracker = mapper.Tracker();
  std::vector<int> ids;
  for (size_t id = 0; id < rec.has_point.size(); ++id) {
    if (rec.has_point[id]) ids.push_back(static_cast<int>(id));
  }
  CapPoints(rec, &ids);
  cloud->xyz.resize(3, static_cast<Eigen::Index>(ids.size()));
  cloud->rgb.resize(3, static_cast<Eigen::Index>(ids.size()));
  cloud->confidence.resize(static_cast<Eigen::Index>(ids.size()));
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto& t = tracker.Tracks()[ids[i]];
    cloud->xyz.col(i) = rec.points[ids[i]].cast<float>();
    cloud->rgb.col(i) = t.rgb;
    int n = 0;
    for (uint8_t in : rec.inlier[ids[i]]) n += in;
    cloud->confidence[i] = static_cast<float>(std::min(1.0, n / 10.0));
    cloud->frame_index.push_back(metas[t.obs.front().frame].index);
  }
  return ids.size();
}

// Adds the warnings of a solve that fits but may be wrong: a high error,
// few points, a weakly constrained focal, frames left unregistered.
void AddWeakSolveWarnings(const internal::IncrementalMapper& mapper,
                          const ClassicalTrackerOptions& options,
                          size_t num_points,
                          std::vector<int>* counts,
                          TrackSummary* s) {
  if (s->reproj_err_px && *s->reproj_err_px > 1.0) {
    std::ostringstream msg;
    msg << "weak solve: mean reprojection error " << *s->reproj_err_px
        << " px (> 1 px); check the track before using it";
    s->warnings.push_back(msg.str());
  }
  // Few points, or few per frame: a plain or noisy scene, where a track
  // can be wrong while it fits (the rendered low-texture floor solves
  // 24/24 frames at 0.5 px with the focal off by half without this).
  if (!counts->empty() && !mapper.RotationOnly()) {
    std::nth_element(
        counts->begin(), counts->begin() + counts->size() / 2, counts->end());
    const int per_frame = (*counts)[counts->size() / 2];
    const auto points = static_cast<int>(num_points);
    if (points < options.max_features / 2 || per_frame < 60) {
      std::ostringstream msg;
      msg << "weak solve: few features to solve from (" << points
          << " points, a median of " << per_frame
          << " per frame; low texture, noise or blur?); check the track, "
             "and give the focal (--focal-mm/--sensor-mm or --focal-px) "
             "if you know it";
      s->warnings.push_back(msg.str());
    }
  }
  // Clean clips measure 0.1-0.4 %; 2 % is a focal worth giving by hand.
  if (mapper.FocalSpread() > 0.02) {
    std::ostringstream msg;
    msg << "weak solve: the footage barely constrains the focal (";
    if (std::isfinite(mapper.FocalSpread())) {
      msg << "+/- " << std::setprecision(2) << 100.0 * mapper.FocalSpread()
          << " %";
    } else {
      msg << "no clear optimum";
    }
    msg << "); give it (--focal-mm/--sensor-mm or --focal-px) if you know "
           "it, and check the track";
    s->warnings.push_back(msg.str());
  }
  if (s->registered * 10 < s->total * 9) {
    s->warnings.push_back(
        "weak solve: fewer than 90% of the frames registered");
  }
}

// The summary of a solve: counts, mean error, median focal and warnings.
void Summarize(const internal::IncrementalMapper& mapper,
               const ClassicalTrackerOptions& options,
               const CameraTrack& track,
               size_t num_frames,
               size_t num_points,
               FrameStats* stats,
               TrackSummary* s) {
  s->total = static_cast<int64_t>(num_frames);
  s->registered = static_cast<int64_t>(track.frames.size());
  if (!stats->errors.empty()) {
    double sum = 0.0;
    for (double e : stats->errors) sum += e;
    s->reproj_err_px = sum / stats->errors.size();
    std::vector<double>& focals = stats->focals;
    std::nth_element(
        focals.begin(), focals.begin() + focals.size() / 2, focals.end());
    s->focal_px = focals[focals.size() / 2];
  }
  s->warnings = mapper.Warnings();
  if (mapper.ZoomDetected() && !track.frames.empty()) {
    std::ostringstream msg;
    msg << std::fixed << std::setprecision(0)
        << "zoom: the focal changes over the clip ("
        << track.frames.front().intrinsics.fx << " px in the first frame, "
        << track.frames.back().intrinsics.fx
        << " px in the last); solved with one focal per frame, as "
           "--per-frame-focal asks. A zoom pins the focal less than a fixed "
           "lens does: check the track";
    s->warnings.push_back(msg.str());
  }
  const std::vector<int64_t>& missing = stats->missing;
  if (!missing.empty()) {
    std::ostringstream msg;
    msg << missing.size() << " frame(s) could not be registered:";
    for (size_t i = 0; i < missing.size() && i < 20; ++i) {
      msg << " " << missing[i];
    }
    if (missing.size() > 20) msg << " ...";
    s->warnings.push_back(msg.str());
  }
  AddWeakSolveWarnings(mapper, options, num_points, &stats->counts, s);
}

TrackResult Collect(const internal::IncrementalMapper& mapper,
                    const std::vector<Frame>& metas,
                    const FrameFeedInfo& info,
                    int work_width,
                    int work_height,
                    const ClassicalTrackerOptions& options) {
  const LensMode lens = options.common.lens;
  const internal::Reconstruction& rec = mapper.Rec();
  TrackResult result;
  CameraTrack& track = result.track;
  track.width = info.width;
  track.height = info.height;
  track.fps = info.fps;
  const bool has_lens = rec.camera.k1 != 0.0 || rec.camera.k2 != 0.0;
  if (lens != LensMode::kNone && has_lens) {
    track.lens.model = LensDistortion::Model::kRadialK1K2;
    track.lens.k1 = rec.camera.k1;
    track.lens.k2 = rec.camera.k2;
  }
  FrameStats stats =
      CollectFrames(mapper, metas, info, work_width, work_height, &track);
  const size_t num_points = CollectPoints(mapper, metas, &result.points);
  Summarize(mapper,
            options,
            track,
            metas.size(),
            num_points,
            &stats,
            &result.summary);
  return result;
}

}  // namespace

}  // namespace vanelia
