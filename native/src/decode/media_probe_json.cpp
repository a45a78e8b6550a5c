#include "vanelia/decode/media_probe_json.hpp"

namespace vanelia {

nlohmann::ordered_json MediaProbeToJson(const MediaProbe& probe,
                                        bool with_pts) {
  const auto rational = [](const Rational& value) {
    return nlohmann::ordered_json{{"num", value.num}, {"den", value.den}};
  };
  nlohmann::ordered_json json;
  json["path"] = probe.path;
  json["container"] = probe.container;
  json["width"] = probe.width;
  json["height"] = probe.height;
  json["coded_width"] = probe.coded_width;
  json["coded_height"] = probe.coded_height;
  json["rotation_deg"] = probe.rotation_deg;
  json["fps"] = rational(probe.fps);
  json["time_base"] = rational(probe.time_base);
  json["frame_count"] = probe.frame_count;
  json["duration_s"] = probe.duration_s;
  json["is_vfr"] = probe.is_vfr;
  json["pixel_aspect"] = rational(probe.pixel_aspect);
  json["codec"] = probe.codec;
  json["bit_rate"] = probe.bit_rate;
  json["pixel_format"] = probe.pixel_format;
  json["color_primaries"] = probe.color_primaries;
  json["color_transfer"] = probe.color_transfer;
  json["color_space"] = probe.color_space;
  json["color_range"] = probe.color_range;
  json["has_audio"] = probe.has_audio;
  json["audio_codec"] = probe.audio_codec;
  json["audio_sample_rate"] = probe.audio_sample_rate;
  json["audio_channels"] = probe.audio_channels;
  if (with_pts) json["pts_s"] = probe.pts_s;
  return json;
}

}  // namespace vanelia
