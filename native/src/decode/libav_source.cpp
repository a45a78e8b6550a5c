// Video files through libavformat/libavcodec/libswscale. On open, every
// packet of the video stream is demuxed (not decoded) to count the frames
// exactly and to collect their timestamps and keyframes; decoding then runs
// forward with frame + slice threading and seeks through those keyframes.
#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "frame_source.hpp"
#include "libav_common.hpp"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace vanelia::internal {
namespace {

// One demuxed packet of the video stream.
struct PacketEntry {
  int64_t pts = 0;
  int64_t dts = 0;
  bool key = false;
};

// Forward decoding is preferred over a seek for gaps up to this many frames.
constexpr int64_t kMaxForwardGap = 32;

std::string NameOr(const char* name, const char* fallback) {
  return name != nullptr ? name : fallback;
}

class LibavSource : public FrameSource {
 public:
  LibavSource(std::string path, const ReadOptions& options)
      : path_(std::move(path)),
        options_(options),
        converter_(ThreadCount(options.threads)) {
    OpenInput();
    ScanPackets();
    OpenDecoder();
    Rewind();
  }

  const VideoInfo& Info() const override { return info_; }

  const std::vector<FrameMapping>& Mapping() const override {
    return mapping_.mapping;
  }

  const CfrReport& Cfr() const override { return mapping_.report; }

  void Read(int64_t index, Frame* frame) override {
    const FrameMapping& map = mapping_.mapping.at(index);
    DecodeSourceFrame(map.source_index);
    const bool swap = info_.rotation_deg == 90 || info_.rotation_deg == 270;
    const OutputSize out =
        ComputeOutputSize(info_.width, info_.height, options_);
    Image rgb = converter_.Convert(*current_,
                                   swap ? out.height : out.width,
                                   swap ? out.width : out.height);
    frame->index = index;
    frame->timestamp_s = map.timestamp_s;
    frame->rgb = RotateClockwise(rgb, info_.rotation_deg);
  }

 private:
  void OpenInput() {
    AVFormatContext* raw = nullptr;
    int error = avformat_open_input(&raw, path_.c_str(), nullptr, nullptr);
    if (error < 0) ThrowAvError(path_, "cannot open", error);
    format_.reset(raw);
    error = avformat_find_stream_info(format_.get(), nullptr);
    if (error < 0) ThrowAvError(path_, "cannot read stream info", error);
    stream_index_ = -1;
    for (unsigned i = 0; i < format_->nb_streams; ++i) {
      const AVStream* stream = format_->streams[i];
      const AVMediaType type = stream->codecpar->codec_type;
      if (type == AVMEDIA_TYPE_AUDIO && !info_.has_audio) {
        info_.has_audio = true;
        info_.audio_codec = avcodec_get_name(stream->codecpar->codec_id);
      }
      if (type == AVMEDIA_TYPE_VIDEO &&
          (stream->disposition & AV_DISPOSITION_ATTACHED_PIC) == 0 &&
          stream_index_ < 0) {
        stream_index_ = static_cast<int>(i);
      }
    }
    if (stream_index_ < 0) {
      ThrowAvError(path_,
                   std::string("no video stream (") +
                       (info_.has_audio ? "audio only" : "no audio either") +
                       ")",
                   AVERROR_STREAM_NOT_FOUND);
    }
    stream_ = format_->streams[stream_index_];
    // Other streams are never demuxed during decoding.
    for (unsigned i = 0; i < format_->nb_streams; ++i) {
      if (static_cast<int>(i) != stream_index_) {
        format_->streams[i]->discard = AVDISCARD_ALL;
      }
    }
  }

  // Demuxes every packet of the video stream: exact frame count, timestamps,
  // keyframes. Packets the container marks as discarded (outside an edit
  // list) do not count: the decoder drops their frames.
  void ScanPackets() {
    PacketPtr packet = MakePacket();
    int64_t discarded = 0;
    int64_t last_duration = 0;
    int64_t synthetic = 0;
    while (true) {
      const int error = av_read_frame(format_.get(), packet.get());
      if (error == AVERROR_EOF) break;
      if (error < 0) ThrowAvError(path_, "cannot read packets", error);
      if (packet->stream_index == stream_index_) {
        if ((packet->flags & AV_PKT_FLAG_DISCARD) != 0) {
          ++discarded;
        } else {
          PacketEntry entry;
          entry.dts = packet->dts;
          entry.pts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
          if (entry.pts == AV_NOPTS_VALUE) entry.pts = synthetic;
          entry.key = (packet->flags & AV_PKT_FLAG_KEY) != 0;
          ++synthetic;
          packets_.push_back(entry);
          if (packet->duration > 0) last_duration = packet->duration;
        }
      }
      av_packet_unref(packet.get());
    }
    if (packets_.empty()) {
      ThrowAvError(
          path_, "the video stream holds no frames", AVERROR_INVALIDDATA);
    }
    const int64_t listed = stream_->nb_frames;
    const int64_t read = static_cast<int64_t>(packets_.size());
    if (listed > 0 && read + discarded < listed) {
      throw DecodeError("video '" + path_ + "': truncated: the container " +
                        "lists " + std::to_string(listed) + " frames, " +
                        std::to_string(read + discarded) +
                        " are readable: " + AvErrorText(AVERROR_EOF));
    }
    for (const PacketEntry& entry : packets_) sorted_pts_.push_back(entry.pts);
    std::sort(sorted_pts_.begin(), sorted_pts_.end());
    // The last frame in presentation order lasts as long as its packet says.
    const Rational time_base{stream_->time_base.num, stream_->time_base.den};
    const AVRational guessed =
        av_guess_frame_rate(format_.get(), stream_, nullptr);
    mapping_ = BuildCfrMapping(sorted_pts_,
                               time_base,
                               {guessed.num, guessed.den > 0 ? guessed.den : 1},
                               last_duration);
    FillInfo(read);
  }

  void FillInfo(int64_t source_frames) {
    const AVCodecParameters& par = *stream_->codecpar;
    info_.path = path_;
    info_.coded_width = par.width;
    info_.coded_height = par.height;
    info_.rotation_deg = DisplayRotationDeg(*stream_);
    const bool swap = info_.rotation_deg == 90 || info_.rotation_deg == 270;
    info_.width = swap ? par.height : par.width;
    info_.height = swap ? par.width : par.height;
    info_.fps = mapping_.fps;
    info_.frame_count = static_cast<int64_t>(mapping_.mapping.size());
    info_.source_frame_count = source_frames;
    info_.duration_s = mapping_.duration_s;
    info_.codec = avcodec_get_name(par.codec_id);
    const AVRational sar =
        av_guess_sample_aspect_ratio(format_.get(), stream_, nullptr);
    info_.pixel_aspect = sar.num > 0 && sar.den > 0 ? Reduce({sar.num, sar.den})
                                                    : Rational{1, 1};
    info_.color_range = NameOr(av_color_range_name(par.color_range), "unknown");
    info_.color_primaries =
        NameOr(av_color_primaries_name(par.color_primaries), "unknown");
    info_.color_space = NameOr(av_color_space_name(par.color_space), "unknown");
    info_.pixel_format = NameOr(
        av_get_pix_fmt_name(static_cast<AVPixelFormat>(par.format)), "unknown");
    info_.is_vfr = mapping_.is_vfr;
    info_.is_image_sequence = false;
  }

  void OpenDecoder() {
    const AVCodec* codec = avcodec_find_decoder(stream_->codecpar->codec_id);
    if (codec == nullptr) {
      ThrowAvError(path_,
                   std::string("no decoder for codec '") +
                       avcodec_get_name(stream_->codecpar->codec_id) + "'",
                   AVERROR_DECODER_NOT_FOUND);
    }
    decoder_.reset(avcodec_alloc_context3(codec));
    if (!decoder_) throw Error("avcodec_alloc_context3: out of memory");
    int error =
        avcodec_parameters_to_context(decoder_.get(), stream_->codecpar);
    if (error < 0) ThrowAvError(path_, "bad codec parameters", error);
    decoder_->pkt_timebase = stream_->time_base;
    // 0 lets libavcodec choose (cores + 1 frame threads).
    decoder_->thread_count = options_.threads;
    decoder_->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    error = avcodec_open2(decoder_.get(), codec, nullptr);
    if (error < 0) ThrowAvError(path_, "cannot open decoder", error);
    packet_ = MakePacket();
    current_ = MakeFrame();
    next_ = MakeFrame();
  }

  // Positions demuxer and decoder at `dts` (a keyframe's), or the start.
  void SeekTo(int64_t dts) {
    int error =
        av_seek_frame(format_.get(), stream_index_, dts, AVSEEK_FLAG_BACKWARD);
    if (error < 0) {
      error = avformat_seek_file(
          format_.get(), stream_index_, INT64_MIN, dts, dts, 0);
    }
    if (error < 0) ThrowAvError(path_, "cannot seek", error);
    avcodec_flush_buffers(decoder_.get());
    draining_ = false;
    finished_ = false;
    current_index_ = -1;
  }

  void Rewind() {
    int64_t first_dts = packets_.front().dts;
    if (first_dts == AV_NOPTS_VALUE) first_dts = packets_.front().pts;
    SeekTo(first_dts);
    at_start_ = true;
  }

  // Source index of a decoded frame (position of its pts in presentation
  // order); frames without a known pts follow the previous one.
  int64_t IndexOf(const AVFrame& frame) const {
    const int64_t pts = frame.best_effort_timestamp != AV_NOPTS_VALUE
                            ? frame.best_effort_timestamp
                            : frame.pts;
    const auto it =
        std::lower_bound(sorted_pts_.begin(), sorted_pts_.end(), pts);
    if (pts != AV_NOPTS_VALUE && it != sorted_pts_.end() && *it == pts) {
      return it - sorted_pts_.begin();
    }
    return current_index_ + 1;
  }

  // Decodes the next frame into next_; false at the end of the stream.
  bool DecodeOne() {
    while (true) {
      int error = avcodec_receive_frame(decoder_.get(), next_.get());
      if (error == 0) return true;
      if (error == AVERROR_EOF) {
        finished_ = true;
        return false;
      }
      if (error != AVERROR(EAGAIN)) ThrowAvError(path_, "cannot decode", error);
      if (draining_) {
        finished_ = true;
        return false;
      }
      error = av_read_frame(format_.get(), packet_.get());
      if (error == AVERROR_EOF) {
        draining_ = true;
        avcodec_send_packet(decoder_.get(), nullptr);
        continue;
      }
      if (error < 0) ThrowAvError(path_, "cannot read packet", error);
      if (packet_->stream_index == stream_index_) {
        error = avcodec_send_packet(decoder_.get(), packet_.get());
        if (error < 0 && error != AVERROR(EAGAIN)) {
          av_packet_unref(packet_.get());
          ThrowAvError(path_, "cannot decode packet", error);
        }
      }
      av_packet_unref(packet_.get());
    }
  }

  // The keyframe (in decode order) to seek to for source frame `target`:
  // the last keyframe whose pts is at or before it, `back` keyframes earlier.
  std::optional<int64_t> KeyframeDtsBefore(int64_t target_pts, int back) const {
    std::vector<const PacketEntry*> keys;
    for (const PacketEntry& entry : packets_) {
      if (entry.key && entry.pts <= target_pts) keys.push_back(&entry);
    }
    if (static_cast<int>(keys.size()) <= back) return std::nullopt;
    const PacketEntry* key = keys[keys.size() - 1 - back];
    return key->dts != AV_NOPTS_VALUE ? key->dts : key->pts;
  }

  // Whether a keyframe lies between the current frame and `target`, so that
  // a seek skips work.
  bool KeyframeBetween(int64_t target) const {
    if (current_index_ < 0) return true;
    const int64_t from = sorted_pts_[current_index_];
    const int64_t to = sorted_pts_[target];
    for (const PacketEntry& entry : packets_) {
      if (entry.key && entry.pts > from && entry.pts <= to) return true;
    }
    return false;
  }

  // Makes current_ hold source frame `target`.
  void DecodeSourceFrame(int64_t target) {
    if (target == current_index_) return;
    const bool forward = target > current_index_ && !finished_;
    const bool near = target - current_index_ <= kMaxForwardGap;
    const bool from_start = at_start_ && current_index_ < 0;
    if (!(forward && (near || !KeyframeBetween(target))) &&
        !(from_start && target <= kMaxForwardGap)) {
      SeekBefore(target, 0);
    }
    for (int attempt = 1;; ++attempt) {
      const std::optional<bool> found = DecodeForwardTo(target);
      if (found.value_or(false)) return;
      if (!found.has_value() && attempt <= 3) {
        // Landed after the target: seek to an earlier keyframe.
        SeekBefore(target, attempt);
        continue;
      }
      throw DecodeError("video '" + path_ + "': frame " +
                        std::to_string(target) + " of " +
                        std::to_string(sorted_pts_.size()) +
                        " could not be decoded (stream ended or corrupt): " +
                        AvErrorText(AVERROR_INVALIDDATA));
    }
  }

  void SeekBefore(int64_t target, int back) {
    const std::optional<int64_t> dts =
        KeyframeDtsBefore(sorted_pts_[target], back);
    if (dts.has_value()) {
      SeekTo(*dts);
    } else {
      Rewind();
    }
    at_start_ = !dts.has_value();
  }

  // true: current_ is `target`; false: the stream ended first; nullopt: the
  // first frame decoded was already after the target.
  std::optional<bool> DecodeForwardTo(int64_t target) {
    bool first = true;
    while (DecodeOne()) {
      const int64_t index = IndexOf(*next_);
      if (index > target && first && current_index_ < 0) return std::nullopt;
      first = false;
      std::swap(current_, next_);
      av_frame_unref(next_.get());
      current_index_ = index;
      if (index == target) return true;
      if (index > target) return std::nullopt;
    }
    return false;
  }

  std::string path_;
  ReadOptions options_;
  RgbConverter converter_;
  FormatContextPtr format_;
  CodecContextPtr decoder_;
  PacketPtr packet_;
  FramePtr current_;  // the last decoded frame (source index current_index_)
  FramePtr next_;
  AVStream* stream_ = nullptr;
  int stream_index_ = -1;
  std::vector<PacketEntry> packets_;  // decode order
  std::vector<int64_t> sorted_pts_;   // presentation order
  CfrMappingResult mapping_;
  VideoInfo info_;
  int64_t current_index_ = -1;
  bool draining_ = false;
  bool finished_ = false;
  bool at_start_ = false;
};

}  // namespace

std::unique_ptr<FrameSource> OpenLibavSource(const std::string& path,
                                             const ReadOptions& options) {
  return std::make_unique<LibavSource>(path, options);
}

}  // namespace vanelia::internal
