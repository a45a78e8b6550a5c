// Private helpers shared by the network trackers (must3r_tracker.cpp,
// dust3r_tracker.cpp): frames into tensors, solved cameras out of them.
#pragma once

#include "vanelia/core/error.hpp"
#include "vanelia/core/image.hpp"
#include "vanelia/geometry/rigid3d.hpp"
#include "vanelia/geometry/rotation.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include <Eigen/Geometry>
#include <torch/torch.h>

namespace vanelia::network_internal {

// An RGB frame as a [H, W, 3] uint8 tensor; InputError naming `tracker`
// for anything but a non-empty 3-channel image.
inline torch::Tensor ImageToTensor(const Image& image, const char* tracker) {
  if (image.channels != 3 || image.Empty()) {
    throw InputError(std::string(tracker) +
                     ": frames must be RGB (3 channels), got " +
                     std::to_string(image.channels));
  }
  torch::Tensor t = torch::empty({image.height, image.width, 3}, torch::kUInt8);
  for (int y = 0; y < image.height; ++y) {
    std::copy(
        image.Row(y),
        image.Row(y) + image.width * 3,
        t.data_ptr<uint8_t>() + static_cast<int64_t>(y) * image.width * 3);
  }
  return t;
}

// cam_from_world of a 4x4 camera-to-world tensor (any device and float
// type), its rotation projected onto SO(3).
inline Rigid3d CamFromWorld(const torch::Tensor& c2w) {
  const torch::Tensor m = c2w.to(torch::kCPU).to(torch::kFloat64).contiguous();
  Eigen::Matrix4d world_from_cam;
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) world_from_cam(r, c) = m[r][c].item<double>();
  }
  const Eigen::Matrix3d rot =
      ProjectToRotation(world_from_cam.block<3, 3>(0, 0));
  return Rigid3d(Eigen::Quaterniond(rot), world_from_cam.block<3, 1>(0, 3))
      .Inverse();
}

}  // namespace vanelia::network_internal
