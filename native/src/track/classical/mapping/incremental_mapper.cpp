// The incremental mapper's keyframe stage: construction, the keyframe
// decision, the two-view start, the registration and triangulation of each
// new keyframe (with the windowed bundle adjustment and the tripod vote), and
// the shared services of the class (threads, cancel polling, residuals).
// The focal and zoom profiles are in focal_profile.cpp, Finish's solve in
// global_solve.cpp, the tripod branch in rotation_only.cpp.
#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <thread>

#include <opencv2/calib3d.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "track/classical/bundle_adjustment/bundle_adjustment_impl.hpp"
#include "track/classical/mapping/incremental_mapper_impl.hpp"
#include "track/classical/two_view/two_view_impl.hpp"

namespace vanelia::internal {

namespace {

constexpr double kInitMinAngleDeg = 1.0;
constexpr int kInitMinPoints = 50;
// Keyframes registered before the focal is first solved (by a profile).
constexpr int kProfileKeyframes = 6;
// ... and the rotation they span: the focal shows in how far the image
// moves for a rotation; with too little of it (a dolly straight ahead) the
// focal and the depths trade off against each other.
constexpr double kProfileRotationDeg = 10.0;

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

void IncrementalMapper::KeepGrey(const Image& image,
                                 const Image* ignore,
                                 int slot) {
  keyframe_grey_.resize(static_cast<size_t>(slot) + 1);
  keyframe_usable_.resize(static_cast<size_t>(slot) + 1);
  if (ignore != nullptr) {
    const cv::Mat ignored(ignore->height,
                          ignore->width,
                          CV_8UC1,
                          const_cast<uint8_t*>(ignore->data.data()),
                          static_cast<size_t>(ignore->stride));
    cv::compare(ignored, 0, keyframe_usable_[slot], cv::CMP_EQ);
  }
  const cv::Mat src(image.height,
                    image.width,
                    image.channels == 3 ? CV_8UC3 : CV_8UC1,
                    const_cast<uint8_t*>(image.data.data()),
                    static_cast<size_t>(image.stride));
  if (image.channels == 3) {
    cv::cvtColor(src, keyframe_grey_[slot], cv::COLOR_RGB2GRAY);
  } else {
    keyframe_grey_[slot] = src.clone();
  }
}

void IncrementalMapper::AddFrame(const Image& image, const Image* ignore) {
  const int slot = tracker_.AddFrame(image, ignore);
  rec_.Resize(tracker_);
  rec_.poses[slot].focal = rec_.camera.focal;
  if (slot == 0 || !IsKeyframe(slot)) {
    if (slot == 0) {
      keyframes_.push_back(0);
      rec_.poses[0].keyframe = true;
      KeepGrey(image, ignore, 0);
    }
    return;
  }
  keyframes_.push_back(slot);
  rec_.poses[slot].keyframe = true;
  KeepGrey(image, ignore, slot);
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

int IncrementalMapper::NumRegistered() const {
  int n = 0;
  for (const FramePose& pose : rec_.poses) n += pose.registered ? 1 : 0;
  return n;
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
