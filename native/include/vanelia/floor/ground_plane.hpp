// Ground-plane detection in a tracked scene: which plane of the
// reconstructed points is the floor.
//
// RANSAC (geometry/ransac.hpp) runs on the points (sparse classical points,
// or dense network points filtered by confidence and subsampled), with an
// inlier threshold relative to the scene's scale (the median camera-to-point
// distance), never a fixed number in the tracker's unknown units. Several
// planes are extracted in turn (each run removes the previous inliers) and
// the floor is chosen among them:
//   - its normal is nearly orthogonal to every camera's x axis (cameras are
//     assumed to have little roll: `max_roll_deg`) and within
//     `max_pitch_deg` of the cameras' image-up axis, so walls are rejected
//     (a wall in front of a camera makes more than 90 degrees with it);
//   - the cameras are above it (the normal is oriented towards them);
//   - the best-supported plane wins, unless a plane parallel to it (within
//     3 degrees) holding at least `min_support_ratio` of its inliers lies
//     clearly below it (3 inlier thresholds), so a table top is not taken
//     for the floor.
// The result is refit by least squares on its inliers and reports inlier
// count, inlier RMS and a confidence in [0, 1].
// When the cameras pan or orbit, the chosen plane is checked against their
// up (EstimateUpFromCameras: level cameras, no roll). On a plain floor most
// points lie on the objects standing on it and RANSAC's best plane may cut
// across them, degrees off the floor; a plane more than
// `max_up_deviation_deg` off the cameras' up gives way to another candidate
// within the limit, else to the plane through its inliers with the cameras'
// up as its normal, at half the confidence and with a warning (issue 17).
#pragma once

#include "vanelia/geometry/plane.hpp"
#include "vanelia/trackfile/camera_track.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace vanelia {

struct GroundPlaneOptions {
  // Inlier distance as a fraction of the scene scale (median distance from
  // the cameras to the points). 0.01 = 1 cm at 1 m viewing distance.
  double relative_threshold = 0.008;
  // Absolute minimum number of inliers for a plane to count.
  int min_inliers = 25;
  // A plane must hold at least this fraction of the (subsampled) points.
  double min_inlier_ratio = 0.04;
  // Largest camera roll, degrees, relative to the floor: the floor normal
  // makes at least 90 - max_roll_deg with every camera's x axis.
  double max_roll_deg = 20.0;
  // Largest angle, degrees, between the floor normal and a camera's
  // image-up axis (-y): the camera's downward pitch.
  double max_pitch_deg = 80.0;
  // A plane parallel to and below the best-supported one replaces it when it
  // holds at least this fraction of the best one's inliers (table vs floor).
  double min_support_ratio = 0.35;
  // Largest angle, degrees, between the floor and the cameras' up (only when
  // the cameras pan or orbit, so that their x axes give the up); 180 turns
  // the check off.
  double max_up_deviation_deg = 3.0;
  // How many planes to extract before choosing.
  int max_candidates = 4;
  // Points with confidence below this are ignored (dense network points).
  float min_confidence = 0.0F;
  // Points are subsampled deterministically to at most this many.
  int max_points = 40000;
  // RANSAC seed: a fixed seed gives a fixed answer.
  uint64_t random_seed = 7;

  // Throws InputError naming the first field that breaks its rule.
  void Check() const;
};

struct GroundPlaneEstimate {
  Plane3d plane;  // normal towards the cameras
  int64_t num_inliers = 0;
  double inlier_rmse = 0.0;  // world units
  double confidence = 0.0;   // 0..1
  double threshold = 0.0;    // the inlier threshold used, world units
  // The points' best plane was too far off the cameras' up (a plain floor):
  // the normal is the cameras' up and the height only a guess from the
  // points (ComputeAlignment refines it from the footage when it can).
  bool normal_from_cameras = false;
};

// World "up" seen from the cameras, assuming they do not roll: the
// direction orthogonal to all camera x axes when they span a plane (a pan or
// an orbit), else the first camera's image-up axis (assumes a level camera).
// Oriented to agree with the cameras' image-up. nullopt for an empty track.
struct UpEstimate {
  Eigen::Vector3d up = Eigen::Vector3d::UnitZ();
  bool from_camera_spread = false;  // false: assumed level first camera
};

std::optional<UpEstimate> EstimateUpFromCameras(const CameraTrack& track);

// Median distance from the camera centres to the points (the scene scale);
// nullopt without cameras or points.
std::optional<double> SceneScale(const CameraTrack& track,
                                 const Eigen::Matrix3Xd& points);

// Detects the floor. Returns nullopt (and appends a reason to `warnings`
// when given) for too few points, no plane, or no plane below the cameras.
std::optional<GroundPlaneEstimate> DetectGroundPlane(
    const CameraTrack& track,
    const PointCloud& points,
    const GroundPlaneOptions& options,
    std::vector<std::string>* warnings = nullptr);

}  // namespace vanelia
