#include "vanelia/core/image.hpp"

#include "vanelia/core/error.hpp"

#include <string>

namespace vanelia {

Image Image::Create(int width, int height, int channels) {
  if (width <= 0 || height <= 0 ||
      (channels != 1 && channels != 3 && channels != 4)) {
    throw InputError("Image::Create: size " + std::to_string(width) + "x" +
                     std::to_string(height) + "x" + std::to_string(channels) +
                     " must be positive with 1, 3 or 4 channels");
  }
  Image image;
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.stride = width * channels;
  image.data.assign(static_cast<size_t>(image.stride) * height, 0);
  return image;
}

}  // namespace vanelia
