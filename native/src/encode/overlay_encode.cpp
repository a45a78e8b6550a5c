// OverlayEncoder: the plate decoded in order, each render composited over
// its plate frame in linear light (linear_light.hpp) in the output's YUV,
// libavcodec's encoder, libavformat's muxer with the source's audio packets
// copied in.
#include "vanelia/encode/overlay_encode.hpp"

#include "vanelia/core/error.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include "linear_light.hpp"
#include "overlay_frames.hpp"

extern "C" {
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace vanelia {
namespace {

// An output codec (encode/encode.py's CODECS, the same encoder options).
struct CodecSpec {
  const char* name;
  const char* encoder;
  const char* muxer;
  AVPixelFormat pix_fmt;  // encoded
  std::vector<std::pair<const char*, const char*>> options;
  const char* tag;  // codec tag, nullptr = the muxer's default
};

const std::vector<CodecSpec>& Codecs() {
  static const std::vector<CodecSpec> codecs = {
      {"h264",
       "libx264",
       "mp4",
       AV_PIX_FMT_YUV420P,
       {{"preset", "medium"}, {"crf", "10"}},
       nullptr},
      {"h264_preview",
       "libx264",
       "mp4",
       AV_PIX_FMT_YUV420P,
       {{"preset", "veryfast"}, {"crf", "12"}},
       nullptr},
      {"hevc",
       "libx265",
       "mp4",
       AV_PIX_FMT_YUV420P10LE,
       {{"preset", "medium"},
        {"crf", "10"},
        {"profile", "main10"},
        {"x265-params", "log-level=error"}},
       "hvc1"},
      {"prores",
       "prores_ks",
       "mov",
       AV_PIX_FMT_YUV422P10LE,
       {{"profile", "3"}, {"vendor", "apl0"}},
       nullptr},
      {"dnxhr",
       "dnxhd",
       "mov",
       AV_PIX_FMT_YUV422P10LE,
       {{"profile", "dnxhr_hqx"}},
       nullptr},
  };
  return codecs;
}

const CodecSpec* FindCodec(const std::string& name) {
  for (const CodecSpec& spec : Codecs()) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

[[noreturn]] void ThrowOutput(const std::string& path,
                              const std::string& context,
                              int error) {
  throw Error("output '" + path + "': " + context + ": " +
              internal::AvErrorText(error));
}

// Copies the first audio stream of a file from `start_s` for `duration_s`
// into an output stream, packet by packet, timestamps moved to start at 0.
class AudioCopy {
 public:
  AudioCopy(const std::string& path,
            double start_s,
            double duration_s,
            AVFormatContext* output)
      : path_(path), packet_(internal::MakePacket()) {
    AVFormatContext* raw = nullptr;
    int error = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
    if (error < 0) internal::ThrowAvError(path, "cannot open", error);
    input_.reset(raw);
    error = avformat_find_stream_info(input_.get(), nullptr);
    if (error < 0)
      internal::ThrowAvError(path, "cannot read stream info", error);
    index_ = av_find_best_stream(
        input_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (index_ < 0) return;  // no audio: nothing to copy
    for (unsigned i = 0; i < input_->nb_streams; ++i) {
      if (static_cast<int>(i) != index_) {
        input_->streams[i]->discard = AVDISCARD_ALL;
      }
    }
    const AVStream* in = input_->streams[index_];
    out_ = avformat_new_stream(output, nullptr);
    if (out_ == nullptr) throw Error("avformat_new_stream: out of memory");
    error = avcodec_parameters_copy(out_->codecpar, in->codecpar);
    if (error < 0) internal::ThrowAvError(path, "audio parameters", error);
    out_->codecpar->codec_tag = 0;
    out_->time_base = in->time_base;
    const int64_t file_start =
        input_->start_time != AV_NOPTS_VALUE ? input_->start_time : 0;
    start_ = file_start + static_cast<int64_t>(start_s * AV_TIME_BASE);
    end_ = start_ + static_cast<int64_t>(duration_s * AV_TIME_BASE);
    error = av_seek_frame(input_.get(), -1, start_, AVSEEK_FLAG_BACKWARD);
    if (error < 0) internal::ThrowAvError(path, "cannot seek the audio", error);
  }

  bool Active() const { return out_ != nullptr && !done_; }

  // Writes the packets before `until_s` (output time); all with < 0.
  void WriteUntil(AVFormatContext* output,
                  const std::string& out_path,
                  double until_s) {
    const AVStream* in = input_->streams[index_];
    while (Active()) {
      if (!pending_) {
        const int error = av_read_frame(input_.get(), packet_.get());
        if (error == AVERROR_EOF) {
          done_ = true;
          return;
        }
        if (error < 0)
          internal::ThrowAvError(path_, "cannot read audio", error);
        if (packet_->stream_index != index_ || packet_->pts == AV_NOPTS_VALUE) {
          av_packet_unref(packet_.get());
          continue;
        }
        pending_ = true;
      }
      const int64_t pts_us =
          av_rescale_q(packet_->pts, in->time_base, AV_TIME_BASE_Q);
      if (pts_us >= end_) {
        av_packet_unref(packet_.get());
        done_ = true;
        return;
      }
      if (pts_us < start_) {  // before the span: dropped, as ffmpeg -ss does
        av_packet_unref(packet_.get());
        pending_ = false;
        continue;
      }
      const double out_s = static_cast<double>(pts_us - start_) / AV_TIME_BASE;
      if (until_s >= 0 && out_s > until_s) return;
      const int64_t offset =
          av_rescale_q(start_, AV_TIME_BASE_Q, in->time_base);
      packet_->pts -= offset;
      if (packet_->dts != AV_NOPTS_VALUE) packet_->dts -= offset;
      av_packet_rescale_ts(packet_.get(), in->time_base, out_->time_base);
      packet_->stream_index = out_->index;
      packet_->pos = -1;
      const int error = av_interleaved_write_frame(output, packet_.get());
      pending_ = false;
      if (error < 0) ThrowOutput(out_path, "cannot write audio", error);
    }
  }

 private:
  std::string path_;
  internal::FormatContextPtr input_;
  internal::PacketPtr packet_;
  AVStream* out_ = nullptr;
  int index_ = -1;
  int64_t start_ = 0;  // AV_TIME_BASE units
  int64_t end_ = 0;
  bool pending_ = false;
  bool done_ = false;
};

void CheckName(const std::string& field,
               const std::string& value,
               int (*from_name)(const char*)) {
  if (!value.empty() && from_name(value.c_str()) < 0) {
    throw InputError("OverlayEncodeOptions::" + field + " = '" + value +
                     "'; must be one of FFmpeg's names (e.g. bt709)");
  }
}

}  // namespace

void OverlayEncodeOptions::Check() const {
  const auto fail = [](const std::string& text) {
    throw InputError("OverlayEncodeOptions::" + text);
  };
  if (plate_path.empty()) fail("plate_path is empty; must name a video");
  if (output_path.empty()) fail("output_path is empty; must name a file");
  if (FindCodec(codec) == nullptr) {
    std::string names;
    for (const std::string& name : OverlayCodecs()) {
      names += (names.empty() ? "" : ", ") + name;
    }
    fail("codec = '" + codec + "'; must be one of " + names);
  }
  if (first < 0) fail("first = " + std::to_string(first) + "; must be >= 0");
  if (every < 1) fail("every = " + std::to_string(every) + "; must be >= 1");
  if (count < 1) fail("count = " + std::to_string(count) + "; must be >= 1");
  if (fps.num <= 0 || fps.den <= 0) {
    fail("fps = " + std::to_string(fps.num) + "/" + std::to_string(fps.den) +
         "; must be > 0");
  }
  if (width < 0 || height < 0 || width % 2 != 0 || height % 2 != 0 ||
      (width == 0) != (height == 0)) {
    fail("width x height = " + std::to_string(width) + "x" +
         std::to_string(height) + "; must be even and > 0, or both 0");
  }
  for (const auto& [field, value] :
       {std::pair<std::string, std::string>{"plate_range", plate_range},
        {"output_range", output_range}}) {
    if (value != "tv" && value != "pc") {
      fail(field + " = '" + value + "'; must be tv or pc");
    }
  }
  if (internal::SwsMatrixOf(matrix) < 0) {
    fail("matrix = '" + matrix +
         "'; must be bt601, bt709, bt2020, smpte240m or fcc");
  }
  CheckName("color_primaries", color_primaries, &av_color_primaries_from_name);
  CheckName("color_transfer", color_transfer, &av_color_transfer_from_name);
  CheckName("color_space", color_space, &av_color_space_from_name);
  if (threads < 0)
    fail("threads = " + std::to_string(threads) + "; must be >= 0");
}

std::vector<std::string> OverlayCodecs() {
  std::vector<std::string> names;
  for (const CodecSpec& spec : Codecs()) names.emplace_back(spec.name);
  return names;
}

bool HaveOverlayEncoder(const std::string& codec) {
  const CodecSpec* spec = FindCodec(codec);
  return spec != nullptr &&
         avcodec_find_encoder_by_name(spec->encoder) != nullptr;
}

class OverlayEncoder::Impl {
 public:
  explicit Impl(const OverlayEncodeOptions& options)
      : options_(options),
        spec_(*FindCodec(options.codec)),
        plate_(options.plate_path, options.threads),
        width_(options.width > 0 ? options.width : plate_.Width()),
        height_(options.height > 0 ? options.height : plate_.Height()),
        plate_to_output_(spec_.pix_fmt,
                         width_,
                         height_,
                         internal::SwsMatrixOf(options.matrix),
                         options.plate_range == "pc",
                         options.output_range == "pc"),
        render_to_rgba_(AV_PIX_FMT_RGBA64LE,
                        width_,
                        height_,
                        internal::SwsMatrixOf(options.matrix),
                        true,
                        true),
        compositor_(internal::PlateLight::FromTags(options.color_transfer,
                                                   options.color_primaries),
                    options.matrix,
                    options.output_range == "pc"),
        decoded_(internal::MakeFrame()),
        plate_frame_(internal::MakeFrame()),
        png_(internal::MakeFrame()),
        render_(internal::MakeFrame()),
        packet_(internal::MakePacket()) {
    try {
      OpenOutput();
    } catch (...) {
      output_.reset();
      std::remove(options_.output_path.c_str());
      throw;
    }
  }

  ~Impl() {
    if (!finished_) {
      output_.reset();
      std::remove(options_.output_path.c_str());
    }
  }

  void AddPng(const std::string& png_path) {
    if (added_ >= options_.count) {
      throw InputError("render '" + png_path + "': the output has its " +
                       std::to_string(options_.count) + " frames already");
    }
    png_decoder_.Decode(png_path, png_.get());
    if (png_->width != width_ || png_->height != height_) {
      throw InputError(
          "render '" + png_path + "': " + std::to_string(png_->width) + "x" +
          std::to_string(png_->height) + "; must be the output's " +
          std::to_string(width_) + "x" + std::to_string(height_));
    }
    NextPlateFrame();
    if (png_->format == AV_PIX_FMT_RGBA) {
      compositor_.Composite(*png_, plate_frame_.get());
    } else {  // RGB, grey, palette or 16-bit PNGs
      render_to_rgba_.Convert(*png_, render_.get());
      compositor_.Composite(*render_, plate_frame_.get());
    }
    av_frame_unref(png_.get());
    plate_frame_->pts = added_;
    // Encoders that write colour into the bitstream (prores_ks) read the
    // frame's tags, not the context's.
    plate_frame_->color_primaries = encoder_->color_primaries;
    plate_frame_->color_trc = encoder_->color_trc;
    plate_frame_->colorspace = encoder_->colorspace;
    plate_frame_->color_range = encoder_->color_range;
    plate_frame_->sample_aspect_ratio = encoder_->sample_aspect_ratio;
    Encode(plate_frame_.get());
    ++added_;
  }

  int64_t FramesAdded() const { return added_; }

  void Finish() {
    if (added_ != options_.count) {
      throw InputError("overlay encode '" + options_.output_path + "': " +
                       std::to_string(added_) + " renders given; needs " +
                       std::to_string(options_.count));
    }
    Encode(nullptr);
    if (audio_) audio_->WriteUntil(output_.get(), options_.output_path, -1.0);
    const int error = av_write_trailer(output_.get());
    if (error < 0) ThrowOutput(options_.output_path, "cannot finish", error);
    output_.reset();
    finished_ = true;
  }

 private:
  struct OutputDeleter {
    void operator()(AVFormatContext* context) const {
      if (context->pb != nullptr) avio_closep(&context->pb);
      avformat_free_context(context);
    }
  };

  void OpenOutput() {
    const std::string& path = options_.output_path;
    const AVCodec* codec = avcodec_find_encoder_by_name(spec_.encoder);
    if (codec == nullptr) {
      throw InputError("OverlayEncodeOptions::codec = '" + options_.codec +
                       "': this FFmpeg has no " + spec_.encoder + " encoder");
    }
    AVFormatContext* raw = nullptr;
    int error = avformat_alloc_output_context2(
        &raw, nullptr, spec_.muxer, path.c_str());
    if (error < 0) ThrowOutput(path, "cannot make the muxer", error);
    output_.reset(raw);
    encoder_.reset(avcodec_alloc_context3(codec));
    if (!encoder_) throw Error("avcodec_alloc_context3: out of memory");
    const AVRational rate{static_cast<int>(options_.fps.num),
                          static_cast<int>(options_.fps.den * options_.every)};
    encoder_->width = width_;
    encoder_->height = height_;
    encoder_->pix_fmt = spec_.pix_fmt;
    encoder_->time_base = av_inv_q(rate);
    encoder_->framerate = rate;
    encoder_->sample_aspect_ratio = {1, 1};
    encoder_->thread_count = options_.threads;
    SetColour();
    if (output_->oformat->flags & AVFMT_GLOBALHEADER) {
      encoder_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }
    // The encoder's own option first (x265's "profile" is a name, the
    // context's an integer), else the context's.
    for (const auto& [key, value] : spec_.options) {
      error = av_opt_set(encoder_->priv_data, key, value, 0);
      if (error == AVERROR_OPTION_NOT_FOUND) {
        error = av_opt_set(encoder_.get(), key, value, 0);
      }
      if (error < 0) {
        ThrowOutput(path,
                    std::string(spec_.encoder) + " option " + key + "=" + value,
                    error);
      }
    }
    error = avcodec_open2(encoder_.get(), codec, nullptr);
    if (error < 0)
      ThrowOutput(path, std::string("cannot open ") + spec_.encoder, error);
    stream_ = avformat_new_stream(output_.get(), nullptr);
    if (stream_ == nullptr) throw Error("avformat_new_stream: out of memory");
    error = avcodec_parameters_from_context(stream_->codecpar, encoder_.get());
    if (error < 0) ThrowOutput(path, "encoder parameters", error);
    if (spec_.tag != nullptr) {
      stream_->codecpar->codec_tag =
          MKTAG(spec_.tag[0], spec_.tag[1], spec_.tag[2], spec_.tag[3]);
    }
    stream_->time_base = encoder_->time_base;
    stream_->avg_frame_rate = rate;
    if (!options_.audio_path.empty()) {
      const double tick_s =
          options_.fps.ToDouble() > 0 ? 1.0 / options_.fps.ToDouble() : 0.0;
      audio_ = std::make_unique<AudioCopy>(
          options_.audio_path,
          static_cast<double>(options_.first) * tick_s,
          static_cast<double>(options_.count * options_.every) * tick_s,
          output_.get());
    }
    error = avio_open(&output_->pb, path.c_str(), AVIO_FLAG_WRITE);
    if (error < 0) ThrowOutput(path, "cannot create the file", error);
    AVDictionary* mux = nullptr;
    av_dict_set(&mux, "movflags", "+faststart", 0);
    error = avformat_write_header(output_.get(), &mux);
    av_dict_free(&mux);
    if (error < 0) ThrowOutput(path, "cannot write the header", error);
  }

  void SetColour() {
    if (!options_.color_primaries.empty()) {
      encoder_->color_primaries = static_cast<AVColorPrimaries>(
          av_color_primaries_from_name(options_.color_primaries.c_str()));
    }
    if (!options_.color_transfer.empty()) {
      encoder_->color_trc = static_cast<AVColorTransferCharacteristic>(
          av_color_transfer_from_name(options_.color_transfer.c_str()));
    }
    if (!options_.color_space.empty()) {
      encoder_->colorspace = static_cast<AVColorSpace>(
          av_color_space_from_name(options_.color_space.c_str()));
    }
    if (options_.tag_range) {
      encoder_->color_range =
          options_.output_range == "pc" ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    }
  }

  void NextPlateFrame() {
    const int64_t wanted = options_.first + added_ * options_.every;
    while (plate_index_ < wanted) {
      if (!plate_.Next(decoded_.get())) {
        throw InputError("plate '" + options_.plate_path + "': has " +
                         std::to_string(plate_index_ + 1) +
                         " frames; output frame " + std::to_string(added_) +
                         " needs frame " + std::to_string(wanted));
      }
      ++plate_index_;
      if (plate_index_ < wanted) av_frame_unref(decoded_.get());
    }
    plate_to_output_.Convert(*decoded_, plate_frame_.get());
    av_frame_unref(decoded_.get());
  }

  void Encode(AVFrame* frame) {
    int error = avcodec_send_frame(encoder_.get(), frame);
    if (error < 0) ThrowOutput(options_.output_path, "cannot encode", error);
    while (true) {
      error = avcodec_receive_packet(encoder_.get(), packet_.get());
      if (error == AVERROR(EAGAIN) || error == AVERROR_EOF) return;
      if (error < 0) ThrowOutput(options_.output_path, "cannot encode", error);
      av_packet_rescale_ts(
          packet_.get(), encoder_->time_base, stream_->time_base);
      packet_->stream_index = stream_->index;
      if (audio_) {
        const int64_t dts =
            packet_->dts != AV_NOPTS_VALUE ? packet_->dts : packet_->pts;
        audio_->WriteUntil(
            output_.get(),
            options_.output_path,
            static_cast<double>(dts) * av_q2d(stream_->time_base));
      }
      error = av_interleaved_write_frame(output_.get(), packet_.get());
      if (error < 0)
        ThrowOutput(options_.output_path, "cannot write video", error);
    }
  }

  OverlayEncodeOptions options_;
  const CodecSpec& spec_;
  internal::PlateDecoder plate_;
  int width_ = 0;
  int height_ = 0;
  internal::FrameConverter plate_to_output_;
  internal::FrameConverter render_to_rgba_;
  internal::LinearCompositor compositor_;
  internal::PngDecoder png_decoder_;
  internal::FramePtr decoded_;
  internal::FramePtr plate_frame_;
  internal::FramePtr png_;
  internal::FramePtr render_;
  internal::PacketPtr packet_;
  std::unique_ptr<AVFormatContext, OutputDeleter> output_;
  internal::CodecContextPtr encoder_;
  AVStream* stream_ = nullptr;
  std::unique_ptr<AudioCopy> audio_;
  int64_t plate_index_ = -1;  // the index of decoded_ (-1 = none yet)
  int64_t added_ = 0;
  bool finished_ = false;
};

OverlayEncoder::OverlayEncoder(const OverlayEncodeOptions& options) {
  options.Check();
  impl_ = std::make_unique<Impl>(options);
}

OverlayEncoder::~OverlayEncoder() = default;

void OverlayEncoder::AddPng(const std::string& png_path) {
  impl_->AddPng(png_path);
}

int64_t OverlayEncoder::FramesAdded() const {
  return impl_->FramesAdded();
}

void OverlayEncoder::Finish() {
  impl_->Finish();
}

void EncodeOverlay(const OverlayEncodeOptions& options,
                   const std::string& frames_dir,
                   const ProgressCallback& progress) {
  OverlayEncoder encoder(options);
  ProgressReporter reporter("encode", options.count, progress);
  for (int64_t k = 0; k < options.count; ++k) {
    char name[32];
    std::snprintf(name, sizeof(name), "/%06lld.png", static_cast<long long>(k));
    encoder.AddPng(frames_dir + name);
    reporter.Update(k + 1);
  }
  encoder.Finish();
  reporter.Finish();
}

}  // namespace vanelia
