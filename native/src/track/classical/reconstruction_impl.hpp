// The state of an incremental reconstruction (private to the classical
// tracker): per-frame poses, the shared camera, one 3-D point per feature
// track, and the projection every stage agrees on.
//
//   x_in_cam = R(rvec) * p_in_world + t            (cam_from_world)
//   (xn, yn) = (x, y) / z;  r2 = xn^2 + yn^2;  d = 1 + k1 r2 + k2 r2^2
//   pixel    = (f d xn + cx, f d yn + cy)
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include <Eigen/Core>
#include <ceres/rotation.h>

#include "track/classical/features/feature_tracks_impl.hpp"

namespace vanelia::internal {

struct CameraModel {
  double focal = 0.0;  // pixels (shared across frames)
  double cx = 0.0;     // pixels, pixel centres at integers
  double cy = 0.0;
  double k1 = 0.0;  // radial distortion of normalised coordinates
  double k2 = 0.0;

  // Whether k1 k2 describe a real lens over the frame: the distorted radius
  // r (1 + k1 r^2 + k2 r^4) grows with r out to the image corner, and moves
  // the corner by at most 40 %. A solve that fits noise with a wild
  // polynomial fails this.
  bool LensPlausible() const {
    const double r_max = std::hypot(cx + 0.5, cy + 0.5) / focal;
    for (int i = 1; i <= 50; ++i) {
      const double r2 = std::pow(r_max * i / 50.0, 2);
      const double slope = 1.0 + 3.0 * k1 * r2 + 5.0 * k2 * r2 * r2;
      const double factor = 1.0 + k1 * r2 + k2 * r2 * r2;
      if (!(slope > 0.2) || !(factor > 0.6 && factor < 1.4)) return false;
    }
    return true;
  }
};

struct FramePose {
  bool registered = false;
  bool keyframe = false;
  Eigen::Vector3d rvec = Eigen::Vector3d::Zero();  // angle-axis of R
  Eigen::Vector3d t = Eigen::Vector3d::Zero();
  double focal = 0.0;  // used when per-frame focal is on
};

struct Reconstruction {
  CameraModel camera;
  bool per_frame_focal = false;
  std::vector<FramePose> poses;              // per frame slot
  std::vector<Eigen::Vector3d> points;       // per track id
  std::vector<uint8_t> has_point;            // per track id
  std::vector<std::vector<uint8_t>> inlier;  // per track id, per obs

  double FocalOf(int frame) const {
    return per_frame_focal ? poses[frame].focal : camera.focal;
  }

  // Grows the per-track arrays to the tracker's count.
  void Resize(const FeatureTracker& tracker) {
    const auto& tracks = tracker.Tracks();
    points.resize(tracks.size(), Eigen::Vector3d::Zero());
    has_point.resize(tracks.size(), 0);
    inlier.resize(tracks.size());
    for (size_t i = 0; i < tracks.size(); ++i) {
      inlier[i].resize(tracks[i].obs.size(), 1);
    }
    if (poses.size() < static_cast<size_t>(tracker.NumFrames())) {
      poses.resize(tracker.NumFrames());
    }
  }
};

// Pixel of a world point (templated for Ceres' autodiff). Returns false when
// the point is not in front of the camera.
template <typename T>
bool ProjectPoint(const T* rvec,
                  const T* t,
                  const T* p_in_world,
                  const T& focal,
                  const T& k1,
                  const T& k2,
                  double cx,
                  double cy,
                  T* pixel) {
  T x[3];
  ceres::AngleAxisRotatePoint(rvec, p_in_world, x);
  x[0] += t[0];
  x[1] += t[1];
  x[2] += t[2];
  const T xn = x[0] / x[2];
  const T yn = x[1] / x[2];
  const T r2 = xn * xn + yn * yn;
  const T d = T(1.0) + k1 * r2 + k2 * r2 * r2;
  pixel[0] = focal * d * xn + cx;
  pixel[1] = focal * d * yn + cy;
  return x[2] > T(0.0);
}

// Reprojection error of track `id` in frame slot `frame` (pixels), or a
// negative number when the point is behind the camera.
inline double ReprojectionError(const Reconstruction& rec,
                                int frame,
                                const Eigen::Vector3d& p_in_world,
                                const Eigen::Vector2d& px) {
  const FramePose& pose = rec.poses[frame];
  double uv[2];
  const bool front = ProjectPoint(pose.rvec.data(),
                                  pose.t.data(),
                                  p_in_world.data(),
                                  rec.FocalOf(frame),
                                  rec.camera.k1,
                                  rec.camera.k2,
                                  rec.camera.cx,
                                  rec.camera.cy,
                                  uv);
  if (!front) return -1.0;
  return std::hypot(uv[0] - px.x(), uv[1] - px.y());
}

}  // namespace vanelia::internal
