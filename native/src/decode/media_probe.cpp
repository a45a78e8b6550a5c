// ProbeMedia: libavformat's stream parameters and one pass over the video
// packets, mirroring what core/media.py read from ffprobe (see the header).
#include "vanelia/decode/media_probe.hpp"

#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#ifdef VANELIA_HAVE_FFMPEG
#include "frame_source.hpp"
#include "libav_common.hpp"

extern "C" {
#include <libavutil/pixdesc.h>
}
#endif

namespace vanelia {

#ifdef VANELIA_HAVE_FFMPEG
namespace {

// FFmpeg's name of a tag, "" for unspecified/unknown/reserved (core/media.py
// dropped those of ffprobe's output the same way).
std::string TagName(const char* name) {
  if (name == nullptr) return "";
  const std::string text = name;
  if (text == "unknown" || text == "unspecified" || text == "reserved") {
    return "";
  }
  return text;
}

// In time-base ticks, so that a container's rounding (Matroska's 1 ms) is
// no variation: `pts` sorted.
bool IsVfr(const std::vector<int64_t>& pts) {
  if (pts.size() < 4) return false;
  std::vector<int64_t> durations;
  for (size_t i = 1; i < pts.size(); ++i) {
    durations.push_back(pts[i] - pts[i - 1]);
  }
  std::vector<int64_t> ordered = durations;
  std::sort(ordered.begin(), ordered.end());
  const int64_t median = ordered[ordered.size() / 2];
  const double tolerance = std::max(1.0, 0.02 * static_cast<double>(median));
  return std::any_of(durations.begin(), durations.end(), [&](int64_t d) {
    return static_cast<double>(std::llabs(d - median)) > tolerance;
  });
}

// The sorted pts of the video stream's shown packets (see the header).
std::vector<int64_t> ScanPts(AVFormatContext* format,
                             int stream_index,
                             const std::string& path) {
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    if (static_cast<int>(i) != stream_index) {
      format->streams[i]->discard = AVDISCARD_ALL;
    }
  }
  std::vector<int64_t> pts;
  internal::PacketPtr packet = internal::MakePacket();
  while (true) {
    const int error = av_read_frame(format, packet.get());
    if (error == AVERROR_EOF) break;
    if (error < 0) internal::ThrowAvError(path, "cannot read packets", error);
    if (packet->stream_index == stream_index &&
        (packet->flags & AV_PKT_FLAG_DISCARD) == 0) {
      const int64_t value =
          packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
      if (value != AV_NOPTS_VALUE) pts.push_back(value);
    }
    av_packet_unref(packet.get());
  }
  std::sort(pts.begin(), pts.end());
  return pts;
}

// The rate rule of the header, exact.
Rational RateOf(const AVStream& stream,
                const std::vector<int64_t>& pts,
                bool is_vfr) {
  Rational rate{stream.avg_frame_rate.num, stream.avg_frame_rate.den};
  if (rate.den == 0 || rate.num <= 0) rate = {0, 1};
  const int64_t span = pts.back() - pts.front();
  if ((rate.num <= 0 || is_vfr) && pts.size() > 1 && span > 0) {
    // (n - 1) / (span * tb) = (n - 1) * tb.den / (span * tb.num)
    return internal::Reduce(
        {static_cast<int64_t>(pts.size() - 1) * stream.time_base.den,
         span * stream.time_base.num});
  }
  if (rate.num <= 0) {
    const AVRational r = stream.r_frame_rate;
    if (r.num > 0 && r.den > 0) return internal::Reduce({r.num, r.den});
    return {24, 1};
  }
  return internal::Reduce(rate);
}

void FillStreams(const AVFormatContext& format,
                 const AVStream& video,
                 MediaProbe* probe) {
  const AVCodecParameters& par = *video.codecpar;
  probe->container = format.iformat != nullptr ? format.iformat->name : "";
  probe->coded_width = par.width;
  probe->coded_height = par.height;
  probe->rotation_deg = internal::DisplayRotationDeg(video);
  const bool swap = probe->rotation_deg == 90 || probe->rotation_deg == 270;
  probe->width = swap ? par.height : par.width;
  probe->height = swap ? par.width : par.height;
  probe->codec = avcodec_get_name(par.codec_id);
  probe->bit_rate = par.bit_rate;
  const char* pix = av_get_pix_fmt_name(static_cast<AVPixelFormat>(par.format));
  probe->pixel_format = pix != nullptr ? pix : "";
  probe->color_primaries =
      TagName(av_color_primaries_name(par.color_primaries));
  probe->color_transfer = TagName(av_color_transfer_name(par.color_trc));
  probe->color_space = TagName(av_color_space_name(par.color_space));
  probe->color_range = TagName(av_color_range_name(par.color_range));
  const AVRational sar =
      av_guess_sample_aspect_ratio(const_cast<AVFormatContext*>(&format),
                                   const_cast<AVStream*>(&video),
                                   nullptr);
  probe->pixel_aspect = sar.num > 0 && sar.den > 0
                            ? internal::Reduce({sar.num, sar.den})
                            : Rational{1, 1};
  probe->time_base = {video.time_base.num, video.time_base.den};
}

}  // namespace

MediaProbe ProbeMedia(const std::string& path) {
  AVFormatContext* raw = nullptr;
  int error = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (error < 0) internal::ThrowAvError(path, "cannot open", error);
  internal::FormatContextPtr format(raw);
  error = avformat_find_stream_info(format.get(), nullptr);
  if (error < 0) internal::ThrowAvError(path, "cannot read stream info", error);
  MediaProbe probe;
  probe.path = path;
  int video_index = -1;
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    const AVStream* stream = format->streams[i];
    const AVCodecParameters& par = *stream->codecpar;
    if (par.codec_type == AVMEDIA_TYPE_AUDIO && !probe.has_audio) {
      probe.has_audio = true;
      probe.audio_codec = avcodec_get_name(par.codec_id);
      probe.audio_sample_rate = par.sample_rate;
      probe.audio_channels = par.ch_layout.nb_channels;
    }
    if (par.codec_type == AVMEDIA_TYPE_VIDEO && video_index < 0 &&
        (stream->disposition & AV_DISPOSITION_ATTACHED_PIC) == 0) {
      video_index = static_cast<int>(i);
    }
  }
  if (video_index < 0) {
    internal::ThrowAvError(path, "no video stream", AVERROR_STREAM_NOT_FOUND);
  }
  const AVStream& video = *format->streams[video_index];
  FillStreams(*format, video, &probe);
  const std::vector<int64_t> pts = ScanPts(format.get(), video_index, path);
  if (pts.empty()) {
    internal::ThrowAvError(path, "no video frames", AVERROR_INVALIDDATA);
  }
  const double tick_s = av_q2d(video.time_base);
  probe.pts_s.reserve(pts.size());
  for (const int64_t value : pts) {
    probe.pts_s.push_back(static_cast<double>(value - pts.front()) * tick_s);
  }
  probe.frame_count = static_cast<int64_t>(pts.size());
  probe.is_vfr = IsVfr(pts);
  probe.fps = RateOf(video, pts, probe.is_vfr);
  probe.duration_s =
      static_cast<double>(probe.frame_count) / probe.fps.ToDouble();
  return probe;
}

#else

MediaProbe ProbeMedia(const std::string& path) {
  throw DecodeError("video '" + path +
                    "': this build has no FFmpeg (VANELIA_WITH_FFMPEG=OFF)");
}

#endif

}  // namespace vanelia
