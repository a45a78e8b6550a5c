// Frames spread over a track, decoded once per run (frame_sample.hpp).
#include "vanelia/pipeline/frame_sample.hpp"

#include "vanelia/decode/video_reader.hpp"

#include <algorithm>
#include <utility>

namespace vanelia {

const std::vector<Frame>& FrameSample::Spread(const std::string& video,
                                              const CameraTrack& track,
                                              int count,
                                              int max_width) {
  const size_t n = track.frames.size();
  const size_t wanted =
      std::min<size_t>(n, static_cast<size_t>(std::max(count, 0)));
  std::vector<int64_t> indices;
  for (size_t s = 0; s < wanted; ++s) {
    const size_t j = wanted == 1 ? 0 : s * (n - 1) / (wanted - 1);
    indices.push_back(track.frames[j].index);
  }
  if (decodes_ > 0 && video == video_ && max_width == max_width_ &&
      indices == indices_) {
    return frames_;
  }
  ReadOptions read;
  read.max_width = max_width;
  const auto reader = VideoReader::Open(video, read);
  std::vector<Frame> frames;
  for (const int64_t index : indices) {
    if (index >= reader->Info().frame_count) continue;
    frames.push_back(reader->Read(index));
  }
  frames_ = std::move(frames);
  video_ = video;
  indices_ = std::move(indices);
  max_width_ = max_width;
  ++decodes_;
  return frames_;
}

}  // namespace vanelia
