#include "vanelia/floor/floor_sweep.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/floor/alignment.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace vanelia {
namespace {

constexpr int kWidth = 320;
constexpr int kHeight = 180;
constexpr double kFocal = 300.0;
constexpr double kCameraHeight = 1.5;

// A faint value-noise texture on the floor z = 0 (5 cm cells, bilinear),
// as plain as the generated concrete: +-3 grey levels around 128.
double FloorTexture(double x, double y) {
  auto cell = [](int64_t i, int64_t j) {
    uint64_t h = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL ^
                 static_cast<uint64_t>(j) * 0xC2B2AE3D27D4EB4FULL;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    return static_cast<double>(h % 1000) / 999.0 - 0.5;
  };
  const double u = x / 0.05;
  const double v = y / 0.05;
  const auto i = static_cast<int64_t>(std::floor(u));
  const auto j = static_cast<int64_t>(std::floor(v));
  const double fu = u - i;
  const double fv = v - j;
  const double top = cell(i, j) * (1 - fu) + cell(i + 1, j) * fu;
  const double bottom = cell(i, j + 1) * (1 - fu) + cell(i + 1, j + 1) * fu;
  return 128.0 + 6.0 * (top * (1 - fv) + bottom * fv);
}

// A camera at `angle_deg` on an arc around the floor point (0, 3, 0),
// kCameraHeight high, looking at that point.
TrackedFrame ArcCamera(int64_t index, double angle_deg) {
  const double a = angle_deg * M_PI / 180.0;
  const Eigen::Vector3d target(0.0, 3.0, 0.0);
  const Eigen::Vector3d centre =
      target + Eigen::Vector3d(3.5 * std::sin(a), -3.5 * std::cos(a), 0.0) +
      Eigen::Vector3d(0.0, 0.0, kCameraHeight);
  const Eigen::Vector3d forward = (target - centre).normalized();
  const Eigen::Vector3d right =
      forward.cross(Eigen::Vector3d::UnitZ()).normalized();
  const Eigen::Vector3d down = forward.cross(right);
  Eigen::Matrix3d r;
  r.row(0) = right;
  r.row(1) = down;
  r.row(2) = forward;
  TrackedFrame frame;
  frame.index = index;
  frame.cam_from_world = Rigid3d(Eigen::Quaterniond(r), -r * centre);
  frame.intrinsics = Intrinsics::Centered(kFocal, kWidth, kHeight);
  return frame;
}

// The frame seen by `frame`'s camera: the floor texture, a flat sky above
// the horizon; `texture` false: a blank floor.
Image Render(const TrackedFrame& frame, bool texture) {
  Image image = Image::Create(kWidth, kHeight, 1);
  const Eigen::Matrix3d rt =
      frame.cam_from_world.rotation.toRotationMatrix().transpose();
  const Eigen::Vector3d centre = -rt * frame.cam_from_world.translation;
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      const Eigen::Vector3d d =
          rt * Eigen::Vector3d((x - frame.intrinsics.cx) / kFocal,
                               (y - frame.intrinsics.cy) / kFocal,
                               1.0);
      double value = 200.0;
      if (d.z() < 0.0) {
        const Eigen::Vector3d p = centre - centre.z() / d.z() * d;
        value = texture ? FloorTexture(p.x(), p.y()) : 128.0;
      }
      image.At(x, y, 0) = static_cast<uint8_t>(std::lround(value));
    }
  }
  return image;
}

struct Scene {
  CameraTrack track;
  std::vector<FloorView> views;
};

Scene MakeScene(bool texture) {
  Scene scene;
  scene.track.width = kWidth;
  scene.track.height = kHeight;
  for (int i = 0; i < 24; ++i) {
    scene.track.frames.push_back(ArcCamera(i, -15.0 + 30.0 * i / 23.0));
  }
  for (const int64_t index : FloorSweepFrames(scene.track)) {
    scene.views.push_back(
        FloorView{index, Render(scene.track.frames[index], texture)});
  }
  return scene;
}

TEST(SweepFloorHeight, FindsAPlainFloorFromAWrongGuess) {
  const Scene scene = MakeScene(true);
  ASSERT_EQ(scene.views.size(), 5U);
  // The points' guess: 0.35 m above the floor (on the objects).
  for (const double guess : {0.35, -0.3}) {
    const Plane3d plane(Eigen::Vector3d::UnitZ(), -guess);
    const std::optional<FloorSweepResult> swept =
        SweepFloorHeight(scene.track, plane, scene.views);
    ASSERT_TRUE(swept.has_value()) << guess;
    // 0.3 % of the camera height: a product placed on it slips < 1 px.
    EXPECT_NEAR(swept->plane.offset, 0.0, 0.005) << guess;
    EXPECT_EQ(swept->plane.normal, plane.normal);
    EXPECT_EQ(swept->views, 4);
    EXPECT_GT(swept->correlation, 0.5);
  }
}

TEST(SweepFloorHeight, ABlankFloorGivesNoHeight) {
  const Scene scene = MakeScene(false);
  const Plane3d plane(Eigen::Vector3d::UnitZ(), -0.35);
  EXPECT_FALSE(SweepFloorHeight(scene.track, plane, scene.views).has_value());
}

TEST(SweepFloorHeight, NeedsTwoViewsOfTheTrack) {
  Scene scene = MakeScene(true);
  const Plane3d plane(Eigen::Vector3d::UnitZ(), 0.0);
  scene.views.resize(1);
  EXPECT_FALSE(SweepFloorHeight(scene.track, plane, scene.views).has_value());
  scene = MakeScene(true);
  for (FloorView& v : scene.views) v.index += 100;  // not in the track
  EXPECT_FALSE(SweepFloorHeight(scene.track, plane, scene.views).has_value());
}

TEST(FloorSweepOptions, CheckNamesTheField) {
  FloorSweepOptions options;
  options.steps = 2;
  try {
    options.Check();
    FAIL() << "no error";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("steps"), std::string::npos);
  }
}

}  // namespace
}  // namespace vanelia
