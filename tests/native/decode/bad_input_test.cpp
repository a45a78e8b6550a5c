// Bad input: every case is a DecodeError (an InputError) whose message names
// the file and carries libav's text; nothing crashes.
#include "vanelia/core/error.hpp"
#include "vanelia/decode/video_reader.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_clips.hpp"

namespace vanelia {
namespace {

namespace fs = std::filesystem;

std::string Scratch(const std::string& name) {
  const std::string dir = testing::ClipDir() + "/bad_input";
  fs::create_directories(dir);
  return dir + "/" + name;
}

// Opens `path`, expects a DecodeError naming it and containing `text`.
void ExpectDecodeError(const std::string& path, const std::string& text) {
  try {
    auto reader = VideoReader::Open(path);
    // Some damage only shows while decoding: read everything.
    while (reader->Next()) {
    }
    ADD_FAILURE() << "no error for " << path;
  } catch (const DecodeError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(text), std::string::npos) << message;
  }
}

TEST(VideoReaderBadInput, MissingFile) {
  ExpectDecodeError(Scratch("does_not_exist.mp4"), "No such file or directory");
}

TEST(VideoReaderBadInput, TextFileNamedMp4) {
  const std::string path = Scratch("text.mp4");
  std::ofstream(path) << "This is not a video, only some text.\n";
  ExpectDecodeError(path, "Invalid data found when processing input");
}

TEST(VideoReaderBadInput, ZeroLengthFile) {
  const std::string path = Scratch("empty.mp4");
  std::ofstream(path).close();
  ExpectDecodeError(path, "Invalid data found when processing input");
}

TEST(VideoReaderBadInput, TruncatedMp4) {
  // The moov atom is at the end (no faststart): cutting the file loses it.
  const std::vector<uint8_t> bytes =
      testing::ReadBytes(testing::H264BframesClip());
  const std::string path = Scratch("truncated.mp4");
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size() / 2));
  ExpectDecodeError(path, "Invalid data found when processing input");
}

TEST(VideoReaderBadInput, TruncatedFaststartMp4) {
  // The moov atom first: the index survives, the frames it lists do not.
  const std::string source = testing::MakeClip(
      "faststart",
      ".mp4",
      "-f lavfi -i testsrc2=size=320x240:rate=24 -frames:v 48 -c:v libx264 "
      "-preset veryfast -pix_fmt yuv420p -movflags +faststart");
  const std::vector<uint8_t> bytes = testing::ReadBytes(source);
  const std::string path = Scratch("truncated_faststart.mp4");
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size() / 2));
  ExpectDecodeError(path, "truncated");
}

TEST(VideoReaderBadInput, AudioOnlyFile) {
  ExpectDecodeError(testing::AudioOnlyClip(), "Stream not found");
}

TEST(VideoReaderBadInput, DirectoryWithoutImages) {
  const std::string path = Scratch("empty_dir");
  fs::create_directories(path);
  ExpectDecodeError(path, "Is a directory");
}

TEST(VideoReaderBadInput, IsAnInputError) {
  // The CLI maps InputError to exit code 2.
  EXPECT_THROW(VideoReader::Open(Scratch("missing.mov")), InputError);
}

}  // namespace
}  // namespace vanelia
