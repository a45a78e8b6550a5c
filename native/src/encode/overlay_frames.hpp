// Private: the pieces of the overlay stage below the encoder: the plate's
// decoder (frames in presentation order), the render PNG decoder and swscale
// conversions with explicit matrix and range (the composite itself:
// linear_light.hpp).
#pragma once

#include <cstdint>
#include <string>

#include "libav_common.hpp"

namespace vanelia::internal {

// swscale's SWS_CS_* of a matrix name (bt601, bt709, bt2020, smpte240m,
// fcc); -1 for an unknown name.
int SwsMatrixOf(const std::string& matrix);

// Decodes a video's frames in presentation order, one at a time.
class PlateDecoder {
 public:
  PlateDecoder(const std::string& path, int threads);

  // The next decoded frame into `frame`; false at the end of the stream.
  bool Next(AVFrame* frame);

  int Width() const { return decoder_->width; }

  int Height() const { return decoder_->height; }

 private:
  std::string path_;
  FormatContextPtr format_;
  CodecContextPtr decoder_;
  PacketPtr packet_;
  int stream_index_ = -1;
  bool flushed_ = false;
};

// Decodes PNG files (one packet each) with libavcodec's PNG decoder.
class PngDecoder {
 public:
  PngDecoder();
  // The image in `path`; throws DecodeError naming the file.
  void Decode(const std::string& path, AVFrame* frame);

 private:
  CodecContextPtr decoder_;
  PacketPtr packet_;
};

// The swscale flags of the stage's conversions: the ffmpeg CLI's filter
// graph default (bicubic), so that the plate's chroma is resampled as the
// executable's `scale` filter did.
constexpr int kOverlaySwsFlags = SWS_BICUBIC;

// Converts frames to one format and size with a fixed matrix and ranges
// (sws_setColorspaceDetails); rebuilt when the source changes. A source
// already in the format, size and range is passed on as a new reference.
class FrameConverter {
 public:
  FrameConverter(AVPixelFormat format,
                 int width,
                 int height,
                 int matrix,
                 bool src_full,
                 bool dst_full);

  // `src` -> `dst` (allocated here on first use).
  void Convert(const AVFrame& src, AVFrame* dst);

 private:
  SwsPtr sws_;
  AVPixelFormat format_;
  int width_ = 0;
  int height_ = 0;
  int matrix_ = 0;
  bool src_full_ = false;
  bool dst_full_ = false;
  int src_format_ = -1;
  int src_width_ = 0;
  int src_height_ = 0;
};

}  // namespace vanelia::internal
