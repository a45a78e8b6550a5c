// Perspective-n-point for DUSt3R's spanning-tree initialisation, in Eigen
// (OpenCV is not allowed in model/ and is absent on the GPU machine).
//
// Upstream (dust3r/cloud_opt/init_im_poses.py fast_pnp) calls
// cv2.solvePnPRansac(flags=SOLVEPNP_SQPNP, 10 iterations, 5 px): RANSAC over
// minimal EPnP samples, then SQPnP on the inliers. SQPnP (Terzakis and
// Lourakis, ECCV 2020; OpenCV calib3d/src/sqpnp.cpp) returns the global
// minimum of sum_i |A_i (R X_i + t)|^2 with A_i = [[1, 0, -x_i],
// [0, 1, -y_i]], (x_i, y_i) the normalised image point (OpenCV's Omega).
// Here: a linear (DLT) start refined by Gauss-Newton on that same error,
// with the 5 px inlier set re-estimated until it is stable, which reaches
// the same minimum on the dense, near-clean pointmaps DUSt3R feeds it (the
// alignment test compares g1's recorded PnP poses).
#pragma once

#include <optional>

#include <Eigen/Core>

namespace vanelia::model {

struct PnpOptions {
  double focal_px = 0.0;  // pinhole focal, pixels
  double cx = 0.0;        // principal point, pixels
  double cy = 0.0;
  double inlier_px = 5.0;     // reprojection threshold (upstream 5 px)
  int max_inlier_rounds = 5;  // re-estimations of the inlier set
  int max_gauss_newton = 50;  // iterations per solve
};

struct PnpResult {
  Eigen::Matrix3d cam_from_world_rotation;
  Eigen::Vector3d cam_from_world_translation;
  int num_inliers = 0;
};

// points_in_world: [3, N]; pixels: [2, N] (pixel centres at integers).
// std::nullopt when fewer than 4 points or no pose puts 4 points within
// the threshold in front of the camera.
std::optional<PnpResult> SolvePnpObjectSpace(
    const Eigen::Matrix3Xd& points_in_world,
    const Eigen::Matrix2Xd& pixels,
    const PnpOptions& options);

}  // namespace vanelia::model
