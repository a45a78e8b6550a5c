// Image sequences through the VideoReader interface: PPM/PGM written here
// (read without FFmpeg), and with FFmpeg a PNG folder made by the CLI
// compared with the CLI's raw RGB of the same source.
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/decode/video_reader.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <unistd.h>

namespace vanelia {
namespace {

namespace fs = std::filesystem;

std::string FreshDir(const std::string& name) {
  const std::string dir = std::string(VANELIA_BINARY_DIR) +
                          "/test_clips/video/seq_" + name + "_" +
                          std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A width x height image whose pixels encode (x, y, id).
Image Pattern(int width, int height, int id) {
  Image image = Image::Create(width, height, 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      image.At(x, y, 0) = static_cast<uint8_t>(x * 7 + id);
      image.At(x, y, 1) = static_cast<uint8_t>(y * 5 + id * 3);
      image.At(x, y, 2) = static_cast<uint8_t>(id * 40);
    }
  }
  return image;
}

void WritePpm(const std::string& path, const Image& image, bool grey = false) {
  std::ofstream file(path, std::ios::binary);
  file << (grey ? "P5" : "P6") << "\n# made by the test\n"
       << image.width << " " << image.height << "\n255\n";
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      if (grey) {
        file.put(static_cast<char>(image.At(x, y, 0)));
      } else {
        for (int c = 0; c < 3; ++c)
          file.put(static_cast<char>(image.At(x, y, c)));
      }
    }
  }
}

bool SameImage(const Image& a, const Image& b) {
  if (a.width != b.width || a.height != b.height) return false;
  for (int y = 0; y < a.height; ++y) {
    for (int x = 0; x < a.width * 3; ++x) {
      if (a.Row(y)[x] != b.Row(y)[x]) return false;
    }
  }
  return true;
}

TEST(ImageSequence, FolderInNaturalOrder) {
  const std::string dir = FreshDir("natural");
  const std::vector<int> numbers = {10, 2, 1, 33, 3};
  for (int number : numbers) {
    WritePpm(dir + "/frame_" + std::to_string(number) + ".ppm",
             Pattern(24, 16, number));
  }
  std::ofstream(dir + "/notes.txt") << "not an image";
  ReadOptions options;
  options.sequence_fps = {25, 1};
  auto reader = VideoReader::Open(dir, options);
  const VideoInfo& info = reader->Info();
  EXPECT_TRUE(info.is_image_sequence);
  EXPECT_EQ(info.frame_count, 5);
  EXPECT_EQ(info.width, 24);
  EXPECT_EQ(info.height, 16);
  EXPECT_EQ(info.fps.num, 25);
  EXPECT_DOUBLE_EQ(info.duration_s, 0.2);
  const std::vector<int> order = {1, 2, 3, 10, 33};
  int64_t k = 0;
  while (auto frame = reader->Next()) {
    EXPECT_EQ(frame->index, k);
    EXPECT_DOUBLE_EQ(frame->timestamp_s, k / 25.0);
    EXPECT_TRUE(SameImage(frame->rgb, Pattern(24, 16, order[k])))
        << "frame " << k;
    ++k;
  }
  EXPECT_EQ(k, 5);
  EXPECT_TRUE(SameImage(reader->Read(1).rgb, Pattern(24, 16, 2)));
}

TEST(ImageSequence, PrintfPatternSelectionAndResize) {
  const std::string dir = FreshDir("pattern");
  for (int number = 1; number <= 9; ++number) {
    char name[32];
    std::snprintf(name, sizeof(name), "/%03d.ppm", number);
    WritePpm(dir + name, Pattern(40, 20, number));
  }
  ReadOptions options;
  options.start = 2;
  options.every = 3;
  auto reader = VideoReader::Open(dir + "/%03d.ppm", options);
  EXPECT_EQ(reader->Info().frame_count, 9);
  std::vector<int64_t> indices;
  while (auto frame = reader->Next()) {
    indices.push_back(frame->index);
    EXPECT_TRUE(SameImage(frame->rgb,
                          Pattern(40, 20, static_cast<int>(frame->index) + 1)));
  }
  EXPECT_EQ(indices, (std::vector<int64_t>{2, 5, 8}));

  ReadOptions small;
  small.max_width = 20;
  auto resized = VideoReader::Open(dir + "/%03d.ppm", small);
  const Frame frame = resized->Read(0);
  EXPECT_EQ(frame.rgb.width, 20);
  EXPECT_EQ(frame.rgb.height, 10);
  // A 2:1 bilinear downscale averages pixel pairs: blue is constant.
  EXPECT_EQ(frame.rgb.At(5, 5, 2), 40);
}

TEST(ImageSequence, PatternReadsEveryNumberAndReportsTheGaps) {
  // Frames 3, 4, 7, 10-11 and 100: a gap after 4 used to end the sequence
  // (the pattern stopped at the first missing number). 12.ppm is not
  // "%03d" (the format writes 012) and notes.txt is not an image of it.
  const std::string dir = FreshDir("gaps");
  const std::vector<int> numbers = {3, 4, 7, 10, 11, 100};
  for (int number : numbers) {
    char name[32];
    std::snprintf(name, sizeof(name), "/f%03d.ppm", number);
    WritePpm(dir + name, Pattern(16, 8, number));
  }
  WritePpm(dir + "/f12.ppm", Pattern(16, 8, 12));
  std::ofstream(dir + "/f005.txt") << "not a frame";
  auto reader = VideoReader::Open(dir + "/f%03d.ppm");
  const VideoInfo& info = reader->Info();
  EXPECT_EQ(info.frame_count, 6);
  EXPECT_TRUE(info.numbered);
  EXPECT_EQ(info.first_number, 3);
  EXPECT_EQ(info.last_number, 100);
  const std::vector<std::pair<int64_t, int64_t>> missing = {
      {5, 6}, {8, 9}, {12, 99}};
  EXPECT_EQ(info.missing_numbers, missing);
  for (size_t k = 0; k < numbers.size(); ++k) {
    EXPECT_EQ(reader->Mapping()[k].source_index, numbers[k]);
    const Frame frame = reader->Read(static_cast<int64_t>(k));
    EXPECT_EQ(frame.index, static_cast<int64_t>(k));
    EXPECT_TRUE(SameImage(frame.rgb, Pattern(16, 8, numbers[k]))) << k;
  }
  // "%d" matches the unpadded name only; a folder has no numbering.
  auto plain = VideoReader::Open(dir + "/f%d.ppm");
  EXPECT_EQ(plain->Info().frame_count, 2);  // f12.ppm and f100 -> f100.ppm
  EXPECT_EQ(plain->Mapping()[0].source_index, 12);
  EXPECT_FALSE(VideoReader::Open(dir)->Info().numbered);
  // The number must be in the file name.
  EXPECT_THROW(VideoReader::Open(FreshDir("d") + "%02d/x.ppm"), InputError);
}

TEST(ImageSequence, GreyPgmIsReplicated) {
  const std::string dir = FreshDir("pgm");
  WritePpm(dir + "/a.pgm", Pattern(8, 8, 1), /*grey=*/true);
  const Frame frame = VideoReader::Open(dir)->Read(0);
  EXPECT_EQ(frame.rgb.At(3, 2, 0), Pattern(8, 8, 1).At(3, 2, 0));
  EXPECT_EQ(frame.rgb.At(3, 2, 1), frame.rgb.At(3, 2, 0));
  EXPECT_EQ(frame.rgb.At(3, 2, 2), frame.rgb.At(3, 2, 0));
}

TEST(ImageSequence, BadImagesAreDecodeErrors) {
  const std::string dir = FreshDir("bad");
  WritePpm(dir + "/0001.ppm", Pattern(8, 8, 1));
  WritePpm(dir + "/0002.ppm", Pattern(10, 8, 2));
  auto reader = VideoReader::Open(dir);
  reader->Next();
  try {
    reader->Next();
    ADD_FAILURE() << "no error for a size change";
  } catch (const DecodeError& error) {
    EXPECT_NE(std::string(error.what()).find("0002.ppm"), std::string::npos);
  }
  const std::string text = FreshDir("text") + "/0001.ppm";
  std::ofstream(text) << "hello";
  EXPECT_THROW(VideoReader::Open(text), DecodeError);
  EXPECT_THROW(VideoReader::Open(dir + "/%05d.ppm"), DecodeError);
}

TEST(ImageSequence, PngNeedsFfmpegOrDecodesExactly) {
  const std::string dir = FreshDir("png");
  if (!HaveFfmpeg()) {
    std::ofstream(dir + "/0001.png") << "png bytes";
    try {
      VideoReader::Open(dir);
      ADD_FAILURE() << "a PNG was read without FFmpeg";
    } catch (const DecodeError& error) {
      EXPECT_NE(std::string(error.what()).find("FFmpeg"), std::string::npos);
    }
    return;
  }
  const std::string source =
      "-f lavfi -i testsrc=size=64x48:rate=10 -frames:v 5";
  ASSERT_EQ(std::system(("ffmpeg -nostdin -v error -y " + source + " '" + dir +
                         "/%04d.png'")
                            .c_str()),
            0);
  ASSERT_EQ(std::system(("ffmpeg -nostdin -v error -y " + source +
                         " -f rawvideo -pix_fmt rgb24 '" + dir + "/raw.rgb'")
                            .c_str()),
            0);
  std::ifstream raw(dir + "/raw.rgb", std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(raw)),
                                std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), 5u * 64 * 48 * 3);
  auto reader = VideoReader::Open(dir + "/%04d.png");
  EXPECT_EQ(reader->Info().codec, "png");
  EXPECT_EQ(reader->Info().frame_count, 5);
  while (auto frame = reader->Next()) {
    const char* expected = bytes.data() + frame->index * 64 * 48 * 3;
    EXPECT_EQ(std::memcmp(frame->rgb.data.data(), expected, 64 * 48 * 3), 0)
        << "frame " << frame->index;
  }
}

}  // namespace
}  // namespace vanelia

namespace vanelia {
namespace {

TEST(ImageSequence, ContentSha256FollowsTheFilesInFrameOrder) {
  const std::string dir = FreshDir("sha");
  for (int number : {1, 2, 10}) {
    WritePpm(dir + "/f" + std::to_string(number) + ".ppm",
             Pattern(8, 6, number));
  }
  // A folder and the same files through a pattern-free listing agree; the
  // digest is of the per-file digests in natural order (f1, f2, f10).
  std::string digests;
  for (int number : {1, 2, 10}) {
    digests +=
        Sha256OfFile(dir + "/f" + std::to_string(number) + ".ppm") + "\n";
  }
  EXPECT_EQ(SourceContentSha256(dir), Sha256(digests));
  // One file: the file's own digest (as for a video).
  EXPECT_EQ(SourceContentSha256(dir + "/f2.ppm"),
            Sha256OfFile(dir + "/f2.ppm"));
  // Changing one frame changes the folder's digest.
  const std::string before = SourceContentSha256(dir);
  WritePpm(dir + "/f2.ppm", Pattern(8, 6, 99));
  EXPECT_NE(SourceContentSha256(dir), before);
  EXPECT_THROW(SourceContentSha256(dir + "/missing.ppm"), InputError);
}

}  // namespace
}  // namespace vanelia
