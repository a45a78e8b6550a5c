// The motion blur of a run (motion_blur_stage.hpp).
#include "vanelia/pipeline/motion_blur_stage.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/floor/alignment.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

namespace vanelia {

void MotionBlurStageOptions::Check() const {
  estimate.Check();
  if (max_width < 64) {
    throw InputError("MotionBlurStageOptions::max_width = " +
                     std::to_string(max_width) + "; must be >= 64");
  }
}

ShutterEstimate EstimateTrackShutter(const std::string& video,
                                     const std::string& track_path,
                                     const MotionBlurStageOptions& options) {
  options.Check();
  const TrackFile file = ReadTrackFile(track_path);
  if (file.world != TrackWorld::kBlender) {
    throw InputError("track '" + track_path +
                     "': world is not \"blender\"; the motion blur needs "
                     "the floor at z = 0 (align it first: vanelia align)");
  }
  const CameraTrack track = CameraTrackOf(file);
  ReadOptions read;
  read.max_width = options.max_width;
  const auto reader = VideoReader::Open(video, read);
  std::vector<Frame> frames;
  for (const size_t p : FastFramePositions(track, options.estimate)) {
    const int64_t index = track.frames[p].index;
    if (index >= reader->Info().frame_count) continue;
    frames.push_back(reader->Read(index));
  }
  return EstimateShutter(track, frames, options.estimate);
}

double ParseMotionBlur(const std::string& text) {
  if (text == "auto") return -1.0;
  if (text == "off") return 0.0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() ||
      !std::isfinite(value) || value <= 0.0 || value > 1.0) {
    throw InputError("--motion-blur '" + text +
                     "': must be auto, off or a shutter in frames, "
                     "0 < SHUTTER <= 1 (0.5 = 180 degrees)");
  }
  return value;
}

PipelineOptions WithMotionBlur(const PipelineOptions& options,
                               const std::string& track_path,
                               RunReporter* reporter) {
  const double given = ParseMotionBlur(options.motion_blur);
  if (given == 0.0 || options.preview || options.shutter_frames) {
    return options;
  }
  PipelineOptions blurred = options;
  if (given > 0.0) {
    blurred.shutter_frames = given;
    return blurred;
  }
  const MotionBlurStageOptions stage;
  try {
    const ShutterEstimate estimate =
        EstimateTrackShutter(options.video, track_path, stage);
    blurred.shutter_frames = estimate.shutter_frames;
    reporter->Log("motion blur: " + DescribeShutter(estimate));
  } catch (const InputError& error) {  // DecodeError included
    blurred.shutter_frames = stage.estimate.default_shutter;
    reporter->Log(std::string("motion blur: not estimated (") + error.what() +
                  "); shutter 0.5 frame (180 deg)");
  }
  return blurred;
}

}  // namespace vanelia
