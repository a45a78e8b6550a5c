#include "vanelia/decode/video_info_json.hpp"

namespace vanelia {
namespace {

nlohmann::ordered_json RationalJson(const Rational& value) {
  return {{"num", value.num}, {"den", value.den}};
}

}  // namespace

nlohmann::ordered_json VideoInfoToJson(const VideoInfo& info) {
  nlohmann::ordered_json json;
  json["path"] = info.path;
  json["width"] = info.width;
  json["height"] = info.height;
  json["coded_width"] = info.coded_width;
  json["coded_height"] = info.coded_height;
  json["rotation_deg"] = info.rotation_deg;
  json["fps"] = RationalJson(info.fps);
  json["fps_float"] = info.fps.ToDouble();
  json["frame_count"] = info.frame_count;
  json["source_frame_count"] = info.source_frame_count;
  json["duration_s"] = info.duration_s;
  json["codec"] = info.codec;
  json["pixel_format"] = info.pixel_format;
  json["pixel_aspect"] = RationalJson(info.pixel_aspect);
  json["color_range"] = info.color_range;
  json["color_primaries"] = info.color_primaries;
  json["color_space"] = info.color_space;
  json["has_audio"] = info.has_audio;
  json["audio_codec"] = info.audio_codec;
  json["is_vfr"] = info.is_vfr;
  json["is_image_sequence"] = info.is_image_sequence;
  if (info.numbered) {
    nlohmann::ordered_json missing = nlohmann::ordered_json::array();
    for (const auto& [first, last] : info.missing_numbers) {
      missing.push_back({first, last});
    }
    json["numbers"] = {{"first", info.first_number},
                       {"last", info.last_number},
                       {"missing", missing}};
  }
  return json;
}

}  // namespace vanelia
