// Private helpers shared by the network trackers (must3r_tracker.cpp,
// dust3r_tracker.cpp): frames into tensors, solved cameras out of them.
#pragma once

#include "vanelia/core/error.hpp"
#include "vanelia/core/image.hpp"
#include "vanelia/geometry/rigid3d.hpp"
#include "vanelia/geometry/rotation.hpp"
#include "vanelia/trackfile/depth_sidecar.hpp"

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

// Appends one frame's depth map to `maps` (the track file's depth sidecar):
// z of its world points along its camera's +z axis, at the network's
// resolution, with the network's intrinsics (focal `focal_net_px`,
// principal point at the centre as model::SourceIntrinsics and
// Dust3rSourceIntrinsics have it) and confidence (c - 1) / c as 0..255.
inline void AppendDepth(const torch::Tensor& pts3d,  // [H, W, 3] world
                        const torch::Tensor& conf,   // [H, W] 1 + exp(x)
                        const torch::Tensor& c2w,  // [4, 4] f64, OpenCV camera
                        double focal_net_px,
                        int64_t index,
                        DepthMaps* maps) {
  const int64_t h = pts3d.size(0);
  const int64_t w = pts3d.size(1);
  const torch::Tensor m = c2w.to(torch::kCPU).to(torch::kFloat64);
  const torch::Tensor axis = m.slice(0, 0, 3).select(1, 2);
  const torch::Tensor centre = m.slice(0, 0, 3).select(1, 3);
  const torch::Tensor z =
      torch::matmul(pts3d.to(torch::kCPU).to(torch::kFloat64) - centre, axis)
          .to(torch::kFloat32)
          .contiguous();
  const torch::Tensor c = conf.to(torch::kCPU).to(torch::kFloat32);
  const torch::Tensor c255 = ((c - 1.0) / c)
                                 .clamp(0.0, 1.0)
                                 .mul(255.0)
                                 .round()
                                 .to(torch::kUInt8)
                                 .contiguous();
  maps->width = static_cast<int>(w);
  maps->height = static_cast<int>(h);
  maps->frame_index.push_back(index);
  maps->intrinsics.emplace_back(focal_net_px, focal_net_px, w / 2.0, h / 2.0);
  const float* zp = z.data_ptr<float>();
  const uint8_t* cp = c255.data_ptr<uint8_t>();
  maps->depth.insert(maps->depth.end(), zp, zp + h * w);
  maps->confidence.insert(maps->confidence.end(), cp, cp + h * w);
}

}  // namespace vanelia::network_internal
