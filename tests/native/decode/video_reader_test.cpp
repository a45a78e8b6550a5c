// Decoding exactness: frame counts, timestamps and pixels against the ffmpeg
// CLI's own decode (same swscale flags, byte-exact), seeking, selection,
// resizing, rotation, VFR mapping, HEVC and audio detection.
#include "vanelia/decode/video_reader.hpp"

#include "vanelia/core/error.hpp"

#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "test_clips.hpp"

namespace vanelia {
namespace {

using testing::CliDecodeRgb;

std::string OrbitClip() {
  return testing::SourceDir() + "/tests/data/footage/orbit/video.mp4";
}

// Frame `index` of a packed RGB24 dump of frames of width x height.
std::vector<uint8_t> CliFrame(const std::vector<uint8_t>& dump,
                              int width,
                              int height,
                              int64_t index) {
  const size_t size = static_cast<size_t>(width) * height * 3;
  EXPECT_LE((index + 1) * size, dump.size());
  if ((index + 1) * size > dump.size()) return {};
  return {dump.begin() + index * size, dump.begin() + (index + 1) * size};
}

std::vector<uint8_t> Packed(const Image& image) {
  std::vector<uint8_t> out;
  for (int y = 0; y < image.height; ++y) {
    out.insert(out.end(), image.Row(y), image.Row(y) + image.width * 3);
  }
  return out;
}

// Compares every frame of `path` with the CLI decode, byte for byte.
void ExpectAllFramesEqualCli(const std::string& path,
                             int64_t expected_frames,
                             Rational expected_fps) {
  auto reader = VideoReader::Open(path);
  const VideoInfo& info = reader->Info();
  ASSERT_EQ(info.frame_count, expected_frames);
  EXPECT_EQ(info.fps.num, expected_fps.num);
  EXPECT_EQ(info.fps.den, expected_fps.den);
  EXPECT_FALSE(info.is_vfr);
  const std::vector<uint8_t> cli = CliDecodeRgb(path);
  const size_t frame_size = static_cast<size_t>(info.width) * info.height * 3;
  ASSERT_EQ(cli.size(), frame_size * expected_frames);
  int64_t count = 0;
  while (auto frame = reader->Next()) {
    ASSERT_EQ(frame->index, count);
    EXPECT_DOUBLE_EQ(
        frame->timestamp_s,
        static_cast<double>(count) * expected_fps.den / expected_fps.num);
    ASSERT_EQ(frame->rgb.width, info.width);
    ASSERT_EQ(frame->rgb.height, info.height);
    EXPECT_EQ(Packed(frame->rgb), CliFrame(cli, info.width, info.height, count))
        << "frame " << count << " of " << path;
    ++count;
  }
  EXPECT_EQ(count, expected_frames);
}

TEST(VideoReader, OrbitFrameExact) {
  ExpectAllFramesEqualCli(OrbitClip(), 96, {24, 1});
  const VideoInfo info = ProbeVideo(OrbitClip());
  EXPECT_EQ(info.width, 640);
  EXPECT_EQ(info.height, 360);
  EXPECT_EQ(info.codec, "h264");
  EXPECT_DOUBLE_EQ(info.duration_s, 4.0);
  EXPECT_FALSE(info.has_audio);
  EXPECT_EQ(info.rotation_deg, 0);
}

#ifdef VANELIA_SHARED_FOOTAGE_DIR
// The shared footage (compiled in when ../shared/footage exists at
// configure time): first and last frames of every clip against the CLI.
TEST(VideoReader, SharedFootageFirstLastExact) {
  for (const char* clip : {"orbit", "dolly_pan"}) {
    const std::string path =
        std::string(VANELIA_SHARED_FOOTAGE_DIR) + "/" + clip + "/video.mp4";
    auto reader = VideoReader::Open(path);
    ASSERT_EQ(reader->Info().frame_count, 96) << path;
    const std::vector<uint8_t> cli = CliDecodeRgb(path);
    for (int64_t index : {int64_t{0}, int64_t{95}}) {
      const Frame frame = reader->Read(index);
      EXPECT_DOUBLE_EQ(frame.timestamp_s, index / 24.0);
      EXPECT_EQ(Packed(frame.rgb), CliFrame(cli, 640, 360, index))
          << path << " frame " << index;
    }
  }
}
#endif

TEST(VideoReader, H264WithBframesAndAudio) {
  const std::string path = testing::H264BframesClip();
  ExpectAllFramesEqualCli(path, 48, {24, 1});
  const VideoInfo info = ProbeVideo(path);
  EXPECT_TRUE(info.has_audio);
  EXPECT_EQ(info.audio_codec, "aac");
  EXPECT_EQ(info.source_frame_count, 48);
}

TEST(VideoReader, HevcFrameExact) {
  const std::string path = testing::HevcClip();
  ExpectAllFramesEqualCli(path, 30, {30, 1});
  EXPECT_EQ(ProbeVideo(path).codec, "hevc");
  EXPECT_FALSE(ProbeVideo(path).has_audio);
}

TEST(VideoReader, SeekIsAccurateInAnyOrder) {
  const std::string path = testing::H264BframesClip();
  const std::vector<uint8_t> cli = CliDecodeRgb(path);
  auto reader = VideoReader::Open(path);
  // Backwards, across GOPs, onto B-frames, keyframes and neighbours.
  for (int64_t index : {47, 0, 35, 12, 11, 13, 24, 5, 46, 36, 23, 1}) {
    const Frame frame = reader->Read(index);
    EXPECT_EQ(frame.index, index);
    EXPECT_DOUBLE_EQ(frame.timestamp_s, index / 24.0);
    EXPECT_EQ(Packed(frame.rgb), CliFrame(cli, 320, 240, index))
        << "frame " << index;
  }
  // Seek then continue with Next().
  reader->Seek(30);
  for (int64_t index = 30; index < 34; ++index) {
    const auto frame = reader->Next();
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ(frame->index, index);
    EXPECT_EQ(Packed(frame->rgb), CliFrame(cli, 320, 240, index));
  }
}

TEST(VideoReader, HevcSeekBackwardsThroughOpenGops) {
  // x265 uses open GOPs (CRA keyframes with leading pictures) by default.
  const std::string path = testing::HevcClip();
  const std::vector<uint8_t> cli = CliDecodeRgb(path);
  auto reader = VideoReader::Open(path);
  for (int64_t index = 29; index >= 0; index -= 3) {
    const Frame frame = reader->Read(index);
    EXPECT_EQ(frame.index, index);
    EXPECT_EQ(Packed(frame.rgb), CliFrame(cli, 320, 240, index))
        << "frame " << index;
  }
}

TEST(VideoReader, StartEndEvery) {
  const std::string path = testing::H264BframesClip();
  const std::vector<uint8_t> cli = CliDecodeRgb(path);
  ReadOptions options;
  options.start = 7;
  options.end = 45;
  options.every = 5;
  auto reader = VideoReader::Open(path, options);
  const std::vector<int64_t> expected = {7, 12, 17, 22, 27, 32, 37, 42};
  EXPECT_EQ(reader->SelectedIndices(), expected);
  std::vector<int64_t> got;
  while (auto frame = reader->Next()) {
    got.push_back(frame->index);
    EXPECT_EQ(Packed(frame->rgb), CliFrame(cli, 320, 240, frame->index));
  }
  EXPECT_EQ(got, expected);

  // Gaps longer than the forward-decoding limit (32 frames) seek instead.
  for (const auto& [start, every] : {std::pair<int64_t, int64_t>{0, 35},
                                     std::pair<int64_t, int64_t>{40, 1}}) {
    ReadOptions sparse;
    sparse.start = start;
    sparse.every = every;
    auto seeking = VideoReader::Open(path, sparse);
    int64_t count = 0;
    while (auto frame = seeking->Next()) {
      EXPECT_EQ(frame->index, start + count * every);
      EXPECT_EQ(Packed(frame->rgb), CliFrame(cli, 320, 240, frame->index))
          << "frame " << frame->index;
      ++count;
    }
    EXPECT_EQ(count, (48 - start + every - 1) / every);
  }
}

TEST(VideoReader, ResizeOnTheWayOutMatchesCliScale) {
  const std::string path = OrbitClip();
  ReadOptions options;
  options.max_width = 160;
  options.end = 3;
  auto reader = VideoReader::Open(path, options);
  EXPECT_EQ(reader->OutputWidth(), 160);
  EXPECT_EQ(reader->OutputHeight(), 90);
  const std::vector<uint8_t> cli = CliDecodeRgb(path, "scale=160:90");
  int64_t count = 0;
  while (auto frame = reader->Next()) {
    ASSERT_EQ(frame->rgb.width, 160);
    ASSERT_EQ(frame->rgb.height, 90);
    EXPECT_EQ(Packed(frame->rgb), CliFrame(cli, 160, 90, frame->index));
    ++count;
  }
  EXPECT_EQ(count, 3);

  ReadOptions exact;
  exact.target_width = 200;
  exact.target_height = 100;
  auto stretched = VideoReader::Open(path, exact);
  const Frame frame = stretched->Read(95);
  EXPECT_EQ(frame.rgb.width, 200);
  EXPECT_EQ(frame.rgb.height, 100);

  ReadOptions larger;  // max_width never upscales
  larger.max_width = 4000;
  EXPECT_EQ(VideoReader::Open(path, larger)->OutputWidth(), 640);
}

// Checks a rotated clip against the CLI: exactly against its unrotated
// decode rotated here, loosely against its own autorotation (it transposes
// before the YUV->RGB conversion, so chroma is interpolated along the other
// axis), which pins the direction.
void ExpectUpright(const std::string& path,
                   int rotation_deg,
                   int coded_width,
                   int coded_height,
                   int64_t frames) {
  const int cw = coded_width;
  const int ch = coded_height;
  auto reader = VideoReader::Open(path);
  const VideoInfo& info = reader->Info();
  EXPECT_EQ(info.rotation_deg, rotation_deg);
  EXPECT_EQ(info.coded_width, cw);
  EXPECT_EQ(info.coded_height, ch);
  EXPECT_EQ(info.width, ch);
  EXPECT_EQ(info.height, cw);
  const std::vector<uint8_t> raw = CliDecodeRgb(path, "", "-noautorotate");
  const std::vector<uint8_t> upright = CliDecodeRgb(path);
  int64_t count = 0;
  while (auto frame = reader->Next()) {
    ASSERT_EQ(frame->rgb.width, ch);
    ASSERT_EQ(frame->rgb.height, cw);
    const std::vector<uint8_t> coded = CliFrame(raw, cw, ch, frame->index);
    ASSERT_FALSE(coded.empty());
    int64_t mismatches = 0;
    for (int y = 0; y < cw; ++y) {
      for (int x = 0; x < ch; ++x) {
        // 90 clockwise: out(x, y) = in(y, H-1-x); 270: in(W-1-y, x).
        const int sx = rotation_deg == 90 ? y : cw - 1 - y;
        const int sy = rotation_deg == 90 ? ch - 1 - x : x;
        const size_t src = (static_cast<size_t>(sy) * cw + sx) * 3;
        for (int c = 0; c < 3; ++c) {
          mismatches += frame->rgb.At(x, y, c) != coded[src + c];
        }
      }
    }
    EXPECT_EQ(mismatches, 0) << "frame " << frame->index;
    const std::vector<uint8_t> cli = CliFrame(upright, ch, cw, frame->index);
    const std::vector<uint8_t> ours = Packed(frame->rgb);
    ASSERT_EQ(cli.size(), ours.size());
    // Mean difference to the CLI's upright frame, and to it turned by 180
    // degrees (what the wrong direction would give).
    double same = 0.0;
    double turned = 0.0;
    const size_t pixels = ours.size() / 3;
    for (size_t i = 0; i < ours.size(); ++i) {
      const size_t j = (pixels - 1 - i / 3) * 3 + i % 3;
      same += std::abs(static_cast<int>(ours[i]) - static_cast<int>(cli[i]));
      turned += std::abs(static_cast<int>(ours[i]) - static_cast<int>(cli[j]));
    }
    EXPECT_LT(same / ours.size(), 4.0) << "frame " << frame->index;
    EXPECT_LT(same, 0.1 * turned) << "frame " << frame->index;
    ++count;
  }
  EXPECT_EQ(count, frames);
}

TEST(VideoReader, PortraitClipComesOutUpright) {
  // A phone's portrait clip: its matrix turns the frame 90 degrees clockwise
  // for display (ffprobe: rotation=-90). ffmpeg 5.1 writes that matrix for
  // the tag rotate=270, and the opposite one for rotate=90.
  ExpectUpright(testing::PortraitClip(270), 90, 320, 176, 12);
  ExpectUpright(testing::PortraitClip(90), 270, 320, 176, 12);
}

TEST(VideoReader, VfrClipIsMappedToConstantFrames) {
  const std::string path = testing::VfrClip();
  auto reader = VideoReader::Open(path);
  const VideoInfo& info = reader->Info();
  EXPECT_TRUE(info.is_vfr);
  EXPECT_EQ(info.source_frame_count, 24);
  EXPECT_EQ(info.frame_count, 24);
  // Source times: k/24 for k < 12, then (2k - 12)/24: span 34/24 s, so the
  // average rate is 23 / (34/24) = 276/17 (16.2 fps: no standard rate near).
  EXPECT_EQ(info.fps.num, 276);
  EXPECT_EQ(info.fps.den, 17);
  std::vector<double> source_times;
  for (int k = 0; k < 24; ++k)
    source_times.push_back((k + std::max(k - 12, 0)) / 24.0);
  const std::vector<FrameMapping>& mapping = reader->Mapping();
  ASSERT_EQ(mapping.size(), 24u);
  int64_t duplicated = 0;
  std::vector<bool> used(24, false);
  for (int64_t k = 0; k < 24; ++k) {
    const double t = k * 17.0 / 276.0;
    int64_t best = 0;
    for (int64_t s = 1; s < 24; ++s) {
      if (std::abs(source_times[s] - t) <
          std::abs(source_times[best] - t) - 1e-12)
        best = s;
    }
    EXPECT_EQ(mapping[k].source_index, best) << "output " << k;
    EXPECT_NEAR(mapping[k].source_time_s, source_times[best], 1e-9);
    EXPECT_DOUBLE_EQ(mapping[k].timestamp_s, t);
    duplicated += k > 0 && mapping[k - 1].source_index == best;
    used[best] = true;
  }
  EXPECT_EQ(reader->Cfr().duplicated, duplicated);
  EXPECT_EQ(reader->Cfr().dropped, std::count(used.begin(), used.end(), false));
  EXPECT_GT(reader->Cfr().duplicated, 0);
  EXPECT_EQ(mapping.front().source_index, 0);
  EXPECT_EQ(mapping.back().source_index, 23);
  // Each output frame shows its source frame's pixels.
  const std::vector<uint8_t> cli = CliDecodeRgb(path);
  ASSERT_EQ(cli.size(), 24u * 160 * 120 * 3);
  while (auto frame = reader->Next()) {
    EXPECT_DOUBLE_EQ(frame->timestamp_s, frame->index * 17.0 / 276.0);
    EXPECT_EQ(Packed(frame->rgb),
              CliFrame(cli, 160, 120, mapping[frame->index].source_index))
        << "output " << frame->index;
  }
}

#ifdef VANELIA_HAVE_SAMPLE_CLIPS
// The project's own clips (tests/data, made by tests/data/generate).
std::string DataClip(const std::string& name) {
  return testing::SourceDir() + "/tests/data/" + name + "/video.mp4";
}

TEST(VideoReader, BundledSampleFirstLastExact) {
  const std::string path = DataClip("sample");
  auto reader = VideoReader::Open(path);
  const VideoInfo& info = reader->Info();
  EXPECT_EQ(info.frame_count, 48);
  EXPECT_EQ(info.fps.num, 24);
  EXPECT_EQ(info.fps.den, 1);
  EXPECT_EQ(info.width, 640);
  EXPECT_EQ(info.height, 360);
  EXPECT_TRUE(info.has_audio);
  EXPECT_FALSE(info.is_vfr);
  const std::vector<uint8_t> cli = CliDecodeRgb(path);
  for (int64_t index : {int64_t{0}, int64_t{47}}) {
    const Frame frame = reader->Read(index);
    EXPECT_DOUBLE_EQ(frame.timestamp_s, index / 24.0);
    EXPECT_EQ(Packed(frame.rgb), CliFrame(cli, 640, 360, index))
        << "frame " << index;
  }
}

TEST(VideoReader, BundledPortraitClipUpright) {
  // Stored 640x360 with display matrix rotation -90, as phones write.
  ExpectUpright(DataClip("clips/portrait"), 90, 640, 360, 24);
}

TEST(VideoReader, BundledVfrClipMapping) {
  // Intervals alternate 1/30 and 1/20 s: average 23 / 0.95 s = 24.2 fps,
  // snapped to 24; 24 output frames at k / 24.
  const std::string path = DataClip("clips/vfr");
  auto reader = VideoReader::Open(path);
  const VideoInfo& info = reader->Info();
  EXPECT_TRUE(info.is_vfr);
  EXPECT_EQ(info.fps.num, 24);
  EXPECT_EQ(info.fps.den, 1);
  EXPECT_EQ(info.frame_count, 24);
  std::vector<double> times;
  for (int k = 0; k < 24; ++k) {
    times.push_back((k / 2) * (1.0 / 30 + 1.0 / 20) + (k % 2) / 30.0);
  }
  const std::vector<uint8_t> cli = CliDecodeRgb(path);
  for (const FrameMapping& map : reader->Mapping()) {
    EXPECT_NEAR(map.source_time_s, times[map.source_index], 1e-9);
    const double t = map.index / 24.0;
    for (double other : times) {
      EXPECT_LE(std::abs(map.source_time_s - t), std::abs(other - t) + 1e-9);
    }
  }
  while (auto frame = reader->Next()) {
    EXPECT_EQ(
        Packed(frame->rgb),
        CliFrame(cli, 640, 360, reader->Mapping()[frame->index].source_index));
  }
}
#endif

TEST(VideoReader, ConstantRateClipMapsOneToOne) {
  auto reader = VideoReader::Open(OrbitClip());
  EXPECT_EQ(reader->Cfr().duplicated, 0);
  EXPECT_EQ(reader->Cfr().dropped, 0);
  for (const FrameMapping& map : reader->Mapping()) {
    EXPECT_EQ(map.source_index, map.index);
    EXPECT_DOUBLE_EQ(map.timestamp_s, map.index / 24.0);
    EXPECT_EQ(map.source_pts, map.index * 512);  // time base 1/12288
  }
}

}  // namespace
}  // namespace vanelia
