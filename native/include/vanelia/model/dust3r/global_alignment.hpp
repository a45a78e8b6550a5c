// DUSt3R's global alignment (upstream dust3r/cloud_opt/optimizer.py
// PointCloudOptimizer with base_opt.py BasePCOptimizer, init_im_poses.py
// init_minimum_spanning_tree and commons.py): from the pairwise pointmaps
// of a scene graph, one depth map, pose and focal per image in one world.
//
// Parameters (as upstream, all float32):
// - per edge e: pw_poses[e] = [qx, qy, qz, qw (unnormalised), slog1p(t),
//   log s]; world_from_cam_i(e) = s_e * [R(q) | expm1s(t)] with
//   s_e = exp(log s_e) * exp(log base_scale - mean(log s));
// - per image i: im_poses[i] = [q, slog1p(t)] (world_from_cam, unscaled),
//   im_focals[i] = focal_break * log f (one row when shared_focal),
//   im_depthmaps[i] = log depth
//   (row-major); principal point fixed at (W/2, H/2).
// Loss: for both sides of every edge, sum over pixels of
// log(conf) * |p_world(depth) - world_from_cam(e) pred|_2, divided by the
// side's total pixel count. Adam (betas 0.9, 0.9), cosine or linear lr.
//
// Points: p_cam = depth * ((u - cx) / f, (v - cy) / f, 1) on the integer
// pixel grid; p_world = R p_cam + t (OpenCV camera axes).
#pragma once

#include "vanelia/model/dust3r/pnp.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace vanelia::model {

enum class LrSchedule { kCosine, kLinear };

struct GlobalAlignmentOptions {
  int iterations = 300;  // Adam steps (upstream niter)
  double lr = 0.01;      // initial learning rate
  double lr_min = 1e-6;  // final learning rate of the schedule
  LrSchedule schedule = LrSchedule::kCosine;
  double min_conf_thr = 3.0;   // pixels above it feed the PnP init
  double base_scale = 0.5;     // geometric mean of the pairwise scales
  double focal_break = 20.0;   // focal parameter = focal_break * log f
  int pnp_iterations = 10;     // upstream niter_PnP (RANSAC budget)
  double pnp_inlier_px = 5.0;  // PnP reprojection threshold, pixels
  // Focal fixed for every image (pixels of the network image), not
  // optimised; std::nullopt: estimated and optimised.
  std::optional<double> fixed_focal_px;
  // One focal parameter for all images (newer upstream's shared_focal; its
  // init value is the median of the images' initial focals). False is the
  // fixture's (and upstream's default) one focal per image.
  bool shared_focal = false;

  // InputError naming the field, its value and the rule.
  void Check() const;
};

// The network's pairwise predictions, one row per directed edge (i, j):
// image i's points and image j's points, both in camera i's frame.
struct PairwisePointmaps {
  std::vector<std::pair<int64_t, int64_t>> edges;
  torch::Tensor pts_i;   // [E, H, W, 3] f32, camera i frame
  torch::Tensor pts_j;   // [E, H, W, 3] f32, camera i frame
  torch::Tensor conf_i;  // [E, H, W] f32, >= 1
  torch::Tensor conf_j;  // [E, H, W] f32, >= 1
};

// What the optimiser holds now (upstream's getters and raw parameters).
struct AlignmentState {
  torch::Tensor c2w;                 // [N, 4, 4] world_from_cam
  torch::Tensor focals;              // [N] pixels
  torch::Tensor pp;                  // [N, 2] pixels (x, y)
  torch::Tensor depthmaps;           // [N, H, W]
  torch::Tensor pts3d;               // [N, H, W, 3] world
  torch::Tensor pw_poses;            // [E, 4, 4] scaled world_from_cam_i
  torch::Tensor pw_scale;            // [E]
  torch::Tensor param_pw_poses;      // [E, 8]
  torch::Tensor param_im_poses;      // [N, 7]
  torch::Tensor param_im_focals;     // [N, 1] ([1, 1] shared)
  torch::Tensor param_im_depthmaps;  // [N, H*W]
};

// One PnP of the initialisation (upstream's fast_pnp), for logs and tests.
struct PnpCall {
  int64_t image = 0;
  double focal_px = 0.0;
  int64_t num_masked = 0;
  bool success = false;
  torch::Tensor c2w;  // [4, 4] f32 (when success)
};

// The PnP of the init: image index, its world points [H, W, 3], focal
// (pixels), mask [H, W] bool -> (focal, c2w [4, 4]) or std::nullopt.
// Default: SolvePnpObjectSpace (pnp.hpp), as upstream's fast_pnp.
using PnpFunction =
    std::function<std::optional<std::pair<double, torch::Tensor>>(
        int64_t image,
        const torch::Tensor& pts3d,
        double focal_px,
        const torch::Tensor& mask)>;

struct MstInitReport {
  // Tree edges in upstream's log order: (i, j, score).
  std::vector<std::tuple<int64_t, int64_t, double>> tree_edges;
  std::vector<PnpCall> pnp_calls;
  double init_loss = 0.0;
};

class PointCloudOptimizer {
 public:
  // All images share one shape H x W; the number of images is
  // 1 + the largest index in `pairs.edges`. InputError on bad shapes.
  PointCloudOptimizer(const PairwisePointmaps& pairs,
                      const GlobalAlignmentOptions& options);

  // init='mst': spanning tree over edge scores mean(conf_i) * mean(conf_j),
  // scaled registration along the tree, PnP for the images that never
  // start a tree edge, then every pairwise pose registered to the result.
  // `pnp` replaces the built-in PnP (tests replay upstream's recorded
  // OpenCV results through it).
  MstInitReport InitMst(const PnpFunction& pnp = nullptr);

  // The loss (differentiable in the parameters).
  torch::Tensor Loss();

  // options.iterations Adam steps. `on_step(k)` is called after step k;
  // returning false stops (the caller raises Cancelled). Returns the loss
  // history (entry k: the loss evaluated before step k), copied to the host
  // once after the loop: the steps themselves never wait for the device.
  std::vector<double> Optimize(
      const std::function<bool(int)>& on_step = nullptr);

  AlignmentState State();

  // [N, H, W]: per image the elementwise max of its confidences over edges.
  const torch::Tensor& image_confidence() const { return im_conf_; }

  int64_t num_images() const { return n_; }

 private:
  torch::Tensor PwPoses();      // [E, 4, 4] scaled
  torch::Tensor PwScale();      // [E]
  torch::Tensor ImPoses();      // [N, 4, 4]
  torch::Tensor Focals();       // [N]
  torch::Tensor WorldPoints();  // [N, HW, 3]
  void SetPose(torch::Tensor& params,
               int64_t row,
               const torch::Tensor& r,
               const torch::Tensor& t,
               double scale);
  // Poses of the images the tree left without one (upstream's fast_pnp
  // loop, in image order; identity when the PnP fails).
  void CompleteWithPnp(const std::vector<torch::Tensor>& pts3d,
                       const PnpFunction& pnp,
                       std::vector<std::optional<torch::Tensor>>* im_poses,
                       std::vector<std::optional<double>>* im_focals,
                       MstInitReport* report);
  void InitFromPoints(std::vector<torch::Tensor> pts3d,
                      const std::vector<double>& focals,
                      torch::Tensor im_poses);

  GlobalAlignmentOptions options_;
  PairwisePointmaps pairs_;
  int64_t n_ = 0;
  int64_t height_ = 0;
  int64_t width_ = 0;
  torch::Tensor im_conf_;        // [N, H, W]
  torch::Tensor eij_;            // [2E] int64: i0, j0, i1, j1, ...
  torch::Tensor pred_ij_;        // [E, 2 HW, 3] pts_i then pts_j per edge
  torch::Tensor weight_ij_;      // [E, 2 HW] log(conf), same layout
  torch::Tensor pp_;             // [1, 2] (W / 2, H / 2)
  torch::Tensor grid_minus_pp_;  // [1, HW, 2] pixel (x, y) - pp
  torch::Tensor pw_poses_;       // [E, 8]
  torch::Tensor im_poses_;       // [N, 7]
  torch::Tensor im_focals_;      // [N, 1] ([1, 1] shared)
  torch::Tensor im_depthmaps_;   // [N, HW]
};

// Upstream's lr schedules at t = k / iterations.
double ScheduledLr(LrSchedule schedule, double t, double lr, double lr_min);

// roma.rotmat_to_unitquat: [..., 3, 3] -> [..., 4] (x, y, z, w).
torch::Tensor RotmatToUnitQuat(const torch::Tensor& r);

// roma.unitquat_to_rotmat after normalisation: [..., 4] -> [..., 3, 3].
torch::Tensor QuatToRotmat(const torch::Tensor& q);

}  // namespace vanelia::model
