// The one OpenCV -> Blender camera conversion of the C++ library (its Python
// twin is addon/vanelia_blender/core/conventions.py; a test checks both
// agree and a Blender test checks the projection in the real Blender).
//
// Axis table (camera frame):
//
//   axis   OpenCV camera (trackers, K)   Blender camera object
//   +x     image right                   image right
//   +y     image down                    image up
//   +z     forward (into the scene)      backward (the camera looks down -z)
//
//   blender_cam_from_opencv_cam = diag(1, -1, -1)   (its own inverse)
//
// A track's pose is cam_from_world (OpenCV camera): x_in_cam = R x_in_world
// + t. The track file stores the Blender camera-to-world matrix
//
//   c2w_blender = world_from_cam * opencv_cam_from_blender_cam
//               = [[R^T * F, -R^T t], [0, 1]],   F = diag(1, -1, -1)
//
// Pixel convention (OpenCV, the track file's K): pixel centres at integer
// coordinates, the image spans [-0.5, W-0.5] x [-0.5, H-0.5]; a centred
// principal point of a 640x360 frame is (319.5, 179.5). Blender measures the
// image from pixel corners, [0, W] x [0, H]: u_corner = u + 0.5.
#pragma once

#include "vanelia/geometry/rigid3d.hpp"
#include "vanelia/geometry/rotation.hpp"

#include <Eigen/Core>

namespace vanelia {

// diag(1, -1, -1): maps OpenCV camera axes onto Blender camera axes (and
// back: the matrix is its own inverse).
Eigen::Matrix3d BlenderCamFromOpenCvCam();

// The Blender camera-to-world 4x4 of a pose given as cam_from_world with the
// OpenCV camera.
Eigen::Matrix4d BlenderC2wFromCamFromWorld(const Rigid3d& cam_from_world);

// The inverse of BlenderC2wFromCamFromWorld. The rotation block is projected
// onto SO(3) (SVD) first, so matrices written in single precision give the
// closest rotation. Throws InputError when the matrix is not finite, its
// last row is not [0, 0, 0, 1], or its rotation block is not a rotation
// within `tolerance` (max |R^T R - I|, det > 0).
Rigid3d CamFromWorldFromBlenderC2w(const Eigen::Matrix4d& c2w_blender,
                                   double tolerance = 1e-5);

}  // namespace vanelia
