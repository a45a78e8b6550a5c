#include "test_clips.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include <unistd.h>

namespace vanelia::testing {

namespace fs = std::filesystem;

std::string SourceDir() {
  return VANELIA_SOURCE_DIR;
}

std::string ClipDir() {
  const std::string dir = std::string(VANELIA_BINARY_DIR) + "/test_clips/video";
  fs::create_directories(dir);
  return dir;
}

void RunCommand(const std::string& command) {
  const int status = std::system(command.c_str());
  if (status != 0) {
    throw std::runtime_error("command failed (" + std::to_string(status) +
                             "): " + command);
  }
}

std::string MakeClip(const std::string& stem,
                     const std::string& ext,
                     const std::string& args) {
  std::ostringstream name;
  name << ClipDir() << "/" << stem << "_" << std::hex
       << (std::hash<std::string>()(args) & 0xffffffffu) << ext;
  const std::string path = name.str();
  if (fs::exists(path)) return path;
  // Write to a private name, then rename: parallel tests may race here.
  const std::string tmp = path + ".tmp" + std::to_string(::getpid()) + ext;
  RunCommand("ffmpeg -nostdin -v error -y " + args + " '" + tmp + "'");
  fs::rename(tmp, path);
  return path;
}

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(file),
          std::istreambuf_iterator<char>()};
}

std::vector<uint8_t> CliDecodeRgb(const std::string& path,
                                  const std::string& filters,
                                  const std::string& extra_input) {
  const std::string out =
      ClipDir() + "/cli_" + std::to_string(::getpid()) + "_" +
      std::to_string(std::hash<std::string>()(path + filters + extra_input) &
                     0xffffffu) +
      ".rgb";
  RunCommand("ffmpeg -nostdin -v error -y " + extra_input + " -i '" + path +
             "' -sws_flags bilinear+full_chroma_int " +
             (filters.empty() ? "" : "-vf '" + filters + "' ") +
             "-vsync passthrough -f rawvideo -pix_fmt rgb24 '" + out + "'");
  std::vector<uint8_t> bytes = ReadBytes(out);
  fs::remove(out);
  return bytes;
}

std::string H264BframesClip() {
  return MakeClip("h264_bframes",
                  ".mp4",
                  "-f lavfi -i testsrc2=size=320x240:rate=24 "
                  "-f lavfi -i sine=frequency=440:sample_rate=48000 "
                  "-frames:v 48 -t 2 -c:v libx264 -preset veryfast "
                  "-x264-params bframes=3:keyint=12:min-keyint=12:scenecut=0 "
                  "-pix_fmt yuv420p -c:a aac -shortest");
}

std::string HevcClip() {
  return MakeClip("hevc",
                  ".mp4",
                  "-f lavfi -i testsrc2=size=320x240:rate=30 -frames:v 30 "
                  "-c:v libx265 -preset ultrafast "
                  "-x265-params log-level=error:keyint=10 -pix_fmt yuv420p "
                  "-tag:v hvc1");
}

std::string PortraitClip(int rotate_tag) {
  // ffmpeg 5.1 writes the display matrix only when stream-copying: encode,
  // then remux with the tag.
  const std::string coded =
      MakeClip("portrait_coded",
               ".mp4",
               "-f lavfi -i testsrc2=size=320x176:rate=24 -frames:v 12 "
               "-c:v libx264 -preset veryfast -pix_fmt yuv420p");
  return MakeClip("portrait_" + std::to_string(rotate_tag),
                  ".mp4",
                  "-i '" + coded + "' -c copy -metadata:s:v rotate=" +
                      std::to_string(rotate_tag));
}

std::string VfrClip() {
  return MakeClip("vfr",
                  ".mp4",
                  "-f lavfi -i testsrc2=size=160x120:rate=24 -frames:v 24 "
                  "-vf setpts='(N+max(N-12\\,0))/24/TB' -vsync vfr "
                  "-c:v libx264 -preset veryfast -pix_fmt yuv420p");
}

std::string AudioOnlyClip() {
  return MakeClip("audio_only",
                  ".m4a",
                  "-f lavfi -i sine=frequency=440:sample_rate=48000 -t 1 "
                  "-c:a aac");
}

}  // namespace vanelia::testing
