// FrameSample: one decode of the plate's spread frames per run, shared by
// the light and the environment stages.
#include "vanelia/pipeline/frame_sample.hpp"

#include "vanelia/core/error.hpp"

#include <string>

#include <gtest/gtest.h>

namespace vanelia {
namespace {

const std::string kVideo =
    std::string(VANELIA_SOURCE_DIR) + "/tests/data/sample/video.mp4";

// A track naming frames 0, 2, 4, ... of the sample (48 frames).
CameraTrack EvenFrames(int count) {
  CameraTrack track;
  for (int i = 0; i < count; ++i) {
    TrackedFrame frame;
    frame.index = 2 * i;
    track.frames.push_back(frame);
  }
  return track;
}

TEST(FrameSample, DecodesOnceForTheSameRequest) {
  FrameSample sample;
  const CameraTrack track = EvenFrames(24);
  const std::vector<Frame>& first = sample.Spread(kVideo, track, 5, 320);
  ASSERT_EQ(first.size(), 5U);
  EXPECT_EQ(first.front().index, 0);
  EXPECT_EQ(first.back().index, 46);  // the last tracked frame included
  EXPECT_LE(first.front().rgb.width, 320);
  const Frame* data = first.data();
  const std::vector<Frame>& again = sample.Spread(kVideo, track, 5, 320);
  EXPECT_EQ(sample.Decodes(), 1);
  EXPECT_EQ(again.data(), data);
}

TEST(FrameSample, AnotherWidthOrCountDecodesAgain) {
  FrameSample sample;
  const CameraTrack track = EvenFrames(24);
  sample.Spread(kVideo, track, 5, 320);
  EXPECT_LE(sample.Spread(kVideo, track, 5, 160).front().rgb.width, 160);
  EXPECT_EQ(sample.Decodes(), 2);
  EXPECT_EQ(sample.Spread(kVideo, track, 3, 160).size(), 3U);
  EXPECT_EQ(sample.Decodes(), 3);
}

TEST(FrameSample, FramesPastTheClipAreLeftOut) {
  FrameSample sample;
  const CameraTrack track = EvenFrames(30);  // indices up to 58 of 48 frames
  const std::vector<Frame>& frames = sample.Spread(kVideo, track, 30, 160);
  EXPECT_EQ(frames.size(), 24U);
  EXPECT_EQ(frames.back().index, 46);
}

TEST(FrameSample, AMissingVideoThrows) {
  FrameSample sample;
  EXPECT_THROW(sample.Spread("/nonexistent/clip.mp4", EvenFrames(3), 3, 160),
               InputError);
}

}  // namespace
}  // namespace vanelia
