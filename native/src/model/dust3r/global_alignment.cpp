// Global alignment. Ports dust3r/cloud_opt/optimizer.py PointCloudOptimizer
// (forward, depth_to_pts3d, get_focals), base_opt.py BasePCOptimizer
// (_get_poses, _set_pose, get_pw_norm_scale_factor, get_pw_poses,
// _compute_img_conf, global_alignment_loop / _iter), commons.py
// (signed_log1p, signed_expm1, cosine/linear schedules) and roma 1.5.3
// rotmat_to_unitquat / unitquat_to_rotmat. The spanning-tree init is in
// global_alignment_init.cpp.
#include "vanelia/model/dust3r/global_alignment.hpp"

#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include <torch/torch.h>

namespace vanelia::model {

namespace {

torch::Tensor SignedLog1p(const torch::Tensor& x) {
  return x.sign() * x.abs().log1p();
}

torch::Tensor SignedExpm1(const torch::Tensor& x) {
  return x.sign() * x.abs().expm1();
}

// Rt (rotation [.., 3, 3], translation [.., 3]) -> [.., 4, 4].
torch::Tensor Homogeneous(const torch::Tensor& r, const torch::Tensor& t) {
  const torch::Tensor top = torch::cat({r, t.unsqueeze(-1)}, -1);
  torch::Tensor bottom = torch::zeros_like(top.narrow(-2, 0, 1));
  bottom.select(-1, 3).fill_(1.0);
  return torch::cat({top, bottom}, -2);
}

// poses [K, 7+]: [q (4), slog1p(t) (3), ...] -> [K, 4, 4].
torch::Tensor PosesFromParams(const torch::Tensor& poses) {
  const torch::Tensor q = poses.narrow(1, 0, 4);
  const torch::Tensor t = SignedExpm1(poses.narrow(1, 4, 3));
  return Homogeneous(QuatToRotmat(q), t);
}

}  // namespace

void GlobalAlignmentOptions::Check() const {
  auto fail = [](const std::string& field, double v, const std::string& r) {
    throw InputError("GlobalAlignmentOptions::" + field + " = " +
                     std::to_string(v) + "; " + r);
  };
  if (iterations < 0) fail("iterations", iterations, "must be >= 0");
  if (!(lr > 0)) fail("lr", lr, "must be > 0");
  if (!(lr_min >= 0) || lr_min > lr)
    fail("lr_min", lr_min, "must be in [0, lr]");
  if (!(base_scale > 0)) fail("base_scale", base_scale, "must be > 0");
  if (!(focal_break > 0)) fail("focal_break", focal_break, "must be > 0");
  if (pnp_iterations < 1)
    fail("pnp_iterations", pnp_iterations, "must be >= 1");
  if (!(pnp_inlier_px > 0)) fail("pnp_inlier_px", pnp_inlier_px, "must be > 0");
  if (fixed_focal_px.has_value() && !(*fixed_focal_px > 0)) {
    fail("fixed_focal_px", *fixed_focal_px, "must be > 0 when set");
  }
}

double ScheduledLr(LrSchedule schedule, double t, double lr, double lr_min) {
  if (schedule == LrSchedule::kLinear) return lr + (lr_min - lr) * t;
  return lr_min + (lr - lr_min) * (1.0 + std::cos(t * M_PI)) / 2.0;
}

torch::Tensor RotmatToUnitQuat(const torch::Tensor& r_in) {
  const torch::Tensor m =
      r_in.to(torch::kCPU).to(torch::kFloat32).reshape({-1, 3, 3}).contiguous();
  const int64_t n = m.size(0);
  torch::Tensor q = torch::empty({n, 4}, m.options());
  auto a = m.accessor<float, 3>();
  auto out = q.accessor<float, 2>();
  for (int64_t b = 0; b < n; ++b) {
    // Shepperd's choice of the largest of diag(R) and trace (as roma).
    float dec[4] = {a[b][0][0], a[b][1][1], a[b][2][2], 0.0f};
    dec[3] = dec[0] + dec[1] + dec[2];
    int choice = 0;
    for (int k = 1; k < 4; ++k) {
      if (dec[k] > dec[choice]) choice = k;
    }
    float v[4];
    if (choice != 3) {
      const int i = choice;
      const int j = (i + 1) % 3;
      const int k = (j + 1) % 3;
      v[i] = 1 - dec[3] + 2 * a[b][i][i];
      v[j] = a[b][j][i] + a[b][i][j];
      v[k] = a[b][k][i] + a[b][i][k];
      v[3] = a[b][k][j] - a[b][j][k];
    } else {
      v[0] = a[b][2][1] - a[b][1][2];
      v[1] = a[b][0][2] - a[b][2][0];
      v[2] = a[b][1][0] - a[b][0][1];
      v[3] = 1 + dec[3];
    }
    const float norm =
        std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2] + v[3] * v[3]);
    for (int k = 0; k < 4; ++k) out[b][k] = v[k] / norm;
  }
  auto shape = r_in.sizes().vec();
  shape.pop_back();
  shape.back() = 4;
  return q.view(shape);
}

torch::Tensor QuatToRotmat(const torch::Tensor& q_in) {
  const torch::Tensor q = q_in / q_in.norm(2, -1, true);
  const torch::Tensor x = q.select(-1, 0);
  const torch::Tensor y = q.select(-1, 1);
  const torch::Tensor z = q.select(-1, 2);
  const torch::Tensor w = q.select(-1, 3);
  const torch::Tensor x2 = x * x, y2 = y * y, z2 = z * z, w2 = w * w;
  const torch::Tensor xy = x * y, xz = x * z, xw = x * w;
  const torch::Tensor yz = y * z, yw = y * w, zw = z * w;
  const torch::Tensor row0 =
      torch::stack({x2 - y2 - z2 + w2, 2 * (xy - zw), 2 * (xz + yw)}, -1);
  const torch::Tensor row1 =
      torch::stack({2 * (xy + zw), -x2 + y2 - z2 + w2, 2 * (yz - xw)}, -1);
  const torch::Tensor row2 =
      torch::stack({2 * (xz - yw), 2 * (yz + xw), -x2 - y2 + z2 + w2}, -1);
  return torch::stack({row0, row1, row2}, -2);
}

PointCloudOptimizer::PointCloudOptimizer(const PairwisePointmaps& pairs,
                                         const GlobalAlignmentOptions& options)
    : options_(options), pairs_(pairs) {
  options_.Check();
  const int64_t e = static_cast<int64_t>(pairs.edges.size());
  if (e == 0) throw InputError("PointCloudOptimizer: no edges; need >= 1");
  if (pairs.pts_i.dim() != 4 || pairs.pts_i.size(0) != e ||
      pairs.pts_i.size(3) != 3 ||
      !pairs.pts_j.sizes().equals(pairs.pts_i.sizes()) ||
      pairs.conf_i.sizes() != pairs.pts_i.sizes().slice(0, 3) ||
      !pairs.conf_j.sizes().equals(pairs.conf_i.sizes())) {
    throw InputError(
        "PointCloudOptimizer: pairs must hold pts_i, pts_j [E, H, W, 3] and "
        "conf_i, conf_j [E, H, W] with E = " +
        std::to_string(e) + " edges");
  }
  for (const auto& [i, j] : pairs.edges) {
    if (i < 0 || j < 0 || i == j) {
      throw InputError("PointCloudOptimizer: edge (" + std::to_string(i) +
                       ", " + std::to_string(j) +
                       "); indices must be >= 0 and differ");
    }
    n_ = std::max({n_, i + 1, j + 1});
  }
  height_ = pairs.pts_i.size(1);
  width_ = pairs.pts_i.size(2);
  const int64_t hw = height_ * width_;
  const auto fopts = pairs.pts_i.options().dtype(torch::kFloat32);
  std::vector<int64_t> ei, ej;
  im_conf_ = torch::zeros({n_, height_, width_}, fopts);
  for (int64_t k = 0; k < e; ++k) {
    const auto [i, j] = pairs.edges[k];
    ei.push_back(i);
    ej.push_back(j);
    im_conf_[i] = torch::maximum(im_conf_[i], pairs.conf_i[k]);
    im_conf_[j] = torch::maximum(im_conf_[j], pairs.conf_j[k]);
  }
  for (int64_t i = 0; i < n_; ++i) {
    if (im_conf_[i].max().item<double>() == 0.0) {
      throw InputError("PointCloudOptimizer: image " + std::to_string(i) +
                       " is in no edge; every image must be");
    }
  }
  const auto iopts = fopts.dtype(torch::kInt64);
  ei_ = torch::tensor(ei, torch::kInt64).to(iopts.device());
  ej_ = torch::tensor(ej, torch::kInt64).to(iopts.device());
  weight_i_ = pairs.conf_i.reshape({e, hw}).log();
  weight_j_ = pairs.conf_j.reshape({e, hw}).log();
  const torch::Tensor gx =
      torch::arange(width_, fopts).view({1, width_}).expand({height_, width_});
  const torch::Tensor gy = torch::arange(height_, fopts)
                               .view({height_, 1})
                               .expand({height_, width_});
  grid_ = torch::stack({gx, gy}, -1).reshape({hw, 2});
  // Upstream starts from random values that the init overwrites entirely.
  pw_poses_ = torch::zeros({e, 8}, fopts);
  pw_poses_.select(1, 3).fill_(1.0);
  im_poses_ = torch::zeros({n_, 7}, fopts);
  im_poses_.select(1, 3).fill_(1.0);
  im_focals_ =
      torch::full({options_.shared_focal ? 1 : n_, 1},
                  options_.focal_break *
                      std::log(static_cast<double>(std::max(height_, width_))),
                  fopts);
  im_depthmaps_ = torch::zeros({n_, hw}, fopts);
}

torch::Tensor PointCloudOptimizer::PwScale() {
  const torch::Tensor log_s = pw_poses_.select(1, 7);
  return log_s.exp() * (std::log(options_.base_scale) - log_s.mean()).exp();
}

torch::Tensor PointCloudOptimizer::PwPoses() {
  const torch::Tensor rt = PosesFromParams(pw_poses_);
  const torch::Tensor s = PwScale().view({-1, 1, 1});
  return torch::cat({rt.narrow(1, 0, 3) * s, rt.narrow(1, 3, 1)}, 1);
}

torch::Tensor PointCloudOptimizer::ImPoses() {
  return PosesFromParams(im_poses_);
}

torch::Tensor PointCloudOptimizer::Focals() {
  const torch::Tensor f = (im_focals_.squeeze(1) / options_.focal_break).exp();
  return options_.shared_focal ? f.expand({n_}) : f;
}

torch::Tensor PointCloudOptimizer::WorldPoints() {
  const torch::Tensor focals = Focals().view({-1, 1, 1});
  const torch::Tensor pp =
      torch::tensor({width_ / 2.0, height_ / 2.0}, grid_.options())
          .view({1, 1, 2});
  const torch::Tensor depth = im_depthmaps_.exp().unsqueeze(-1);  // [N,HW,1]
  const torch::Tensor rel =
      torch::cat({depth * (grid_.unsqueeze(0) - pp) / focals, depth}, -1);
  const torch::Tensor poses = ImPoses();
  return torch::matmul(rel,
                       poses.narrow(1, 0, 3).narrow(2, 0, 3).transpose(1, 2)) +
         poses.narrow(1, 0, 3).select(2, 3).unsqueeze(1);
}

torch::Tensor PointCloudOptimizer::Loss() {
  const int64_t e = static_cast<int64_t>(pairs_.edges.size());
  const int64_t hw = height_ * width_;
  const torch::Tensor pw = PwPoses();
  const torch::Tensor r_t = pw.narrow(1, 0, 3).narrow(2, 0, 3).transpose(1, 2);
  const torch::Tensor t = pw.narrow(1, 0, 3).select(2, 3).unsqueeze(1);
  const torch::Tensor aligned_i =
      torch::matmul(pairs_.pts_i.reshape({e, hw, 3}), r_t) + t;
  const torch::Tensor aligned_j =
      torch::matmul(pairs_.pts_j.reshape({e, hw, 3}), r_t) + t;
  const torch::Tensor world = WorldPoints();
  const double area = static_cast<double>(e * hw);
  const torch::Tensor li =
      ((world.index_select(0, ei_) - aligned_i).norm(2, -1) * weight_i_).sum() /
      area;
  const torch::Tensor lj =
      ((world.index_select(0, ej_) - aligned_j).norm(2, -1) * weight_j_).sum() /
      area;
  return li + lj;
}

std::vector<double> PointCloudOptimizer::Optimize(
    const std::function<bool(int, double)>& on_step) {
  // Gradients on even when the caller runs the network under NoGradGuard.
  torch::AutoGradMode enable_grad(true);
  std::vector<torch::Tensor> params = {pw_poses_, im_depthmaps_, im_poses_};
  if (!options_.fixed_focal_px.has_value()) params.push_back(im_focals_);
  for (auto& p : params) p.set_requires_grad(true);
  torch::optim::Adam adam(
      params,
      torch::optim::AdamOptions(options_.lr).betas({0.9, 0.9}).eps(1e-8));
  std::vector<double> history;
  for (int k = 0; k < options_.iterations; ++k) {
    const double lr = ScheduledLr(options_.schedule,
                                  static_cast<double>(k) / options_.iterations,
                                  options_.lr,
                                  options_.lr_min);
    for (auto& group : adam.param_groups()) {
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    }
    adam.zero_grad();
    const torch::Tensor loss = Loss();
    loss.backward();
    adam.step();
    history.push_back(loss.item<double>());
    if (on_step && !on_step(k, history.back())) break;
  }
  for (auto& p : params) p.set_requires_grad(false);
  return history;
}

AlignmentState PointCloudOptimizer::State() {
  torch::NoGradGuard no_grad;
  AlignmentState s;
  s.c2w = ImPoses();
  s.focals = Focals();
  s.pp = torch::tensor({width_ / 2.0, height_ / 2.0}, grid_.options())
             .view({1, 2})
             .repeat({n_, 1});
  s.depthmaps = im_depthmaps_.exp().view({n_, height_, width_});
  s.pts3d = WorldPoints().view({n_, height_, width_, 3});
  s.pw_poses = PwPoses();
  s.pw_scale = PwScale();
  s.param_pw_poses = pw_poses_.detach().clone();
  s.param_im_poses = im_poses_.detach().clone();
  s.param_im_focals = im_focals_.detach().clone();
  s.param_im_depthmaps = im_depthmaps_.detach().clone();
  return s;
}

void PointCloudOptimizer::SetPose(torch::Tensor& params,
                                  int64_t row,
                                  const torch::Tensor& r,
                                  const torch::Tensor& t,
                                  double scale) {
  // _set_pose: quaternion of R, slog1p(T / scale), log(scale) for 8-dof.
  torch::NoGradGuard no_grad;
  params[row].narrow(0, 0, 4).copy_(RotmatToUnitQuat(r).to(params.device()));
  params[row].narrow(0, 4, 3).copy_(SignedLog1p(t / scale));
  if (params.size(1) == 8) params[row][7].fill_(std::log(scale));
}

}  // namespace vanelia::model
