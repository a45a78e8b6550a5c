// MediaProbe: what the render and the encode need to know about a video file,
// read with libavformat alone (demuxed, nothing decoded): the fields the
// add-on's core/media.py took from the `ffprobe` executable (`-show_streams`
// plus every video packet's pts), so that probing needs no external program.
//
// - Sizes are upright (the display rotation applied), as in VideoInfo.
// - Colour tags are FFmpeg's names, the ones ffprobe prints
//   (av_color_*_name: "bt709", "arib-std-b67", "bt2020nc", "tv", ...), and ""
//   when the stream leaves a tag unspecified, unknown or reserved.
// - frame_count is the number of video packets the decoder shows (packets the
//   container marks as discarded, outside an edit list, do not count), and
//   pts_s their presentation times in seconds, sorted, relative to the first.
// - VFR rule (the same as VideoReader): a frame's duration differs from the
//   median duration by more than max(1 time-base tick, 2 %).
// - fps (exact, as core/media.py computed it from ffprobe's output): the
//   stream's avg_frame_rate; for a VFR clip, or when the container gives no
//   average, (n - 1) / (t_last - t_first); else r_frame_rate, else 24/1. It
//   is the source's rate: VideoReader's CFR mapping also snaps VFR averages
//   to standard rates, this does not.
//
// Bad input throws DecodeError naming the file with av_strerror's text. A
// build without FFmpeg throws DecodeError saying so.
#pragma once

#include "vanelia/decode/frame.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vanelia {

struct MediaProbe {
  std::string path;
  std::string container;  // libavformat's demuxer names, "mov,mp4,m4a,..."
  int width = 0;          // upright, pixels
  int height = 0;         // upright, pixels
  int coded_width = 0;    // as stored, pixels
  int coded_height = 0;
  int rotation_deg = 0;      // clockwise display rotation: 0, 90, 180, 270
  Rational fps{24, 1};       // frames/s, see the rule above
  Rational time_base{1, 1};  // of the video stream's pts, seconds
  int64_t frame_count = 0;   // video packets (frames) in the stream
  double duration_s = 0.0;   // frame_count / fps
  bool is_vfr = false;
  std::vector<double> pts_s;    // sorted, seconds, the first = 0
  Rational pixel_aspect{1, 1};  // sample aspect ratio, x / y
  std::string codec;            // "h264", "hevc", ...
  int64_t bit_rate = 0;         // of the video stream, bits/s (0 = unknown)
  std::string pixel_format;     // "yuv420p", "yuv420p10le", ...
  std::string color_primaries;  // "bt709", "bt2020", "" = unspecified
  std::string color_transfer;   // "bt709", "arib-std-b67", "smpte2084", ""
  std::string color_space;      // the YUV matrix: "bt709", "bt2020nc", ""
  std::string color_range;      // "tv" (limited), "pc" (full), ""
  bool has_audio = false;
  std::string audio_codec;    // of the first audio stream ("" without audio)
  int audio_sample_rate = 0;  // Hz
  int audio_channels = 0;
};

// Reads `path`'s streams and every video packet. Throws DecodeError.
MediaProbe ProbeMedia(const std::string& path);

}  // namespace vanelia
