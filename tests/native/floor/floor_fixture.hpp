// Synthetic indoor scenes for the floor module's tests: a floor at z = 0
// plus a wall, a table top and outliers, seen by cameras 1-2 m above the
// floor looking down 10-40 degrees, optionally moved into an arbitrary
// "tracker" world by a similarity.
#pragma once

#include "vanelia/geometry/sim3d.hpp"
#include "vanelia/trackfile/camera_track.hpp"

#include <cmath>
#include <random>

#include <Eigen/Core>
#include <Eigen/Geometry>

namespace vanelia::testing {

// OpenCV cam_from_world of a camera at `centre` looking along `forward`
// with world up +Z and no roll.
inline Rigid3d LookAlong(const Eigen::Vector3d& centre,
                         const Eigen::Vector3d& forward) {
  const Eigen::Vector3d z = forward.normalized();
  const Eigen::Vector3d x = z.cross(Eigen::Vector3d::UnitZ()).normalized();
  const Eigen::Vector3d y = z.cross(x);
  Eigen::Matrix3d r;
  r.row(0) = x.transpose();
  r.row(1) = y.transpose();
  r.row(2) = z.transpose();
  return Rigid3d(Eigen::Quaterniond(r), -(r * centre));
}

struct IndoorScene {
  CameraTrack track;  // in the world after `track_from_world`
  PointCloud points;
  std::vector<int> labels;  // per point: 0 floor, 1 wall, 2 table, 3 outlier
  double first_camera_height_m = 0.0;
  Sim3d track_from_world;
};

struct IndoorSceneOptions {
  unsigned seed = 1;
  int floor_points = 1500;
  int wall_points = 300;
  int table_points = 250;
  int outliers = 60;
  double noise_m = 0.003;
  int num_cameras = 30;
  bool tripod = false;  // all cameras at one centre, panning
};

inline IndoorScene MakeIndoorScene(const IndoorSceneOptions& o) {
  std::mt19937 rng(o.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, o.noise_m);
  IndoorScene scene;
  const double height = 1.0 + unit(rng);  // 1-2 m
  const double pitch = (10.0 + 30.0 * unit(rng)) * M_PI / 180.0;
  const double yaw0 = 2.0 * M_PI * unit(rng);
  std::vector<Eigen::Vector3d> world;
  std::vector<int> labels;
  auto add = [&](const Eigen::Vector3d& p, int label) {
    world.push_back(p + Eigen::Vector3d(noise(rng), noise(rng), noise(rng)));
    labels.push_back(label);
  };
  for (int i = 0; i < o.floor_points; ++i) {
    add({-5.0 + 10.0 * unit(rng), -5.0 + 10.0 * unit(rng), 0.0}, 0);
  }
  for (int i = 0; i < o.wall_points; ++i) {  // wall x = 5, 0..2.5 m high
    add({5.0, -5.0 + 10.0 * unit(rng), 2.5 * unit(rng)}, 1);
  }
  for (int i = 0; i < o.table_points; ++i) {  // table top 0.6 m
    add({-0.6 + 1.2 * unit(rng), -0.4 + 0.8 * unit(rng), 0.6}, 2);
  }
  for (int i = 0; i < o.outliers; ++i) {
    world.push_back(
        {-5.0 + 10.0 * unit(rng), -5.0 + 10.0 * unit(rng), 3.0 * unit(rng)});
    labels.push_back(3);
  }
  // Cameras: an arc around the table, looking towards it and down.
  // The optical axis passes 0.4 m above the table centre point on the floor.
  const double radius = (height - 0.4) / std::tan(pitch) + 0.3 * unit(rng);
  for (int k = 0; k < o.num_cameras; ++k) {
    const double yaw =
        yaw0 + (o.tripod ? 0.0 : 0.6 * k / std::max(1, o.num_cameras - 1));
    const double pan =
        o.tripod ? 0.5 * k / std::max(1, o.num_cameras - 1) : 0.0;
    const Eigen::Vector3d centre(
        radius * std::cos(yaw), radius * std::sin(yaw), height);
    const double heading = yaw + M_PI + pan;
    const Eigen::Vector3d forward(std::cos(pitch) * std::cos(heading),
                                  std::cos(pitch) * std::sin(heading),
                                  -std::sin(pitch));
    TrackedFrame frame;
    frame.index = k;
    frame.cam_from_world = LookAlong(centre, forward);
    frame.intrinsics = Intrinsics::Centered(500.0, 640, 360);
    scene.track.frames.push_back(frame);
  }
  // A tracker only reconstructs what some camera sees.
  std::vector<Eigen::Vector3d> visible;
  for (size_t i = 0; i < world.size(); ++i) {
    for (const TrackedFrame& f : scene.track.frames) {
      const Eigen::Vector3d p = f.cam_from_world * world[i];
      if (p.z() < 0.1) continue;
      const Eigen::Vector2d px = f.intrinsics.Project(p);
      if (px.x() >= 0 && px.x() < 640 && px.y() >= 0 && px.y() < 360) {
        visible.push_back(world[i]);
        scene.labels.push_back(labels[i]);
        break;
      }
    }
  }
  world = visible;
  scene.track.width = 640;
  scene.track.height = 360;
  scene.first_camera_height_m = height;
  // An arbitrary tracker world: rotated, shifted, scaled.
  const Eigen::Quaterniond q(Eigen::AngleAxisd(
      2.0 * M_PI * unit(rng),
      Eigen::Vector3d(unit(rng) - 0.5, unit(rng) - 0.5, unit(rng) - 0.5)
          .normalized()));
  scene.track_from_world =
      Sim3d(0.2 + 3.0 * unit(rng),
            q,
            Eigen::Vector3d(unit(rng), unit(rng), unit(rng)) * 10.0);
  for (TrackedFrame& f : scene.track.frames) {
    f.cam_from_world = scene.track_from_world.TransformPose(f.cam_from_world);
  }
  scene.points.xyz.resize(3, static_cast<Eigen::Index>(world.size()));
  for (size_t i = 0; i < world.size(); ++i) {
    scene.points.xyz.col(static_cast<Eigen::Index>(i)) =
        (scene.track_from_world * world[i]).cast<float>();
  }
  if (o.tripod) scene.points.xyz.resize(3, 0);
  return scene;
}

}  // namespace vanelia::testing
