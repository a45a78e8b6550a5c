#include "vanelia/trackfile/conventions.hpp"

#include "vanelia/core/error.hpp"

#include <sstream>

#include <Eigen/SVD>

namespace vanelia {

Eigen::Matrix3d BlenderCamFromOpenCvCam() {
  return Eigen::Vector3d(1.0, -1.0, -1.0).asDiagonal();
}

Eigen::Matrix4d BlenderC2wFromCamFromWorld(const Rigid3d& cam_from_world) {
  const Eigen::Matrix3d world_from_cam_r =
      cam_from_world.rotation.toRotationMatrix().transpose();
  Eigen::Matrix4d c2w = Eigen::Matrix4d::Identity();
  c2w.topLeftCorner<3, 3>() = world_from_cam_r * BlenderCamFromOpenCvCam();
  c2w.topRightCorner<3, 1>() = -(world_from_cam_r * cam_from_world.translation);
  return c2w;
}

Rigid3d CamFromWorldFromBlenderC2w(const Eigen::Matrix4d& c2w_blender,
                                   double tolerance) {
  if (!c2w_blender.allFinite()) {
    throw InputError("c2w_blender: must be finite");
  }
  if (c2w_blender.row(3) != Eigen::RowVector4d(0.0, 0.0, 0.0, 1.0)) {
    throw InputError("c2w_blender: last row must be [0, 0, 0, 1]");
  }
  const Eigen::Matrix3d r = c2w_blender.topLeftCorner<3, 3>();
  const double error =
      (r.transpose() * r - Eigen::Matrix3d::Identity()).cwiseAbs().maxCoeff();
  if (!(error <= tolerance) || r.determinant() <= 0.0) {
    std::ostringstream message;
    message.precision(3);
    message << "c2w_blender: rotation block must be a rotation (max |R^T R - "
               "I| = "
            << error << ", det = " << r.determinant()
            << "; must be <= " << tolerance << " and det > 0)";
    throw InputError(message.str());
  }
  // world_from_cam (OpenCV) = c2w_blender * F; cam_from_world = inverse.
  const Eigen::Matrix3d world_from_cam_r =
      ProjectToRotation(r) * BlenderCamFromOpenCvCam();
  const Eigen::Matrix3d cam_from_world_r = world_from_cam_r.transpose();
  const Eigen::Vector3d centre = c2w_blender.topRightCorner<3, 1>();
  return Rigid3d(Eigen::Quaterniond(cam_from_world_r),
                 -(cam_from_world_r * centre));
}

}  // namespace vanelia
