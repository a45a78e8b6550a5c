// Global alignment. Ports dust3r/cloud_opt/optimizer.py PointCloudOptimizer
// (forward, depth_to_pts3d, get_focals), base_opt.py BasePCOptimizer
// (_get_poses, _set_pose, get_pw_norm_scale_factor, get_pw_poses,
// _compute_img_conf, global_alignment_loop / _iter), commons.py
// (signed_log1p, signed_expm1, cosine/linear schedules) and roma 1.5.3
// rotmat_to_unitquat / unitquat_to_rotmat. The spanning-tree init is in
// global_alignment_init.cpp.
#include "vanelia/model/dust3r/global_alignment.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/option_check.hpp"

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

// Edges per chunk of the loss: all at once on a GPU (one kernel per op);
// on the CPU, chunks of about 8 MiB of points, so that each temporary stays
// in cache and under glibc's mmap threshold (a fresh > 32 MiB tensor is
// mapped and page-faulted in on every step: measured 3x slower).
int64_t EdgesPerChunk(const torch::Tensor& pred) {
  const int64_t e = pred.size(0);
  if (!pred.device().is_cpu()) return e;
  constexpr int64_t kChunkBytes = int64_t{8} << 20;
  const int64_t edge_bytes = pred.size(1) * 3 * 4;
  return std::clamp<int64_t>(kChunkBytes / edge_bytes, 1, e);
}

// world[eij] - (R_e pred + t_e) for the edges [b, b + m): [m, 2 HW, 3].
// On a GPU the rotation is three addcmul_ (one column of R each): a batched
// product with an inner size of 3 is a poor fit for cuBLAS (measured on an
// H100, 512x288, 168 edges, with the two GPU paths below: 23.6 -> 16.0 ms
// per Adam step); on the CPU baddbmm_ is faster (~1.7x per step).
torch::Tensor EdgeResiduals(const torch::Tensor& world,
                            const torch::Tensor& rt,
                            const torch::Tensor& pred,
                            const torch::Tensor& eij,
                            int64_t b,
                            int64_t m) {
  const torch::Tensor r = rt.narrow(0, b, m);
  const torch::Tensor p = pred.narrow(0, b, m);
  torch::Tensor res = world.index_select(0, eij.narrow(0, 2 * b, 2 * m))
                          .view({m, pred.size(1), 3});
  res.sub_(r.select(2, 3).unsqueeze(1));
  if (pred.device().is_cpu()) {
    res.baddbmm_(p, r.narrow(2, 0, 3).transpose(1, 2), 1, -1);
  } else {
    for (int64_t k = 0; k < 3; ++k) {
      res.addcmul_(p.narrow(2, k, 1), r.select(2, k).unsqueeze(1), -1);
    }
  }
  return res;
}

// d/dworld of the edges [b, b + m), added to grad_world [N, HW, 3]: each
// side's gradient g [2m, HW, 3] goes to its image through a one-hot
// [2m, N] matrix product (one GEMM; faster than index_add_'s scattered
// adds on both devices, and with no atomics on the GPU).
void AddWorldGradient(torch::Tensor& grad_world,
                      const torch::Tensor& g,
                      const torch::Tensor& sides) {
  const int64_t n = grad_world.size(0);
  torch::Tensor onehot = torch::zeros({sides.size(0), n}, g.options());
  onehot.scatter_(1, sides.unsqueeze(1), 1.0);
  grad_world.view({n, -1}).addmm_(onehot.t(), g.reshape({sides.size(0), -1}));
}

// -sum_p g p^T per edge: [m, 3, 3]. On a GPU split along the points into
// chunks of the largest power-of-two count <= 1024 that divides them (a
// [m, 3, P] x [m, P, 3] product is one long, thin reduction per edge), then
// summed over the chunks.
torch::Tensor RotationGradient(const torch::Tensor& g, const torch::Tensor& p) {
  const int64_t m = g.size(0);
  const int64_t np = g.size(1);
  int64_t split = 1;
  if (!g.device().is_cpu()) {
    for (int64_t s = 1024; s > 1; s /= 2) {
      if (np % s == 0) {
        split = s;
        break;
      }
    }
  }
  if (split == 1) return -torch::bmm(g.transpose(1, 2), p);
  return -torch::bmm(g.reshape({m * split, np / split, 3}).transpose(1, 2),
                     p.reshape({m * split, np / split, 3}))
              .view({m, split, 3, 3})
              .sum(1);
}

// d/d(residual) of w |residual|: w residual / |residual| (0 where the
// residual is 0, as the norm's own gradient), in place.
torch::Tensor ResidualGradient(torch::Tensor res, const torch::Tensor& w) {
  const torch::Tensor dist = res.norm(2, -1);
  const torch::Tensor scale =
      torch::where(dist > 0, w / dist, torch::zeros_like(dist));
  return res.mul_(scale.unsqueeze(-1));
}

// sum_e sum_p w[e, p] |world[eij(e, p)] - (R_e pred[e, p] + t_e)|_2 over
// both sides of every edge (upstream's li + lj before the area division),
// with its gradient written out: d/dworld = g gathered back per image,
// d/dR_e = -sum_p g p^T, d/dt_e = -sum_p g, g = w res / |res|. Processed in
// EdgesPerChunk chunks; with one chunk g is kept from the forward, with
// several it is recomputed chunk by chunk (bounded memory on the CPU).
// world: [N, HW, 3] f32; rt: [E, 3, 4] scaled world_from_cam_i; pred:
// [E, 2 HW, 3] (side i, side j); weight: [E, 2 HW]; eij: [2 E] int64.
class EdgeLoss : public torch::autograd::Function<EdgeLoss> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               const torch::Tensor& world,
                               const torch::Tensor& rt,
                               const torch::Tensor& pred,
                               const torch::Tensor& weight,
                               const torch::Tensor& eij) {
    const int64_t e = pred.size(0);
    const int64_t chunk = EdgesPerChunk(pred);
    torch::Tensor total = torch::zeros({}, world.options());
    torch::Tensor kept;
    for (int64_t b = 0; b < e; b += chunk) {
      const int64_t m = std::min(chunk, e - b);
      torch::Tensor res = EdgeResiduals(world, rt, pred, eij, b, m);
      const torch::Tensor w = weight.narrow(0, b, m);
      const torch::Tensor dist = res.norm(2, -1);
      total.add_(torch::dot(dist.reshape({-1}), w.reshape({-1})));
      if (chunk == e) kept = ResidualGradient(res, w);
    }
    ctx->save_for_backward({world, rt, pred, weight, eij, kept});
    ctx->saved_data["chunk"] = chunk;
    return total;
  }

  static torch::autograd::tensor_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& world = saved[0];
    const torch::Tensor& rt = saved[1];
    const torch::Tensor& pred = saved[2];
    const torch::Tensor& weight = saved[3];
    const torch::Tensor& eij = saved[4];
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const int64_t e = pred.size(0);
    torch::Tensor grad_world = torch::zeros_like(world);
    torch::Tensor grad_rt = torch::zeros(rt.sizes(), rt.options());
    for (int64_t b = 0; b < e; b += chunk) {
      const int64_t m = std::min(chunk, e - b);
      const torch::Tensor g =
          saved[5].defined()
              ? saved[5]
              : ResidualGradient(EdgeResiduals(world, rt, pred, eij, b, m),
                                 weight.narrow(0, b, m));
      AddWorldGradient(grad_world, g, eij.narrow(0, 2 * b, 2 * m));
      grad_rt.narrow(0, b, m).narrow(2, 0, 3).copy_(
          RotationGradient(g, pred.narrow(0, b, m)));
      grad_rt.narrow(0, b, m).select(2, 3).copy_(-g.sum(1));
    }
    const torch::Tensor go = grads[0];
    return {grad_world.mul_(go),
            grad_rt.mul_(go),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

void GlobalAlignmentOptions::Check() const {
  auto fail = [](const std::string& field, double v, const std::string& r) {
    internal::ThrowBadOption(
        "GlobalAlignmentOptions", field, std::to_string(v), r);
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

namespace {

// The number of images the edges name; throws InputError when the pairs'
// shapes disagree or an edge is malformed.
int64_t CheckedImageCount(const PairwisePointmaps& pairs) {
  const int64_t e = static_cast<int64_t>(pairs.edges.size());
  if (e == 0) throw InputError("PointCloudOptimizer: no edges; need >= 1");
  int64_t n = 0;
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
    n = std::max({n, i + 1, j + 1});
  }
  return n;
}

}  // namespace

PointCloudOptimizer::PointCloudOptimizer(const PairwisePointmaps& pairs,
                                         const GlobalAlignmentOptions& options)
    : options_(options), pairs_(pairs) {
  options_.Check();
  const int64_t e = static_cast<int64_t>(pairs.edges.size());
  n_ = CheckedImageCount(pairs);
  height_ = pairs.pts_i.size(1);
  width_ = pairs.pts_i.size(2);
  const int64_t hw = height_ * width_;
  const auto fopts = pairs.pts_i.options().dtype(torch::kFloat32);
  std::vector<int64_t> eij;  // i0, j0, i1, j1, ...
  for (const auto& [i, j] : pairs.edges) {
    eij.push_back(i);
    eij.push_back(j);
  }
  eij_ = torch::tensor(eij, torch::kInt64).to(fopts.device());
  // _compute_img_conf: per image the max of its edges' confidences (rows
  // 2e: side i of edge e, 2e + 1: side j).
  const torch::Tensor conf_ij = torch::stack({pairs.conf_i, pairs.conf_j}, 1)
                                    .to(torch::kFloat32)
                                    .reshape({2 * e, hw});
  std::vector<std::vector<int64_t>> rows(n_);
  for (int64_t r = 0; r < 2 * e; ++r) rows[eij[r]].push_back(r);
  std::vector<torch::Tensor> im_conf(n_);
  for (int64_t i = 0; i < n_; ++i) {
    if (rows[i].empty()) {
      throw InputError("PointCloudOptimizer: image " + std::to_string(i) +
                       " is in no edge; every image must be");
    }
    im_conf[i] =
        conf_ij
            .index_select(
                0, torch::tensor(rows[i], torch::kInt64).to(fopts.device()))
            .amax(0);
  }
  im_conf_ = torch::stack(im_conf).view({n_, height_, width_});
  // Both sides of every edge stacked as upstream's _stacked_pred_i/_j and
  // _weight_i/_j: row e holds edge e's side i then side j, so that the loss
  // is one transform, one gather and one weighted sum. pairs_ keeps views
  // into the stack (no second copy of the predictions).
  const torch::Tensor pred =
      torch::stack({pairs.pts_i, pairs.pts_j}, 1).to(torch::kFloat32);
  pairs_.pts_i = pred.select(1, 0);
  pairs_.pts_j = pred.select(1, 1);
  pred_ij_ = pred.view({e, 2 * hw, 3});
  weight_ij_ = conf_ij.log().to(torch::kFloat32).view({e, 2 * hw});
  const torch::Tensor gx =
      torch::arange(width_, fopts).view({1, width_}).expand({height_, width_});
  const torch::Tensor gy = torch::arange(height_, fopts)
                               .view({height_, 1})
                               .expand({height_, width_});
  const torch::Tensor grid = torch::stack({gx, gy}, -1).reshape({hw, 2});
  pp_ = torch::tensor({width_ / 2.0, height_ / 2.0}, torch::kFloat32)
            .to(fopts.device())
            .view({1, 2});
  grid_minus_pp_ = (grid - pp_).unsqueeze(0);
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
  // _fast_depthmap_to_pts3d then geotrf(im_poses, .): [N, HW, 3].
  const torch::Tensor focals = Focals().view({-1, 1, 1});
  const torch::Tensor depth = im_depthmaps_.exp().unsqueeze(-1);  // [N,HW,1]
  const torch::Tensor rel =
      torch::cat({depth * grid_minus_pp_ / focals, depth}, -1);
  const torch::Tensor rt = ImPoses().narrow(1, 0, 3);  // [N, 3, 4]
  return torch::baddbmm(
      rt.select(2, 3).unsqueeze(1), rel, rt.narrow(2, 0, 3).transpose(1, 2));
}

torch::Tensor PointCloudOptimizer::Loss() {
  // PointCloudOptimizer.forward over all edges at once: every edge's two
  // predictions [E, 2 HW, 3] through its pairwise pose in one batched
  // product, the per-image world points gathered by edge in one
  // index_select, one confidence-weighted L2 sum (EdgeLoss). Both sides'
  // areas are E * HW (one image shape): li + lj = sum / (E * HW).
  const int64_t e = static_cast<int64_t>(pairs_.edges.size());
  return EdgeLoss::apply(WorldPoints(),
                         PwPoses().narrow(1, 0, 3),
                         pred_ij_,
                         weight_ij_,
                         eij_) /
         static_cast<double>(e * height_ * width_);
}

std::vector<double> PointCloudOptimizer::Optimize(
    const std::function<bool(int)>& on_step) {
  // Gradients on even when the caller runs the network under NoGradGuard.
  torch::AutoGradMode enable_grad(true);
  std::vector<torch::Tensor> params = {pw_poses_, im_depthmaps_, im_poses_};
  if (!options_.fixed_focal_px.has_value()) params.push_back(im_focals_);
  for (auto& p : params) p.set_requires_grad(true);
  torch::optim::Adam adam(
      params,
      torch::optim::AdamOptions(options_.lr).betas({0.9, 0.9}).eps(1e-8));
  // The losses stay on the parameters' device until the loop ends: no
  // host synchronisation inside it (the learning rate is host arithmetic,
  // LibTorch's Adam keeps its step count on the host).
  const torch::Tensor losses =
      torch::empty({std::max(options_.iterations, 1)}, pw_poses_.options());
  int done = 0;
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
    losses.select(0, k).copy_(loss.detach());
    done = k + 1;
    if (on_step && !on_step(k)) break;
  }
  for (auto& p : params) p.set_requires_grad(false);
  const torch::Tensor host =
      losses.narrow(0, 0, done).to(torch::kCPU, torch::kFloat64).contiguous();
  return std::vector<double>(host.data_ptr<double>(),
                             host.data_ptr<double>() + done);
}

AlignmentState PointCloudOptimizer::State() {
  torch::NoGradGuard no_grad;
  AlignmentState s;
  s.c2w = ImPoses();
  s.focals = Focals();
  s.pp = pp_.repeat({n_, 1});
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
