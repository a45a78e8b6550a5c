// EstimateLight on ray-cast frames of a floor with two boxes under a known
// sun: the direction comes back, shadowless light is unsupported, bad input
// throws naming the field.
#include "vanelia/floor/light_estimate.hpp"

#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/synthetic_scene.hpp"

namespace vanelia {
namespace {

struct Box {
  Eigen::Vector3d lo;
  Eigen::Vector3d hi;
};

struct LitScene {
  std::vector<Box> boxes;
  double azimuth_deg = 30.0;
  double elevation_deg = 40.0;
  double sun = 3.0;      // irradiance of the sun, perpendicular
  double ambient = 0.6;  // irradiance from the sky on the floor
};

// Nearest ray parameter t > 0 where origin + t dir enters `box`, or -1.
double HitBox(const Box& box,
              const Eigen::Vector3d& origin,
              const Eigen::Vector3d& dir) {
  double t0 = 1e-6, t1 = 1e30;
  for (int a = 0; a < 3; ++a) {
    if (std::abs(dir[a]) < 1e-12) {
      if (origin[a] < box.lo[a] || origin[a] > box.hi[a]) return -1.0;
      continue;
    }
    double ta = (box.lo[a] - origin[a]) / dir[a];
    double tb = (box.hi[a] - origin[a]) / dir[a];
    if (ta > tb) std::swap(ta, tb);
    t0 = std::max(t0, ta);
    t1 = std::min(t1, tb);
  }
  return t0 <= t1 ? t0 : -1.0;
}

uint8_t ToSrgb8(double linear) {
  const double c = std::clamp(linear, 0.0, 1.0);
  const double s =
      c <= 0.0031308 ? 12.92 * c : 1.055 * std::pow(c, 1.0 / 2.4) - 0.055;
  return static_cast<uint8_t>(std::lround(255.0 * s));
}

// A 200x120 frame: floor albedo 0.35-0.55 (smooth stripes plus thin dark
// joints every 0.5 m), boxes albedo 0.6, Lambertian, hard sun + ambient.
Image Render(const LitScene& scene,
             const Rigid3d& cam_from_world,
             const Intrinsics& k) {
  Image image = Image::Create(k.width, k.height, 3);
  const Eigen::Vector3d to_sun =
      -SunTravelDirection(scene.azimuth_deg, scene.elevation_deg);
  const Rigid3d world_from_cam = cam_from_world.Inverse();
  const Eigen::Vector3d centre = world_from_cam.translation;
  for (int v = 0; v < k.height; ++v) {
    for (int u = 0; u < k.width; ++u) {
      const Eigen::Vector3d ray_cam((u - k.cx) / k.fx, (v - k.cy) / k.fy, 1.0);
      const Eigen::Vector3d dir =
          (world_from_cam.rotation * ray_cam).normalized();
      double best = 1e30;
      for (const Box& b : scene.boxes) {
        const double t = HitBox(b, centre, dir);
        if (t > 0 && t < best) best = t;
      }
      double radiance = 0.02;  // sky above the horizon
      if (best < 1e30) {
        radiance = 0.6 * (scene.ambient + 0.3 * scene.sun) / M_PI;
      } else if (dir.z() < -1e-6) {
        const Eigen::Vector3d x = centre - centre.z() / dir.z() * dir;
        const double joint =
            std::fmod(std::abs(x.x()) + 10.0, 0.5) < 0.02 ||
                    std::fmod(std::abs(x.y()) + 10.0, 0.5) < 0.02
                ? 0.2
                : 1.0;
        const double albedo =
            joint * (0.45 + 0.1 * std::sin(3.0 * x.x() + 1.7 * x.y()));
        bool shadow = false;
        for (const Box& b : scene.boxes) {
          shadow = shadow || HitBox(b, x + 1e-6 * to_sun, to_sun) > 0;
        }
        const double sun_on_floor =
            shadow ? 0.0 : scene.sun * std::max(0.0, to_sun.z());
        radiance = albedo * (scene.ambient + sun_on_floor) / M_PI;
      }
      const uint8_t g = ToSrgb8(radiance);
      image.At(u, v, 0) = g;
      image.At(u, v, 1) = g;
      image.At(u, v, 2) = g;
    }
  }
  return image;
}

// Points on the boxes' sides and tops (what a tracker reconstructs) and a
// few on the floor.
Eigen::Matrix3Xf BoxPoints(const std::vector<Box>& boxes) {
  std::vector<Eigen::Vector3f> pts;
  for (const Box& b : boxes) {
    const Eigen::Vector3d s = b.hi - b.lo;
    for (int i = 0; i <= 6; ++i) {
      for (int j = 0; j <= 6; ++j) {
        const double fi = i / 6.0, fj = j / 6.0;
        pts.emplace_back((b.lo + Eigen::Vector3d(fi * s.x(), fj * s.y(), s.z()))
                             .cast<float>());  // top
        pts.emplace_back((b.lo + Eigen::Vector3d(fi * s.x(), 0.0, fj * s.z()))
                             .cast<float>());
        pts.emplace_back((b.lo + Eigen::Vector3d(0.0, fi * s.y(), fj * s.z()))
                             .cast<float>());
      }
    }
  }
  for (int i = 0; i < 50; ++i) {
    pts.emplace_back(-2.0f + 0.08f * i, 1.0f + 0.05f * i, 0.0f);
  }
  Eigen::Matrix3Xf out(3, static_cast<Eigen::Index>(pts.size()));
  for (size_t i = 0; i < pts.size(); ++i) {
    out.col(static_cast<Eigen::Index>(i)) = pts[i];
  }
  return out;
}

struct Footage {
  CameraTrack track;
  std::vector<Frame> frames;
  Eigen::Matrix3Xf points;
};

// Eight frames on a 40-degree arc 4.5 m from the boxes, 1.6 m high.
Footage Shoot(const LitScene& scene) {
  Footage f;
  f.track.width = 200;
  f.track.height = 120;
  const Intrinsics k = Intrinsics::Centered(150.0, 200, 120);
  const Eigen::Vector3d target(0.4, 2.4, 0.0);
  for (int i = 0; i < 8; ++i) {
    const double a = (-110.0 + 40.0 * i / 7.0) * M_PI / 180.0;
    const Eigen::Vector3d centre =
        target + Eigen::Vector3d(4.5 * std::cos(a), 4.5 * std::sin(a), 1.6);
    TrackedFrame t;
    t.index = 3 * i;
    t.cam_from_world = testing::LookAt(centre, target);
    t.intrinsics = k;
    f.track.frames.push_back(t);
    Frame frame;
    frame.index = t.index;
    frame.rgb = Render(scene, t.cam_from_world, k);
    f.frames.push_back(std::move(frame));
  }
  f.points = BoxPoints(scene.boxes);
  return f;
}

LitScene TwoBoxes() {
  LitScene scene;
  scene.boxes = {
      {Eigen::Vector3d(-0.3, 2.2, 0.0), Eigen::Vector3d(0.3, 2.8, 1.0)},
      {Eigen::Vector3d(1.2, 1.4, 0.0), Eigen::Vector3d(1.7, 2.2, 0.6)},
  };
  return scene;
}

double AngleDiffDeg(double a, double b) {
  return std::abs(std::remainder(a - b, 360.0));
}

TEST(LightEstimate, RecoversSunFromTheEast) {
  LitScene scene = TwoBoxes();
  scene.azimuth_deg = 30.0;
  scene.elevation_deg = 40.0;
  const Footage f = Shoot(scene);
  const LightEstimate e =
      EstimateLight(f.track, f.points, f.frames, LightEstimateOptions());
  ASSERT_TRUE(e.supported) << e.reason;
  EXPECT_EQ(e.objects, 2);
  EXPECT_EQ(e.frames_used, 8);
  EXPECT_LT(AngleDiffDeg(e.azimuth_deg, 30.0), 5.0) << DescribeLight(e);
  EXPECT_NEAR(e.elevation_deg, 40.0, 5.0) << DescribeLight(e);
  EXPECT_GT(e.confidence, 0.5);
  // Ambient / (ambient + sun sin(el)) = 0.6 / (0.6 + 3 sin 40) = 0.24.
  EXPECT_NEAR(e.ambient_fraction, 0.24, 0.06);
  EXPECT_TRUE(
      e.direction.isApprox(SunTravelDirection(e.azimuth_deg, e.elevation_deg)));
}

// The light in the plate's units (issue 21, exposure): the floor's colours
// over its albedo give the sky's radiance (ambient / pi) and the sun's share
// (sun sin(el) / pi), and a camera gain (every radiance times 1.5) scales
// them by the gain.
TEST(LightEstimate, PlateLightCarriesTheGain) {
  LitScene scene = TwoBoxes();
  LightEstimateOptions options;
  options.floor_albedo = 0.45;  // Render's mean floor albedo
  const Footage f = Shoot(scene);
  const LightEstimate e = EstimateLight(f.track, f.points, f.frames, options);
  ASSERT_TRUE(e.supported) << e.reason;
  EXPECT_EQ(e.floor_albedo, 0.45);
  const double sky = scene.ambient / M_PI;
  const double sun = scene.sun * std::sin(40.0 * M_PI / 180.0) / M_PI;
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(e.sky_rgb[c], sky, 0.15 * sky) << DescribeLight(e);
    EXPECT_NEAR(e.sun_rgb[c], sun, 0.15 * sun) << DescribeLight(e);
  }
  EXPECT_THAT(DescribeLight(e), ::testing::HasSubstr("plate light: sun ("));
  scene.sun *= 1.5;
  scene.ambient *= 1.5;
  const Footage brighter = Shoot(scene);
  const LightEstimate g =
      EstimateLight(brighter.track, brighter.points, brighter.frames, options);
  ASSERT_TRUE(g.supported) << g.reason;
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(g.sky_rgb[c] / e.sky_rgb[c], 1.5, 0.075) << DescribeLight(g);
    EXPECT_NEAR(g.sun_rgb[c] / e.sun_rgb[c], 1.5, 0.075) << DescribeLight(g);
  }
}

TEST(LightEstimate, RecoversHighSunFromBehindTheObjects) {
  LitScene scene = TwoBoxes();
  scene.azimuth_deg = 120.0;
  scene.elevation_deg = 62.0;
  const Footage f = Shoot(scene);
  const LightEstimate e =
      EstimateLight(f.track, f.points, f.frames, LightEstimateOptions());
  ASSERT_TRUE(e.supported) << e.reason;
  EXPECT_LT(AngleDiffDeg(e.azimuth_deg, 120.0), 5.0) << DescribeLight(e);
  EXPECT_NEAR(e.elevation_deg, 62.0, 5.0) << DescribeLight(e);
}

TEST(LightEstimate, AmbientOnlyIsUnsupported) {
  LitScene scene = TwoBoxes();
  scene.sun = 0.0;
  scene.ambient = 2.0;
  const Footage f = Shoot(scene);
  const LightEstimate e =
      EstimateLight(f.track, f.points, f.frames, LightEstimateOptions());
  EXPECT_FALSE(e.supported);
  EXPECT_FALSE(e.reason.empty());
  EXPECT_DOUBLE_EQ(e.elevation_deg, 90.0);
  EXPECT_EQ(e.confidence, 0.0);
  EXPECT_THAT(DescribeLight(e), ::testing::HasSubstr("unsupported"));
  // No shadow to split it: the floor's light is all the sky's.
  EXPECT_EQ(e.sun_rgb, Eigen::Vector3d::Zero());
  if (e.floor_albedo > 0) {
    EXPECT_TRUE(e.sky_rgb.isApprox(e.lit_floor_rgb / e.floor_albedo));
  }
}

TEST(LightEstimate, NoObjectIsUnsupported) {
  const Footage f = Shoot(TwoBoxes());
  const Eigen::Matrix3Xf floor_only = f.points.rightCols(50);
  const LightEstimate e =
      EstimateLight(f.track, floor_only, f.frames, LightEstimateOptions());
  EXPECT_FALSE(e.supported);
  EXPECT_EQ(e.objects, 0);
  EXPECT_THAT(e.reason, ::testing::HasSubstr("no object"));
}

TEST(LightEstimate, SunTravelDirectionPointsDownAwayFromTheSun) {
  const Eigen::Vector3d d = SunTravelDirection(90.0, 30.0);  // sun in +Y
  EXPECT_NEAR(d.x(), 0.0, 1e-12);
  EXPECT_NEAR(d.y(), -std::cos(M_PI / 6), 1e-12);
  EXPECT_NEAR(d.z(), -0.5, 1e-12);
}

TEST(LightEstimate, Badarg) {
  const Footage f = Shoot(TwoBoxes());
  LightEstimateOptions bad;
  bad.cell_m = 0.0;
  EXPECT_THAT([&] { EstimateLight(f.track, f.points, f.frames, bad); },
              ::testing::ThrowsMessage<InputError>(
                  ::testing::HasSubstr("LightEstimateOptions::cell_m")));
  bad = LightEstimateOptions();
  bad.max_elevation_deg = 95.0;
  EXPECT_THAT([&] { bad.Check(); },
              ::testing::ThrowsMessage<InputError>(
                  ::testing::HasSubstr("max_elevation_deg")));
  bad = LightEstimateOptions();
  bad.floor_albedo = 0.0;
  EXPECT_THAT([&] { bad.Check(); },
              ::testing::ThrowsMessage<InputError>(
                  ::testing::HasSubstr("floor_albedo")));
  EXPECT_THAT(
      [&] {
        EstimateLight(
            CameraTrack(), f.points, f.frames, LightEstimateOptions());
      },
      ::testing::ThrowsMessage<InputError>(::testing::HasSubstr("track")));
  std::vector<Frame> unmatched = f.frames;
  for (Frame& frame : unmatched) frame.index += 1;
  EXPECT_THAT(
      [&] {
        EstimateLight(f.track, f.points, unmatched, LightEstimateOptions());
      },
      ::testing::ThrowsMessage<InputError>(::testing::HasSubstr("index")));
}

}  // namespace
}  // namespace vanelia
