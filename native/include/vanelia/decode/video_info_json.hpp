// VideoInfo as JSON: the one field list behind `vanelia info --json` and the
// Python module's `probe_video` / `VideoReader.info`.
#pragma once

#include "vanelia/decode/frame.hpp"

#include <nlohmann/json.hpp>

namespace vanelia {

// Every field of `info`, in a fixed order; rationals as {"num", "den"} plus
// "fps_float".
nlohmann::ordered_json VideoInfoToJson(const VideoInfo& info);

}  // namespace vanelia
