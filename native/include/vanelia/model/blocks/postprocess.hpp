// Post-processing of the MUSt3R head: pointmaps, confidence, focal and
// camera-to-world pose. Ports must3r/engine/inference.py postprocess,
// must3r/tools/geometry.py apply_exp_to_norm, dust3r/post_process.py
// estimate_focal_knowing_depth and roma.rigid_points_registration (v1.5.7,
// no scaling).
#pragma once

#include <limits>
#include <utility>

#include <torch/types.h>

namespace vanelia::model {

// v / max(|v|, 1e-8) * expm1(|v|) over the last dim (3).
torch::Tensor NormExp(const torch::Tensor& v);

enum class FocalMode { kWeiszfeld, kMedian };

// pts3d_local: [B, H, W, 3] camera-frame points; principal point (cx, cy) in
// the integer pixel grid of the H x W map (upstream passes (W/2, H/2)).
// Returns [B] focals clipped to [min_factor, max_factor] * max(H, W) /
// (2 tan 30deg) (upstream: min 0, max inf; pass -inf for unclipped).
torch::Tensor EstimateFocalKnowingDepth(
    const torch::Tensor& pts3d_local,
    double cx,
    double cy,
    FocalMode mode = FocalMode::kWeiszfeld,
    double min_factor = 0.0,
    double max_factor = std::numeric_limits<double>::infinity());

// Weighted rigid registration y ~ R x + t (Kabsch, no scale). x, y:
// [..., N, 3]; weights [..., N] (normalised inside). Returns R [..., 3, 3]
// and t [..., 3] in the input dtype; solved in `compute_dtype` (float64 by
// default; DUSt3R's alignment uses float32 as roma does there). With
// `scale` given, y ~ s R x + t (roma compute_scaling=True, as DUSt3R's
// cloud_opt rigid_points_registration): *scale = s [...], t includes it.
std::pair<torch::Tensor, torch::Tensor> RigidPointsRegistration(
    const torch::Tensor& x,
    const torch::Tensor& y,
    const torch::Tensor& weights,
    torch::Tensor* scale = nullptr,
    torch::Dtype compute_dtype = torch::kFloat64);

struct PointmapPrediction {
  torch::Tensor pts3d;        // [..., H, W, 3] f32, frame of memory image 0
  torch::Tensor pts3d_local;  // [..., H, W, 3] f32, camera frame
  torch::Tensor conf;         // [..., H, W] f32, 1 + exp(raw)
  torch::Tensor focal;        // [...] f32 pixels of the H x W map (if cams)
  torch::Tensor c2w;          // [..., 4, 4] f32 camera-to-world (if cams)
};

// head: [..., H, W, 7] raw head output. compute_cam adds focal (Weiszfeld,
// pp = (W/2, H/2), clipped at 0) and c2w (pts3d_local -> pts3d, weights
// conf - 1).
PointmapPrediction Postprocess(const torch::Tensor& head, bool compute_cam);

}  // namespace vanelia::model
