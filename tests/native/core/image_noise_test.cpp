#include "vanelia/core/image_noise.hpp"

#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vanelia {
namespace {

// A 640x360 plate-like image: smooth shading, a few hard edges (boxes), a
// band of fine texture, plus Gaussian noise of `sigma` per channel (seeded).
Image SyntheticPlate(const std::array<double, 3>& sigma,
                     unsigned seed,
                     bool texture = true) {
  Image image = Image::Create(640, 360, 3);
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      double base = 60.0 + 100.0 * x / image.width + 40.0 * y / image.height;
      if (x > 100 && x < 220 && y > 80 && y < 200) base += 50.0;  // a box
      if (x > 400 && x < 480 && y > 150 && y < 330) base -= 35.0;
      if (texture && y > 250 && y < 300) base += ((x / 3 + y / 3) % 2) * 30.0;
      for (int c = 0; c < 3; ++c) {
        const double v = base + 10.0 * c + sigma[c] * normal(rng);
        image.At(x, y, c) =
            static_cast<uint8_t>(std::clamp(std::lround(v), 1L, 254L));
      }
    }
  }
  return image;
}

TEST(ImageNoise, RecoversTheNoiseOfEachChannel) {
  const std::array<double, 3> sigma{2.0, 4.0, 6.0};
  const ImageNoise noise = EstimateImageNoise(SyntheticPlate(sigma, 7));
  ASSERT_TRUE(noise.valid);
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(noise.sigma[c], sigma[c], 0.1 * sigma[c]) << "channel " << c;
  }
  EXPECT_GE(noise.blocks_used, 16);
}

TEST(ImageNoise, ANoiselessImageHasNearlyNone) {
  const ImageNoise noise = EstimateImageNoise(SyntheticPlate({0, 0, 0}, 1));
  ASSERT_TRUE(noise.valid);
  // Only the rounding to 8 bits and the shading's curvature remain.
  for (double s : noise.sigma) EXPECT_LT(s, 0.35);
}

TEST(ImageNoise, TextureDoesNotPassForNoise) {
  // Fine texture over most of the frame, with flat areas left: the flat
  // blocks decide.
  const std::array<double, 3> sigma{3.0, 3.0, 3.0};
  Image image = SyntheticPlate(sigma, 3);
  for (int y = 0; y < 240; ++y) {
    for (int x = 0; x < 640; ++x) {
      if ((x / 2 + y / 2) % 3 == 0) {
        for (int c = 0; c < 3; ++c) image.At(x, y, c) /= 2;
      }
    }
  }
  const ImageNoise noise = EstimateImageNoise(image);
  ASSERT_TRUE(noise.valid);
  for (double s : noise.sigma) EXPECT_NEAR(s, 3.0, 0.6);
}

TEST(ImageNoise, ClippedAreasAreLeftOut) {
  Image image = SyntheticPlate({4.0, 4.0, 4.0}, 5);
  // The top half blown out to white: its noise is cut and must not count.
  for (int y = 0; y < 180; ++y) {
    for (int x = 0; x < 640; ++x) {
      for (int c = 0; c < 3; ++c) image.At(x, y, c) = 255;
    }
  }
  const ImageNoise noise = EstimateImageNoise(image);
  ASSERT_TRUE(noise.valid);
  for (double s : noise.sigma) EXPECT_NEAR(s, 4.0, 0.4);
}

TEST(ImageNoise, TooSmallOrAllClippedGivesNoEstimate) {
  EXPECT_FALSE(EstimateImageNoise(Image::Create(12, 12, 3)).valid);
  Image white = Image::Create(320, 180, 3);
  std::fill(white.data.begin(), white.data.end(), 255);
  EXPECT_FALSE(EstimateImageNoise(white).valid);
  EXPECT_FALSE(EstimateImageNoise(Image()).valid);
}

TEST(ImageNoise, FramesGiveTheMedian) {
  std::vector<Image> frames;
  for (unsigned seed = 0; seed < 5; ++seed) {
    frames.push_back(SyntheticPlate({3.0, 3.0, 3.0}, seed));
  }
  Image white = Image::Create(640, 360, 3);
  std::fill(white.data.begin(), white.data.end(), 255);
  frames.push_back(white);  // no estimate: ignored
  const ImageNoise noise = EstimateFramesNoise(frames);
  ASSERT_TRUE(noise.valid);
  EXPECT_EQ(noise.frames_used, 5);
  for (double s : noise.sigma) EXPECT_NEAR(s, 3.0, 0.3);
  EXPECT_FALSE(EstimateFramesNoise({}).valid);
}

TEST(ImageNoise, GreyImagesFillEveryChannel) {
  Image rgb = SyntheticPlate({3.0, 3.0, 3.0}, 9);
  Image grey = Image::Create(rgb.width, rgb.height, 1);
  for (int y = 0; y < rgb.height; ++y) {
    for (int x = 0; x < rgb.width; ++x) grey.At(x, y, 0) = rgb.At(x, y, 0);
  }
  const ImageNoise noise = EstimateImageNoise(grey);
  ASSERT_TRUE(noise.valid);
  EXPECT_EQ(noise.sigma[0], noise.sigma[1]);
  EXPECT_EQ(noise.sigma[0], noise.sigma[2]);
}

TEST(ImageNoise, BadOptionsNameTheField) {
  ImageNoiseOptions options;
  options.flat_fraction = 0.0;
  try {
    EstimateImageNoise(SyntheticPlate({1, 1, 1}, 1), options);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("flat_fraction"),
              std::string::npos);
  }
  options = ImageNoiseOptions();
  options.block_px = 2;
  EXPECT_THROW(options.Check(), InputError);
  Image two;
  two.width = two.height = 64;
  two.channels = 2;
  two.stride = 128;
  two.data.assign(64 * 128, 100);
  EXPECT_THROW(EstimateImageNoise(two), InputError);
}

}  // namespace
}  // namespace vanelia
