// What a tracker produces: per-frame cameras, a sparse or dense point cloud
// and a summary. Every tracker (classical, MUSt3R, DUSt3R) returns these
// types through the one Tracker interface; the track file stores them.
//
// Poses are cam_from_world (OpenCV camera axes: +x right, +y down,
// +z forward): x_in_cam = R * x_in_world + t. Intrinsics are in source
// pixels (the upright decoded frame), pixel centres at integers.
#pragma once

#include "vanelia/decode/frame.hpp"
#include "vanelia/geometry/intrinsics.hpp"
#include "vanelia/geometry/rigid3d.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace vanelia {

struct TrackedFrame {
  int64_t index = 0;         // 0-based decoded frame number
  double timestamp_s = 0.0;  // seconds
  Rigid3d cam_from_world;
  Intrinsics intrinsics;
  double confidence = 1.0;              // 0..1
  std::optional<double> reproj_err_px;  // mean reprojection error, if known
};

// Radial lens distortion of the source pixels (OpenCV's model, k1 and k2).
struct LensDistortion {
  enum class Model { kPinhole, kRadialK1K2 };
  Model model = Model::kPinhole;
  double k1 = 0.0;
  double k2 = 0.0;
};

struct CameraTrack {
  std::vector<TrackedFrame> frames;  // registered frames only, ascending index
  int width = 0;                     // upright source frame, pixels
  int height = 0;
  Rational fps{24, 1};
  LensDistortion lens;
};

// Reconstructed points in the track's world.
struct PointCloud {
  Eigen::Matrix3Xf xyz;                           // [3, N] world units
  Eigen::Matrix<uint8_t, 3, Eigen::Dynamic> rgb;  // [3, N] 0..255
  Eigen::VectorXf confidence;                     // [N] 0..1
  std::vector<int64_t> frame_index;  // [N] frame that saw it first (or empty)

  int64_t Size() const { return xyz.cols(); }
};

struct TrackSummary {
  int64_t registered = 0;               // frames with a pose
  int64_t total = 0;                    // frames given to the tracker
  std::optional<double> reproj_err_px;  // mean over registered frames
  std::optional<double> focal_px;       // solved focal (median if per-frame)
  std::vector<std::string> warnings;    // human-readable, one line each
};

}  // namespace vanelia
