// EstimateShutterFromMotion on synthetic frames of isolated rectangles,
// anti-aliased and then smeared along a known motion over a known shutter:
// the shutter comes back; a still camera is not measured; ImageMotion of a
// pan is the focal length times the turn; bad input throws naming the field.
#include "vanelia/floor/shutter_estimate.hpp"

#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/synthetic_scene.hpp"

namespace vanelia {
namespace {

constexpr int kWidth = 320;
constexpr int kHeight = 180;

struct Rect {
  double x0, y0, x1, y1;  // pixels (pixel centres at integers)
  double value;           // code values
};

// Isolated rectangles on a grey ground, one per cell of a grid.
std::vector<Rect> MakeRects(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> size(24.0, 36.0), jitter(0.0, 8.0);
  std::uniform_real_distribution<double> bright(40.0, 90.0);
  std::bernoulli_distribution darker(0.5);
  std::vector<Rect> rects;
  for (double cy = 10.0; cy + 44.0 < kHeight; cy += 56.0) {
    for (double cx = 10.0; cx + 44.0 < kWidth; cx += 64.0) {
      const double x0 = cx + jitter(rng), y0 = cy + jitter(rng);
      const double step = bright(rng) * (darker(rng) ? -1.0 : 1.0);
      rects.push_back({x0, y0, x0 + size(rng), y0 + size(rng), step});
    }
  }
  return rects;
}

// The frame seen through a camera that moved by `v` pixels per frame with
// the shutter open `shutter` frames: the rectangles 4 x 4 supersampled, then
// smeared over 64 positions (bilinear), plus Gaussian noise of `noise` code
// values.
Image Render(const std::vector<Rect>& rects,
             const Eigen::Vector2d& v,
             double shutter,
             double noise,
             std::mt19937_64& rng) {
  constexpr int kSuper = 4, kSteps = 64;
  std::vector<double> sharp(static_cast<size_t>(kWidth) * kHeight, 0.0);
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      double pixel = 0.0;
      for (int j = 0; j < kSuper; ++j) {
        for (int i = 0; i < kSuper; ++i) {
          const double px = x + (i + 0.5) / kSuper - 0.5;
          const double py = y + (j + 0.5) / kSuper - 0.5;
          double value = 110.0;
          for (const Rect& r : rects) {
            if (px >= r.x0 && px < r.x1 && py >= r.y0 && py < r.y1) {
              value += r.value;
            }
          }
          pixel += value;
        }
      }
      sharp[static_cast<size_t>(y) * kWidth + x] = pixel / (kSuper * kSuper);
    }
  }
  auto at = [&](double x, double y) {
    x = std::clamp(x, 0.0, kWidth - 1.001);
    y = std::clamp(y, 0.0, kHeight - 1.001);
    const int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
    const double fx = x - x0, fy = y - y0;
    auto s = [&](int xi, int yi) {
      return sharp[static_cast<size_t>(yi) * kWidth + xi];
    };
    return (s(x0, y0) * (1 - fx) + s(x0 + 1, y0) * fx) * (1 - fy) +
           (s(x0, y0 + 1) * (1 - fx) + s(x0 + 1, y0 + 1) * fx) * fy;
  };
  std::normal_distribution<double> gauss(0.0, noise);
  Image image = Image::Create(kWidth, kHeight, 3);
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      double mean = 0.0;
      for (int s = 0; s < kSteps; ++s) {
        const Eigen::Vector2d shift = v * shutter * ((s + 0.5) / kSteps - 0.5);
        mean += at(x - shift.x(), y - shift.y()) / kSteps;
      }
      for (int c = 0; c < 3; ++c) {
        image.At(x, y, c) = static_cast<uint8_t>(
            std::clamp(std::lround(mean + gauss(rng)), 0L, 255L));
      }
    }
  }
  return image;
}

ShutterEstimate Estimate(const Eigen::Vector2d& v,
                         double shutter,
                         int min_sharp_edges = 20) {
  std::mt19937_64 rng(11);
  std::vector<Image> frames;
  std::vector<MotionField> motion;
  for (int f = 0; f < 2; ++f) {
    frames.push_back(Render(MakeRects(rng), v, shutter, 1.5, rng));
    motion.push_back(MotionField::Uniform(kWidth, kHeight, v.cast<float>()));
  }
  ShutterEstimateOptions options;
  options.min_edges = 20;
  options.min_sharp_edges = min_sharp_edges;
  return EstimateShutterFromMotion(frames, motion, options);
}

TEST(ShutterEstimate, RecoversAQuarterAndAFullFrame) {
  for (const double shutter : {0.25, 1.0}) {
    const ShutterEstimate e = Estimate(Eigen::Vector2d(18.0, 0.0), shutter);
    ASSERT_TRUE(e.measured) << e.reason;
    EXPECT_NEAR(e.shutter_frames, shutter, 0.12 * shutter)
        << DescribeShutter(e);
    EXPECT_GE(e.sharp_edges, 20);
    EXPECT_NEAR(e.median_motion_px, 18.0, 0.5);
    EXPECT_LT(e.sharp_sigma_px, 1.2);
  }
}

TEST(ShutterEstimate, RecoversADiagonalMotion) {
  // Edges cross it at 12 or 9 px per frame: only the sides of smeared
  // corners run along it, too few for a sharp reference, so the assumed
  // sharp spread stands in.
  const ShutterEstimate e = Estimate(Eigen::Vector2d(12.0, 9.0), 0.5, 60);
  ASSERT_TRUE(e.measured) << e.reason;
  EXPECT_LT(e.sharp_edges, 60);
  EXPECT_NEAR(e.shutter_frames, 0.5, 0.08) << DescribeShutter(e);
}

TEST(ShutterEstimate, AStillCameraIsNotMeasured) {
  const ShutterEstimate e = Estimate(Eigen::Vector2d(0.0, 0.0), 0.5);
  EXPECT_FALSE(e.measured);
  EXPECT_EQ(e.shutter_frames, 0.5);
  EXPECT_THAT(e.reason, ::testing::HasSubstr("too few strong edges"));
  EXPECT_THAT(DescribeShutter(e), ::testing::HasSubstr("not measured"));
}

TEST(ShutterEstimate, ImageMotionOfAPan) {
  // A camera 1.5 m above the floor turning 2 degrees a frame about Z.
  CameraTrack track;
  track.width = kWidth;
  track.height = kHeight;
  const Eigen::Vector3d centre(0.0, 0.0, 1.5);
  for (int i = 0; i < 3; ++i) {
    const double yaw = 2.0 * i * M_PI / 180.0;
    TrackedFrame f;
    f.index = i;
    f.intrinsics = Intrinsics::Centered(250.0, kWidth, kHeight);
    f.cam_from_world = testing::LookAt(
        centre, centre + Eigen::Vector3d(std::sin(yaw), std::cos(yaw), 0.0));
    track.frames.push_back(f);
  }
  const MotionField field = ImageMotion(track, 1, kWidth, kHeight);
  const Eigen::Vector2f centre_motion = field.At(159.5, 89.5);
  // Turning right (yaw towards +X) moves the scene left.
  EXPECT_NEAR(centre_motion.x(), -250.0 * std::tan(2.0 * M_PI / 180.0), 0.2);
  EXPECT_NEAR(centre_motion.y(), 0.0, 0.2);
  const std::vector<size_t> fast = FastFramePositions(track, {});
  EXPECT_EQ(fast.size(), 3u);
}

TEST(ShutterEstimate, BadArgumentsNameTheField) {
  ShutterEstimateOptions options;
  options.default_shutter = 0.0;
  EXPECT_THAT([&] { options.Check(); },
              ::testing::ThrowsMessage<InputError>(
                  ::testing::HasSubstr("default_shutter = 0")));
  options = ShutterEstimateOptions();
  options.static_motion_px = 7.0;
  EXPECT_THAT([&] { options.Check(); },
              ::testing::ThrowsMessage<InputError>(
                  ::testing::HasSubstr("static_motion_px = 7")));
  std::vector<Image> frames(1, Image::Create(64, 64, 3));
  EXPECT_THAT(
      [&] { EstimateShutterFromMotion(frames, {}, ShutterEstimateOptions()); },
      ::testing::ThrowsMessage<InputError>(
          ::testing::HasSubstr("1 frames and 0 motion fields")));
  EXPECT_THAT(
      [&] { ImageMotion(CameraTrack(), 0, 64, 64); },
      ::testing::ThrowsMessage<InputError>(::testing::HasSubstr("position 0")));
}

}  // namespace
}  // namespace vanelia
