// The sensor noise (grain) of footage, measured per colour channel, so that a
// render laid over the plate can be given the same grain (issue 21).
//
// Immerkaer's fast noise variance estimation (J. Immerkaer, "Fast noise
// variance estimation", CVIU 64(2), 1996): the image filtered with the
// Laplacian difference mask M = [1 -2 1; -2 4 -2; 1 -2 1] cancels smooth
// shading, and for white Gaussian noise of deviation s the filtered values
// have mean absolute value 6 s sqrt(2 / pi). Structure (edges, texture) also
// passes the mask, so the estimate is taken only over the flattest blocks of
// the image (as in Tai and Yang 2008, "A fast method for image noise
// estimation using Laplacian operator and adaptive edge detection"): blocks
// ranked by the gradient of the box-blurred image (little affected by the
// noise itself), the lowest `flat_fraction` kept. Blocks touching clipped
// pixels (0 or 255: the noise is cut there) are left out.
#pragma once

#include "vanelia/core/image.hpp"

#include <array>
#include <vector>

namespace vanelia {

struct ImageNoiseOptions {
  // Side of the square blocks the image is ranked in, pixels.
  int block_px = 8;
  // Fraction of the blocks, the flattest, the noise is measured in.
  double flat_fraction = 0.2;
  // Fewer usable flat blocks than this: no estimate (too small or all
  // clipped).
  int min_blocks = 16;

  // Throws InputError naming the field, its value and the rule.
  void Check() const;
};

struct ImageNoise {
  // Standard deviation of the noise per channel (R, G, B; a grey image fills
  // all three), in 8-bit code values (0-255).
  std::array<double, 3> sigma{0.0, 0.0, 0.0};
  int blocks_used = 0;  // flat blocks measured (per frame, summed)
  int frames_used = 0;  // images with an estimate
  bool valid = false;   // false: too few usable blocks
};

// The noise of one RGB, RGBA (alpha ignored) or grey image.
ImageNoise EstimateImageNoise(const Image& image,
                              const ImageNoiseOptions& options = {});

// The noise of footage: the per-channel median over the frames that give an
// estimate (a single dark or clipped frame does not decide it).
ImageNoise EstimateFramesNoise(const std::vector<Image>& frames,
                               const ImageNoiseOptions& options = {});

}  // namespace vanelia
