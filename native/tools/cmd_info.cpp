// `vanelia info VIDEO [--json]`: what the reader knows about a clip (upright
// size, rotation, rate, exact frame count, duration, codec, audio, VFR,
// pixel aspect, colour tags), and for a video file what libavformat's probe
// (ProbeMedia, the add-on's probing) reads: the source's own rate and frame
// count, the four colour tags as ffprobe names them, the audio stream.
#include "vanelia/decode/media_probe_json.hpp"
#include "vanelia/decode/video_info_json.hpp"
#include "vanelia/decode/video_reader.hpp"

#include <cstdio>
#include <optional>
#include <string>

#include "cli.hpp"
#include "commands.hpp"
#include <nlohmann/json.hpp>

namespace vanelia::cli {
namespace {

// `vanelia info --json`: the clip's fields, the CFR mapping's counts after
// "is_vfr".
nlohmann::ordered_json InfoJson(const VideoInfo& info, const CfrReport& cfr) {
  const nlohmann::ordered_json fields = VideoInfoToJson(info);
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    json[it.key()] = it.value();
    if (it.key() == "is_vfr") {
      json["cfr_mapping"] = {{"duplicated", cfr.duplicated},
                             {"dropped", cfr.dropped}};
    }
  }
  return json;
}

// The numbering line of a pattern sequence: "numbers: 1-100, missing 5,
// 9-11 (4 files)".
std::string NumbersText(const VideoInfo& info) {
  if (!info.numbered) return "";
  std::string text = "numbers:        " + std::to_string(info.first_number) +
                     "-" + std::to_string(info.last_number);
  if (info.missing_numbers.empty()) return text + ", none missing\n";
  int64_t count = 0;
  std::string ranges;
  for (const auto& [first, last] : info.missing_numbers) {
    count += last - first + 1;
    if (!ranges.empty()) ranges += ", ";
    ranges += std::to_string(first);
    if (last > first) ranges += "-" + std::to_string(last);
  }
  return text + ", missing " + ranges + " (" + std::to_string(count) +
         (count == 1 ? " file)\n" : " files)\n");
}

std::string Text(const VideoInfo& info, const CfrReport& cfr) {
  char buffer[2048];
  std::snprintf(
      buffer,
      sizeof(buffer),
      "path:           %s\n"
      "resolution:     %dx%d (upright; coded %dx%d, rotation %d deg)\n"
      "frame rate:     %lld/%lld (%.6g fps)%s\n"
      "frames:         %lld (source %lld)\n"
      "duration:       %.6g s\n"
      "codec:          %s (%s)\n"
      "pixel aspect:   %lld:%lld\n"
      "colour:         range %s, primaries %s, matrix %s\n"
      "audio:          %s\n",
      info.path.c_str(),
      info.width,
      info.height,
      info.coded_width,
      info.coded_height,
      info.rotation_deg,
      static_cast<long long>(info.fps.num),
      static_cast<long long>(info.fps.den),
      info.fps.ToDouble(),
      info.is_image_sequence ? " (image sequence)" : "",
      static_cast<long long>(info.frame_count),
      static_cast<long long>(info.source_frame_count),
      info.duration_s,
      info.codec.c_str(),
      info.pixel_format.c_str(),
      static_cast<long long>(info.pixel_aspect.num),
      static_cast<long long>(info.pixel_aspect.den),
      info.color_range.c_str(),
      info.color_primaries.c_str(),
      info.color_space.c_str(),
      info.has_audio ? info.audio_codec.c_str() : "none");
  std::string text = buffer;
  if (info.is_vfr) {
    std::snprintf(buffer,
                  sizeof(buffer),
                  "VFR:            yes; %lld frames mapped to %lld constant "
                  "frames at the frame rate above (%lld duplicated, %lld "
                  "dropped)\n",
                  static_cast<long long>(cfr.source_frames),
                  static_cast<long long>(cfr.output_frames),
                  static_cast<long long>(cfr.duplicated),
                  static_cast<long long>(cfr.dropped));
  } else {
    std::snprintf(buffer, sizeof(buffer), "VFR:            no\n");
  }
  return text + buffer + NumbersText(info);
}

// The probe's lines: what differs from the reader's view or adds to it.
std::string ProbeText(const MediaProbe& probe) {
  const auto tag = [](const std::string& value) {
    return value.empty() ? std::string("unspecified") : value;
  };
  char buffer[1024];
  std::snprintf(buffer,
                sizeof(buffer),
                "source:         %lld frames at %lld/%lld fps, %s\n"
                "colour tags:    primaries %s, transfer %s, matrix %s, "
                "range %s\n"
                "audio stream:   %s, %d Hz, %d channels\n",
                static_cast<long long>(probe.frame_count),
                static_cast<long long>(probe.fps.num),
                static_cast<long long>(probe.fps.den),
                probe.container.c_str(),
                tag(probe.color_primaries).c_str(),
                tag(probe.color_transfer).c_str(),
                tag(probe.color_space).c_str(),
                tag(probe.color_range).c_str(),
                probe.has_audio ? probe.audio_codec.c_str() : "none",
                probe.audio_sample_rate,
                probe.audio_channels);
  return probe.has_audio ? buffer
                         : std::string(buffer).substr(
                               0, std::string(buffer).find("audio stream:"));
}

}  // namespace

int RunInfo(const Args& args) {
  ArgParser parser("vanelia info",
                   "Describe a video file or an image sequence.");
  parser.AddPositional("VIDEO",
                       "video file, image folder or pattern (frames/%04d.png)");
  parser.AddFlag("--json", "print one JSON object instead of text");
  if (!parser.Parse(args)) return 0;
  SetLibavLogQuiet(true);  // errors come back as one DecodeError line
  const auto reader = VideoReader::Open(parser.Get("VIDEO"));
  std::optional<MediaProbe> probe;
  if (!reader->Info().is_image_sequence)
    probe = ProbeMedia(parser.Get("VIDEO"));
  if (parser.Flag("--json")) {
    nlohmann::ordered_json json = InfoJson(reader->Info(), reader->Cfr());
    if (probe) json["source"] = MediaProbeToJson(*probe, /*with_pts=*/false);
    std::printf("%s\n", json.dump(2).c_str());
  } else {
    std::string text = Text(reader->Info(), reader->Cfr());
    if (probe) text += ProbeText(*probe);
    std::fputs(text.c_str(), stdout);
  }
  return 0;
}

}  // namespace vanelia::cli
