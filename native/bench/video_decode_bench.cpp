// Decode + RGB conversion throughput of VideoReader, frames/s:
//   - the 640x360 H.264 clips (tests/data/footage/orbit, and
//     ../shared/footage/{orbit,dolly_pan} when present),
//   - 1080p H.264 and HEVC clips made here with the ffmpeg CLI (the orbit
//     clip upscaled with light temporal noise, so the bitrate is that of
//     real footage, about 10-20 Mbit/s), decoded at full size,
//   - the 1080p H.264 clip downscaled to 512 wide on the way out.
// Usage: build/bin/video_decode_bench [--threads N] [--repetitions R]
// Each line is the harness's JSON; "fps" = frames / median wall seconds,
// "fps_per_cpu_s" = frames / median CPU seconds of all threads (what one
// core would do; less sensitive to a shared machine's load). The
// sanity check: every pass yields the clip's frame count at the expected
// size, and the pixel checksum is the same in every pass.
#include "vanelia/decode/video_reader.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_harness.hpp"

namespace {

namespace fs = std::filesystem;

std::string MakeClip(const std::string& name, const std::string& args) {
  const std::string dir = std::string(VANELIA_BINARY_DIR) + "/bench_clips";
  fs::create_directories(dir);
  const std::string path = dir + "/" + name;
  if (fs::exists(path)) return path;
  const std::string tmp = dir + "/tmp_" + name;
  const std::string command =
      "ffmpeg -nostdin -v error -y " + args + " '" + tmp + "'";
  std::fprintf(stderr, "making %s\n", path.c_str());
  if (std::system(command.c_str()) != 0) {
    std::fprintf(stderr, "failed: %s\n", command.c_str());
    std::exit(1);
  }
  fs::rename(tmp, path);
  return path;
}

struct Pass {
  int64_t frames = 0;
  uint64_t checksum = 0;
  int width = 0;
  int height = 0;
};

Pass DecodeAll(const std::string& path, const vanelia::ReadOptions& options) {
  auto reader = vanelia::VideoReader::Open(path, options);
  Pass pass;
  vanelia::Frame frame;
  while (reader->Next(&frame)) {
    ++pass.frames;
    pass.width = frame.rgb.width;
    pass.height = frame.rgb.height;
    // Sample a few bytes per frame: cheap, but catches wrong frames.
    const auto& data = frame.rgb.data;
    for (size_t i = 0; i < data.size(); i += 4099) {
      pass.checksum = pass.checksum * 1099511628211ull + data[i];
    }
  }
  return pass;
}

void Bench(const std::string& name,
           const std::string& path,
           const vanelia::ReadOptions& options,
           int repetitions,
           int expected_width) {
  const Pass reference = DecodeAll(path, options);
  const int64_t expected_frames =
      vanelia::VideoReader::Open(path)->Info().frame_count;
  bool sane = reference.frames == expected_frames && reference.frames > 0 &&
              reference.width == expected_width;
  std::vector<double> cpu_seconds;
  const vanelia::bench::Timing timing = vanelia::bench::Measure(
      [&] {
        const std::clock_t cpu_start = std::clock();
        const Pass pass = DecodeAll(path, options);
        cpu_seconds.push_back(static_cast<double>(std::clock() - cpu_start) /
                              CLOCKS_PER_SEC);
        sane = sane && pass.frames == reference.frames &&
               pass.checksum == reference.checksum;
      },
      repetitions,
      /*warmup=*/0);
  std::sort(cpu_seconds.begin(), cpu_seconds.end());
  const double cpu_s = cpu_seconds[cpu_seconds.size() / 2];
  vanelia::bench::Report(name,
                         timing,
                         {{"frames", static_cast<double>(reference.frames)},
                          {"width", static_cast<double>(reference.width)},
                          {"height", static_cast<double>(reference.height)},
                          {"threads", static_cast<double>(options.threads)},
                          {"fps", reference.frames / timing.median_s},
                          {"fps_best", reference.frames / timing.min_s},
                          {"cpu_s", cpu_s},
                          {"fps_per_cpu_s", reference.frames / cpu_s}},
                         sane);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  int repetitions = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--threads") threads = std::atoi(argv[i + 1]);
    if (flag == "--repetitions") repetitions = std::atoi(argv[i + 1]);
  }
  vanelia::SetLibavLogQuiet(true);
  const std::string orbit =
      std::string(VANELIA_SOURCE_DIR) + "/tests/data/footage/orbit/video.mp4";
  const std::string source =
      "-i '" + orbit +
      "' -vf scale=1920:1080:flags=bicubic,noise=alls=4:allf=t "
      "-pix_fmt yuv420p ";
  const std::string h264 =
      MakeClip("orbit_1080p_h264.mp4",
               source + "-c:v libx264 -preset medium -crf 20 -bf 3");
  const std::string hevc = MakeClip(
      "orbit_1080p_hevc.mp4",
      source +
          "-c:v libx265 -preset fast -crf 22 -x265-params log-level=error "
          "-tag:v hvc1");

  vanelia::ReadOptions options;
  options.threads = threads;
  Bench("video_decode/640x360_h264/orbit", orbit, options, repetitions, 640);
  for (const char* clip : {"orbit", "dolly_pan"}) {
    const std::string shared = std::string(VANELIA_SOURCE_DIR) +
                               "/../shared/footage/" + clip + "/video.mp4";
    if (fs::exists(shared)) {
      Bench(std::string("video_decode/640x360_h264/shared_") + clip,
            shared,
            options,
            repetitions,
            640);
    }
  }
  Bench("video_decode/1080p_h264", h264, options, repetitions, 1920);
  Bench("video_decode/1080p_hevc", hevc, options, repetitions, 1920);
  vanelia::ReadOptions small = options;
  small.max_width = 512;
  Bench("video_decode/1080p_h264_to_512w", h264, small, repetitions, 512);
  return 0;
}
