#include "vanelia/encode/overlay_encode.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/decode/media_probe.hpp"
#include "vanelia/decode/video_reader.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "decode/test_clips.hpp"

namespace vanelia {
namespace {

using ::testing::HasSubstr;

constexpr int kWidth = 640;
constexpr int kHeight = 360;
constexpr int kFrames = 4;

std::string Sample() {
  return testing::SourceDir() + "/tests/data/sample/video.mp4";
}

// kFrames straight-alpha renders: transparent, with an opaque red box at
// (270, 130) 100x100 (the product) and a half-transparent blue one at
// (20, 250) 80x60 (lavfi geq; drawbox with replace=1 crashes FFmpeg 5.1).
std::string Renders() {
  static const std::string dir = [] {
    const std::string folder = testing::ClipDir() + "/overlay_renders";
    std::filesystem::create_directories(folder);
    testing::RunCommand(
        "ffmpeg -nostdin -v error -y -f lavfi -i "
        "\"color=c=black:s=640x360,format=rgba,geq="
        "r='255*between(X,270,369)*between(Y,130,229)':g=0:"
        "b='255*between(X,20,99)*between(Y,250,309)':"
        "a='255*between(X,270,369)*between(Y,130,229)"
        "+128*between(X,20,99)*between(Y,250,309)'\" "
        "-frames:v 4 -start_number 0 " +
        folder + "/%06d.png");
    return folder;
  }();
  return dir;
}

OverlayEncodeOptions SampleOptions(const std::string& name) {
  OverlayEncodeOptions options;
  options.plate_path = Sample();
  options.output_path = testing::ClipDir() + "/" + name;
  std::filesystem::remove(options.output_path);
  options.first = 4;
  options.every = 2;
  options.count = kFrames;
  options.fps = {24, 1};
  options.matrix = "bt709";
  options.color_primaries = "bt709";
  options.color_transfer = "bt709";
  options.color_space = "bt709";
  options.tag_range = true;
  options.audio_path = Sample();
  return options;
}

// Mean absolute difference over a box of two RGB frames, 8-bit units.
double BoxDiff(const Image& a, const Image& b, int x0, int y0, int w, int h) {
  double sum = 0.0;
  for (int y = y0; y < y0 + h; ++y) {
    for (int x = x0; x < x0 + w; ++x) {
      for (int c = 0; c < 3; ++c) {
        sum += std::abs(a.At(x, y, c) - b.At(x, y, c));
      }
    }
  }
  return sum / (3.0 * w * h);
}

double SrgbToLinear(double v) {
  return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
}

double LinearToSrgb(double v) {
  return v <= 0.0031308 ? 12.92 * v : 1.055 * std::pow(v, 1 / 2.4) - 0.055;
}

// Mean absolute difference (8-bit units) inside the half-transparent blue
// box (its core: 4:2:0 chroma mixes its edges) between `got` and blue at
// alpha 128/255 over `plate`, mixed in linear light or in the sRGB values.
double HalfBlueError(const Image& plate, const Image& got, bool linear) {
  const double a = 128.0 / 255.0;
  double sum = 0.0;
  int n = 0;
  for (int y = 254; y < 306; ++y) {
    for (int x = 24; x < 96; ++x) {
      for (int c = 0; c < 3; ++c, ++n) {
        const double p = plate.At(x, y, c) / 255.0;
        const double r = c == 2 ? 1.0 : 0.0;
        const double mix = linear ? LinearToSrgb(SrgbToLinear(r) * a +
                                                 SrgbToLinear(p) * (1.0 - a))
                                  : r * a + p * (1.0 - a);
        sum += std::abs(got.At(x, y, c) - 255.0 * mix);
      }
    }
  }
  return sum / n;
}

TEST(OverlayEncode, H264KeepsThePlateAndShowsTheRender) {
  const OverlayEncodeOptions options = SampleOptions("overlay_h264.mp4");
  EncodeOverlay(options, Renders());
  const MediaProbe out = ProbeMedia(options.output_path);
  EXPECT_EQ(out.codec, "h264");
  EXPECT_EQ(out.pixel_format, "yuv420p");
  EXPECT_EQ(out.width, kWidth);
  EXPECT_EQ(out.height, kHeight);
  EXPECT_EQ(out.frame_count, kFrames);
  EXPECT_EQ(out.fps.num, 12);
  EXPECT_EQ(out.fps.den, 1);
  EXPECT_TRUE(out.has_audio);
  EXPECT_EQ(out.audio_codec, "aac");

  auto plate = VideoReader::Open(Sample());
  auto result = VideoReader::Open(options.output_path);
  for (int k = 0; k < kFrames; ++k) {
    const Image want = plate->Read(options.first + k * options.every).rgb;
    const Image got = result->Read(k).rgb;
    // Away from the boxes: the plate, within the CRF 10 encode (1 % gate).
    EXPECT_LT(BoxDiff(want, got, 0, 0, 200, 120), 2.55) << "frame " << k;
    EXPECT_LT(BoxDiff(want, got, 420, 240, 200, 100), 2.55) << "frame " << k;
    // The opaque box is the render's red.
    EXPECT_GT(got.At(320, 180, 0), 200) << "frame " << k;
    EXPECT_LT(got.At(320, 180, 1), 50) << "frame " << k;
    // The half-transparent box (alpha 128/255): the mix of plate and blue in
    // linear light (the sRGB curve, as Blender composites), not in the
    // encoded values.
    EXPECT_LT(HalfBlueError(want, got, true), 4.0) << "frame " << k;
    EXPECT_GT(HalfBlueError(want, got, false), 12.0) << "frame " << k;
  }
}

TEST(OverlayEncode, ProresCarriesTheColourTagsAt10Bit) {
  OverlayEncodeOptions options = SampleOptions("overlay_prores.mov");
  options.codec = "prores";
  EncodeOverlay(options, Renders());
  const MediaProbe out = ProbeMedia(options.output_path);
  EXPECT_EQ(out.codec, "prores");
  EXPECT_EQ(out.pixel_format, "yuv422p10le");
  EXPECT_EQ(out.color_primaries, "bt709");
  EXPECT_EQ(out.color_transfer, "bt709");
  EXPECT_EQ(out.color_space, "bt709");
  EXPECT_EQ(out.color_range, "tv");
  EXPECT_EQ(out.frame_count, kFrames);
  EXPECT_TRUE(out.has_audio);
  auto plate = VideoReader::Open(Sample());
  auto result = VideoReader::Open(options.output_path);
  const Image want = plate->Read(options.first).rgb;
  const Image got = result->Read(0).rgb;
  // 3.5, not 2.55: VideoReader's fast bilinear 4:2:2 -> RGB path alone costs
  // ~1.5/255 on this textured plate (tests/python/test_encode_overlay.py
  // holds the 10-bit codecs to 2.55 with an accurate conversion).
  EXPECT_LT(BoxDiff(want, got, 0, 0, 200, 120), 3.5);
  EXPECT_GT(got.At(320, 180, 0), 200);
}

// A limited-range plate written full range (the proxy of a full-range
// clip): the samples are expanded, not only tagged (swscale's unscaled
// 8 -> 10-bit copy would drop a range set after its init).
TEST(OverlayEncode, LimitedPlateToFullRangeOutputConvertsTheSamples) {
  OverlayEncodeOptions options = SampleOptions("overlay_dnxhr_pc.mov");
  options.codec = "dnxhr";
  options.count = 1;
  options.output_range = "pc";
  EncodeOverlay(options, Renders());
  EXPECT_EQ(ProbeMedia(options.output_path).color_range, "pc");
  auto plate = VideoReader::Open(Sample());
  auto result = VideoReader::Open(options.output_path);
  EXPECT_LT(
      BoxDiff(
          plate->Read(options.first).rgb, result->Read(0).rgb, 0, 0, 200, 120),
      3.5);
}

TEST(OverlayEncode, StreamedFramesGiveTheFileOfTheWholeStage) {
  const OverlayEncodeOptions whole = SampleOptions("overlay_whole.mp4");
  EncodeOverlay(whole, Renders());
  OverlayEncodeOptions streamed = SampleOptions("overlay_streamed.mp4");
  {
    OverlayEncoder encoder(streamed);
    for (int k = 0; k < kFrames; ++k) {
      encoder.AddPng(Renders() + "/00000" + std::to_string(k) + ".png");
    }
    EXPECT_EQ(encoder.FramesAdded(), kFrames);
    encoder.Finish();
  }
  EXPECT_EQ(testing::ReadBytes(whole.output_path),
            testing::ReadBytes(streamed.output_path));
}

TEST(OverlayEncode, CancelRemovesTheOutput) {
  const OverlayEncodeOptions options = SampleOptions("overlay_cancel.mp4");
  int calls = 0;
  EXPECT_THROW(EncodeOverlay(options,
                             Renders(),
                             [&](const Progress& progress) {
                               ++calls;
                               EXPECT_EQ(progress.stage, "encode");
                               return progress.done < 2;
                             }),
               Cancelled);
  EXPECT_GT(calls, 0);
  EXPECT_FALSE(std::filesystem::exists(options.output_path));
}

TEST(OverlayEncode, MissingOrWrongSizedRenderNamesTheFile) {
  OverlayEncodeOptions options = SampleOptions("overlay_missing.mp4");
  options.count = kFrames + 1;
  try {
    EncodeOverlay(options, Renders());
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("000004.png"));
  }
  EXPECT_FALSE(std::filesystem::exists(options.output_path));
  options.width = 320;
  options.height = 180;
  options.count = 1;
  try {
    EncodeOverlay(options, Renders());
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("640x360; must be the output's 320x180"));
  }
}

TEST(OverlayEncode, Badarg) {
  const auto message = [](OverlayEncodeOptions options) {
    try {
      options.Check();
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  OverlayEncodeOptions good = SampleOptions("unused.mp4");
  EXPECT_EQ(message(good), "no error");
  OverlayEncodeOptions bad = good;
  bad.codec = "vp9";
  EXPECT_THAT(message(bad), HasSubstr("codec = 'vp9'"));
  bad = good;
  bad.every = 0;
  EXPECT_THAT(message(bad), HasSubstr("every = 0; must be >= 1"));
  bad = good;
  bad.count = 0;
  EXPECT_THAT(message(bad), HasSubstr("count = 0"));
  bad = good;
  bad.width = 321;
  bad.height = 180;
  EXPECT_THAT(message(bad), HasSubstr("width x height = 321x180"));
  bad = good;
  bad.plate_range = "full";
  EXPECT_THAT(message(bad), HasSubstr("plate_range = 'full'"));
  bad = good;
  bad.matrix = "rec709";
  EXPECT_THAT(message(bad), HasSubstr("matrix = 'rec709'"));
  bad = good;
  bad.color_transfer = "hlg";
  EXPECT_THAT(message(bad), HasSubstr("color_transfer = 'hlg'"));
  bad = good;
  bad.plate_path = "/nonexistent/plate.mp4";
  EXPECT_THROW(OverlayEncoder encoder(bad), DecodeError);
}

}  // namespace
}  // namespace vanelia
