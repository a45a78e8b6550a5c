// Image preprocessing of DUSt3R (upstream dust3r/utils/image.py load_images
// and _resize_pil_image): the long side scaled to `size` (224: the short
// side to 224) with Pillow's LANCZOS when shrinking and BICUBIC otherwise,
// then a centre crop to multiples of 16 (224: a centred square; a square
// image: height 3/4 of the width), normalised to [-1, 1].
//
// The resampler is a port of Pillow 9.4 libImaging/Resample.c
// (precompute_coeffs, normalize_coeffs_8bpc, ImagingResampleHorizontal_8bpc
// and ImagingResampleVertical_8bpc): separable, horizontal pass first,
// 22-bit fixed-point coefficients, uint8 rounding between the passes. It
// reproduces Pillow's pixels exactly (the preprocessing fixtures).
#pragma once

#include "vanelia/geometry/intrinsics.hpp"

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace vanelia::model {

enum class PillowFilter { kBicubic, kLanczos };

// What load_images does to one image of source_width x source_height.
struct Dust3rResizePlan {
  int source_width = 0;
  int source_height = 0;
  int resized_width = 0;  // after _resize_pil_image
  int resized_height = 0;
  PillowFilter filter = PillowFilter::kLanczos;
  int crop_left = 0;  // crop box in resized pixels (left, top, right, bottom)
  int crop_top = 0;
  int crop_right = 0;
  int crop_bottom = 0;

  int OutputWidth() const { return crop_right - crop_left; }

  int OutputHeight() const { return crop_bottom - crop_top; }
};

// size: 224 or 512 (any size > 0 follows the 512 rule, as upstream).
// InputError for non-positive sizes.
Dust3rResizePlan PlanDust3rResize(int source_width,
                                  int source_height,
                                  int size,
                                  bool square_ok = false,
                                  int patch_size = 16);

// Pillow's Image.resize on RGB8 pixels: rgb is height x width x 3, row-major,
// tightly packed. Returns out_height x out_width x 3.
std::vector<uint8_t> PillowResize(const std::vector<uint8_t>& rgb,
                                  int width,
                                  int height,
                                  int out_width,
                                  int out_height,
                                  PillowFilter filter);

// rgb: [H, W, 3] uint8 CPU -> the resized, cropped [H', W', 3] uint8.
torch::Tensor ApplyDust3rResize(const torch::Tensor& rgb,
                                const Dust3rResizePlan& plan);

// Intrinsics in source pixels (centres at integers) of a focal in network
// pixels with the network's principal point (W'/2, H'/2), inverting the
// plan: u = (x + crop_left + 0.5) * sx - 0.5, sx = source / resized width.
Intrinsics Dust3rSourceIntrinsics(double focal_px,
                                  const Dust3rResizePlan& plan);

}  // namespace vanelia::model
