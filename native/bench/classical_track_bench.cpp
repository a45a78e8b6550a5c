// Frames per second of decode + track + solve with the classical tracker.
//
//   build/bin/classical_track_bench [--repetitions N] [--threads T]
//       CLIP.mp4 [CLIP.mp4 ...]
//
// Each clip is decoded by the VideoReader while the tracker runs (the CLI's
// path), N times after one warm-up; one JSON line per clip with min / median
// / max seconds, frames/s at the median, and the solve's own figures. The
// sanity check: every frame registered and a mean reprojection error below
// 1 px. Accuracy against ground truth is scored separately with
// ../shared/tools/eval_track.py on `vanelia track` output (see README.md).
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/track/classical/classical_tracker.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_harness.hpp"

namespace {

vanelia::TrackResult TrackClip(const std::string& path, int threads) {
  vanelia::ReadOptions read;
  read.threads = threads;
  auto reader = vanelia::VideoReader::Open(path, read);
  vanelia::ClassicalTrackerOptions options;
  options.num_threads = threads;
  vanelia::ClassicalTracker tracker(options);
  vanelia::FrameFeedInfo info;
  info.width = reader->OutputWidth();
  info.height = reader->OutputHeight();
  info.expected_frames = static_cast<int64_t>(reader->SelectedIndices().size());
  info.fps = reader->Info().fps;
  return tracker.Track(
      [&reader](vanelia::Frame* frame) { return reader->Next(frame); },
      info,
      nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  int repetitions = 3;
  int threads = 2;
  std::vector<std::string> clips;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--repetitions" && i + 1 < argc) {
      repetitions = std::atoi(argv[++i]);
    } else if (arg == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else {
      clips.push_back(arg);
    }
  }
  if (clips.empty()) {
    std::fprintf(stderr,
                 "usage: classical_track_bench [--repetitions N] "
                 "[--threads T] CLIP.mp4 ...\n");
    return 2;
  }
  for (const std::string& clip : clips) {
    vanelia::TrackResult result;
    const vanelia::bench::Timing timing = vanelia::bench::Measure(
        [&]() { result = TrackClip(clip, threads); }, repetitions, 1);
    const vanelia::TrackSummary& s = result.summary;
    const bool sane = s.registered == s.total && s.total > 0 &&
                      s.reproj_err_px && *s.reproj_err_px < 1.0;
    vanelia::bench::Report(
        "classical_track " + clip,
        timing,
        {{"frames", static_cast<double>(s.total)},
         {"frames_per_s",
          timing.median_s > 0.0 ? s.total / timing.median_s : 0.0},
         {"registered", static_cast<double>(s.registered)},
         {"width", static_cast<double>(result.track.width)},
         {"height", static_cast<double>(result.track.height)},
         {"reproj_err_px", s.reproj_err_px.value_or(-1.0)},
         {"focal_px", s.focal_px.value_or(-1.0)},
         {"threads", static_cast<double>(threads)}},
        sane);
  }
  return 0;
}
