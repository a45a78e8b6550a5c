#include "libav_common.hpp"

#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>

#include "frame_source.hpp"

extern "C" {
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace vanelia::internal {

FramePtr MakeFrame() {
  FramePtr frame(av_frame_alloc());
  if (!frame) throw Error("av_frame_alloc: out of memory");
  return frame;
}

PacketPtr MakePacket() {
  PacketPtr packet(av_packet_alloc());
  if (!packet) throw Error("av_packet_alloc: out of memory");
  return packet;
}

std::string AvErrorText(int error) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {0};
  if (av_strerror(error, text, sizeof(text)) < 0) {
    return "libav error " + std::to_string(error);
  }
  return text;
}

void ThrowAvError(const std::string& path,
                  const std::string& context,
                  int error) {
  throw DecodeError("video '" + path + "': " + context + ": " +
                    AvErrorText(error));
}

void SetLibavLogLevel(bool quiet) {
  av_log_set_level(quiet ? AV_LOG_QUIET : AV_LOG_INFO);
}

int ThreadCount(int requested) {
  if (requested > 0) return requested;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int DisplayRotationDeg(const AVStream& stream) {
  size_t size = 0;
  const uint8_t* matrix =
      av_stream_get_side_data(&stream, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (matrix == nullptr || size < 9 * sizeof(int32_t)) return 0;
  const double angle =
      av_display_rotation_get(reinterpret_cast<const int32_t*>(matrix));
  if (std::isnan(angle)) return 0;
  int theta = static_cast<int>(std::lround(-angle));
  theta = ((theta % 360) + 360) % 360;
  return static_cast<int>(std::lround(theta / 90.0)) % 4 * 90;
}

namespace {

// Configures and initialises `*sws_ptr` for frame -> RGB24 width x height.
void InitRgbSwsContext(
    const AVFrame& frame, int width, int height, int threads, SwsPtr* sws_ptr) {
  SwsContext* sws = sws_ptr->get();
  av_opt_set_int(sws, "srcw", frame.width, 0);
  av_opt_set_int(sws, "srch", frame.height, 0);
  av_opt_set_int(sws, "src_format", frame.format, 0);
  av_opt_set_int(sws, "dstw", width, 0);
  av_opt_set_int(sws, "dsth", height, 0);
  av_opt_set_int(sws, "dst_format", AV_PIX_FMT_RGB24, 0);
  av_opt_set_int(sws, "sws_flags", kSwsFlags, 0);
  av_opt_set_int(sws, "threads", threads, 0);
  const int error = sws_init_context(sws, nullptr, nullptr);
  if (error < 0) {
    sws_ptr->reset();
    throw DecodeError(
        std::string("swscale: cannot convert ") +
        av_get_pix_fmt_name(static_cast<AVPixelFormat>(frame.format)) + " " +
        std::to_string(frame.width) + "x" + std::to_string(frame.height) +
        " to rgb24 " + std::to_string(width) + "x" + std::to_string(height) +
        ": " + AvErrorText(error));
  }
}

// Sets the colour matrix and range of `sws` from the frame's tags.
void SetColorspaceFromFrame(const AVFrame& frame, SwsContext* sws) {
  // As libavfilter's scale filter ("auto" matrix): the frame's matrix in,
  // the frame's range when tagged.
  int* inv_table = nullptr;
  int* table = nullptr;
  int src_range = 0;
  int dst_range = 0;
  int brightness = 0;
  int contrast = 0;
  int saturation = 0;
  sws_getColorspaceDetails(sws,
                           &inv_table,
                           &src_range,
                           &table,
                           &dst_range,
                           &brightness,
                           &contrast,
                           &saturation);
  const int* coefficients = sws_getCoefficients(frame.colorspace);
  if (frame.color_range != AVCOL_RANGE_UNSPECIFIED) {
    src_range = frame.color_range == AVCOL_RANGE_JPEG ? 1 : 0;
  }
  sws_setColorspaceDetails(sws,
                           coefficients,
                           src_range,
                           coefficients,
                           dst_range,
                           brightness,
                           contrast,
                           saturation);
}

// Scales `frame` with the configured `sws` into a new RGB24 Image.
Image ScaleToRgbImage(const AVFrame& frame,
                      int width,
                      int height,
                      SwsContext* sws) {
  // swscale writes straight into the Image's buffer (wrapped, not owned).
  Image image;
  image.width = width;
  image.height = height;
  image.channels = 3;
  image.stride = width * 3;
  // One spare row: swscale's SIMD writers may store a few bytes past the end.
  image.data.resize(static_cast<size_t>(image.stride) * (height + 1));
  FramePtr rgb = MakeFrame();
  rgb->format = AV_PIX_FMT_RGB24;
  rgb->width = width;
  rgb->height = height;
  rgb->data[0] = image.data.data();
  rgb->linesize[0] = image.stride;
  rgb->buf[0] = av_buffer_create(
      image.data.data(),
      image.data.size(),
      [](void* /*opaque*/, uint8_t* /*data*/) {},
      nullptr,
      0);
  if (rgb->buf[0] == nullptr) throw Error("av_buffer_create: out of memory");
  const int error = sws_scale_frame(sws, rgb.get(), &frame);
  if (error < 0) {
    throw DecodeError(std::string("swscale: conversion to rgb24 failed: ") +
                      AvErrorText(error));
  }
  image.data.resize(static_cast<size_t>(image.stride) * height);
  return image;
}

}  // namespace

Image RgbConverter::Convert(const AVFrame& frame, int width, int height) {
  const bool rebuild =
      !sws_ || frame.width != src_width_ || frame.height != src_height_ ||
      frame.format != src_format_ || frame.colorspace != src_colorspace_ ||
      frame.color_range != src_range_ || width != dst_width_ ||
      height != dst_height_;
  if (rebuild) {
    sws_.reset(sws_alloc_context());
    if (!sws_) throw Error("sws_alloc_context: out of memory");
    InitRgbSwsContext(frame, width, height, threads_, &sws_);
    SetColorspaceFromFrame(frame, sws_.get());
    src_width_ = frame.width;
    src_height_ = frame.height;
    src_format_ = frame.format;
    src_colorspace_ = frame.colorspace;
    src_range_ = frame.color_range;
    dst_width_ = width;
    dst_height_ = height;
  }
  return ScaleToRgbImage(frame, width, height, sws_.get());
}

FramePtr DecodeImageFile(const std::string& path, std::string* codec_name) {
  AVFormatContext* raw = nullptr;
  int error = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (error < 0) ThrowAvError(path, "cannot open image", error);
  FormatContextPtr format(raw);
  error = avformat_find_stream_info(format.get(), nullptr);
  if (error < 0) ThrowAvError(path, "cannot read image stream info", error);
  const AVCodec* codec = nullptr;
  const int stream =
      av_find_best_stream(format.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (stream < 0 || codec == nullptr) {
    ThrowAvError(path,
                 "no image stream",
                 stream < 0 ? stream : AVERROR_DECODER_NOT_FOUND);
  }
  CodecContextPtr decoder(avcodec_alloc_context3(codec));
  if (!decoder) throw Error("avcodec_alloc_context3: out of memory");
  error = avcodec_parameters_to_context(decoder.get(),
                                        format->streams[stream]->codecpar);
  if (error < 0) ThrowAvError(path, "bad codec parameters", error);
  error = avcodec_open2(decoder.get(), codec, nullptr);
  if (error < 0) ThrowAvError(path, "cannot open decoder", error);
  if (codec_name != nullptr) *codec_name = codec->name;
  PacketPtr packet = MakePacket();
  FramePtr frame = MakeFrame();
  bool flushed = false;
  while (true) {
    error = avcodec_receive_frame(decoder.get(), frame.get());
    if (error == 0) return frame;
    if (error != AVERROR(EAGAIN) || flushed) {
      ThrowAvError(path, "cannot decode image", error);
    }
    error = av_read_frame(format.get(), packet.get());
    if (error == AVERROR_EOF) {
      flushed = true;
      avcodec_send_packet(decoder.get(), nullptr);
      continue;
    }
    if (error < 0) ThrowAvError(path, "cannot read image", error);
    if (packet->stream_index == stream) {
      error = avcodec_send_packet(decoder.get(), packet.get());
      av_packet_unref(packet.get());
      if (error < 0 && error != AVERROR(EAGAIN)) {
        ThrowAvError(path, "cannot decode image", error);
      }
    } else {
      av_packet_unref(packet.get());
    }
  }
}

}  // namespace vanelia::internal
