// Windowed global alignment (global_alignment_windows.hpp). Each window runs
// upstream's PointCloudOptimizer unchanged (init 'mst', then Adam); the
// windows and their registration are ours: upstream aligns every image at
// once.
#include "vanelia/model/dust3r/global_alignment_windows.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/option_check.hpp"
#include "vanelia/geometry/umeyama.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>
#include <string>

#include <Eigen/Core>
#include <torch/torch.h>

namespace vanelia::model {

namespace {

// The scene graph's window argument inside `frames`: oneref's reference
// frame as a local index (the window's first frame when it is elsewhere).
int64_t LocalPairWindow(const WindowedAlignmentOptions& options,
                        const FrameRange& frames) {
  if (options.scene_graph != SceneGraphKind::kOneref) {
    return options.pair_window;
  }
  const int64_t ref = options.pair_window;
  return ref >= frames.begin && ref < frames.end ? ref - frames.begin : 0;
}

std::vector<std::pair<int64_t, int64_t>> WindowEdges(
    const WindowedAlignmentOptions& options, const FrameRange& frames) {
  return Symmetrize(MakePairs(
      frames.size(), options.scene_graph, LocalPairWindow(options, frames)));
}

// p -> s R p + t on [..., 3] points, and world_from_cam -> world_from_window
// * world_from_cam on [M, 4, 4] poses (rotation kept orthonormal).
void ApplySim3(const Sim3d& sim, torch::Tensor* c2w, torch::Tensor* pts3d) {
  const Eigen::Matrix3d r = sim.rotation.toRotationMatrix();
  torch::Tensor rot = torch::empty({3, 3}, torch::kFloat64);
  torch::Tensor t = torch::empty({3}, torch::kFloat64);
  for (int a = 0; a < 3; ++a) {
    t[a] = sim.translation(a);
    for (int b = 0; b < 3; ++b) rot[a][b] = r(a, b);
  }
  rot = rot.to(pts3d->options());
  t = t.to(pts3d->options());
  const double s = sim.scale;
  *pts3d = torch::matmul(*pts3d, rot.t()) * s + t;
  torch::Tensor out = c2w->clone();
  out.narrow(1, 0, 3).narrow(2, 0, 3).copy_(
      torch::matmul(rot, c2w->narrow(1, 0, 3).narrow(2, 0, 3)));
  out.narrow(1, 0, 3).select(2, 3).copy_(
      torch::matmul(c2w->narrow(1, 0, 3).select(2, 3), rot.t()) * s + t);
  *c2w = out;
}

// Points and weights of the pixels that register a window.
struct Correspondences {
  Eigen::Matrix3Xd src;  // new window
  Eigen::Matrix3Xd dst;  // world
  Eigen::VectorXd weight;
};

Correspondences Gather(const torch::Tensor& ref_pts,
                       const torch::Tensor& ref_conf,
                       const torch::Tensor& new_pts,
                       const torch::Tensor& new_conf,
                       double min_conf,
                       int64_t stride) {
  auto flat = [stride](const torch::Tensor& x, int64_t last) {
    torch::Tensor y = x.slice(1, 0, {}, stride).slice(2, 0, {}, stride);
    return (last ? y.reshape({-1, last}) : y.reshape({-1}))
        .to(torch::kCPU)
        .to(torch::kFloat64)
        .contiguous();
  };
  const torch::Tensor rp = flat(ref_pts, 3);
  const torch::Tensor np = flat(new_pts, 3);
  const torch::Tensor rc = flat(ref_conf, 0);
  const torch::Tensor nc = flat(new_conf, 0);
  const torch::Tensor lo = torch::minimum(rc, nc);
  const torch::Tensor finite =
      torch::isfinite(rp).all(1) & torch::isfinite(np).all(1) & (lo > 1.0);
  torch::Tensor keep = finite & (lo > min_conf);
  if (keep.sum().item<int64_t>() < 100) keep = finite;
  const torch::Tensor idx = keep.nonzero().view({-1});
  const int64_t k = idx.size(0);
  const torch::Tensor sp = np.index_select(0, idx).contiguous();
  const torch::Tensor dp = rp.index_select(0, idx).contiguous();
  const torch::Tensor w = lo.index_select(0, idx).log().contiguous();
  Correspondences c;
  c.src = Eigen::Map<const Eigen::Matrix3Xd>(sp.data_ptr<double>(), 3, k);
  c.dst = Eigen::Map<const Eigen::Matrix3Xd>(dp.data_ptr<double>(), 3, k);
  c.weight = Eigen::Map<const Eigen::VectorXd>(w.data_ptr<double>(), k);
  return c;
}

}  // namespace

std::vector<FrameRange> PlanAlignmentWindows(int64_t n,
                                             int64_t window,
                                             int64_t overlap) {
  if (n < 2) {
    throw InputError("alignment windows: " + std::to_string(n) +
                     " frames; needs at least 2");
  }
  if (window < 0) {
    throw InputError("alignment window " + std::to_string(window) +
                     "; must be >= 0 (0 = one window)");
  }
  if (window == 0 || window >= n) return {FrameRange{0, n}};
  if (overlap < 1 || overlap >= window) {
    throw InputError("alignment window overlap " + std::to_string(overlap) +
                     "; must be in [1, window - 1] = [1, " +
                     std::to_string(window - 1) + "]");
  }
  std::vector<FrameRange> out;
  int64_t begin = 0;
  while (begin + window < n) {
    out.push_back({begin, begin + window});
    begin += window - overlap;
  }
  out.push_back({n - window, n});
  return out;
}

void WindowedAlignmentOptions::Check() const {
  align.Check();
  auto fail = [](const std::string& field,
                 const std::string& value,
                 const std::string& rule) {
    internal::ThrowBadOption("WindowedAlignmentOptions", field, value, rule);
  };
  if (window < 0) fail("window", std::to_string(window), "must be >= 0");
  if (window > 0 && (overlap < 1 || overlap >= window)) {
    fail("overlap",
         std::to_string(overlap),
         "must be in [1, window - 1] with window = " + std::to_string(window));
  }
  if (!std::isfinite(registration_min_conf) || registration_min_conf < 1.0) {
    std::ostringstream v;
    v << registration_min_conf;
    fail("registration_min_conf", v.str(), "must be finite and >= 1");
  }
  if (registration_stride < 1) {
    fail("registration_stride",
         std::to_string(registration_stride),
         "must be >= 1");
  }
}

int64_t CountWindowEdges(int64_t n, const WindowedAlignmentOptions& options) {
  int64_t count = 0;
  for (const FrameRange& r :
       PlanAlignmentWindows(n, options.window, options.overlap)) {
    count += static_cast<int64_t>(WindowEdges(options, r).size());
  }
  return count;
}

std::optional<Sim3d> RegisterWindow(const torch::Tensor& ref_pts,
                                    const torch::Tensor& ref_conf,
                                    const torch::Tensor& new_pts,
                                    const torch::Tensor& new_conf,
                                    double min_conf,
                                    int64_t stride) {
  Correspondences c =
      Gather(ref_pts, ref_conf, new_pts, new_conf, min_conf, stride);
  std::optional<Sim3d> sim = EstimateSim3d(c.src, c.dst, c.weight);
  if (!sim) return std::nullopt;
  // One reweighting pass: residuals above 3x their median weigh nothing.
  Eigen::VectorXd res(c.src.cols());
  for (Eigen::Index k = 0; k < c.src.cols(); ++k) {
    res(k) = (c.dst.col(k) - (*sim) * Eigen::Vector3d(c.src.col(k))).norm();
  }
  std::vector<double> sorted(res.data(), res.data() + res.size());
  std::nth_element(
      sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  const double cut = 3.0 * sorted[sorted.size() / 2];
  if (cut > 0) {
    for (Eigen::Index k = 0; k < res.size(); ++k) {
      if (res(k) > cut) c.weight(k) = 0.0;
    }
    if (std::optional<Sim3d> refined = EstimateSim3d(c.src, c.dst, c.weight)) {
      sim = refined;
    }
  }
  return sim;
}

void AlignInWindows(int64_t n,
                    const WindowedAlignmentOptions& options,
                    const WindowPairsFunction& pairs,
                    const AlignedWindowSink& sink,
                    const AlignStepFunction& on_step) {
  options.Check();
  const std::vector<FrameRange> windows =
      PlanAlignmentWindows(n, options.window, options.overlap);
  const int64_t total_steps =
      static_cast<int64_t>(windows.size()) * options.align.iterations;
  int64_t steps = 0;
  torch::Tensor carry_pts, carry_conf;  // world; frames [next begin, end)
  for (size_t w = 0; w < windows.size(); ++w) {
    const FrameRange& range = windows[w];
    AlignedWindow out;
    out.frames = range;
    out.first_new = w == 0 ? range.begin : windows[w - 1].end;
    {
      // The window's pairs and optimiser live in this scope only.
      const PairwisePointmaps window_pairs =
          pairs(range, WindowEdges(options, range));
      PointCloudOptimizer opt(window_pairs, options.align);
      opt.InitMst();
      opt.Optimize([&](int) {
        ++steps;
        if (on_step) on_step(steps, total_steps);
        return true;
      });
      const AlignmentState state = opt.State();
      out.c2w = state.c2w;
      out.focals = state.focals;
      out.pts3d = state.pts3d;
      out.conf = opt.image_confidence();
    }
    if (w > 0) {
      const int64_t shared = windows[w - 1].end - range.begin;
      const std::optional<Sim3d> sim =
          RegisterWindow(carry_pts,
                         carry_conf,
                         out.pts3d.narrow(0, 0, shared),
                         out.conf.narrow(0, 0, shared),
                         options.registration_min_conf,
                         options.registration_stride);
      if (!sim) {
        throw ModelError(
            "DUSt3R alignment: frames " + std::to_string(range.begin) + ".." +
            std::to_string(range.end - 1) +
            " could not be registered to the frames before (their " +
            std::to_string(shared) +
            " shared frames' points are degenerate); try a larger "
            "--align-window or --align-overlap");
      }
      out.world_from_window = *sim;
      ApplySim3(*sim, &out.c2w, &out.pts3d);
    }
    if (w + 1 < windows.size()) {
      const int64_t from = windows[w + 1].begin - range.begin;
      carry_pts = out.pts3d.narrow(0, from, range.size() - from).clone();
      carry_conf = out.conf.narrow(0, from, range.size() - from).clone();
    }
    sink(out);
  }
}

}  // namespace vanelia::model
