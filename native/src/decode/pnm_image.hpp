// Private: a reader for binary PPM/PGM (P6/P5, maxval <= 255), the image
// format image sequences can use in builds without FFmpeg.
#pragma once

#include "vanelia/core/image.hpp"

#include <string>

namespace vanelia::internal {

// Reads `path` as RGB (grey images are replicated to three channels). Throws
// DecodeError naming the file and the rule it broke.
Image ReadPnm(const std::string& path);

}  // namespace vanelia::internal
