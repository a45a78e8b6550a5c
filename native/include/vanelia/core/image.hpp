// An 8-bit interleaved image owned by value, the pixel type every layer
// exchanges (decoded frames, tracker inputs). Row r starts at data[r*stride].
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vanelia {

struct Image {
  int width = 0;     // pixels
  int height = 0;    // pixels
  int channels = 3;  // 3 = RGB, 1 = grey
  int stride = 0;    // bytes per row, >= width * channels
  std::vector<uint8_t> data;

  // An image of the given size, zero-filled, tightly packed.
  static Image Create(int width, int height, int channels = 3);

  bool Empty() const { return width <= 0 || height <= 0 || data.empty(); }

  uint8_t* Row(int y) { return data.data() + static_cast<size_t>(y) * stride; }

  const uint8_t* Row(int y) const {
    return data.data() + static_cast<size_t>(y) * stride;
  }

  uint8_t& At(int x, int y, int c) { return Row(y)[x * channels + c]; }

  uint8_t At(int x, int y, int c) const { return Row(y)[x * channels + c]; }
};

}  // namespace vanelia
