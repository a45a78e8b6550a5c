// The tripod branch of the incremental mapper: a pan without translation
// has no parallax, so the cameras are solved as rotations about one centre
// (t = 0) with the focal, and the points as directions (unit distance).
// Rotations start from frame-to-frame homographies H = K R K^-1 (Hartley &
// Zisserman 2003, sec. 8.4.2, "rotating camera"); the focal, when unknown,
// from the sweep that makes K^-1 H K closest to rotations (de Agapito et al.
// 1998); bundle adjustment refines both.
#include "vanelia/core/error.hpp"

#include <cmath>
#include <cstdint>
#include <sstream>
#include <vector>

#include <Eigen/SVD>
#include <opencv2/calib3d.hpp>
#include <opencv2/core/eigen.hpp>

#include "track/classical/bundle_adjustment/bundle_adjustment_impl.hpp"
#include "track/classical/mapping/incremental_mapper_impl.hpp"
#include "track/classical/two_view/two_view_impl.hpp"

namespace vanelia::internal {

namespace {

Eigen::Matrix3d KOf(double f, double cx, double cy) {
  Eigen::Matrix3d K;
  K << f, 0, cx, 0, f, cy, 0, 0, 1;
  return K;
}

// The homographies (pixels) from each frame's predecessor to it; identity
// and not ok where too few tracks or no homography joined the two.
struct FrameToFrameHomographies {
  std::vector<Eigen::Matrix3d> homographies;  // [frame]: previous -> frame
  std::vector<uint8_t> ok;                    // [frame]: 1 when found
};

// Frame-to-frame homographies of every consecutive pair (RANSAC).
FrameToFrameHomographies EstimateHomographies(const FeatureTracker& tracker,
                                              double threshold_px) {
  const int n = tracker.NumFrames();
  FrameToFrameHomographies chain;
  chain.homographies.assign(n, Eigen::Matrix3d::Identity());
  chain.ok.assign(n, 0);
  for (int f = 1; f < n; ++f) {
    std::vector<cv::Point2f> pa;
    std::vector<cv::Point2f> pb;
    for (const auto& [id, k] : tracker.Frames()[f - 1].refs) {
      const Eigen::Vector2d* x = tracker.Find(id, f);
      if (x == nullptr) continue;
      const Eigen::Vector2d& y = tracker.Tracks()[id].obs[k].px;
      pa.emplace_back(y.x(), y.y());
      pb.emplace_back(x->x(), x->y());
    }
    if (pa.size() < 20) continue;
    const cv::Mat H = cv::findHomography(pa, pb, cv::RANSAC, threshold_px);
    if (H.empty()) continue;
    cv::cv2eigen(H, chain.homographies[f]);
    chain.ok[f] = 1;
  }
  return chain;
}

// The focal (a sweep of [0.3, 3] x width) that makes K^-1 H K of the found
// homographies closest to rotations; `focal` is left as it is when no
// candidate scores.
void SweepRotationFocal(const FrameToFrameHomographies& chain,
                        int width,
                        double cx,
                        double cy,
                        double* focal) {
  const int n = static_cast<int>(chain.ok.size());
  double best = 1e300;
  for (int i = 0; i <= 200; ++i) {
    const double f = width * 0.3 * std::pow(10.0, i / 200.0);
    const Eigen::Matrix3d K = KOf(f, cx, cy);
    double sum = 0.0;
    for (int j = 1; j < n; ++j) {
      if (!chain.ok[j]) continue;
      double r = 0.0;
      NearestRotation(K.inverse() * chain.homographies[j] * K, &r);
      sum += r;
    }
    if (sum < best) {
      best = sum;
      *focal = f;
    }
  }
}

}  // namespace

void IncrementalMapper::SolveRotationOnly() {
  const int n = tracker_.NumFrames();
  const double cx = rec_.camera.cx;
  const double cy = rec_.camera.cy;
  // Frame-to-frame homographies (pixels).
  const FrameToFrameHomographies chain =
      EstimateHomographies(tracker_, options_.ransac_threshold_px);
  const std::vector<Eigen::Matrix3d>& homographies = chain.homographies;
  const std::vector<uint8_t>& ok = chain.ok;
  if (!focal_known_) {
    SweepRotationFocal(chain, width_, cx, cy, &rec_.camera.focal);
  }
  const Eigen::Matrix3d K = KOf(rec_.camera.focal, cx, cy);
  Eigen::Matrix3d R = Eigen::Matrix3d::Identity();
  for (int f = 0; f < n; ++f) {
    if (f > 0 && !ok[f]) break;  // a gap ends the chain
    if (f > 0)
      R = NearestRotation(K.inverse() * homographies[f] * K, nullptr) * R;
    FramePose& pose = rec_.poses[f];
    const Eigen::AngleAxisd aa(R);
    pose.rvec = aa.angle() * aa.axis();
    pose.t.setZero();
    pose.focal = rec_.camera.focal;
    pose.registered = true;
  }
  // Points as directions at unit distance from the first observation.
  for (size_t id = 0; id < tracker_.Tracks().size(); ++id) {
    const auto& obs = tracker_.Tracks()[id].obs;
    if (obs.size() < 2 || !rec_.poses[obs[0].frame].registered) continue;
    Eigen::Matrix3d Rf;
    ceres::AngleAxisToRotationMatrix(rec_.poses[obs[0].frame].rvec.data(),
                                     ceres::ColumnMajorAdapter3x3(Rf.data()));
    const Eigen::Vector2d x =
        Normalize(rec_.camera, rec_.camera.focal, obs[0].px);
    rec_.points[id] =
        Rf.transpose() * Eigen::Vector3d(x.x(), x.y(), 1.0).normalized();
    rec_.has_point[id] = 1;
  }
  BundleAdjustmentOptions ba = BaOptions();
  for (int f = 0; f < n; ++f) {
    if (rec_.poses[f].registered) ba.variable_frames.push_back(f);
  }
  if (ba.variable_frames.size() < 2) {
    throw InputError(
        "cannot solve the clip: no parallax and no homography "
        "between consecutive frames");
  }
  ba.fix_translation = true;
  ba.refine_focal = !focal_known_;
  ba.max_iterations = options_.global_ba_iterations;
  BundleAdjust(tracker_, ba, &rec_);
  FilterOutliers(tracker_, options_.max_reprojection_error_px, &rec_);
  BundleAdjust(tracker_, ba, &rec_);
  if (FilterOutliersAdaptive() > 0) BundleAdjust(tracker_, ba, &rec_);
  rotation_only_ = true;
  warnings_.push_back(
      "no parallax (tripod shot): solved as a rotation-only camera; points "
      "are directions at unit distance");
  WarnIfStillButMoving();
}

void IncrementalMapper::WarnIfStillButMoving() {
  std::vector<int> registered;
  for (size_t f = 0; f < rec_.poses.size(); ++f) {
    if (rec_.poses[f].registered) registered.push_back(static_cast<int>(f));
  }
  // The largest turn from the first registered frame.
  if (registered.empty() || RotationSpanDeg(registered) > 0.5) return;
  // A still camera moves no scene point: tracks that travel far are
  // something else.
  int moving = 0;
  for (const FeatureTrack& track : tracker_.Tracks()) {
    if (track.obs.size() < 2) continue;
    if ((track.obs.back().px - track.obs.front().px).norm() > 0.03 * width_) {
      ++moving;
    }
  }
  if (moving < 10) return;
  std::ostringstream msg;
  msg << "weak solve: the camera solved as still, yet " << moving
      << " feature tracks moved across the frame (moving objects, or a "
         "pattern fixed to the screen such as a logo, dust or sensor noise "
         "hiding the camera's motion); check the track";
  warnings_.push_back(msg.str());
}

}  // namespace vanelia::internal
