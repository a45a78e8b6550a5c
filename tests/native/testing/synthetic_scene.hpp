// Synthetic ground truth for tests of every module: cameras orbiting a floor
// (Blender-like world: Z up, floor z = 0, metres), points on the floor and in
// a box above it, and their projections with Gaussian pixel noise and a given
// fraction of outliers. Everything is drawn from std::mt19937_64 with a fixed
// seed, so a test sees the same scene on every run and machine.
//
//   SyntheticSceneOptions options;
//   options.num_cameras = 10;
//   const SyntheticScene scene = MakeSyntheticScene(options);
//   const auto obs = ProjectPoints(scene.cameras, scene.points_in_world,
//                                  /*pixel_noise_px=*/0.5,
//                                  /*outlier_fraction=*/0.1, /*seed=*/7);
//
// Cameras use OpenCV axes (+x right, +y down, +z forward) and are given as
// cam_from_world with their Intrinsics (pixel centres at integers).
#pragma once

#include "vanelia/geometry/intrinsics.hpp"
#include "vanelia/geometry/plane.hpp"
#include "vanelia/geometry/rigid3d.hpp"
#include "vanelia/geometry/sim3d.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <Eigen/Geometry>

namespace vanelia::testing {

struct SyntheticSceneOptions {
  int num_cameras = 8;
  // Points on the floor z = 0, uniform in [-e, e]^2 with e =
  // floor_half_extent_m (metres); stored first in points_in_world.
  int num_floor_points = 200;
  double floor_half_extent_m = 3.0;
  // Standard deviation (metres) of Gaussian noise on the floor points' z.
  double floor_noise_m = 0.0;
  // Points off the floor, uniform in the box [-e, e]^2 x [min_z, max_z]
  // with e = object_half_extent_m (metres); stored after the floor points.
  int num_object_points = 100;
  double object_half_extent_m = 1.0;
  double object_min_z_m = 0.2;
  double object_max_z_m = 1.5;
  // Cameras on a circle of this radius (metres) and height around the Z
  // axis, spread evenly over orbit_arc_deg, looking at look_at_m with
  // Gaussian jitter (metres) on their centres and targets.
  double orbit_radius_m = 5.0;
  double camera_height_m = 1.6;
  double orbit_arc_deg = 90.0;
  double jitter_m = 0.1;
  Eigen::Vector3d look_at_m = Eigen::Vector3d(0.0, 0.0, 0.5);
  // Intrinsics of every camera (pixels).
  double focal_px = 600.0;
  int width = 640;
  int height = 360;
  std::uint64_t seed = 0;
};

struct SyntheticCamera {
  Rigid3d cam_from_world;
  Intrinsics intrinsics;
};

struct SyntheticScene {
  std::vector<SyntheticCamera> cameras;
  // 3xN: num_floor_points floor points, then the object points.
  Eigen::Matrix3Xd points_in_world;
  int num_floor_points = 0;
  // z = 0 with the normal +Z (towards the cameras).
  Plane3d floor;
};

// The projections of all points into one camera.
struct SyntheticObservations {
  // 2xN pixels (one column per point; meaningful only where visible).
  Eigen::Matrix2Xd pixels;
  // 1 when the point is in front of the camera and inside the frame (or is
  // an outlier, which is always inside the frame).
  std::vector<char> visible;
  // 1 when the pixel was replaced by a uniformly random pixel of the frame.
  std::vector<char> outlier;
};

// cam_from_world of an OpenCV camera at `centre` looking at `target`, with
// `up` (world) projecting to the image's -y. centre != target, and the
// viewing direction must not be parallel to `up`.
inline Rigid3d LookAt(const Eigen::Vector3d& centre,
                      const Eigen::Vector3d& target,
                      const Eigen::Vector3d& up = Eigen::Vector3d::UnitZ()) {
  const Eigen::Vector3d forward = (target - centre).normalized();
  const Eigen::Vector3d right = forward.cross(up).normalized();
  const Eigen::Vector3d down = forward.cross(right);
  Eigen::Matrix3d r;
  r.row(0) = right.transpose();
  r.row(1) = down.transpose();
  r.row(2) = forward.transpose();
  return Rigid3d(Eigen::Quaterniond(r), -(r * centre));
}

// A rotation drawn uniformly from SO(3).
inline Eigen::Quaterniond RandomRotation(std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  Eigen::Quaterniond q(normal(rng), normal(rng), normal(rng), normal(rng));
  return q.normalized();
}

// A similarity with a uniform rotation, log-uniform scale in [1/4, 4] and a
// translation uniform in [-10, 10]^3.
inline Sim3d RandomSim3d(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> log_scale(std::log(0.25),
                                                   std::log(4.0));
  std::uniform_real_distribution<double> coord(-10.0, 10.0);
  const Eigen::Quaterniond rotation = RandomRotation(rng);
  const double scale = std::exp(log_scale(rng));
  return Sim3d(
      scale, rotation, Eigen::Vector3d(coord(rng), coord(rng), coord(rng)));
}

// 3xN points uniform in the box [lo, hi] (per axis).
inline Eigen::Matrix3Xd RandomPointsInBox(int num_points,
                                          const Eigen::Vector3d& lo,
                                          const Eigen::Vector3d& hi,
                                          std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Eigen::Matrix3Xd points(3, num_points);
  for (int i = 0; i < num_points; ++i) {
    for (int k = 0; k < 3; ++k) {
      points(k, i) = lo(k) + (hi(k) - lo(k)) * unit(rng);
    }
  }
  return points;
}

inline SyntheticScene MakeSyntheticScene(const SyntheticSceneOptions& options) {
  std::mt19937_64 rng(options.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  SyntheticScene scene;
  const Intrinsics intrinsics =
      Intrinsics::Centered(options.focal_px, options.width, options.height);
  const double arc_rad = options.orbit_arc_deg * M_PI / 180.0;
  for (int i = 0; i < options.num_cameras; ++i) {
    const double fraction =
        options.num_cameras > 1 ? i / (options.num_cameras - 1.0) : 0.5;
    const double angle = -0.5 * arc_rad + fraction * arc_rad;
    const Eigen::Vector3d jitter_c(normal(rng), normal(rng), normal(rng));
    const Eigen::Vector3d jitter_t(normal(rng), normal(rng), normal(rng));
    const Eigen::Vector3d centre =
        Eigen::Vector3d(options.orbit_radius_m * std::cos(angle),
                        options.orbit_radius_m * std::sin(angle),
                        options.camera_height_m) +
        options.jitter_m * jitter_c;
    const Eigen::Vector3d target =
        options.look_at_m + options.jitter_m * jitter_t;
    scene.cameras.push_back({LookAt(centre, target), intrinsics});
  }
  const double fe = options.floor_half_extent_m;
  Eigen::Matrix3Xd floor = RandomPointsInBox(options.num_floor_points,
                                             Eigen::Vector3d(-fe, -fe, 0.0),
                                             Eigen::Vector3d(fe, fe, 0.0),
                                             rng);
  for (int i = 0; i < options.num_floor_points; ++i) {
    floor(2, i) = options.floor_noise_m * normal(rng);
  }
  const double oe = options.object_half_extent_m;
  const Eigen::Matrix3Xd objects =
      RandomPointsInBox(options.num_object_points,
                        Eigen::Vector3d(-oe, -oe, options.object_min_z_m),
                        Eigen::Vector3d(oe, oe, options.object_max_z_m),
                        rng);
  scene.points_in_world.resize(3, floor.cols() + objects.cols());
  scene.points_in_world << floor, objects;
  scene.num_floor_points = options.num_floor_points;
  scene.floor = Plane3d(Eigen::Vector3d::UnitZ(), 0.0);
  return scene;
}

// Projects points_in_world (3xN) into every camera, adds Gaussian noise of
// pixel_noise_px (standard deviation, per axis) and replaces
// round(outlier_fraction * number of visible points) of the visible
// observations of each camera by uniformly random pixels of the frame.
inline std::vector<SyntheticObservations> ProjectPoints(
    const std::vector<SyntheticCamera>& cameras,
    const Eigen::Matrix3Xd& points_in_world,
    double pixel_noise_px,
    double outlier_fraction,
    std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<SyntheticObservations> all;
  const Eigen::Index n = points_in_world.cols();
  for (const SyntheticCamera& camera : cameras) {
    const Intrinsics& k = camera.intrinsics;
    SyntheticObservations obs;
    obs.pixels.setZero(2, n);
    obs.visible.assign(static_cast<size_t>(n), 0);
    obs.outlier.assign(static_cast<size_t>(n), 0);
    std::vector<int> visible_ids;
    for (Eigen::Index i = 0; i < n; ++i) {
      const Eigen::Vector3d x_in_cam =
          camera.cam_from_world * Eigen::Vector3d(points_in_world.col(i));
      if (!(x_in_cam.z() > 1e-6)) continue;
      const Eigen::Vector2d pixel =
          k.Project(x_in_cam) +
          pixel_noise_px * Eigen::Vector2d(noise(rng), noise(rng));
      if (pixel.x() < -0.5 || pixel.y() < -0.5 || pixel.x() > k.width - 0.5 ||
          pixel.y() > k.height - 0.5) {
        continue;
      }
      obs.pixels.col(i) = pixel;
      obs.visible[static_cast<size_t>(i)] = 1;
      visible_ids.push_back(static_cast<int>(i));
    }
    std::shuffle(visible_ids.begin(), visible_ids.end(), rng);
    const auto num_outliers = static_cast<size_t>(std::lround(
        outlier_fraction * static_cast<double>(visible_ids.size())));
    std::uniform_real_distribution<double> u(-0.5, k.width - 0.5);
    std::uniform_real_distribution<double> v(-0.5, k.height - 0.5);
    for (size_t j = 0; j < num_outliers && j < visible_ids.size(); ++j) {
      const int i = visible_ids[j];
      obs.pixels.col(i) = Eigen::Vector2d(u(rng), v(rng));
      obs.outlier[static_cast<size_t>(i)] = 1;
    }
    all.push_back(std::move(obs));
  }
  return all;
}

}  // namespace vanelia::testing
