// Pinhole intrinsics in pixels, OpenCV camera axes (+x right, +y down,
// +z forward), pixel centres at integer coordinates: the centre of a
// 640x360 frame is (319.5, 179.5), and pixel (u, v) covers [u-0.5, u+0.5].
//
//   [u, v, 1]^T ~ K * x_in_cam,   K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
#pragma once

#include <Eigen/Core>

namespace vanelia {

struct Intrinsics {
  double fx = 0.0;  // pixels
  double fy = 0.0;  // pixels
  double cx = 0.0;  // pixels, pixel centres at integers
  double cy = 0.0;  // pixels
  int width = 0;    // pixels of the frame these refer to
  int height = 0;

  // Square pixels, principal point at the image centre.
  static Intrinsics Centered(double focal_px, int width, int height) {
    Intrinsics k;
    k.fx = focal_px;
    k.fy = focal_px;
    k.cx = 0.5 * width - 0.5;
    k.cy = 0.5 * height - 0.5;
    k.width = width;
    k.height = height;
    return k;
  }

  Eigen::Matrix3d K() const {
    Eigen::Matrix3d k;
    k << fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0;
    return k;
  }

  // Pixel of a point in front of the camera (z > 0).
  Eigen::Vector2d Project(const Eigen::Vector3d& x_in_cam) const {
    return {fx * x_in_cam.x() / x_in_cam.z() + cx,
            fy * x_in_cam.y() / x_in_cam.z() + cy};
  }

  // Ray direction (z = 1) through a pixel.
  Eigen::Vector3d Unproject(const Eigen::Vector2d& pixel) const {
    return {(pixel.x() - cx) / fx, (pixel.y() - cy) / fy, 1.0};
  }

  // The same camera for a frame resized to (new_width, new_height): pixel
  // edges map onto pixel edges.
  Intrinsics Rescaled(int new_width, int new_height) const {
    const double sx = static_cast<double>(new_width) / width;
    const double sy = static_cast<double>(new_height) / height;
    Intrinsics k;
    k.fx = fx * sx;
    k.fy = fy * sy;
    k.cx = (cx + 0.5) * sx - 0.5;
    k.cy = (cy + 0.5) * sy - 0.5;
    k.width = new_width;
    k.height = new_height;
    return k;
  }
};

}  // namespace vanelia
