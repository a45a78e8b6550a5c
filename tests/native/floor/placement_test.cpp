#include "vanelia/floor/placement.hpp"

#include "vanelia/core/error.hpp"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "floor/floor_fixture.hpp"

namespace vanelia {
namespace {

constexpr int kWidth = 640;
constexpr int kHeight = 360;
constexpr double kFocal = 498.0;  // 28 mm on a 36 mm sensor, 640 px

// A camera at `centre` looking at `target` (world Z up, no roll).
TrackedFrame Frame(int64_t index,
                   const Eigen::Vector3d& centre,
                   const Eigen::Vector3d& target) {
  TrackedFrame frame;
  frame.index = index;
  frame.cam_from_world = testing::LookAlong(centre, target - centre);
  frame.intrinsics = Intrinsics::Centered(kFocal, kWidth, kHeight);
  return frame;
}

CameraTrack EmptyTrack() {
  CameraTrack track;
  track.width = kWidth;
  track.height = kHeight;
  return track;
}

// The footage's orbit: 1.6 m high, radius 4 m around the origin, 60 degrees
// of arc, looking at the origin.
CameraTrack Orbit(int frames = 96) {
  CameraTrack track = EmptyTrack();
  for (int i = 0; i < frames; ++i) {
    const double a = (-120.0 + 60.0 * i / (frames - 1)) * M_PI / 180.0;
    track.frames.push_back(Frame(i,
                                 {4.0 * std::cos(a), 4.0 * std::sin(a), 1.6},
                                 Eigen::Vector3d::Zero()));
  }
  return track;
}

// 2 m forward along +Y at 1.5 m, panning 30 degrees, 12 degrees down.
CameraTrack Dolly(int frames = 96) {
  CameraTrack track = EmptyTrack();
  const double down = std::tan(12.0 * M_PI / 180.0);
  for (int i = 0; i < frames; ++i) {
    const double t = static_cast<double>(i) / (frames - 1);
    const double yaw = (-15.0 + 30.0 * t) * M_PI / 180.0;
    const Eigen::Vector3d c(0.0, -4.0 + 2.0 * t, 1.5);
    const Eigen::Vector3d forward(std::sin(yaw), std::cos(yaw), -down);
    track.frames.push_back(Frame(i, c, c + forward));
  }
  return track;
}

// Frame 0 looks almost at the horizon (its image centre meets the floor
// 40 m away); every later frame looks at the floor point (3, 5).
CameraTrack FarFirstFrame(int frames = 60) {
  CameraTrack track = EmptyTrack();
  track.frames.push_back(Frame(0, {0.0, 0.0, 1.5}, {0.0, 40.0, 0.0}));
  for (int i = 1; i < frames; ++i) {
    const double x = -0.5 + 1.0 * i / (frames - 1);
    track.frames.push_back(Frame(i, {x, 1.0, 1.5}, {3.0, 5.0, 0.0}));
  }
  return track;
}

ProductBox Bottle() {
  ProductBox box;
  box.size_m = Eigen::Vector3d(0.08, 0.08, 0.30);
  return box;
}

// The points of a box's top and side faces (something standing there).
Eigen::Matrix3Xf BoxPoints(const Eigen::Vector2d& centre,
                           double side_m,
                           double height_m) {
  std::vector<Eigen::Vector3f> points;
  const int n = 12;
  for (int i = 0; i <= n; ++i) {
    for (int j = 0; j <= n; ++j) {
      const double u = side_m * (static_cast<double>(i) / n - 0.5);
      const double w = height_m * j / n;
      const double v = side_m * (static_cast<double>(j) / n - 0.5);
      points.emplace_back(centre.x() + u, centre.y() + v, height_m);  // top
      points.emplace_back(centre.x() + u, centre.y() - side_m / 2, w);
      points.emplace_back(centre.x() - side_m / 2, centre.y() + u, w);
    }
  }
  Eigen::Matrix3Xf out(3, static_cast<Eigen::Index>(points.size()));
  for (size_t k = 0; k < points.size(); ++k) out.col(k) = points[k];
  return out;
}

Eigen::Vector2d CameraMean(const CameraTrack& track) {
  Eigen::Vector2d sum = Eigen::Vector2d::Zero();
  for (const TrackedFrame& f : track.frames) {
    sum += f.cam_from_world.Inverse().translation.head<2>();
  }
  return sum / static_cast<double>(track.frames.size());
}

// The product's front (Rz(h) (0, -1)) points at the average camera.
void ExpectFacesCameras(const CameraTrack& track, const Placement& p) {
  const Eigen::Vector2d front(std::sin(p.heading_rad),
                              -std::cos(p.heading_rad));
  const Eigen::Vector2d to_cameras =
      (CameraMean(track) - p.location_m.head<2>()).normalized();
  EXPECT_GT(front.dot(to_cameras), 0.999);
}

void ExpectGood(const PlacementReport& r) {
  EXPECT_EQ(r.reason, "");
  EXPECT_GE(r.FullyVisibleFraction(), 0.95);
  EXPECT_GE(r.median_height_fraction, 0.15);
  EXPECT_LE(r.median_height_fraction, 0.50);
  EXPECT_EQ(r.fully_visible + r.partly_visible + r.out_of_frame, r.frames);
  EXPECT_LE(r.height_px_min, r.height_px_median);
  EXPECT_LE(r.height_px_median, r.height_px_max);
  EXPECT_GT(r.good_candidates, 0);
}

TEST(PlaceProduct, OrbitIsLargeInFrameAndFacesTheCameras) {
  const CameraTrack track = Orbit();
  const Placement p =
      PlaceProduct(track, Eigen::Matrix3Xf(3, 0), Bottle(), PlacementOptions());
  ExpectGood(p.report);
  EXPECT_EQ(p.report.frames, 96);
  EXPECT_EQ(p.location_m.z(), 0.0);
  // At the orbit's centre the bottle is 37 px (10 %): the spot must come
  // nearer the cameras, on the arc's side of the centre.
  const Eigen::Vector2d mean = CameraMean(track);
  EXPECT_LT((p.location_m.head<2>() - mean).norm(), mean.norm());
  EXPECT_GT(p.location_m.head<2>().dot(mean), 0.0);
  EXPECT_DOUBLE_EQ(p.scale, 1.0);
  ExpectFacesCameras(track, p);
}

// The dolly sees no floor spot that stays in frame on 95 % of the frames
// and shows the 0.3 m bottle at 15 %: it falls back to the nearest spot and
// says so; at 0.45 m the band is reached.
TEST(PlaceProduct, DollyFallsBackAtRealSizeAndFitsTaller) {
  const CameraTrack track = Dolly();
  const Placement p =
      PlaceProduct(track, Eigen::Matrix3Xf(3, 0), Bottle(), PlacementOptions());
  EXPECT_NE(p.report.reason.find("took the nearest free spot"),
            std::string::npos)
      << p.report.reason;
  EXPECT_GE(p.report.FullyVisibleFraction(), 0.95);
  EXPECT_GT(p.report.median_height_fraction, 0.10);
  EXPECT_LT(p.report.median_height_fraction, 0.15);
  EXPECT_GT(p.location_m.y(), -2.0);  // ahead of the last camera
  ExpectFacesCameras(track, p);
  PlacementOptions taller;
  taller.target_height_m = 0.45;
  const Placement t =
      PlaceProduct(track, Eigen::Matrix3Xf(3, 0), Bottle(), taller);
  ExpectGood(t.report);
  EXPECT_DOUBLE_EQ(t.scale, 1.5);
}

TEST(PlaceProduct, FollowsTheClipNotFrameZero) {
  const CameraTrack track = FarFirstFrame();
  const Placement p =
      PlaceProduct(track, Eigen::Matrix3Xf(3, 0), Bottle(), PlacementOptions());
  ExpectGood(p.report);
  EXPECT_GE(p.report.fully_visible, 58);
  // Frame 0's centre meets the floor 40 m away; the clip looks from about
  // (0, 1) towards (3, 5): the spot is on that line, brought nearer the
  // cameras to be large enough.
  const Eigen::Vector2d from(0.0, 1.0);
  const Eigen::Vector2d dir = (Eigen::Vector2d(3.0, 5.0) - from).normalized();
  const Eigen::Vector2d d = p.location_m.head<2>() - from;
  EXPECT_LT(std::abs(d.x() * dir.y() - d.y() * dir.x()), 0.6);
  EXPECT_GT(d.dot(dir), 1.0);
  EXPECT_LT(d.dot(dir), 5.0);
}

TEST(PlaceProduct, AvoidsPointsAboveTheFloor) {
  const CameraTrack track = Orbit();
  const Placement free =
      PlaceProduct(track, Eigen::Matrix3Xf(3, 0), Bottle(), PlacementOptions());
  // A 0.6 m box standing where the free spot was.
  const Eigen::Matrix3Xf box = BoxPoints(free.location_m.head<2>(), 0.6, 0.6);
  const Placement p = PlaceProduct(track, box, Bottle(), PlacementOptions());
  ExpectGood(p.report);
  EXPECT_EQ(p.report.obstacle_points, 0);
  const Eigen::Vector2d d =
      (p.location_m - free.location_m).head<2>().cwiseAbs();
  EXPECT_GT(d.maxCoeff(), 0.3 + 0.04);  // outside the box's footprint
  // The same spot evaluated with the box says what is wrong.
  const PlacementReport blocked = EvaluatePlacement(track,
                                                    box,
                                                    Bottle(),
                                                    free.location_m,
                                                    free.heading_rad,
                                                    1.0,
                                                    PlacementOptions());
  EXPECT_GT(blocked.obstacle_points, 0);
  EXPECT_NE(blocked.reason.find("something stands there"), std::string::npos);
}

// A classical tracker's points of a box: its four vertical edges and the
// top's rim, nothing inside. The spot inside the box is not free.
TEST(PlaceProduct, SparseEdgesOfABoxStillBlockItsInside) {
  const CameraTrack track = Orbit();
  const Placement free =
      PlaceProduct(track, Eigen::Matrix3Xf(3, 0), Bottle(), PlacementOptions());
  const Eigen::Vector2d c = free.location_m.head<2>();
  const double half = 0.6;  // a 1.2 m box, 1 m tall
  std::vector<Eigen::Vector3f> edges;
  for (int k = 0; k <= 10; ++k) {
    const double z = 0.1 * k;
    const double t = -half + 0.12 * k;
    for (const double sx : {-half, half}) {
      for (const double sy : {-half, half}) {
        edges.emplace_back(c.x() + sx, c.y() + sy, z);  // vertical edges
      }
      edges.emplace_back(c.x() + sx, c.y() + t, 1.0);  // top rim
      edges.emplace_back(c.x() + t, c.y() + sx, 1.0);
    }
  }
  Eigen::Matrix3Xf points(3, static_cast<Eigen::Index>(edges.size()));
  for (size_t k = 0; k < edges.size(); ++k) points.col(k) = edges[k];
  const PlacementReport inside = EvaluatePlacement(
      track, points, Bottle(), free.location_m, 0.0, 1.0, PlacementOptions());
  EXPECT_EQ(inside.obstacle_points, 0);    // no point near the centre...
  EXPECT_EQ(inside.obstacle_clusters, 1);  // ...but inside the outline
  EXPECT_NE(inside.reason.find("outline"), std::string::npos) << inside.reason;
  const Placement p = PlaceProduct(track, points, Bottle(), PlacementOptions());
  ExpectGood(p.report);
  EXPECT_EQ(p.report.obstacle_clusters, 0);
  const Eigen::Vector2d d = (p.location_m.head<2>() - c).cwiseAbs();
  EXPECT_GT(d.maxCoeff(), half + 0.04);
}

// Two walls meeting at a corner form one cluster whose hull would cover the
// floor between them: wider than max_outline_m, only its points count.
TEST(PlaceProduct, WallsDoNotBlockTheFloorTheyEnclose) {
  const CameraTrack track = Orbit();
  const Placement free =
      PlaceProduct(track, Eigen::Matrix3Xf(3, 0), Bottle(), PlacementOptions());
  const Eigen::Vector2d c = free.location_m.head<2>();
  std::vector<Eigen::Vector3f> walls;
  for (double t = 0.0; t <= 5.0; t += 0.1) {
    for (double z = 0.2; z <= 2.0; z += 0.3) {
      walls.emplace_back(c.x() - 2.5 + t, c.y() + 1.5, z);
      walls.emplace_back(c.x() - 2.5, c.y() + 1.5 - t, z);
    }
  }
  Eigen::Matrix3Xf points(3, static_cast<Eigen::Index>(walls.size()));
  for (size_t k = 0; k < walls.size(); ++k) points.col(k) = walls[k];
  const PlacementReport r = EvaluatePlacement(track,
                                              points,
                                              Bottle(),
                                              free.location_m,
                                              free.heading_rad,
                                              1.0,
                                              PlacementOptions());
  EXPECT_EQ(r.obstacle_clusters, 0);
  EXPECT_EQ(r.obstacle_points, 0);
  EXPECT_EQ(r.reason, "");
  PlacementOptions wide;
  wide.max_outline_m = 10.0;  // the hull counts: the spot is inside it
  EXPECT_EQ(
      EvaluatePlacement(
          track, points, Bottle(), free.location_m, free.heading_rad, 1.0, wide)
          .obstacle_clusters,
      1);
}

TEST(PlaceProduct, IgnoresFloorPointsAndLoneOutliers) {
  const CameraTrack track = Orbit();
  const Placement free =
      PlaceProduct(track, Eigen::Matrix3Xf(3, 0), Bottle(), PlacementOptions());
  // Points on the floor and within its noise (below floor_clearance_m).
  Eigen::Matrix3Xf floor(3, 2);
  floor.col(0) = free.location_m.cast<float>();
  floor.col(1) =
      (free.location_m + Eigen::Vector3d(0.02, 0.0, 0.03)).cast<float>();
  const Placement p = PlaceProduct(track, floor, Bottle(), PlacementOptions());
  EXPECT_NEAR((p.location_m - free.location_m).norm(), 0.0, 1e-12);
  EXPECT_EQ(p.report.obstacle_points, 0);
  // One point above the floor is below the rule (min_obstacle_points): the
  // spot is still good, the report counts it.
  Eigen::Matrix3Xf outlier(3, 1);
  outlier.col(0) =
      (free.location_m + Eigen::Vector3d(0.0, 0.02, 0.2)).cast<float>();
  const PlacementReport r = EvaluatePlacement(track,
                                              outlier,
                                              Bottle(),
                                              free.location_m,
                                              free.heading_rad,
                                              1.0,
                                              PlacementOptions());
  EXPECT_EQ(r.obstacle_points, 1);
  EXPECT_EQ(r.reason, "");
}

TEST(PlaceProduct, EverySpotBlockedFallsBackAndSaysSo) {
  const CameraTrack track = Orbit(24);
  Eigen::Matrix3Xf points(3, 0);
  std::vector<Eigen::Vector3f> cloud;
  for (double x = -8.0; x <= 8.0; x += 0.05) {
    for (double y = -8.0; y <= 8.0; y += 0.05) cloud.emplace_back(x, y, 0.4);
  }
  points.resize(3, static_cast<Eigen::Index>(cloud.size()));
  for (size_t k = 0; k < cloud.size(); ++k) points.col(k) = cloud[k];
  const Placement p = PlaceProduct(track, points, Bottle(), PlacementOptions());
  EXPECT_NE(p.report.reason.find("every candidate spot"), std::string::npos)
      << p.report.reason;
  EXPECT_EQ(p.report.good_candidates, 0);
  EXPECT_NE(DescribePlacement(p).find(p.report.reason), std::string::npos);
}

TEST(PlaceProduct, TooSmallAtRealSizeTakesTheNearestSpotAndSaysSo) {
  const CameraTrack track = Orbit();
  ProductBox tiny;
  tiny.size_m = Eigen::Vector3d(0.02, 0.02, 0.03);
  const Placement p =
      PlaceProduct(track, Eigen::Matrix3Xf(3, 0), tiny, PlacementOptions());
  EXPECT_NE(p.report.reason.find("nearest free spot"), std::string::npos)
      << p.report.reason;
  EXPECT_GE(p.report.FullyVisibleFraction(), 0.95);
  EXPECT_LT(p.report.median_height_fraction, 0.15);
  // Nearer than the orbit's centre: larger than it would be there.
  const PlacementReport centre = EvaluatePlacement(track,
                                                   Eigen::Matrix3Xf(3, 0),
                                                   tiny,
                                                   Eigen::Vector3d::Zero(),
                                                   0.0,
                                                   1.0,
                                                   PlacementOptions());
  EXPECT_GT(p.report.height_px_median, 1.3 * centre.height_px_median);
  // Allowed to scale, it is made large enough to be seen.
  PlacementOptions scaled;
  scaled.allow_scale = true;
  const Placement s = PlaceProduct(track, Eigen::Matrix3Xf(3, 0), tiny, scaled);
  EXPECT_GT(s.scale, 1.5);
  EXPECT_GE(s.report.median_height_fraction, 0.15);
  EXPECT_NE(s.report.reason.find("scaled by"), std::string::npos);
}

TEST(PlaceProduct, TargetHeightScalesTheBox) {
  PlacementOptions options;
  options.target_height_m = 0.6;
  const Placement p =
      PlaceProduct(Orbit(), Eigen::Matrix3Xf(3, 0), Bottle(), options);
  EXPECT_DOUBLE_EQ(p.scale, 2.0);
  ExpectGood(p.report);
}

TEST(PlaceProduct, WidestFaceTurnsAQuarter) {
  const CameraTrack track = Orbit();
  ProductBox deep;
  deep.size_m = Eigen::Vector3d(0.1, 0.4, 0.3);  // the x faces are wider
  const Eigen::Vector3d spot(1.0, -1.0, 0.0);
  const double gltf =
      HeadingTowardsCameras(track, spot, deep, ProductFront::kGltfForward);
  const double widest =
      HeadingTowardsCameras(track, spot, deep, ProductFront::kWidestFace);
  EXPECT_NEAR(std::remainder(widest - gltf, 2.0 * M_PI), 0.5 * M_PI, 1e-9);
}

TEST(EvaluatePlacement, SpotBehindTheCamerasIsOutOfFrame) {
  const CameraTrack track = Orbit();
  const PlacementReport r = EvaluatePlacement(track,
                                              Eigen::Matrix3Xf(3, 0),
                                              Bottle(),
                                              {0.0, 0.0, 0.0},
                                              0.0,
                                              1.0,
                                              PlacementOptions());
  EXPECT_EQ(r.fully_visible, 96);
  const PlacementReport behind = EvaluatePlacement(track,
                                                   Eigen::Matrix3Xf(3, 0),
                                                   Bottle(),
                                                   {0.0, -9.0, 0.0},
                                                   0.0,
                                                   1.0,
                                                   PlacementOptions());
  EXPECT_EQ(behind.out_of_frame, 96);
  EXPECT_NE(behind.reason.find("fully in frame on 0.0 %"), std::string::npos)
      << behind.reason;
}

TEST(PlaceProduct, Badarg) {
  const auto expect_throw = [](const PlacementOptions& o,
                               const std::string& field) {
    try {
      PlaceProduct(Orbit(8), Eigen::Matrix3Xf(3, 0), Bottle(), o);
      ADD_FAILURE() << "no exception for " << field;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos)
          << e.what();
    }
  };
  PlacementOptions o;
  o.grid_size = 2;
  expect_throw(o, "PlacementOptions::grid_size = 2");
  o = PlacementOptions();
  o.min_height_fraction = 0.3;
  expect_throw(o, "preferred_height_fraction");
  o = PlacementOptions();
  o.max_height_fraction = 1.5;
  expect_throw(o, "max_height_fraction = 1.5");
  o = PlacementOptions();
  o.min_fully_visible_fraction = 0.0;
  expect_throw(o, "min_fully_visible_fraction");
  o = PlacementOptions();
  o.target_height_m = -1.0;
  expect_throw(o, "target_height_m = -1");
  o = PlacementOptions();
  o.floor_clearance_m = 0.0;
  expect_throw(o, "floor_clearance_m");
  o = PlacementOptions();
  o.max_outline_m = 0.0;
  expect_throw(o, "max_outline_m");
  o = PlacementOptions();
  o.obstacle_cluster_m = 0.0;
  expect_throw(o, "obstacle_cluster_m");
  o = PlacementOptions();
  o.obstacle_min_height_m = -1.0;
  expect_throw(o, "obstacle_min_height_m");
  o = PlacementOptions();
  o.min_obstacle_points = 0;
  expect_throw(o, "min_obstacle_points");
  o = PlacementOptions();
  o.max_scale = 0.5;
  expect_throw(o, "max_scale");
  o = PlacementOptions();
  o.max_scoring_frames = 0;
  expect_throw(o, "max_scoring_frames");

  EXPECT_THROW(
      PlaceProduct(
          EmptyTrack(), Eigen::Matrix3Xf(3, 0), Bottle(), PlacementOptions()),
      InputError);
  ProductBox flat;
  flat.size_m = Eigen::Vector3d(0.1, 0.1, 0.0);
  try {
    PlaceProduct(Orbit(8), Eigen::Matrix3Xf(3, 0), flat, PlacementOptions());
    ADD_FAILURE() << "no exception for a flat box";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("ProductBox::size_m"),
              std::string::npos);
  }
  EXPECT_THROW(EvaluatePlacement(Orbit(8),
                                 Eigen::Matrix3Xf(3, 0),
                                 Bottle(),
                                 {NAN, 0.0, 0.0},
                                 0.0,
                                 1.0,
                                 PlacementOptions()),
               InputError);
}

}  // namespace
}  // namespace vanelia
