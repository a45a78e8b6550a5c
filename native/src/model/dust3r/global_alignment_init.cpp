// The spanning-tree initialisation of the global alignment. Ports
// dust3r/cloud_opt/init_im_poses.py init_minimum_spanning_tree,
// minimum_spanning_tree (with its stale-edge focal quirk), fast_pnp,
// estimate_focal, init_from_pts3d, and commons.py compute_edge_scores.
#include "vanelia/core/error.hpp"
#include "vanelia/model/blocks/postprocess.hpp"
#include "vanelia/model/dust3r/global_alignment.hpp"
#include "vanelia/model/dust3r/pnp.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <tuple>

#include <torch/torch.h>

namespace vanelia::model {

namespace {

// Scaled registration y ~ s R x + t weighted by w: returns the 4x4
// [[s R, t], [0, 1]] and s (roma rigid_points_registration, scaling on).
std::pair<torch::Tensor, double> Register(const torch::Tensor& x,
                                          const torch::Tensor& y,
                                          const torch::Tensor& w,
                                          torch::Tensor* r_out = nullptr,
                                          torch::Tensor* t_out = nullptr) {
  torch::Tensor s;
  // float32, as upstream's roma call (its SVD is LAPACK's, as ours).
  auto [r, t] = RigidPointsRegistration(x.reshape({-1, 3}),
                                        y.reshape({-1, 3}),
                                        w.reshape({-1}),
                                        &s,
                                        torch::kFloat32);
  torch::Tensor trf = torch::eye(4, x.options());
  trf.narrow(0, 0, 3).narrow(1, 0, 3).copy_(r * s);
  trf.narrow(0, 0, 3).select(1, 3).copy_(t);
  if (r_out != nullptr) *r_out = r;
  if (t_out != nullptr) *t_out = t;
  return {trf, s.item<double>()};
}

// pts [H, W, 3] -> pts @ R^T + t for trf [4, 4].
torch::Tensor Transform(const torch::Tensor& trf, const torch::Tensor& pts) {
  return torch::matmul(pts, trf.narrow(0, 0, 3).narrow(1, 0, 3).t()) +
         trf.narrow(0, 0, 3).select(1, 3);
}

double EstimateFocal(const torch::Tensor& pts) {
  const double h = static_cast<double>(pts.size(0));
  const double w = static_cast<double>(pts.size(1));
  return EstimateFocalKnowingDepth(pts.unsqueeze(0), w / 2.0, h / 2.0)
      .item<double>();
}

// fast_pnp: pose (and focal) of an image from its world points `pts`
// [H, W, 3] over `mask`. With no focal, upstream's 21 tentative focals.
std::optional<std::pair<double, torch::Tensor>> FastPnp(
    const torch::Tensor& pts,
    std::optional<double> focal,
    const torch::Tensor& mask,
    double inlier_px) {
  const int64_t h = pts.size(0);
  const int64_t w = pts.size(1);
  const torch::Tensor idx =
      mask.to(torch::kCPU).reshape({-1}).nonzero().squeeze(1);
  if (idx.numel() < 4) return std::nullopt;
  const torch::Tensor p = pts.to(torch::kCPU)
                              .reshape({-1, 3})
                              .index_select(0, idx)
                              .to(torch::kFloat64)
                              .contiguous();
  Eigen::Matrix3Xd world(3, idx.numel());
  Eigen::Matrix2Xd pixels(2, idx.numel());
  const auto pa = p.accessor<double, 2>();
  const auto ia = idx.accessor<int64_t, 1>();
  for (int64_t k = 0; k < idx.numel(); ++k) {
    world.col(k) << pa[k][0], pa[k][1], pa[k][2];
    pixels.col(k) << static_cast<double>(ia[k] % w),
        static_cast<double>(ia[k] / w);
  }
  std::vector<double> tentative;
  if (focal.has_value()) {
    tentative.push_back(*focal);
  } else {
    const double s = static_cast<double>(std::max(w, h));
    for (int k = 0; k <= 20; ++k) {
      tentative.push_back(s / 2.0 * std::pow(6.0, k / 20.0));
    }
  }
  std::optional<PnpResult> best;
  double best_focal = 0.0;
  for (double f : tentative) {
    PnpOptions o;
    o.focal_px = f;
    o.cx = w / 2.0;
    o.cy = h / 2.0;
    o.inlier_px = inlier_px;
    const auto res = SolvePnpObjectSpace(world, pixels, o);
    if (res && (!best || res->num_inliers > best->num_inliers)) {
      best = res;
      best_focal = f;
    }
  }
  if (!best) return std::nullopt;
  // world_from_cam = [R^T | -R^T t].
  const Eigen::Matrix3d rt = best->cam_from_world_rotation.transpose();
  Eigen::Matrix4d c2w = Eigen::Matrix4d::Identity();
  c2w.topLeftCorner<3, 3>() = rt;
  c2w.topRightCorner<3, 1>() = -rt * best->cam_from_world_translation;
  torch::Tensor out = torch::empty({4, 4}, torch::kFloat32);
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) out[r][c] = static_cast<float>(c2w(r, c));
  }
  return std::make_pair(best_focal, out.to(pts.device()));
}

// scipy minimum_spanning_tree on the negated scores: Kruskal, strongest
// entry first, each directed entry an undirected edge. `order` gets every
// edge strongest first; returns the tree edges (score, i, j) ascending, as
// upstream's sorted(zip(-msp.data, msp.row, msp.col)).
std::vector<std::tuple<double, int64_t, int64_t>> SpanningTree(
    const std::vector<std::pair<int64_t, int64_t>>& edges,
    const std::vector<double>& scores,
    int64_t n,
    std::vector<int64_t>* order) {
  order->resize(edges.size());
  std::iota(order->begin(), order->end(), 0);
  std::stable_sort(order->begin(), order->end(), [&](int64_t a, int64_t b) {
    return scores[a] > scores[b];
  });
  std::vector<int64_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](int64_t v) {
    while (parent[v] != v) v = parent[v] = parent[parent[v]];
    return v;
  };
  std::vector<std::tuple<double, int64_t, int64_t>> tree;
  for (int64_t e : *order) {
    const auto [i, j] = edges[e];
    if (find(i) == find(j)) continue;
    parent[find(i)] = find(j);
    tree.emplace_back(scores[e], i, j);
  }
  std::sort(tree.begin(), tree.end());
  return tree;
}

}  // namespace

void PointCloudOptimizer::CompleteWithPnp(
    const std::vector<torch::Tensor>& pts3d,
    const PnpFunction& pnp,
    std::vector<std::optional<torch::Tensor>>* im_poses,
    std::vector<std::optional<double>>* im_focals,
    MstInitReport* report) {
  for (int64_t i = 0; i < n_; ++i) {
    std::optional<torch::Tensor>& pose = (*im_poses)[i];
    std::optional<double>& focal = (*im_focals)[i];
    if (!pose) {
      PnpCall call;
      call.image = i;
      call.focal_px = *focal;
      const torch::Tensor mask = im_conf_[i] > options_.min_conf_thr;
      call.num_masked = mask.sum().item<int64_t>();
      const auto res =
          pnp ? pnp(i, pts3d[i], *focal, mask)
              : FastPnp(pts3d[i], focal, mask, options_.pnp_inlier_px);
      if (res) {
        call.success = true;
        focal = res->first;
        pose = res->second;
        call.c2w = res->second;
      }
      report->pnp_calls.push_back(call);
    }
    if (!pose) pose = torch::eye(4, pairs_.pts_i.options());
  }
}

MstInitReport PointCloudOptimizer::InitMst(const PnpFunction& pnp) {
  torch::NoGradGuard no_grad;
  const int64_t e_count = static_cast<int64_t>(pairs_.edges.size());
  std::map<std::pair<int64_t, int64_t>, int64_t> edge_index;
  std::vector<double> scores(e_count);
  for (int64_t e = 0; e < e_count; ++e) {
    edge_index[pairs_.edges[e]] = e;
    scores[e] =
        (pairs_.conf_i[e].mean() * pairs_.conf_j[e].mean()).item<float>();
  }
  std::vector<int64_t> order;
  const auto tree = SpanningTree(pairs_.edges, scores, n_, &order);
  std::deque<std::tuple<double, int64_t, int64_t>> todo(tree.begin(),
                                                        tree.end());
  MstInitReport report;
  std::vector<torch::Tensor> pts3d(n_);
  std::vector<std::optional<torch::Tensor>> im_poses(n_);
  std::vector<std::optional<double>> im_focals(n_);
  auto [score0, i0, j0] = todo.back();
  todo.pop_back();
  report.tree_edges.emplace_back(i0, j0, score0);
  int64_t i_j = edge_index.at({i0, j0});
  pts3d[i0] = pairs_.pts_i[i_j].clone();
  pts3d[j0] = pairs_.pts_j[i_j].clone();
  std::vector<bool> done(n_, false);
  done[i0] = done[j0] = true;
  im_poses[i0] = torch::eye(4, pairs_.pts_i.options());
  im_focals[i0] = EstimateFocal(pairs_.pts_i[i_j]);
  while (!todo.empty()) {
    const auto [score, i, j] = todo.back();
    todo.pop_back();
    // Upstream quirk: the focal comes from the previous iteration's edge.
    if (!im_focals[i]) im_focals[i] = EstimateFocal(pairs_.pts_i[i_j]);
    if (done[i] || done[j]) {
      i_j = edge_index.at({i, j});
      report.tree_edges.emplace_back(i, j, score);
      const bool from_i = done[i];
      torch::Tensor r, t;
      const auto [trf, s] =
          from_i ? Register(
                       pairs_.pts_i[i_j], pts3d[i], pairs_.conf_i[i_j], &r, &t)
                 : Register(
                       pairs_.pts_j[i_j], pts3d[j], pairs_.conf_j[i_j], &r, &t);
      const int64_t other = from_i ? j : i;
      pts3d[other] =
          Transform(trf, from_i ? pairs_.pts_j[i_j] : pairs_.pts_i[i_j]);
      done[other] = true;
      if (!im_poses[i]) {
        torch::Tensor pose = torch::eye(4, pairs_.pts_i.options());
        pose.narrow(0, 0, 3).narrow(1, 0, 3).copy_(r);
        pose.narrow(0, 0, 3).select(1, 3).copy_(t);
        im_poses[i] = pose;
      }
    } else {
      todo.emplace_front(score, i, j);
    }
  }
  // Missing focals from each image's strongest edge as first node.
  for (int64_t e : order) {
    const int64_t i = pairs_.edges[e].first;
    if (!im_focals[i]) im_focals[i] = EstimateFocal(pairs_.pts_i[e]);
  }
  if (options_.fixed_focal_px) {
    for (auto& f : im_focals) f = *options_.fixed_focal_px;
  }
  CompleteWithPnp(pts3d, pnp, &im_poses, &im_focals, &report);
  std::vector<torch::Tensor> poses;
  std::vector<double> focals;
  for (int64_t i = 0; i < n_; ++i) {
    poses.push_back(*im_poses[i]);
    focals.push_back(*im_focals[i]);
  }
  InitFromPoints(std::move(pts3d), focals, torch::stack(poses));
  report.init_loss = Loss().item<double>();
  return report;
}

void PointCloudOptimizer::InitFromPoints(std::vector<torch::Tensor> pts3d,
                                         const std::vector<double>& focals,
                                         torch::Tensor im_poses) {
  torch::NoGradGuard no_grad;
  const int64_t e_count = static_cast<int64_t>(pairs_.edges.size());
  for (int64_t e = 0; e < e_count; ++e) {
    const int64_t i = pairs_.edges[e].first;
    torch::Tensor r, t;
    const auto [trf, s] =
        Register(pairs_.pts_i[e], pts3d[i], pairs_.conf_i[e], &r, &t);
    SetPose(pw_poses_, e, r, t, s);
  }
  const torch::Tensor s_factor =
      (std::log(options_.base_scale) - pw_poses_.select(1, 7).mean()).exp();
  im_poses.narrow(1, 0, 3).select(2, 3).mul_(s_factor);
  for (auto& p : pts3d) p = p * s_factor;
  for (int64_t i = 0; i < n_; ++i) {
    const torch::Tensor c2w = im_poses[i];
    const torch::Tensor depth =
        Transform(torch::linalg_inv(c2w), pts3d[i]).select(-1, 2);
    // log(depth).nan_to_num(neginf=0): NaN and -inf become 0 (written out
    // so that it reads the same on LibTorch 1.13 and 2.x).
    const torch::Tensor log_depth = depth.log();
    im_depthmaps_[i].copy_(
        torch::where(torch::isnan(log_depth) | torch::isneginf(log_depth),
                     torch::zeros_like(log_depth),
                     log_depth)
            .reshape({-1}));
    SetPose(im_poses_,
            i,
            c2w.narrow(0, 0, 3).narrow(1, 0, 3),
            c2w.narrow(0, 0, 3).select(1, 3),
            1.0);
    if (!options_.shared_focal) {
      im_focals_[i].fill_(options_.focal_break * std::log(focals[i]));
    }
  }
  if (options_.shared_focal) {
    // One focal for the clip: the median of the images' initial focals.
    std::vector<double> sorted = focals;
    std::sort(sorted.begin(), sorted.end());
    im_focals_.fill_(options_.focal_break *
                     std::log(sorted[sorted.size() / 2]));
  }
}

}  // namespace vanelia::model
