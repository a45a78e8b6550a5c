// Decoded frames and what is known about the stream they come from. The
// types every consumer of footage sees (trackers, the CLI, the bindings);
// they do not depend on FFmpeg.
#pragma once

#include "vanelia/core/image.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vanelia {

// An exact rational number (frame rates: 30000/1001).
struct Rational {
  int64_t num = 0;
  int64_t den = 1;

  double ToDouble() const {
    return den != 0 ? static_cast<double>(num) / static_cast<double>(den) : 0.0;
  }
};

// One decoded frame in presentation order.
struct Frame {
  int64_t index = 0;         // 0-based decoded frame number (CFR-mapped)
  double timestamp_s = 0.0;  // presentation time of this frame, seconds
  Image rgb;                 // upright RGB, possibly resized on the way out
  // Optional ignore mask (mask_source.hpp): empty, or one channel of rgb's
  // size, 255 = keep out of the solve (a moving thing), 0 = use.
  Image mask;
};

struct VideoInfo {
  std::string path;
  int width = 0;        // upright, after display rotation, pixels
  int height = 0;       // upright, pixels
  int coded_width = 0;  // as stored in the stream
  int coded_height = 0;
  int rotation_deg = 0;     // display rotation applied: 0, 90, 180, 270
  Rational fps;             // stream frame rate (average rate for VFR)
  int64_t frame_count = 0;  // decoded frames (after the CFR mapping)
  double duration_s = 0.0;
  std::string codec;  // "h264", "hevc", "png", ...
  Rational pixel_aspect{1, 1};
  std::string color_range;      // "tv", "pc", "unknown"
  std::string color_primaries;  // "bt709", ...
  bool has_audio = false;
  bool is_vfr = false;  // variable frame rate detected
  bool is_image_sequence = false;
  // Added by the decode module (all optional to fill for other producers):
  int64_t source_frame_count = 0;  // frames in the source, before CFR mapping
  std::string pixel_format;        // "yuv420p", "rgb24", ...
  std::string color_space;         // matrix: "bt709", "bt470bg", "unknown"
  std::string audio_codec;         // "aac", ... ("" when has_audio is false)
  // An image sequence given as a printf pattern ("frames/%04d.png"): the
  // numbers of its first and last files, and the numbers missing between
  // them as inclusive ranges. Frame k is the k-th existing file in numeric
  // order (FrameMapping::source_index = its number). Zero and empty for
  // videos and folders (numbered = false).
  bool numbered = false;
  int64_t first_number = 0;
  int64_t last_number = 0;
  std::vector<std::pair<int64_t, int64_t>> missing_numbers;
};

}  // namespace vanelia
