// The plate proxy: an upright, constant-rate, lossless copy of a clip that
// Blender's movie clip cannot show as it is (a phone's rotation metadata, a
// variable frame rate), made with FFmpeg's libraries in this process: no
// `ffmpeg` executable. It is what encode/proxy.py's make_proxy ran two
// ffmpeg processes for, and gives the same pixels.
//
// Frames. The first video stream is decoded in presentation order. Output
// frame k (as many as the source has frames) at k / fps shows the source
// frame whose time is nearest, ties going to the earlier (the CFR rule of
// src/decode/cfr_mapping.cpp). fps: the source's rate as ProbeMedia gives it
// (for a VFR clip (n - 1) / (t_last - t_first)), or `fps` when set.
// Upright. The display rotation (DisplayRotationDeg: 90, 180, 270 clockwise,
// as the ffmpeg CLI's autorotation applies it) turns the decoded planes
// exactly: transposes and flips of each plane, no RGB round trip; 4:2:0
// stays 4:2:0. A format whose chroma cannot be transposed exactly (4:2:2)
// is converted first.
// Output. 8-bit 4:2:0 (yuv420p), or 4:4:4 (yuv444p) when the upright size is
// odd, converted with swscale (bicubic, the CLI's default) where the decoded
// format or range differs (a full-range clip becomes limited range);
// libx264 qp 0 (lossless), preset veryfast, Matroska, tagged bt709
// (primaries, transfer, matrix) when the source's matrix is bt709.
//
// The file is written as `output_path` + ".tmp.mkv" and renamed into place;
// on any failure nothing is left. Errors: bad options InputError naming the
// field; an unreadable source DecodeError naming the file; an unwritable
// output Error naming it; the progress callback returning false: Cancelled.
#pragma once

#include "vanelia/core/progress.hpp"
#include "vanelia/decode/frame.hpp"

#include <cstdint>
#include <string>

namespace vanelia {

struct PlateProxyOptions {
  std::string source_path;  // the clip (first video stream)
  std::string output_path;  // the proxy written (Matroska)
  Rational fps{0, 1};       // output rate; 0/1 = the source's (see above)
  int threads = 0;          // decoder/encoder threads; 0 = libav's choice

  // Throws InputError naming the field, its value and the rule.
  void Check() const;
};

struct PlateProxyResult {
  int width = 0;  // upright, pixels
  int height = 0;
  int rotation_deg = 0;      // the rotation applied, clockwise
  Rational fps;              // the output's rate
  int64_t frames = 0;        // output frames
  int64_t duplicated = 0;    // output frames showing the previous one's source
  int64_t dropped = 0;       // source frames shown by no output frame
  std::string pixel_format;  // yuv420p or yuv444p
};

PlateProxyResult MakePlateProxy(const PlateProxyOptions& options,
                                const ProgressCallback& progress = {});

}  // namespace vanelia
