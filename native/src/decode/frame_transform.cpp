// Output geometry shared by the sources: output size, rotation, and a
// bilinear resize for images that do not go through swscale.
#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "frame_source.hpp"

namespace vanelia::internal {

OutputSize ComputeOutputSize(int width,
                             int height,
                             const ReadOptions& options) {
  if (options.target_width > 0 && options.target_height > 0) {
    return {options.target_width, options.target_height};
  }
  if (options.max_width > 0 && width > options.max_width) {
    const int scaled = static_cast<int>(
        std::lround(static_cast<double>(height) * options.max_width / width));
    return {options.max_width, std::max(1, scaled)};
  }
  return {width, height};
}

Image RotateClockwise(const Image& image, int degrees) {
  if (degrees == 0) return image;
  const int c = image.channels;
  const bool swap = degrees == 90 || degrees == 270;
  Image out = Image::Create(
      swap ? image.height : image.width, swap ? image.width : image.height, c);
  for (int y = 0; y < out.height; ++y) {
    uint8_t* row = out.Row(y);
    for (int x = 0; x < out.width; ++x) {
      int sx = x;
      int sy = y;
      if (degrees == 90) {  // out(x, y) = in(y, H-1-x)
        sx = y;
        sy = image.height - 1 - x;
      } else if (degrees == 180) {
        sx = image.width - 1 - x;
        sy = image.height - 1 - y;
      } else if (degrees == 270) {  // out(x, y) = in(W-1-y, x)
        sx = image.width - 1 - y;
        sy = x;
      } else {
        throw InternalError(
            "RotateClockwise: degrees = " + std::to_string(degrees) +
            "; must be 0, 90, 180 or 270");
      }
      const uint8_t* src = image.Row(sy) + static_cast<size_t>(sx) * c;
      std::copy(src, src + c, row + static_cast<size_t>(x) * c);
    }
  }
  return out;
}

Image ResizeBilinear(const Image& image, int width, int height) {
  if (width == image.width && height == image.height) return image;
  Image out = Image::Create(width, height, image.channels);
  const double sx = static_cast<double>(image.width) / width;
  const double sy = static_cast<double>(image.height) / height;
  const int c = image.channels;
  for (int y = 0; y < height; ++y) {
    const double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, image.height - 1.0);
    const int y0 = static_cast<int>(fy);
    const int y1 = std::min(y0 + 1, image.height - 1);
    const double wy = fy - y0;
    for (int x = 0; x < width; ++x) {
      const double fx =
          std::clamp((x + 0.5) * sx - 0.5, 0.0, image.width - 1.0);
      const int x0 = static_cast<int>(fx);
      const int x1 = std::min(x0 + 1, image.width - 1);
      const double wx = fx - x0;
      for (int k = 0; k < c; ++k) {
        const double top =
            image.At(x0, y0, k) * (1 - wx) + image.At(x1, y0, k) * wx;
        const double bottom =
            image.At(x0, y1, k) * (1 - wx) + image.At(x1, y1, k) * wx;
        out.At(x, y, k) =
            static_cast<uint8_t>(std::lround(top * (1 - wy) + bottom * wy));
      }
    }
  }
  return out;
}

}  // namespace vanelia::internal
