#include "vanelia/pipeline/plate_grain.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/decode/video_reader.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace vanelia {

ImageNoise MeasurePlateGrain(const std::string& video,
                             int64_t start,
                             int64_t end,
                             int max_frames) {
  if (max_frames < 1) {
    throw InputError("MeasurePlateGrain: max_frames = " +
                     std::to_string(max_frames) + "; must be >= 1");
  }
  ReadOptions read;
  read.start = start;
  read.end = end;
  auto reader = VideoReader::Open(video, read);
  const std::vector<int64_t> indices = reader->SelectedIndices();
  std::vector<Image> frames;
  const int64_t count = static_cast<int64_t>(indices.size());
  const int64_t wanted = std::min<int64_t>(count, max_frames);
  for (int64_t k = 0; k < wanted; ++k) {
    // The middle of each of `wanted` equal parts of the selection.
    const int64_t position = (2 * k + 1) * count / (2 * wanted);
    frames.push_back(reader->Read(indices[position]).rgb);
  }
  return EstimateFramesNoise(frames);
}

PipelineOptions WithGrain(const PipelineOptions& options,
                          RunReporter* reporter) {
  if (options.grain != "auto" || options.grain_sigma || options.preview) {
    return options;
  }
  PipelineOptions grained = options;
  const ImageNoise noise =
      MeasurePlateGrain(options.video, options.start, options.end);
  char line[160];
  if (!noise.valid) {
    reporter->Message(
        "grain: not measured (no flat area in the frames looked at); none "
        "added");
    return grained;
  }
  grained.grain_sigma = noise.sigma;
  std::snprintf(line,
                sizeof(line),
                "grain: the plate's noise, sigma R/G/B %.2f/%.2f/%.2f (8-bit "
                "code values, %d frames)",
                noise.sigma[0],
                noise.sigma[1],
                noise.sigma[2],
                noise.frames_used);
  reporter->Message(line);
  return grained;
}

}  // namespace vanelia
