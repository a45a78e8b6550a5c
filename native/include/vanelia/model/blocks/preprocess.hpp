// Image preprocessing of the MUSt3R demo (must3r/demo/inference.py
// load_images with must3r/tools/image.py get_resize_function): normalise to
// [-1, 1], centre-crop to the aspect ratio of the nearest resolution bucket,
// then an antialiased bilinear resize. Plus the exact map from network
// pixels back to source pixels (upstream's to_orig is half a pixel off when
// the crop offset rounds, and ignores the pixel-centre shift of the resize).
#pragma once

#include "vanelia/geometry/intrinsics.hpp"

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace vanelia::model {

// One aspect bucket: ratio (long side / short side as upstream keys it) and
// the landscape output size.
struct AspectBucket {
  double ratio = 1.0;
  int width = 0;   // landscape width (long side)
  int height = 0;  // landscape height (short side)
};

// Upstream's ratios_resolutions for 224, 336, 384, 448, 512, 768. Throws
// InputError for another size.
std::vector<AspectBucket> BucketsForSize(int size);

// The crop and resize applied to one source image.
struct ResizePlan {
  int source_width = 0;
  int source_height = 0;
  bool identity = false;  // source already a bucket size: no crop, no resize
  int crop_x = 0;         // left column of the crop (round-half-even offset)
  int crop_y = 0;         // top row of the crop
  int crop_width = 0;
  int crop_height = 0;
  int output_width = 0;
  int output_height = 0;
  // Upstream's to_orig (3x3 row-major, x_orig = M [x, y, 1]): for reference
  // only; it uses the unrounded offset and no pixel-centre shift.
  double upstream_to_orig[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};

  // Source pixel (pixel centres at integers) of network pixel (x, y) in the
  // same convention: u = crop_x + sx * (x + 0.5) - 0.5.
  double SourceX(double x) const;
  double SourceY(double y) const;
  double ScaleX() const;  // source pixels per network pixel
  double ScaleY() const;
};

ResizePlan PlanResize(int source_width,
                      int source_height,
                      const std::vector<AspectBucket>& buckets);

// rgb: [H, W, 3] uint8 -> [3, H, W] float32 (u8 / 255 - 0.5) / 0.5.
torch::Tensor NormalizeImage(const torch::Tensor& rgb_u8);

// image: [3, H, W] (or [B, 3, H, W]) float, H x W = the plan's source.
// Crop, then bilinear resize (align_corners false, antialias as torchvision
// >= 0.17 does on tensors).
torch::Tensor ApplyResizePlan(const torch::Tensor& image,
                              const ResizePlan& plan,
                              bool antialias = true);

// Intrinsics in source pixels of a network focal with upstream's principal
// point (W/2, H/2) of the network image.
Intrinsics SourceIntrinsics(double focal_px, const ResizePlan& plan);

}  // namespace vanelia::model
