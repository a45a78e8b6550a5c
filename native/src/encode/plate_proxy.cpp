// MakePlateProxy: the clip decoded in presentation order (PlateDecoder), its
// planes turned upright exactly, frames repeated or skipped by the CFR rule
// (NearestFrames), libx264 qp 0 into Matroska (see plate_proxy.hpp).
#include "vanelia/encode/plate_proxy.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/decode/media_probe.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "frame_source.hpp"
#include "overlay_frames.hpp"

extern "C" {
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace vanelia {
namespace {

[[noreturn]] void ThrowOutput(const std::string& path,
                              const std::string& context,
                              int error) {
  throw Error("proxy '" + path + "': " + context + ": " +
              internal::AvErrorText(error));
}

// Whether `format`'s planes can be turned by `degrees` sample by sample:
// planar, 8 or 16 bits a sample, and (for 90/270) the same chroma
// subsampling across and down.
bool RotatesExactly(AVPixelFormat format, int degrees) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  if (desc == nullptr || (desc->flags & AV_PIX_FMT_FLAG_PLANAR) == 0 ||
      (desc->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM |
                      AV_PIX_FMT_FLAG_PAL)) != 0) {
    return false;
  }
  for (int c = 0; c < desc->nb_components; ++c) {
    const int step = desc->comp[c].step;
    if (step != 1 && step != 2) return false;
  }
  return degrees == 180 || desc->log2_chroma_w == desc->log2_chroma_h;
}

// dst = src turned clockwise by `degrees` (90, 180, 270), one plane of
// `width` x `height` samples of type T.
template <typename T>
void RotatePlane(const uint8_t* src,
                 int src_stride,
                 int width,
                 int height,
                 uint8_t* dst,
                 int dst_stride,
                 int degrees) {
  const auto at = [&](int x, int y) {
    return reinterpret_cast<const T*>(src + static_cast<ptrdiff_t>(y) *
                                                src_stride)[x];
  };
  if (degrees == 180) {
    for (int y = 0; y < height; ++y) {
      T* row =
          reinterpret_cast<T*>(dst + static_cast<ptrdiff_t>(y) * dst_stride);
      for (int x = 0; x < width; ++x)
        row[x] = at(width - 1 - x, height - 1 - y);
    }
    return;
  }
  // Upright width = height, upright height = width.
  for (int y = 0; y < width; ++y) {
    T* row = reinterpret_cast<T*>(dst + static_cast<ptrdiff_t>(y) * dst_stride);
    for (int x = 0; x < height; ++x) {
      row[x] = degrees == 90 ? at(y, height - 1 - x) : at(width - 1 - y, x);
    }
  }
}

// `src` turned clockwise by `degrees` into `dst` (allocated here).
void RotateFrame(const AVFrame& src, int degrees, AVFrame* dst) {
  const AVPixelFormat format = static_cast<AVPixelFormat>(src.format);
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  const bool swap = degrees != 180;
  av_frame_unref(dst);
  dst->format = src.format;
  dst->width = swap ? src.height : src.width;
  dst->height = swap ? src.width : src.height;
  int error = av_frame_get_buffer(dst, 0);
  if (error < 0) internal::ThrowAvError("frame", "out of memory", error);
  error = av_frame_copy_props(dst, &src);
  if (error < 0) internal::ThrowAvError("frame", "out of memory", error);
  const int planes = av_pix_fmt_count_planes(format);
  for (int p = 0; p < planes; ++p) {
    const bool chroma = (p == 1 || p == 2);
    const int w =
        chroma ? AV_CEIL_RSHIFT(src.width, desc->log2_chroma_w) : src.width;
    const int h =
        chroma ? AV_CEIL_RSHIFT(src.height, desc->log2_chroma_h) : src.height;
    int step = 1;
    for (int c = 0; c < desc->nb_components; ++c) {
      if (desc->comp[c].plane == p) step = desc->comp[c].step;
    }
    if (step == 2) {
      RotatePlane<uint16_t>(src.data[p],
                            src.linesize[p],
                            w,
                            h,
                            dst->data[p],
                            dst->linesize[p],
                            degrees);
    } else {
      RotatePlane<uint8_t>(src.data[p],
                           src.linesize[p],
                           w,
                           h,
                           dst->data[p],
                           dst->linesize[p],
                           degrees);
    }
  }
}

bool IsFullRange(const MediaProbe& probe) {
  const std::string& pix = probe.pixel_format;
  return probe.color_range == "pc" || pix.rfind("yuvj", 0) == 0;
}

// Opens, feeds and closes the encoder and muxer of the proxy file.
class ProxyWriter {
 public:
  ProxyWriter(const std::string& path,
              int width,
              int height,
              AVPixelFormat format,
              Rational fps,
              bool bt709,
              int threads)
      : path_(path), packet_(internal::MakePacket()) {
    const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
    if (codec == nullptr) {
      throw Error("proxy '" + path + "': this FFmpeg has no libx264 encoder");
    }
    AVFormatContext* raw = nullptr;
    int error =
        avformat_alloc_output_context2(&raw, nullptr, "matroska", path.c_str());
    if (error < 0) ThrowOutput(path, "cannot make the muxer", error);
    output_.reset(raw);
    encoder_.reset(avcodec_alloc_context3(codec));
    if (!encoder_) throw Error("avcodec_alloc_context3: out of memory");
    const AVRational rate{static_cast<int>(fps.num), static_cast<int>(fps.den)};
    encoder_->width = width;
    encoder_->height = height;
    encoder_->pix_fmt = format;
    encoder_->time_base = av_inv_q(rate);
    encoder_->framerate = rate;
    encoder_->sample_aspect_ratio = {1, 1};
    encoder_->thread_count = threads;
    if (bt709) {
      encoder_->color_primaries = AVCOL_PRI_BT709;
      encoder_->color_trc = AVCOL_TRC_BT709;
      encoder_->colorspace = AVCOL_SPC_BT709;
    }
    if (output_->oformat->flags & AVFMT_GLOBALHEADER) {
      encoder_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }
    for (const auto& [key, value] :
         {std::pair<const char*, const char*>{"preset", "veryfast"},
          {"qp", "0"},
          {"x264-params", "log=0"}}) {  // x264's errors only
      error = av_opt_set(encoder_->priv_data, key, value, 0);
      if (error < 0) {
        ThrowOutput(
            path, std::string("libx264 option ") + key + "=" + value, error);
      }
    }
    error = avcodec_open2(encoder_.get(), codec, nullptr);
    if (error < 0) ThrowOutput(path, "cannot open libx264", error);
    stream_ = avformat_new_stream(output_.get(), nullptr);
    if (stream_ == nullptr) throw Error("avformat_new_stream: out of memory");
    error = avcodec_parameters_from_context(stream_->codecpar, encoder_.get());
    if (error < 0) ThrowOutput(path, "encoder parameters", error);
    stream_->time_base = encoder_->time_base;
    stream_->avg_frame_rate = rate;
    error = avio_open(&output_->pb, path.c_str(), AVIO_FLAG_WRITE);
    if (error < 0) ThrowOutput(path, "cannot create the file", error);
    error = avformat_write_header(output_.get(), nullptr);
    if (error < 0) ThrowOutput(path, "cannot write the header", error);
  }

  void Write(AVFrame* frame, int64_t pts) {
    frame->pts = pts;
    frame->pict_type = AV_PICTURE_TYPE_NONE;
    frame->color_primaries = encoder_->color_primaries;
    frame->color_trc = encoder_->color_trc;
    frame->colorspace = encoder_->colorspace;
    frame->color_range = AVCOL_RANGE_UNSPECIFIED;
    frame->sample_aspect_ratio = encoder_->sample_aspect_ratio;
    Encode(frame);
  }

  void Finish() {
    Encode(nullptr);
    const int error = av_write_trailer(output_.get());
    if (error < 0) ThrowOutput(path_, "cannot finish", error);
    output_.reset();
  }

 private:
  struct OutputDeleter {
    void operator()(AVFormatContext* context) const {
      if (context->pb != nullptr) avio_closep(&context->pb);
      avformat_free_context(context);
    }
  };

  void Encode(AVFrame* frame) {
    int error = avcodec_send_frame(encoder_.get(), frame);
    if (error < 0) ThrowOutput(path_, "cannot encode", error);
    while (true) {
      error = avcodec_receive_packet(encoder_.get(), packet_.get());
      if (error == AVERROR(EAGAIN) || error == AVERROR_EOF) return;
      if (error < 0) ThrowOutput(path_, "cannot encode", error);
      av_packet_rescale_ts(
          packet_.get(), encoder_->time_base, stream_->time_base);
      packet_->stream_index = stream_->index;
      error = av_interleaved_write_frame(output_.get(), packet_.get());
      if (error < 0) ThrowOutput(path_, "cannot write video", error);
    }
  }

  std::string path_;
  internal::PacketPtr packet_;
  std::unique_ptr<AVFormatContext, OutputDeleter> output_;
  internal::CodecContextPtr encoder_;
  AVStream* stream_ = nullptr;
};

// The proxy's size, rate, frame count, format and its source frame per
// output frame (`mapping`).
PlateProxyResult PlanProxy(const PlateProxyOptions& options,
                           const MediaProbe& probe,
                           std::vector<int64_t>* mapping_out) {
  PlateProxyResult result;
  result.rotation_deg = probe.rotation_deg;
  result.width = probe.width;
  result.height = probe.height;
  result.fps = options.fps.num > 0 ? internal::Reduce(options.fps) : probe.fps;
  // As many output frames as the source has (encode/proxy.py's rule).
  result.frames = probe.frame_count;
  std::vector<int64_t>& mapping = *mapping_out;
  mapping = internal::NearestFrames(probe.pts_s, result.fps, result.frames);
  std::vector<bool> used(probe.frame_count, false);
  for (size_t k = 0; k < mapping.size(); ++k) {
    used[mapping[k]] = true;
    if (k > 0 && mapping[k] == mapping[k - 1]) ++result.duplicated;
  }
  result.dropped = std::count(used.begin(), used.end(), false);
  const bool odd = result.width % 2 != 0 || result.height % 2 != 0;
  const AVPixelFormat format = odd ? AV_PIX_FMT_YUV444P : AV_PIX_FMT_YUV420P;
  result.pixel_format = av_get_pix_fmt_name(format);
  return result;
}

// The decoder's size, turned by the rotation, is the probe's upright size.
void CheckCodedSize(const std::string& path,
                    const MediaProbe& probe,
                    int coded_w,
                    int coded_h) {
  const bool swap = probe.rotation_deg == 90 || probe.rotation_deg == 270;
  if ((swap ? coded_h : coded_w) != probe.width ||
      (swap ? coded_w : coded_h) != probe.height) {
    throw DecodeError("video '" + path + "': decodes at " +
                      std::to_string(coded_w) + "x" + std::to_string(coded_h) +
                      "; the stream says " + std::to_string(probe.coded_width) +
                      "x" + std::to_string(probe.coded_height));
  }
}

PlateProxyResult WriteProxy(const PlateProxyOptions& options,
                            const MediaProbe& probe,
                            const std::string& tmp,
                            const ProgressCallback& progress) {
  std::vector<int64_t> mapping;
  PlateProxyResult result = PlanProxy(options, probe, &mapping);
  const bool odd = result.width % 2 != 0 || result.height % 2 != 0;
  const AVPixelFormat format = odd ? AV_PIX_FMT_YUV444P : AV_PIX_FMT_YUV420P;
  const bool bt709 = probe.color_space == "bt709";
  const int matrix = internal::SwsMatrixOf(bt709 ? std::string("bt709")
                                                 : std::string("bt601"));

  internal::PlateDecoder decoder(options.source_path, options.threads);
  const int degrees = probe.rotation_deg;
  const int coded_w = decoder.Width();
  const int coded_h = decoder.Height();
  CheckCodedSize(options.source_path, probe, coded_w, coded_h);
  // Before the turn, for formats that cannot be turned exactly (the coded
  // size); after it, to the output's format and range (the upright size).
  internal::FrameConverter before(
      format, coded_w, coded_h, matrix, IsFullRange(probe), IsFullRange(probe));
  internal::FrameConverter after(
      format, result.width, result.height, matrix, IsFullRange(probe), false);
  ProxyWriter writer(tmp,
                     result.width,
                     result.height,
                     format,
                     result.fps,
                     bt709,
                     options.threads);
  ProgressReporter reporter("proxy", result.frames, progress);
  internal::FramePtr decoded = internal::MakeFrame();
  internal::FramePtr turnable = internal::MakeFrame();
  internal::FramePtr upright = internal::MakeFrame();
  internal::FramePtr out = internal::MakeFrame();
  int64_t source_index = -1;
  for (int64_t k = 0; k < result.frames; ++k) {
    const int64_t want = mapping[k];
    bool fresh = false;
    while (source_index < want) {
      av_frame_unref(decoded.get());
      if (!decoder.Next(decoded.get())) {
        throw DecodeError("video '" + options.source_path + "': decoded " +
                          std::to_string(source_index + 1) +
                          " frames, expected " +
                          std::to_string(probe.frame_count));
      }
      ++source_index;
      fresh = true;
    }
    if (fresh) {
      const AVFrame* source = decoded.get();
      if (degrees != 0) {
        if (!RotatesExactly(static_cast<AVPixelFormat>(source->format),
                            degrees)) {
          av_frame_unref(turnable.get());
          before.Convert(*source, turnable.get());
          source = turnable.get();
        }
        RotateFrame(*source, degrees, upright.get());
        source = upright.get();
      }
      av_frame_unref(out.get());
      after.Convert(*source, out.get());
    }
    // The encoder keeps a reference to what it is given: a new one each time.
    internal::FramePtr frame = internal::MakeFrame();
    const int error = av_frame_ref(frame.get(), out.get());
    if (error < 0) internal::ThrowAvError("frame", "out of memory", error);
    writer.Write(frame.get(), k);
    reporter.Update(k + 1);
  }
  writer.Finish();
  reporter.Finish();
  return result;
}

}  // namespace

void PlateProxyOptions::Check() const {
  const auto fail = [](const std::string& text) {
    throw InputError("PlateProxyOptions::" + text);
  };
  if (source_path.empty()) fail("source_path is empty; must name a video");
  if (output_path.empty()) fail("output_path is empty; must name a file");
  if (output_path == source_path) {
    fail("output_path = '" + output_path + "'; must differ from source_path");
  }
  if (fps.num < 0 || fps.den <= 0 || fps.num > INT32_MAX ||
      fps.den > INT32_MAX) {
    fail("fps = " + std::to_string(fps.num) + "/" + std::to_string(fps.den) +
         "; must be > 0, or 0/1 for the source's rate");
  }
  if (threads < 0)
    fail("threads = " + std::to_string(threads) + "; must be >= 0");
}

PlateProxyResult MakePlateProxy(const PlateProxyOptions& options,
                                const ProgressCallback& progress) {
  options.Check();
  const MediaProbe probe = ProbeMedia(options.source_path);
  const std::string tmp = options.output_path + ".tmp.mkv";
  PlateProxyResult result;
  try {
    result = WriteProxy(options, probe, tmp, progress);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), options.output_path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(tmp.c_str());
    throw Error("proxy '" + options.output_path + "': cannot rename '" + tmp +
                "' to it: " + reason);
  }
  return result;
}

}  // namespace vanelia
