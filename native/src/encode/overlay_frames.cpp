// The overlay stage's frame pieces: plate decoding, PNG decoding and swscale
// conversions with explicit colour details.
#include "overlay_frames.hpp"

#include "vanelia/core/check.hpp"
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"

#include <algorithm>
#include <string>
#include <vector>

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace vanelia::internal {

int SwsMatrixOf(const std::string& matrix) {
  if (matrix == "bt601") return SWS_CS_ITU601;
  if (matrix == "bt709") return SWS_CS_ITU709;
  if (matrix == "bt2020") return SWS_CS_BT2020;
  if (matrix == "smpte240m") return SWS_CS_SMPTE240M;
  if (matrix == "fcc") return SWS_CS_FCC;
  return -1;
}

PlateDecoder::PlateDecoder(const std::string& path, int threads)
    : path_(path), packet_(MakePacket()) {
  AVFormatContext* raw = nullptr;
  int error = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (error < 0) ThrowAvError(path, "cannot open", error);
  format_.reset(raw);
  error = avformat_find_stream_info(format_.get(), nullptr);
  if (error < 0) ThrowAvError(path, "cannot read stream info", error);
  const AVCodec* codec = nullptr;
  stream_index_ =
      av_find_best_stream(format_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (stream_index_ < 0) ThrowAvError(path, "no video stream", stream_index_);
  for (unsigned i = 0; i < format_->nb_streams; ++i) {
    if (static_cast<int>(i) != stream_index_) {
      format_->streams[i]->discard = AVDISCARD_ALL;
    }
  }
  decoder_.reset(avcodec_alloc_context3(codec));
  if (!decoder_) throw Error("avcodec_alloc_context3: out of memory");
  const AVStream* stream = format_->streams[stream_index_];
  error = avcodec_parameters_to_context(decoder_.get(), stream->codecpar);
  if (error < 0) ThrowAvError(path, "bad codec parameters", error);
  decoder_->pkt_timebase = stream->time_base;
  decoder_->thread_count = threads;
  decoder_->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  error = avcodec_open2(decoder_.get(), codec, nullptr);
  if (error < 0) ThrowAvError(path, "cannot open decoder", error);
}

bool PlateDecoder::Next(AVFrame* frame) {
  while (true) {
    const int got = avcodec_receive_frame(decoder_.get(), frame);
    if (got == 0) return true;
    if (got == AVERROR_EOF) return false;
    if (got != AVERROR(EAGAIN)) ThrowAvError(path_, "cannot decode", got);
    if (flushed_) return false;
    const int read = av_read_frame(format_.get(), packet_.get());
    if (read == AVERROR_EOF) {
      flushed_ = true;
      avcodec_send_packet(decoder_.get(), nullptr);
      continue;
    }
    if (read < 0) ThrowAvError(path_, "cannot read packets", read);
    if (packet_->stream_index == stream_index_) {
      const int sent = avcodec_send_packet(decoder_.get(), packet_.get());
      if (sent < 0 && sent != AVERROR(EAGAIN)) {
        av_packet_unref(packet_.get());
        ThrowAvError(path_, "cannot decode", sent);
      }
    }
    av_packet_unref(packet_.get());
  }
}

PngDecoder::PngDecoder() : packet_(MakePacket()) {
  const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_PNG);
  if (codec == nullptr) throw Error("this FFmpeg has no PNG decoder");
  decoder_.reset(avcodec_alloc_context3(codec));
  if (!decoder_) throw Error("avcodec_alloc_context3: out of memory");
  const int error = avcodec_open2(decoder_.get(), codec, nullptr);
  if (error < 0) ThrowAvError("png", "cannot open the PNG decoder", error);
}

void PngDecoder::Decode(const std::string& path, AVFrame* frame) {
  std::string bytes;
  try {
    bytes = ReadFile(path);
  } catch (const Error&) {
    throw InputError("render '" + path + "': cannot read the file");
  }
  av_packet_unref(packet_.get());
  int error = av_new_packet(packet_.get(), static_cast<int>(bytes.size()));
  if (error < 0) ThrowAvError(path, "out of memory", error);
  std::copy(bytes.begin(), bytes.end(), packet_->data);
  // A key frame: without the flag, libavcodec's PNG decoder treats a packet
  // after the first as an MPNG P-frame and adds the previous image to it.
  packet_->flags |= AV_PKT_FLAG_KEY;
  error = avcodec_send_packet(decoder_.get(), packet_.get());
  if (error >= 0) error = avcodec_receive_frame(decoder_.get(), frame);
  if (error < 0) {
    avcodec_flush_buffers(decoder_.get());
    throw DecodeError("render '" + path +
                      "': not a readable PNG: " + AvErrorText(error));
  }
}

FrameConverter::FrameConverter(AVPixelFormat format,
                               int width,
                               int height,
                               int matrix,
                               bool src_full,
                               bool dst_full)
    : format_(format),
      width_(width),
      height_(height),
      matrix_(matrix),
      src_full_(src_full),
      dst_full_(dst_full) {}

void FrameConverter::Convert(const AVFrame& src, AVFrame* dst) {
  if (src.format == format_ && src.width == width_ && src.height == height_ &&
      src_full_ == dst_full_) {
    // Nothing to convert: the samples as decoded (no swscale round trip).
    av_frame_unref(dst);
    const int error = av_frame_ref(dst, &src);
    if (error < 0) ThrowAvError("frame", "out of memory", error);
    return;
  }
  if (!sws_ || src.format != src_format_ || src.width != src_width_ ||
      src.height != src_height_) {
    // The ranges are options of the context before sws_init_context (as
    // libavfilter's scale filter sets them): swscale picks its unscaled
    // copy paths at init, and those ignore a range set afterwards.
    sws_.reset(sws_alloc_context());
    if (!sws_) throw Error("sws_alloc_context: out of memory");
    SwsContext* sws = sws_.get();
    av_opt_set_int(sws, "srcw", src.width, 0);
    av_opt_set_int(sws, "srch", src.height, 0);
    av_opt_set_int(sws, "src_format", src.format, 0);
    av_opt_set_int(sws, "dstw", width_, 0);
    av_opt_set_int(sws, "dsth", height_, 0);
    av_opt_set_int(sws, "dst_format", format_, 0);
    av_opt_set_int(sws, "sws_flags", kOverlaySwsFlags, 0);
    av_opt_set_int(sws, "src_range", src_full_ ? 1 : 0, 0);
    av_opt_set_int(sws, "dst_range", dst_full_ ? 1 : 0, 0);
    if (sws_init_context(sws, nullptr, nullptr) < 0) sws_.reset();
    if (!sws_) {
      throw Error(std::string("swscale cannot convert ") +
                  av_get_pix_fmt_name(static_cast<AVPixelFormat>(src.format)) +
                  " to " + av_get_pix_fmt_name(format_));
    }
    const int* table = sws_getCoefficients(matrix_);
    sws_setColorspaceDetails(sws_.get(),
                             table,
                             src_full_ ? 1 : 0,
                             table,
                             dst_full_ ? 1 : 0,
                             0,
                             1 << 16,
                             1 << 16);
    src_format_ = src.format;
    src_width_ = src.width;
    src_height_ = src.height;
  }
  if (dst->data[0] == nullptr) {
    dst->format = format_;
    dst->width = width_;
    dst->height = height_;
    const int error = av_frame_get_buffer(dst, 0);
    if (error < 0) ThrowAvError("frame", "out of memory", error);
  }
  const int error = av_frame_make_writable(dst);
  if (error < 0) ThrowAvError("frame", "out of memory", error);
  sws_scale(sws_.get(),
            src.data,
            src.linesize,
            0,
            src.height,
            dst->data,
            dst->linesize);
}

}  // namespace vanelia::internal
