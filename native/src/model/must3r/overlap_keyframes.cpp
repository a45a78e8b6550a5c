// Upstream's overlap keyframe rule. Ports must3r/demo/inference.py
// slam_is_keyframe / slam_update_scene_state, must3r/slam/model.py
// get_overlap_score ("nn-norm") and choose_keyframe_from_overlap,
// must3r/slam/nns.py QuandrantSearcher and must3r/slam/tools.py
// get_quadrant_id.
#include "vanelia/model/must3r/overlap_keyframes.hpp"

#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include <torch/torch.h>

namespace vanelia::model {

void OverlapKeyframeOptions::Check() const {
  const std::string p = "OverlapKeyframeOptions::";
  if (subsample < 1) {
    throw InputError(p + "subsample = " + std::to_string(subsample) +
                     "; must be >= 1");
  }
  if (!std::isfinite(min_conf)) {
    throw InputError(p + "min_conf = " + std::to_string(min_conf) +
                     "; must be finite");
  }
  if (!std::isfinite(threshold) || threshold < 0.0) {
    throw InputError(p + "threshold = " + std::to_string(threshold) +
                     "; must be finite and >= 0");
  }
  if (!(percentile >= 0.0 && percentile <= 100.0)) {
    throw InputError(p + "percentile = " + std::to_string(percentile) +
                     "; must be in [0, 100]");
  }
  if (quadrant_divider < 1 || quadrant_divider > 64) {
    throw InputError(p + "quadrant_divider = " +
                     std::to_string(quadrant_divider) + "; must be in [1, 64]");
  }
}

// The confident grid points of one frame.
struct OverlapKeyframeRule::Grid {
  std::vector<Eigen::Vector3f> points;  // pts3d, world frame
  std::vector<float> depth;             // pts3d_local z
  Eigen::Vector3f center;               // camera centre (c2w translation)
};

OverlapKeyframeRule::OverlapKeyframeRule(OverlapKeyframeOptions options)
    : options_(options) {
  options_.Check();
  quadrants_.resize(2 * options_.quadrant_divider * options_.quadrant_divider);
}

OverlapKeyframeRule::Grid OverlapKeyframeRule::Sample(
    const PointmapPrediction& frame) const {
  if (frame.pts3d.dim() != 3 || frame.pts3d.size(2) != 3 ||
      frame.conf.dim() != 2 || frame.c2w.dim() != 2) {
    throw InputError(
        "OverlapKeyframeRule: one frame's pts3d [H, W, 3], conf [H, W] and "
        "c2w [4, 4] expected");
  }
  const int64_t s = options_.subsample;
  auto grid = [s](const torch::Tensor& t) {
    return t.slice(0, 0, t.size(0), s)
        .slice(1, 0, t.size(1), s)
        .to(torch::kCPU, torch::kFloat32)
        .contiguous();
  };
  const torch::Tensor pts = grid(frame.pts3d);
  const torch::Tensor local = grid(frame.pts3d_local);
  const torch::Tensor conf = grid(frame.conf);
  const torch::Tensor c2w =
      frame.c2w.to(torch::kCPU, torch::kFloat32).contiguous();
  const float* p = pts.data_ptr<float>();
  const float* l = local.data_ptr<float>();
  const float* c = conf.data_ptr<float>();
  const float* m = c2w.data_ptr<float>();
  Grid out;
  out.center = Eigen::Vector3f(m[3], m[7], m[11]);
  // conf > min_conf as torch compares a float tensor with a Python float.
  const float min_conf = static_cast<float>(options_.min_conf);
  for (int64_t i = 0; i < conf.numel(); ++i) {
    if (c[i] > min_conf) {
      out.points.emplace_back(p[3 * i], p[3 * i + 1], p[3 * i + 2]);
      out.depth.push_back(l[3 * i + 2]);
    }
  }
  return out;
}

int OverlapKeyframeRule::Quadrant(const Eigen::Vector3f& point,
                                  const Eigen::Vector3f& center) const {
  // get_quadrant_id in float32, the order of numpy's operations.
  const float n = static_cast<float>(options_.quadrant_divider);
  const float pi = static_cast<float>(M_PI);
  const float eps = 1e-5f;
  const float one_minus = static_cast<float>(1.0 - 1e-5);
  const float minus_one_plus = static_cast<float>(-1.0 + 1e-5);
  Eigen::Vector3f r = point - center;
  const float norm =
      std::max(std::sqrt(r.x() * r.x() + r.y() * r.y() + r.z() * r.z()), eps);
  r.x() /= norm;
  r.y() /= norm;
  r.z() /= norm;
  const float theta = std::clamp(std::acos(r.z()) / pi, eps, one_minus);
  const float phi =
      std::clamp(std::atan2(r.y(), r.x()) / pi, minus_one_plus, one_minus);
  if (!std::isfinite(theta) || !std::isfinite(phi)) {
    throw ModelError(
        "OverlapKeyframeRule: a point or camera centre is not finite");
  }
  const int theta_idx = static_cast<int>(std::floor(theta * n));
  const int phi_idx =
      static_cast<int>(std::floor(phi * n)) + options_.quadrant_divider;
  return theta_idx + phi_idx * options_.quadrant_divider;
}

double OverlapKeyframeRule::Score(const PointmapPrediction& frame) const {
  const Grid g = Sample(frame);
  if (g.points.empty()) return 0.0;
  std::vector<double> dists(g.points.size());
  for (size_t i = 0; i < g.points.size(); ++i) {
    const int q = Quadrant(g.points[i], g.center);
    double d = quadrants_[q].Distance(g.points[i]);
    // dists /= depths + eps: the eps is added in float32.
    d /= static_cast<double>(g.depth[i] + 1e-9f);
    if (d == std::numeric_limits<double>::infinity()) {
      d = std::numeric_limits<double>::max();
    }
    dists[i] = d;
  }
  return PercentileLinear(&dists, options_.percentile);
}

void OverlapKeyframeRule::AddKeyframe(const PointmapPrediction& frame) {
  const Grid g = Sample(frame);
  std::vector<std::vector<Eigen::Vector3f>> batches(quadrants_.size());
  for (const Eigen::Vector3f& p : g.points) {
    batches[Quadrant(p, g.center)].push_back(p);
  }
  for (size_t q = 0; q < quadrants_.size(); ++q) quadrants_[q].Add(batches[q]);
}

double PercentileLinear(std::vector<double>* values, double q) {
  if (values->empty()) {
    throw InputError("PercentileLinear: no values");
  }
  for (double v : *values) {
    if (std::isnan(v)) return std::numeric_limits<double>::quiet_NaN();
  }
  std::sort(values->begin(), values->end());
  const int64_t n = static_cast<int64_t>(values->size());
  // numpy 1.24 _quantile, method "linear": virtual index (n - 1) q, the two
  // neighbours (both the last one at or beyond the end, where the previous
  // index reads -1), gamma = index - previous, then _lerp.
  const double vi = static_cast<double>(n - 1) * (q / 100.0);
  double previous = std::floor(vi);
  int64_t lo = static_cast<int64_t>(previous);
  int64_t hi = lo + 1;
  if (vi >= static_cast<double>(n - 1)) {
    previous = -1.0;
    lo = hi = n - 1;
  } else if (vi < 0.0) {
    previous = 0.0;
    lo = hi = 0;
  }
  const double gamma = vi - previous;
  const double a = (*values)[lo];
  const double b = (*values)[hi];
  const double diff = b - a;
  return gamma >= 0.5 ? b - diff * (1.0 - gamma) : a + diff * gamma;
}

}  // namespace vanelia::model
