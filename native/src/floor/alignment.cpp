#include "vanelia/floor/alignment.hpp"

#include "vanelia/core/option_check.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace vanelia {
namespace {

Eigen::Vector3d CameraCentre(const TrackedFrame& frame) {
  return frame.cam_from_world.Inverse().translation;
}

void Warn(std::vector<std::string>* warnings, const std::string& text) {
  if (warnings != nullptr) warnings->push_back(text);
}

std::string Format(double value) {
  std::ostringstream text;
  text.precision(4);
  text << value;
  return text.str();
}

}  // namespace

void AlignmentOptions::Check() const {
  auto fail =
      [](const std::string& field, double value, const std::string& rule) {
        internal::ThrowBadOption("AlignmentOptions", field, value, rule);
      };
  if (!(camera_height_m > 0.0) || !std::isfinite(camera_height_m)) {
    fail("camera_height_m", camera_height_m, "must be a positive number");
  }
  if (scale == ScaleMethod::kDistance) {
    if (!(distance_m > 0.0) || !std::isfinite(distance_m)) {
      fail("distance_m", distance_m, "must be a positive number");
    }
    if (!distance_a.allFinite() || !distance_b.allFinite() ||
        (distance_a - distance_b).norm() <= 0.0) {
      fail("distance_b - distance_a",
           (distance_a - distance_b).norm(),
           "the two points must be finite and distinct");
    }
  }
  if (!(max_anchor_distance > 0.0)) {
    fail("max_anchor_distance", max_anchor_distance, "must be > 0");
  }
  ground.Check();
  floor_sweep.Check();
}

bool IsRotationOnly(const CameraTrack& track, const PointCloud& points) {
  if (track.frames.size() < 2) return false;
  Eigen::Vector3d mean = Eigen::Vector3d::Zero();
  for (const TrackedFrame& f : track.frames) mean += CameraCentre(f);
  mean /= static_cast<double>(track.frames.size());
  double spread = 0.0;
  for (const TrackedFrame& f : track.frames) {
    spread = std::max(spread, (CameraCentre(f) - mean).norm());
  }
  const std::optional<double> scale =
      SceneScale(track, points.xyz.cast<double>());
  if (!scale) return spread < 1e-6;
  return spread < 0.005 * *scale;
}

std::optional<Sim3d> BlenderFromTrack(const CameraTrack& track,
                                      const Plane3d& plane,
                                      const AlignmentOptions& options,
                                      std::vector<std::string>* warnings) {
  if (track.frames.empty()) {
    Warn(warnings, "alignment: no registered cameras");
    return std::nullopt;
  }
  const TrackedFrame& first = track.frames.front();
  const Eigen::Vector3d centre = CameraCentre(first);
  const double height = plane.SignedDistance(centre);
  if (!(height > 0.0) || !std::isfinite(height)) {
    Warn(warnings, "alignment: the first camera is not above the floor");
    return std::nullopt;
  }
  const Eigen::Vector3d& n = plane.normal;
  const Eigen::Matrix3d axes =
      first.cam_from_world.rotation.toRotationMatrix().transpose();

  // Heading: the optical axis projected on the floor, or image-up when the
  // camera looks straight down.
  Eigen::Vector3d heading = axes.col(2) - axes.col(2).dot(n) * n;
  if (heading.norm() < 1e-3) heading = -axes.col(1) + axes.col(1).dot(n) * n;
  heading.normalize();
  Eigen::Matrix3d blender_r_track;
  blender_r_track.row(0) = heading.cross(n).transpose();
  blender_r_track.row(1) = heading.transpose();
  blender_r_track.row(2) = n.transpose();

  // Origin: where the image centre's ray meets the floor, if near enough.
  Eigen::Vector3d anchor = plane.Project(centre);
  if (first.intrinsics.fx > 0.0 && first.intrinsics.width > 0) {
    const Eigen::Vector2d pixel(0.5 * first.intrinsics.width - 0.5,
                                0.5 * first.intrinsics.height - 0.5);
    const Eigen::Vector3d ray = axes * first.intrinsics.Unproject(pixel);
    const double along = ray.dot(n);
    if (along < 0.0) {
      const double t = -height / along;
      const Eigen::Vector3d hit = centre + t * ray;
      if ((hit - anchor).norm() <= options.max_anchor_distance * height) {
        anchor = hit;
      }
    }
  }

  double scale = 1.0;
  switch (options.scale) {
    case ScaleMethod::kCameraHeight:
      scale = options.camera_height_m / height;
      break;
    case ScaleMethod::kDistance: {
      const double d = (options.distance_a - options.distance_b).norm();
      scale = options.distance_m / d;
      break;
    }
    case ScaleMethod::kNone:
      scale = 1.0;
      break;
  }
  if (!(scale > 0.0) || !std::isfinite(scale)) {
    Warn(warnings, "alignment: degenerate scale " + Format(scale));
    return std::nullopt;
  }
  const Eigen::Quaterniond rotation(blender_r_track);
  const Eigen::Vector3d translation = -scale * (blender_r_track * anchor);
  return Sim3d(scale, rotation, translation);
}

namespace {

// A plain floor (its normal from the cameras' up, its height a guess from
// the few low points): the height swept from the decoded frames instead.
void SweepHeight(const CameraTrack& track,
                 const AlignmentOptions& options,
                 Alignment* result) {
  if (!options.read_floor_views) return;
  const std::vector<FloorView> views =
      options.read_floor_views(FloorSweepFrames(track));
  GroundPlaneEstimate& ground = *result->ground;
  const std::optional<FloorSweepResult> swept =
      SweepFloorHeight(track, ground.plane, views, options.floor_sweep);
  std::ostringstream text;
  text.precision(2);
  if (!swept) {
    text << "ground plane: the floor's height could not be swept from "
         << views.size()
         << " frames (no clear photo-consistent height); kept the points' "
            "guess";
    result->warnings.push_back(text.str());
    return;
  }
  const Eigen::Vector3d c0 = CameraCentre(track.frames.front());
  text << std::fixed << "ground plane: height from a plane sweep of the "
       << "floor over " << swept->views + 1 << " frames (first camera "
       << swept->plane.SignedDistance(c0) << " above it instead of "
       << ground.plane.SignedDistance(c0) << " track units, mean correlation "
       << swept->correlation << ")";
  result->warnings.push_back(text.str());
  ground.plane = swept->plane;
}

// The floor plane (manual, tripod-shot horizon or RANSAC); fills `result`.
std::optional<Plane3d> FindFloorPlane(const CameraTrack& track,
                                      const PointCloud& points,
                                      const AlignmentOptions& options,
                                      Alignment* result) {
  Eigen::Vector3d mean_centre = Eigen::Vector3d::Zero();
  for (const TrackedFrame& f : track.frames) mean_centre += CameraCentre(f);
  mean_centre /= static_cast<double>(track.frames.size());

  std::optional<Plane3d> plane;
  if (options.manual_plane) {
    plane = options.manual_plane->FlipTowards(mean_centre);
    result->method = GroundPlaneMethod::kManual;
    GroundPlaneEstimate estimate;
    estimate.plane = *plane;
    estimate.confidence = 1.0;
    result->ground = estimate;
  } else if (options.horizon_fallback && IsRotationOnly(track, points)) {
    const std::optional<UpEstimate> up = EstimateUpFromCameras(track);
    if (up) {
      // A level horizon: the floor one track unit below the first camera;
      // the scale then makes that unit the given camera height.
      const Eigen::Vector3d c0 = CameraCentre(track.frames.front());
      plane = Plane3d(up->up, -up->up.dot(c0) + 1.0);
      result->method = GroundPlaneMethod::kHorizon;
      GroundPlaneEstimate estimate;
      estimate.plane = *plane;
      estimate.confidence = up->from_camera_spread ? 0.5 : 0.25;
      result->ground = estimate;
      result->warnings.push_back(
          std::string("alignment: the camera only rotates (tripod shot), so "
                      "no floor can be triangulated; assumed a level "
                      "horizon ") +
          (up->from_camera_spread ? "from the pan"
                                  : "from the first frame (no roll, no tilt)") +
          " and a camera height of " + Format(options.camera_height_m) + " m");
    }
  } else {
    result->ground =
        DetectGroundPlane(track, points, options.ground, &result->warnings);
    if (result->ground) {
      if (result->ground->normal_from_cameras) {
        SweepHeight(track, options, result);
      }
      plane = result->ground->plane;
      result->method = GroundPlaneMethod::kRansac;
    }
  }
  return plane;
}

}  // namespace

Alignment ComputeAlignment(const CameraTrack& track,
                           const PointCloud& points,
                           const AlignmentOptions& options) {
  options.Check();
  Alignment result;
  result.scale_method = options.scale;
  if (options.scale == ScaleMethod::kCameraHeight) {
    result.scale_value_m = options.camera_height_m;
  } else if (options.scale == ScaleMethod::kDistance) {
    result.scale_value_m = options.distance_m;
  }
  if (track.frames.empty()) {
    result.warnings.push_back("alignment: no registered cameras");
    return result;
  }
  const std::optional<Plane3d> plane =
      FindFloorPlane(track, points, options, &result);
  if (!plane) {
    result.warnings.push_back(
        "alignment: no floor found; the track keeps the tracker's world "
        "(use `vanelia align --plane` to give the floor by hand)");
    result.ground.reset();
    return result;
  }
  AlignmentOptions effective = options;
  if (result.method == GroundPlaneMethod::kHorizon &&
      options.scale != ScaleMethod::kCameraHeight) {
    effective.scale = ScaleMethod::kCameraHeight;
    result.scale_method = ScaleMethod::kCameraHeight;
    result.scale_value_m = options.camera_height_m;
    result.warnings.push_back(
        "alignment: a tripod shot has no measurable distances; scale set "
        "from the camera height");
  }
  const std::optional<Sim3d> sim =
      BlenderFromTrack(track, *plane, effective, &result.warnings);
  if (!sim) {
    result.ground.reset();
    return result;
  }
  result.aligned = true;
  result.blender_from_track = *sim;
  return result;
}

CameraTrack CameraTrackOf(const TrackFile& file) {
  CameraTrack track;
  track.frames = file.frames;
  track.width = file.width;
  track.height = file.height;
  track.fps = file.fps;
  track.lens = file.lens;
  return track;
}

Alignment AlignTrackFile(const AlignmentOptions& options, TrackFile* file) {
  const PointCloud points = file->points ? *file->points : PointCloud();
  Alignment alignment = ComputeAlignment(CameraTrackOf(*file), points, options);
  ApplyAlignment(alignment, file);
  return alignment;
}

void ApplyAlignment(const Alignment& alignment, TrackFile* file) {
  for (const std::string& w : alignment.warnings) {
    file->summary.warnings.push_back(w);
  }
  if (!alignment.aligned) return;
  const Sim3d& sim = alignment.blender_from_track;
  for (TrackedFrame& frame : file->frames) {
    frame.cam_from_world = sim.TransformPose(frame.cam_from_world);
  }
  if (file->points) {
    Eigen::Matrix3Xf& xyz = file->points->xyz;
    const Eigen::Matrix3f m =
        (sim.scale * sim.rotation.toRotationMatrix()).cast<float>();
    const Eigen::Vector3f t = sim.translation.cast<float>();
    for (Eigen::Index i = 0; i < xyz.cols(); ++i) {
      xyz.col(i) = m * xyz.col(i) + t;
    }
  }
  TrackGroundPlane ground;
  ground.normal = Eigen::Vector3d::UnitZ();
  ground.offset = 0.0;
  ground.method = alignment.method;
  if (alignment.ground) {
    ground.inliers = alignment.ground->num_inliers;
    if (alignment.method == GroundPlaneMethod::kRansac) {
      ground.rms = alignment.ground->inlier_rmse * sim.scale;
    }
    ground.confidence = alignment.ground->confidence;
  }
  file->ground_plane = ground;
  // Compose with the file's previous raw-to-file similarity.
  // (identity when the file is still in the tracker's world).
  file->blender_from_track = sim * file->blender_from_track;
  file->world = TrackWorld::kBlender;
  file->scale.method = alignment.scale_method;
  file->scale.value_m = alignment.scale_value_m;
}

}  // namespace vanelia
