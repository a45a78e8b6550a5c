// Private: RAII holders for libav objects, libav error text, and the
// YUV -> RGB24 conversion (swscale) shared by the video and image sources.
#pragma once

#include "vanelia/core/image.hpp"

#include <memory>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

namespace vanelia::internal {

struct FormatContextDeleter {
  void operator()(AVFormatContext* context) const {
    avformat_close_input(&context);
  }
};

struct CodecContextDeleter {
  void operator()(AVCodecContext* context) const {
    avcodec_free_context(&context);
  }
};

struct FrameDeleter {
  void operator()(AVFrame* frame) const { av_frame_free(&frame); }
};

struct PacketDeleter {
  void operator()(AVPacket* packet) const { av_packet_free(&packet); }
};

struct SwsDeleter {
  void operator()(SwsContext* context) const { sws_freeContext(context); }
};

using FormatContextPtr = std::unique_ptr<AVFormatContext, FormatContextDeleter>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;

FramePtr MakeFrame();
PacketPtr MakePacket();

// av_strerror's text for an AVERROR code.
std::string AvErrorText(int error);

// Throws DecodeError "<what> '<path>': <context>: <av_strerror text>".
[[noreturn]] void ThrowAvError(const std::string& path,
                               const std::string& context,
                               int error);

// The swscale flags of every conversion, and the same as ffmpeg CLI flags
// (`-sws_flags bilinear+full_chroma_int`), so that tests can
// compare with the CLI byte for byte.
constexpr int kSwsFlags = SWS_BILINEAR | SWS_FULL_CHR_H_INT;
inline constexpr const char* kSwsFlagsCli = "bilinear+full_chroma_int";

// Converts decoded frames to RGB24 at a given size. Rebuilds its SwsContext
// when the source size or format changes. Colour matrix and range follow the
// frame's tags, as libavfilter's scale filter does.
class RgbConverter {
 public:
  explicit RgbConverter(int threads) : threads_(threads) {}

  // `frame` (any pixel format) -> tightly packed RGB24 width x height.
  Image Convert(const AVFrame& frame, int width, int height);

 private:
  SwsPtr sws_;
  int threads_ = 1;
  int src_width_ = 0;
  int src_height_ = 0;
  int src_format_ = -1;
  int src_colorspace_ = -1;
  int src_range_ = -1;
  int dst_width_ = 0;
  int dst_height_ = 0;
};

// Decodes the first frame of an image file with libav and returns it as RGB
// (at its own size). Throws DecodeError naming the file.
FramePtr DecodeImageFile(const std::string& path, std::string* codec_name);

// The number of decoder threads for `requested` (0 = one per core).
int ThreadCount(int requested);

// The stream's display-matrix rotation as the ffmpeg CLI applies it: a
// clockwise angle in degrees snapped to 0, 90, 180 or 270; 0 without one.
int DisplayRotationDeg(const AVStream& stream);

}  // namespace vanelia::internal
