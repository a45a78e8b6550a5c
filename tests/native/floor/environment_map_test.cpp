// BuildEnvironmentMap on a synthetic camera that sees a two-coloured world
// (the floor one colour, everything above the horizon another): the texels
// it sees take those colours, the unseen floor takes the floor's, the
// equirectangular directions follow Blender's convention, and bad input
// throws naming the field.
#include "vanelia/floor/environment_map.hpp"

#include "vanelia/core/error.hpp"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "floor_fixture.hpp"

namespace vanelia {
namespace {

constexpr uint8_t kFloorSrgb = 188;  // linear 0.5
constexpr uint8_t kSkySrgb = 99;     // linear 0.125

struct OneCamera {
  CameraTrack track;
  std::vector<Frame> frames;
};

// A wide (106 x 90 degrees) 160x120 camera 1.5 m up at (0, -3), looking at
// the floor point (0, 0):
// each pixel is kFloorSrgb where its ray meets the floor, else kSkySrgb.
OneCamera MakeOneCamera() {
  OneCamera c;
  const Eigen::Vector3d centre(0.0, -3.0, 1.5);
  TrackedFrame t;
  t.cam_from_world = testing::LookAlong(centre, -centre);
  t.intrinsics = Intrinsics{60.0, 60.0, 79.5, 59.5, 160, 120};
  c.track.frames.push_back(t);
  c.track.width = 160;
  c.track.height = 120;
  Frame frame;
  frame.rgb = Image::Create(160, 120, 3);
  const Eigen::Matrix3d world_from_cam =
      t.cam_from_world.Inverse().rotation.toRotationMatrix();
  for (int v = 0; v < 120; ++v) {
    for (int u = 0; u < 160; ++u) {
      const Eigen::Vector3d ray =
          world_from_cam *
          Eigen::Vector3d((u - 79.5) / 60.0, (v - 59.5) / 60.0, 1.0);
      const uint8_t value = ray.z() < 0.0 ? kFloorSrgb : kSkySrgb;
      for (int ch = 0; ch < 3; ++ch) frame.rgb.At(u, v, ch) = value;
    }
  }
  c.frames.push_back(frame);
  return c;
}

TEST(EnvironmentDirection, BlenderEquirectangular) {
  // +X at the centre column, +Y a quarter to the left, the zenith on top.
  EXPECT_NEAR(EnvironmentDirection(512, 256, 256, 128).x(), 1.0, 1e-3);
  EXPECT_NEAR(EnvironmentDirection(512, 256, 128, 128).y(), 1.0, 1e-3);
  EXPECT_NEAR(EnvironmentDirection(512, 256, 384, 128).y(), -1.0, 1e-3);
  EXPECT_GT(EnvironmentDirection(512, 256, 10, 0).z(), 0.999);
  EXPECT_LT(EnvironmentDirection(512, 256, 10, 255).z(), -0.999);
}

TEST(BuildEnvironmentMap, SeenTexelsTakeThePlateUnseenFloorTheFloor) {
  const OneCamera c = MakeOneCamera();
  EnvironmentMapOptions options;
  options.width = 128;
  const EnvironmentMap map =
      BuildEnvironmentMap(c.track, c.frames, Eigen::Vector3d::Zero(), options);
  ASSERT_EQ(map.width, 128);
  ASSERT_EQ(map.height, 64);
  EXPECT_EQ(map.frames_used, 1);
  EXPECT_NEAR(map.floor_rgb.x(), 0.5, 0.01);
  EXPECT_GT(map.seen_below, map.seen_above);
  EXPECT_GT(map.seen_above, 0.0);
  EXPECT_LT(map.seen_fraction, 0.7);
  int seen_floor = 0, seen_sky = 0;
  for (int y = 0; y < map.height; ++y) {
    for (int x = 0; x < map.width; ++x) {
      const size_t i = static_cast<size_t>(y) * map.width + x;
      const Eigen::Vector3d d =
          EnvironmentDirection(map.width, map.height, x, y);
      const float r = map.rgb[3 * i];
      ASSERT_TRUE(std::isfinite(r));
      if (map.seen[i] >= 1.0F && d.z() < -0.2) {
        EXPECT_NEAR(r, 0.5, 0.01) << x << "," << y;
        ++seen_floor;
      } else if (map.seen[i] >= 1.0F && d.z() > 0.2) {
        EXPECT_NEAR(r, 0.125, 0.01) << x << "," << y;
        ++seen_sky;
      } else if (map.seen[i] == 0.0F && d.z() < -0.2) {
        EXPECT_NEAR(r, 0.5, 0.01) << x << "," << y;  // the floor's colour
      }
    }
  }
  EXPECT_GT(seen_floor, 20);
  EXPECT_GT(seen_sky, 10);
  // The camera looks along +Y from y = -3: 4 degrees above the horizon the
  // map sees +Y (column a quarter across), not -Y (three quarters across).
  EXPECT_GT(map.seen[30 * map.width + map.width / 4], 0.5F);
  EXPECT_EQ(map.seen[30 * map.width + 3 * map.width / 4], 0.0F);
}

TEST(BuildEnvironmentMap, Badarg) {
  const OneCamera c = MakeOneCamera();
  EnvironmentMapOptions options;
  options.width = 100 + 1;
  try {
    BuildEnvironmentMap(c.track, c.frames, Eigen::Vector3d::Zero(), options);
    ADD_FAILURE() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("EnvironmentMapOptions::width = 101"),
              std::string::npos)
        << e.what();
  }
  options = EnvironmentMapOptions();
  options.max_parallax_deg = 0.0;
  EXPECT_THROW(options.Check(), InputError);
  std::vector<Frame> other = c.frames;
  other[0].index = 7;
  EXPECT_THROW(
      BuildEnvironmentMap(
          c.track, other, Eigen::Vector3d::Zero(), EnvironmentMapOptions()),
      InputError);
  EXPECT_THROW(BuildEnvironmentMap(c.track,
                                   c.frames,
                                   Eigen::Vector3d(NAN, 0.0, 0.0),
                                   EnvironmentMapOptions()),
               InputError);
}

}  // namespace
}  // namespace vanelia
