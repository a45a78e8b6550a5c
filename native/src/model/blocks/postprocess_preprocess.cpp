// Pointmap post-processing and image preprocessing of MUSt3R.
// Ports must3r/engine/inference.py postprocess, dust3r/post_process.py
// estimate_focal_knowing_depth, roma rigid_points_registration /
// special_procrustes (v1.5.7), must3r/tools/image.py get_HW_resolution /
// get_resize_function and the demo's load_images (ImgNorm first).
#include "vanelia/core/check.hpp"
#include "vanelia/core/error.hpp"
#include "vanelia/model/blocks/postprocess.hpp"
#include "vanelia/model/blocks/preprocess.hpp"

#include <cfenv>
#include <cmath>
#include <limits>
#include <string>

#include <torch/torch.h>

namespace vanelia::model {

torch::Tensor NormExp(const torch::Tensor& v) {
  const torch::Tensor d = v.norm(2, -1, true);
  return v / d.clamp_min(1e-8) * torch::expm1(d);
}

torch::Tensor EstimateFocalKnowingDepth(const torch::Tensor& pts3d_local,
                                        double cx,
                                        double cy,
                                        FocalMode mode,
                                        double min_factor,
                                        double max_factor) {
  VANELIA_CHECK(pts3d_local.dim() == 4 && pts3d_local.size(3) == 3);
  const int64_t b = pts3d_local.size(0);
  const int64_t h = pts3d_local.size(1);
  const int64_t w = pts3d_local.size(2);
  const auto iopts =
      torch::TensorOptions().dtype(torch::kInt64).device(pts3d_local.device());
  const torch::Tensor pp =
      torch::tensor({cx, cy}, torch::kFloat32).to(pts3d_local.device());
  const torch::Tensor gx = torch::arange(w, iopts).view({1, w}).expand({h, w});
  const torch::Tensor gy = torch::arange(h, iopts).view({h, 1}).expand({h, w});
  const torch::Tensor pixels =
      torch::stack({gx, gy}, -1).view({1, -1, 2}) - pp.view({1, 1, 2});
  const torch::Tensor pts = pts3d_local.flatten(1, 2);  // [B, HW, 3]
  torch::Tensor focal;
  if (mode == FocalMode::kMedian) {
    const torch::Tensor u = pixels.select(-1, 0);
    const torch::Tensor v = pixels.select(-1, 1);
    const torch::Tensor fx = u * pts.select(-1, 2) / pts.select(-1, 0);
    const torch::Tensor fy = v * pts.select(-1, 2) / pts.select(-1, 1);
    focal = std::get<0>(torch::nanmedian(
        torch::cat({fx.view({b, -1}), fy.view({b, -1})}, -1), -1));
  } else {
    const torch::Tensor xy_over_z = torch::nan_to_num(
        pts.narrow(-1, 0, 2) / pts.narrow(-1, 2, 1), 0.0, 0.0, 0.0);
    const torch::Tensor dot_xy_px = (xy_over_z * pixels).sum(-1);
    const torch::Tensor dot_xy_xy = xy_over_z.square().sum(-1);
    focal = dot_xy_px.mean(1) / dot_xy_xy.mean(1);
    for (int iter = 0; iter < 10; ++iter) {
      const torch::Tensor dis =
          (pixels - focal.view({-1, 1, 1}) * xy_over_z).norm(2, -1);
      const torch::Tensor wgt = dis.clamp_min(1e-8).reciprocal();
      focal = (wgt * dot_xy_px).mean(1) / (wgt * dot_xy_xy).mean(1);
    }
  }
  const double focal_base = static_cast<double>(std::max(h, w)) /
                            (2.0 * std::tan(M_PI / 180.0 * 60.0 / 2.0));
  const double lo = min_factor * focal_base;
  const double hi = max_factor * focal_base;
  if (std::isfinite(lo)) focal = focal.clamp_min(lo);
  if (std::isfinite(hi)) focal = focal.clamp_max(hi);
  return focal;
}

std::pair<torch::Tensor, torch::Tensor> RigidPointsRegistration(
    const torch::Tensor& x,
    const torch::Tensor& y,
    const torch::Tensor& weights,
    torch::Tensor* scale,
    torch::Dtype compute_dtype) {
  const torch::Tensor xd = x.to(compute_dtype);
  const torch::Tensor yd = y.to(compute_dtype);
  torch::Tensor wd = weights.to(compute_dtype);
  wd = wd / wd.sum(-1, true);
  const torch::Tensor xmean = (wd.unsqueeze(-1) * xd).sum(-2, true);
  const torch::Tensor ymean = (wd.unsqueeze(-1) * yd).sum(-2, true);
  const torch::Tensor xhat = xd - xmean;
  const torch::Tensor yhat = yd - ymean;
  // M = sum_k w_k yhat_k xhat_k^T  [..., 3, 3]
  const torch::Tensor m =
      torch::matmul((yhat * wd.unsqueeze(-1)).transpose(-1, -2), xhat);
  const auto [u, s, vh] = torch::linalg_svd(m, /*full_matrices=*/false);
  const torch::Tensor det = torch::linalg_det(torch::matmul(u, vh));
  torch::Tensor diag = torch::ones_like(s);
  diag.select(-1, 2).copy_(det.sign());
  const torch::Tensor r = torch::matmul(u * diag.unsqueeze(-2), vh);
  torch::Tensor sr = r;
  if (scale != nullptr) {
    // roma compute_scaling: sum of the sign-corrected singular values over
    // sum_k w_k |xhat_k|^2.
    const torch::Tensor sd =
        (s * diag).sum(-1) / (wd * xhat.pow(2).sum(-1)).sum(-1);
    *scale = sd.to(x.scalar_type());
    sr = r * sd.unsqueeze(-1).unsqueeze(-1);
  }
  const torch::Tensor t =
      ymean.squeeze(-2) -
      torch::matmul(sr, xmean.squeeze(-2).unsqueeze(-1)).squeeze(-1);
  return {r.to(x.scalar_type()), t.to(x.scalar_type())};
}

PointmapPrediction Postprocess(const torch::Tensor& head, bool compute_cam) {
  VANELIA_CHECK(head.dim() >= 3 && head.size(-1) == 7)
      << "head must be [..., H, W, 7]";
  const torch::Tensor raw = head.to(torch::kFloat32);
  PointmapPrediction out;
  out.pts3d = NormExp(raw.narrow(-1, 0, 3));
  out.pts3d_local = NormExp(raw.narrow(-1, 3, 3));
  out.conf = 1.0 + raw.select(-1, 6).exp();
  if (!compute_cam) return out;
  const int64_t h = raw.size(-3);
  const int64_t w = raw.size(-2);
  std::vector<int64_t> batch_dims(raw.sizes().begin(), raw.sizes().end() - 3);
  int64_t batch = 1;
  for (int64_t v : batch_dims) batch *= v;
  out.focal = EstimateFocalKnowingDepth(
                  out.pts3d_local.reshape({batch, h, w, 3}), w / 2.0, h / 2.0)
                  .reshape(batch_dims);
  auto [r, t] =
      RigidPointsRegistration(out.pts3d_local.reshape({batch, h * w, 3}),
                              out.pts3d.reshape({batch, h * w, 3}),
                              out.conf.reshape({batch, h * w}) - 1.0);
  torch::Tensor c2w = torch::eye(4, raw.options()).repeat({batch, 1, 1});
  c2w.narrow(1, 0, 3).narrow(2, 0, 3).copy_(r);
  c2w.narrow(1, 0, 3).select(2, 3).copy_(t);
  std::vector<int64_t> c2w_shape = batch_dims;
  c2w_shape.push_back(4);
  c2w_shape.push_back(4);
  out.c2w = c2w.reshape(c2w_shape);
  return out;
}

std::vector<AspectBucket> BucketsForSize(int size) {
  switch (size) {
    case 224:
      return {{1.0, 224, 224}};
    case 336:
      return {{1.0, 336, 336}};
    case 384:
      return {{4.0 / 3.0, 384, 288},
              {3.0 / 2.0, 384, 256},
              {2.0 / 1.0, 384, 192},
              {3.0 / 1.0, 384, 128}};
    case 448:
      return {{1.0, 448, 448}};
    case 512:
      return {{4.0 / 3.0, 512, 384},
              {32.0 / 21.0, 512, 336},
              {16.0 / 9.0, 512, 288},
              {2.0 / 1.0, 512, 256},
              {16.0 / 5.0, 512, 160}};
    case 768:
      return {{4.0 / 3.0, 768, 576},
              {3.0 / 2.0, 768, 512},
              {16.0 / 9.0, 768, 432},
              {2.0 / 1.0, 768, 384},
              {16.0 / 5.0, 768, 240}};
    default:
      throw InputError("image size " + std::to_string(size) +
                       "; must be one of 224, 336, 384, 448, 512, 768");
  }
}

double ResizePlan::ScaleX() const {
  return static_cast<double>(crop_width) / output_width;
}

double ResizePlan::ScaleY() const {
  return static_cast<double>(crop_height) / output_height;
}

double ResizePlan::SourceX(double x) const {
  return crop_x + ScaleX() * (x + 0.5) - 0.5;
}

double ResizePlan::SourceY(double y) const {
  return crop_y + ScaleY() * (y + 0.5) - 0.5;
}

namespace {

// Python's round(): half to even (the default FE_TONEAREST mode).
int RoundHalfEven(double v) {
  return static_cast<int>(std::nearbyint(v));
}

}  // namespace

ResizePlan PlanResize(int source_width,
                      int source_height,
                      const std::vector<AspectBucket>& buckets) {
  if (source_width <= 0 || source_height <= 0 || buckets.empty()) {
    throw InputError("PlanResize: image " + std::to_string(source_width) + "x" +
                     std::to_string(source_height) +
                     " must be non-empty, with at least one bucket");
  }
  ResizePlan plan;
  plan.source_width = source_width;
  plan.source_height = source_height;
  const int long_side = std::max(source_width, source_height);
  const int short_side = std::min(source_width, source_height);
  for (const auto& bucket : buckets) {
    if (bucket.width == long_side && bucket.height == short_side) {
      plan.identity = true;
      plan.crop_width = plan.output_width = source_width;
      plan.crop_height = plan.output_height = source_height;
      return plan;
    }
  }
  const double ratio = static_cast<double>(source_width) / source_height;
  const bool landscape = source_width >= source_height;
  size_t best = 0;
  double best_diff = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < buckets.size(); ++i) {
    const double ref = landscape ? buckets[i].ratio : 1.0 / buckets[i].ratio;
    const double diff = std::abs(ratio - ref);
    if (diff < best_diff) {
      best_diff = diff;
      best = i;
    }
  }
  const AspectBucket& bucket = buckets[best];
  plan.output_width = landscape ? bucket.width : bucket.height;
  plan.output_height = landscape ? bucket.height : bucket.width;
  const double target_ratio =
      static_cast<double>(plan.output_width) / plan.output_height;
  double off_x = 0.0;
  double off_y = 0.0;
  if (std::abs(ratio - target_ratio) < std::numeric_limits<float>::epsilon()) {
    plan.crop_width = source_width;
    plan.crop_height = source_height;
  } else if (ratio - target_ratio < 0) {
    plan.crop_width = source_width;
    plan.crop_height = static_cast<int>(source_width / target_ratio);
    off_y = (source_height - plan.crop_height) / 2.0;
  } else {
    plan.crop_width = static_cast<int>(source_height * target_ratio);
    plan.crop_height = source_height;
    off_x = (source_width - plan.crop_width) / 2.0;
  }
  plan.crop_x = RoundHalfEven(off_x);
  plan.crop_y = RoundHalfEven(off_y);
  const double sx = static_cast<double>(plan.crop_width) / plan.output_width;
  const double sy = static_cast<double>(plan.crop_height) / plan.output_height;
  const double m[9] = {sx, 0, off_x, 0, sy, off_y, 0, 0, 1};
  std::copy(m, m + 9, plan.upstream_to_orig);
  return plan;
}

torch::Tensor NormalizeImage(const torch::Tensor& rgb_u8) {
  if (rgb_u8.dim() != 3 || rgb_u8.size(2) != 3 ||
      rgb_u8.scalar_type() != torch::kUInt8) {
    throw InputError("NormalizeImage: want [H, W, 3] uint8");
  }
  const torch::Tensor f =
      rgb_u8.permute({2, 0, 1}).contiguous().to(torch::kFloat32).div(255);
  return f.sub(0.5).div(0.5);
}

torch::Tensor ApplyResizePlan(const torch::Tensor& image,
                              const ResizePlan& plan,
                              bool antialias) {
  const bool batched = image.dim() == 4;
  const torch::Tensor img = batched ? image : image.unsqueeze(0);
  if (img.size(2) != plan.source_height || img.size(3) != plan.source_width) {
    throw InputError(
        "ApplyResizePlan: image is " + std::to_string(img.size(2)) + "x" +
        std::to_string(img.size(3)) + " (HxW); the plan was made for " +
        std::to_string(plan.source_height) + "x" +
        std::to_string(plan.source_width));
  }
  if (plan.identity) return image;
  const torch::Tensor crop = img.narrow(2, plan.crop_y, plan.crop_height)
                                 .narrow(3, plan.crop_x, plan.crop_width);
  torch::Tensor out = crop;
  if (plan.crop_height != plan.output_height ||
      plan.crop_width != plan.output_width) {
    namespace F = torch::nn::functional;
    out = F::interpolate(
        crop,
        F::InterpolateFuncOptions()
            .size(std::vector<int64_t>{plan.output_height, plan.output_width})
            .mode(torch::kBilinear)
            .align_corners(false)
            .antialias(antialias));
  }
  return batched ? out : out.squeeze(0);
}

Intrinsics SourceIntrinsics(double focal_px, const ResizePlan& plan) {
  Intrinsics k;
  k.fx = focal_px * plan.ScaleX();
  k.fy = focal_px * plan.ScaleY();
  k.cx = plan.SourceX(plan.output_width / 2.0);
  k.cy = plan.SourceY(plan.output_height / 2.0);
  k.width = plan.source_width;
  k.height = plan.source_height;
  return k;
}

}  // namespace vanelia::model
