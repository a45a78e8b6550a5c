#include "vanelia/core/image_noise.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/option_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vanelia {
namespace {

// 6 sqrt(2 / pi): mean |M * n| / s for white Gaussian noise n of deviation s.
const double kLaplacianGain = 6.0 * std::sqrt(2.0 / 3.14159265358979323846);

// Channel c of `image` as doubles, row-major (a grey image gives its one
// channel for every c).
std::vector<double> Channel(const Image& image, int c) {
  const int channel = image.channels == 1 ? 0 : c;
  std::vector<double> out(static_cast<size_t>(image.width) * image.height);
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      out[static_cast<size_t>(y) * image.width + x] = image.At(x, y, channel);
    }
  }
  return out;
}

struct Block {
  int x0 = 0;
  int y0 = 0;
  double structure = 0.0;  // mean gradient of the box-blurred image
};

// Blocks whose pixels and their 2-pixel ring are inside the image and not
// clipped in any channel, with their structure measure (the gradient of
// the 3x3 box-blurred luma, summed over the block).
std::vector<Block> UsableBlocks(const Image& image, int size) {
  const int w = image.width;
  const int h = image.height;
  std::vector<double> luma(static_cast<size_t>(w) * h, 0.0);
  std::vector<uint8_t> clipped(static_cast<size_t>(w) * h, 0);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      double sum = 0.0;
      const int colours = std::min(image.channels, 3);
      for (int c = 0; c < colours; ++c) {
        const uint8_t v = image.At(x, y, c);
        sum += v;
        if (v == 0 || v == 255) clipped[static_cast<size_t>(y) * w + x] = 1;
      }
      luma[static_cast<size_t>(y) * w + x] = sum / colours;
    }
  }
  auto blurred = [&](int x, int y) {
    double sum = 0.0;
    for (int dy = -1; dy <= 1; ++dy) {
      for (int dx = -1; dx <= 1; ++dx) {
        sum += luma[static_cast<size_t>(y + dy) * w + (x + dx)];
      }
    }
    return sum / 9.0;
  };
  std::vector<Block> blocks;
  for (int y0 = 2; y0 + size + 2 <= h; y0 += size) {
    for (int x0 = 2; x0 + size + 2 <= w; x0 += size) {
      bool any_clipped = false;
      for (int y = y0 - 1; y < y0 + size + 1 && !any_clipped; ++y) {
        for (int x = x0 - 1; x < x0 + size + 1; ++x) {
          if (clipped[static_cast<size_t>(y) * w + x] != 0) {
            any_clipped = true;
            break;
          }
        }
      }
      if (any_clipped) continue;
      double structure = 0.0;
      for (int y = y0; y < y0 + size; ++y) {
        for (int x = x0; x < x0 + size; ++x) {
          structure += std::abs(blurred(x + 1, y) - blurred(x - 1, y)) +
                       std::abs(blurred(x, y + 1) - blurred(x, y - 1));
        }
      }
      blocks.push_back({x0, y0, structure});
    }
  }
  return blocks;
}

// Mean |M * I| over the pixels of `blocks` in channel `values` (w wide).
double MeanLaplacian(const std::vector<double>& values,
                     int w,
                     const std::vector<Block>& blocks,
                     int size) {
  double sum = 0.0;
  int64_t count = 0;
  for (const Block& b : blocks) {
    for (int y = b.y0; y < b.y0 + size; ++y) {
      for (int x = b.x0; x < b.x0 + size; ++x) {
        auto v = [&](int dx, int dy) {
          return values[static_cast<size_t>(y + dy) * w + (x + dx)];
        };
        const double response = v(-1, -1) - 2.0 * v(0, -1) + v(1, -1) -
                                2.0 * v(-1, 0) + 4.0 * v(0, 0) - 2.0 * v(1, 0) +
                                v(-1, 1) - 2.0 * v(0, 1) + v(1, 1);
        sum += std::abs(response);
        ++count;
      }
    }
  }
  return count > 0 ? sum / static_cast<double>(count) : 0.0;
}

}  // namespace

void ImageNoiseOptions::Check() const {
  constexpr const char* kOptions = "ImageNoiseOptions";
  internal::RequireOption(
      block_px >= 3, kOptions, "block_px", block_px, "must be >= 3");
  internal::RequireOption(flat_fraction > 0.0 && flat_fraction <= 1.0,
                          kOptions,
                          "flat_fraction",
                          std::to_string(flat_fraction),
                          "must be in (0, 1]");
  internal::RequireOption(
      min_blocks >= 1, kOptions, "min_blocks", min_blocks, "must be >= 1");
}

ImageNoise EstimateImageNoise(const Image& image,
                              const ImageNoiseOptions& options) {
  options.Check();
  if (image.channels != 1 && image.channels != 3 && image.channels != 4) {
    throw InputError("image: " + std::to_string(image.channels) +
                     " channels; must be 1 (grey), 3 (RGB) or 4 (RGBA: alpha "
                     "ignored)");
  }
  ImageNoise noise;
  if (image.Empty()) return noise;
  std::vector<Block> blocks = UsableBlocks(image, options.block_px);
  const int keep = static_cast<int>(
      std::floor(options.flat_fraction * static_cast<double>(blocks.size())));
  if (keep < options.min_blocks) return noise;
  std::nth_element(
      blocks.begin(),
      blocks.begin() + keep,
      blocks.end(),
      [](const Block& a, const Block& b) { return a.structure < b.structure; });
  blocks.resize(keep);
  for (int c = 0; c < 3; ++c) {
    noise.sigma[c] =
        MeanLaplacian(
            Channel(image, c), image.width, blocks, options.block_px) /
        kLaplacianGain;
  }
  noise.blocks_used = keep;
  noise.frames_used = 1;
  noise.valid = true;
  return noise;
}

ImageNoise EstimateFramesNoise(const std::vector<Image>& frames,
                               const ImageNoiseOptions& options) {
  options.Check();
  std::vector<ImageNoise> estimates;
  for (const Image& frame : frames) {
    ImageNoise one = EstimateImageNoise(frame, options);
    if (one.valid) estimates.push_back(one);
  }
  ImageNoise noise;
  if (estimates.empty()) return noise;
  for (int c = 0; c < 3; ++c) {
    std::vector<double> values;
    values.reserve(estimates.size());
    for (const ImageNoise& e : estimates) values.push_back(e.sigma[c]);
    const size_t mid = values.size() / 2;
    std::nth_element(values.begin(), values.begin() + mid, values.end());
    double median = values[mid];
    if (values.size() % 2 == 0) {
      median = 0.5 * (median +
                      *std::max_element(values.begin(), values.begin() + mid));
    }
    noise.sigma[c] = median;
  }
  for (const ImageNoise& e : estimates) noise.blocks_used += e.blocks_used;
  noise.frames_used = static_cast<int>(estimates.size());
  noise.valid = true;
  return noise;
}

}  // namespace vanelia
