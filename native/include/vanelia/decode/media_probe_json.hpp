// MediaProbe as JSON: the one field list behind `vanelia info --json`'s
// "source" object and the Python module's `probe_media`.
#pragma once

#include "vanelia/decode/media_probe.hpp"

#include <nlohmann/json.hpp>

namespace vanelia {

// Every field of `probe` in a fixed order; rationals as {"num", "den"};
// "pts_s" (one number a frame) only when `with_pts`.
nlohmann::ordered_json MediaProbeToJson(const MediaProbe& probe, bool with_pts);

}  // namespace vanelia
