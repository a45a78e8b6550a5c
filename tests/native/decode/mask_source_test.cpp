// MaskSource: ignore masks from a folder, one image or a video, the white
// threshold, the size and length rules. PGM masks are written here; the PNG
// and video masks are made from them with the ffmpeg CLI.
#include "vanelia/decode/mask_source.hpp"

#include "vanelia/core/error.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

namespace vanelia {
namespace {

namespace fs = std::filesystem;

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string FreshDir(const std::string& name) {
  const std::string dir = std::string(VANELIA_BINARY_DIR) +
                          "/test_clips/video/mask_" + name + "_" +
                          std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A grey mask whose columns [x0, x1) are white.
Image Stripe(int width, int height, int x0, int x1) {
  Image image = Image::Create(width, height, 1);
  for (int y = 0; y < height; ++y) {
    for (int x = x0; x < x1; ++x) image.At(x, y, 0) = 255;
  }
  return image;
}

void WritePgm(const std::string& path, const Image& image) {
  std::ofstream file(path, std::ios::binary);
  file << "P5\n" << image.width << " " << image.height << "\n255\n";
  for (int y = 0; y < image.height; ++y) {
    file.write(reinterpret_cast<const char*>(image.Row(y)), image.width);
  }
}

int CountIgnored(const Image& mask) {
  int n = 0;
  for (int y = 0; y < mask.height; ++y) {
    for (int x = 0; x < mask.width; ++x) n += mask.At(x, y, 0) == 255;
  }
  return n;
}

bool IgnoredExactly(const Image& mask, int x0, int x1) {
  for (int y = 0; y < mask.height; ++y) {
    for (int x = 0; x < mask.width; ++x) {
      const bool inside = x >= x0 && x < x1;
      if ((mask.At(x, y, 0) == 255) != inside) return false;
      if (mask.At(x, y, 0) != 0 && mask.At(x, y, 0) != 255) return false;
    }
  }
  return true;
}

// Three 32x24 masks, frame k white in columns [8k, 8k + 8).
std::string ThreeMaskFolder(const std::string& name) {
  const std::string dir = FreshDir(name);
  for (int k = 0; k < 3; ++k) {
    WritePgm(dir + "/m_" + std::to_string(k + 1) + ".pgm",
             Stripe(32, 24, 8 * k, 8 * k + 8));
  }
  return dir;
}

MaskSourceOptions Clip(int width, int height, int64_t frames) {
  MaskSourceOptions options;
  options.width = width;
  options.height = height;
  options.frame_count = frames;
  return options;
}

TEST(MaskSource, FolderGivesTheNthImageForFrameN) {
  auto masks = MaskSource::Open(ThreeMaskFolder("folder"), Clip(32, 24, 3));
  EXPECT_FALSE(masks->IsStatic());
  EXPECT_EQ(masks->FrameCount(), 3);
  for (int k = 0; k < 3; ++k) {
    const Image mask = masks->Read(k);
    ASSERT_EQ(mask.channels, 1);
    EXPECT_TRUE(IgnoredExactly(mask, 8 * k, 8 * k + 8)) << "frame " << k;
  }
  // Back to an earlier frame (a seek), then past the end.
  EXPECT_TRUE(IgnoredExactly(masks->Read(0), 0, 8));
  EXPECT_THROW(masks->Read(3), InputError);
}

TEST(MaskSource, OneImageMasksEveryFrame) {
  const std::string dir = FreshDir("static");
  WritePgm(dir + "/screen.pgm", Stripe(32, 24, 20, 30));
  auto masks = MaskSource::Open(dir + "/screen.pgm", Clip(32, 24, 500));
  EXPECT_TRUE(masks->IsStatic());
  EXPECT_TRUE(IgnoredExactly(masks->Read(0), 20, 30));
  EXPECT_TRUE(IgnoredExactly(masks->Read(499), 20, 30));
}

TEST(MaskSource, WhiteAboveHalfIsIgnored) {
  Image grey = Image::Create(4, 1, 1);
  grey.At(0, 0, 0) = 0;
  grey.At(1, 0, 0) = 127;
  grey.At(2, 0, 0) = 128;
  grey.At(3, 0, 0) = 255;
  const Image g = ThresholdMask(grey);
  EXPECT_EQ(g.At(0, 0, 0), 0);
  EXPECT_EQ(g.At(1, 0, 0), 0);
  EXPECT_EQ(g.At(2, 0, 0), 255);
  EXPECT_EQ(g.At(3, 0, 0), 255);
  // RGB: the mean of the channels (pure red is dark, yellow is light).
  Image rgb = Image::Create(3, 1, 3);
  const uint8_t colours[3][3] = {{255, 0, 0}, {255, 255, 0}, {128, 127, 128}};
  for (int x = 0; x < 3; ++x) {
    for (int c = 0; c < 3; ++c) rgb.At(x, 0, c) = colours[x][c];
  }
  const Image m = ThresholdMask(rgb);
  EXPECT_EQ(m.At(0, 0, 0), 0);
  EXPECT_EQ(m.At(1, 0, 0), 255);
  EXPECT_EQ(m.At(2, 0, 0), 255);  // mean 127.67 > 127.5
}

TEST(MaskSource, ResizedToTheFramesOutputSize) {
  const std::string dir = FreshDir("resize");
  WritePgm(dir + "/half.pgm", Stripe(64, 48, 32, 64));
  MaskSourceOptions options = Clip(64, 48, 10);
  options.output_width = 32;
  options.output_height = 24;
  const Image mask = MaskSource::Open(dir + "/half.pgm", options)->Read(4);
  ASSERT_EQ(mask.width, 32);
  ASSERT_EQ(mask.height, 24);
  EXPECT_TRUE(IgnoredExactly(mask, 16, 32));
}

TEST(MaskSource, BadSizeNamesPathSizeAndRule) {
  const std::string dir = ThreeMaskFolder("badsize");
  try {
    MaskSource::Open(dir, Clip(64, 24, 3));
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()),
                AllOf(HasSubstr("mask '" + dir + "'"),
                      HasSubstr("32x24"),
                      HasSubstr("64x24"),
                      HasSubstr("white = ignore")));
  }
}

TEST(MaskSource, SequenceShorterThanTheClipIsRejected) {
  const std::string dir = ThreeMaskFolder("short");
  try {
    MaskSource::Open(dir, Clip(32, 24, 4));
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()),
                AllOf(HasSubstr(dir),
                      HasSubstr("has 3 frames"),
                      HasSubstr("the clip has 4"),
                      HasSubstr("one image for every frame")));
  }
  EXPECT_NO_THROW(MaskSource::Open(dir, Clip(32, 24, 2)));
}

TEST(MaskSource, MissingPathAndBadOptions) {
  try {
    MaskSource::Open("/nonexistent/masks", Clip(32, 24, 3));
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("'/nonexistent/masks'"));
  }
  EXPECT_THROW(MaskSource::Open(ThreeMaskFolder("opts"), Clip(0, 24, 3)),
               InputError);
  MaskSourceOptions half = Clip(32, 24, 3);
  half.output_width = 16;
  EXPECT_THROW(half.Check(), InputError);
}

#ifdef VANELIA_HAVE_MASK_FFMPEG_TESTS
void Shell(const std::string& command) {
  ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command;
}

TEST(MaskSource, PngAndVideoDecodedByFfmpeg) {
  const std::string dir = ThreeMaskFolder("video");
  // A lossless grey video of the three masks, and one PNG.
  Shell("ffmpeg -y -framerate 24 -i " + dir + "/m_%d.pgm -c:v ffv1 " + dir +
        "/masks.mkv");
  Shell("ffmpeg -y -i " + dir + "/m_2.pgm " + dir + "/one.png");
  auto video = MaskSource::Open(dir + "/masks.mkv", Clip(32, 24, 3));
  EXPECT_FALSE(video->IsStatic());
  for (int k = 0; k < 3; ++k) {
    EXPECT_TRUE(IgnoredExactly(video->Read(k), 8 * k, 8 * k + 8)) << k;
  }
  auto png = MaskSource::Open(dir + "/one.png", Clip(32, 24, 3));
  EXPECT_TRUE(png->IsStatic());
  EXPECT_EQ(CountIgnored(png->Read(2)), 8 * 24);
  EXPECT_TRUE(IgnoredExactly(png->Read(2), 8, 16));
}
#endif

}  // namespace
}  // namespace vanelia
