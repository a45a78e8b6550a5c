// Aligning a tracked scene to Blender's world: the floor becomes z = 0, Z up,
// metres.
//
// blender_from_track is a similarity (x_blender = s R x_track + t) such that
//   - the floor normal maps to +Z and the floor to z = 0;
//   - the origin is the floor point that frame 0's image centre looks at (or
//     the point below the first camera when that ray misses the floor or
//     meets it too far away, e.g. a camera looking at the horizon);
//   - the first camera's heading (its optical axis projected on the floor)
//     is +Y;
//   - the scale comes from the first camera's height above the floor
//     (camera_height_m, default 1.5 m), or from a known distance between two
//     3-D points, or is 1.
// The floor comes from DetectGroundPlane, from a user's plane (three 3-D
// points), or, for a tripod shot (no parallax, so no floor can be
// triangulated), from a level horizon at the given camera height.
// When no floor can be found the result says so (aligned = false, a reason in
// warnings) and the caller keeps the raw world: never a flipped world.
#pragma once

#include "vanelia/floor/floor_sweep.hpp"
#include "vanelia/floor/ground_plane.hpp"
#include "vanelia/geometry/plane.hpp"
#include "vanelia/geometry/sim3d.hpp"
#include "vanelia/trackfile/camera_track.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace vanelia {

struct AlignmentOptions {
  // How metres are found.
  ScaleMethod scale = ScaleMethod::kCameraHeight;
  // Height of the first registered camera above the floor, metres (> 0).
  double camera_height_m = 1.5;
  // ScaleMethod::kDistance: two points in the track's world and their true
  // distance in metres (> 0).
  Eigen::Vector3d distance_a = Eigen::Vector3d::Zero();
  Eigen::Vector3d distance_b = Eigen::Vector3d::Zero();
  double distance_m = 1.0;
  // A floor given by the user, in the track's world (orientation is fixed
  // towards the cameras). When set, no detection runs.
  std::optional<Plane3d> manual_plane;
  // For a tripod shot: a level horizon at camera_height_m instead of a floor.
  bool horizon_fallback = true;
  // The anchor ray of frame 0 may meet the floor at most this many camera
  // heights away; farther (or behind) the origin goes below the camera.
  double max_anchor_distance = 12.0;
  GroundPlaneOptions ground;
  // Decodes the clip's frames of these TrackedFrame indices (those it can)
  // for a plain floor: when the detected floor's normal came from the
  // cameras' up, its height is swept from the frames FloorSweepFrames picks
  // (SweepFloorHeight). Unset: no sweep; called only when needed.
  std::function<std::vector<FloorView>(const std::vector<int64_t>&)>
      read_floor_views;
  FloorSweepOptions floor_sweep;

  // Throws InputError naming the first field that breaks its rule.
  void Check() const;
};

struct Alignment {
  bool aligned = false;  // false: keep the raw world (see warnings)
  Sim3d blender_from_track;
  GroundPlaneMethod method = GroundPlaneMethod::kRansac;
  std::optional<GroundPlaneEstimate> ground;  // in the track's world
  ScaleMethod scale_method = ScaleMethod::kNone;
  std::optional<double> scale_value_m;
  std::vector<std::string> warnings;
};

// True when the cameras do not move relative to the scene's size (a tripod
// pan): their centres stay within 0.5 % of the scene scale, or there are no
// points to measure the scene with and they stay within 1e-6.
bool IsRotationOnly(const CameraTrack& track, const PointCloud& points);

// The similarity that puts `plane` (in the track's world, normal towards the
// cameras) at z = 0 with the conventions above. nullopt (with a warning) when
// the first camera is not above the plane or the scale is degenerate.
std::optional<Sim3d> BlenderFromTrack(const CameraTrack& track,
                                      const Plane3d& plane,
                                      const AlignmentOptions& options,
                                      std::vector<std::string>* warnings);

// Finds the floor and the alignment.
Alignment ComputeAlignment(const CameraTrack& track,
                           const PointCloud& points,
                           const AlignmentOptions& options);

// Moves a track file into Blender's world with `alignment`: frames, points
// and ground plane; sets world, blender_from_track (composed with the file's
// previous one), scale and the summary's warnings. When !alignment.aligned
// only the warnings are added and the world is left as it is.
void ApplyAlignment(const Alignment& alignment, TrackFile* file);

// Aligns a track file from its own cameras and stored points (none: only
// a tripod horizon or a manual plane can align it) and applies the result.
Alignment AlignTrackFile(const AlignmentOptions& options, TrackFile* file);

// The CameraTrack view of a track file (frames + size + fps + lens).
CameraTrack CameraTrackOf(const TrackFile& file);

}  // namespace vanelia
