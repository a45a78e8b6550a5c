// Frames spread evenly over a track, decoded once for every stage of a run
// that looks at the plate's content (the light, the environment map).
#pragma once

#include "vanelia/decode/frame.hpp"
#include "vanelia/trackfile/camera_track.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vanelia {

// The last sample decoded, kept for the next stage that asks for the same
// one. Seeking to frames spread over a clip costs about one decoding pass of
// it (every seek decodes from the keyframe before), so two stages sharing a
// sample halve that.
class FrameSample {
 public:
  // `count` frames spread evenly over `track`'s frames (the first and the
  // last included), at most `max_width` pixels wide; frames past the clip's
  // end are left out. Decoded on the first call; a later call with the same
  // video, frame indices and width returns the same frames without decoding.
  // Throws InputError / DecodeError as VideoReader.
  const std::vector<Frame>& Spread(const std::string& video,
                                   const CameraTrack& track,
                                   int count,
                                   int max_width);

  // How many times Spread decoded (for tests).
  int Decodes() const { return decodes_; }

 private:
  std::string video_;
  std::vector<int64_t> indices_;
  int max_width_ = 0;
  std::vector<Frame> frames_;
  int decodes_ = 0;
};

}  // namespace vanelia
