// Windowed global alignment (global_alignment_windows.hpp) on a synthetic
// clip whose pairwise pointmaps are exact (known depth maps, poses and
// focal, an arbitrary scale per pair, as DUSt3R's): a clip longer than one
// window comes back as one trajectory, with no jump where windows meet.
// The tiny checkpoint's random weights give pointmaps with no geometry, so
// the boundary is judged here on exact ones.
#include "vanelia/core/error.hpp"
#include "vanelia/model/dust3r/global_alignment_windows.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <Eigen/Geometry>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace vanelia::model {
namespace {

constexpr int64_t kWidth = 32;
constexpr int64_t kHeight = 24;
constexpr double kFocal = 28.0;

// world_from_cam of frame i: a walk along x with a slow yaw.
torch::Tensor GtC2w(int64_t i) {
  const double yaw = 0.015 * static_cast<double>(i);
  const Eigen::Matrix3d r =
      Eigen::AngleAxisd(yaw, Eigen::Vector3d::UnitY()).toRotationMatrix();
  torch::Tensor m = torch::eye(4, torch::kFloat64);
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) m[a][b] = r(a, b);
  }
  m[0][3] = 0.25 * static_cast<double>(i);
  m[1][3] = 0.03 * std::sin(0.7 * static_cast<double>(i));
  return m;
}

// Image i's points in its camera frame: a bumpy depth map.
torch::Tensor CamPoints(int64_t i) {
  const torch::Tensor u = torch::arange(kWidth, torch::kFloat64)
                              .view({1, kWidth})
                              .expand({kHeight, kWidth});
  const torch::Tensor v = torch::arange(kHeight, torch::kFloat64)
                              .view({kHeight, 1})
                              .expand({kHeight, kWidth});
  const torch::Tensor depth =
      4.0 +
      0.6 * torch::sin(u / 5.0 + 0.4 * static_cast<double>(i)) *
          torch::cos(v / 4.0) +
      0.02 * u;
  return torch::stack({depth * (u - kWidth / 2.0) / kFocal,
                       depth * (v - kHeight / 2.0) / kFocal,
                       depth},
                      -1);
}

// Points [H, W, 3] in frame `to`'s camera of image `from`.
torch::Tensor PointsIn(int64_t to, int64_t from) {
  const torch::Tensor to_from =
      torch::linalg_inv(GtC2w(to)).matmul(GtC2w(from));
  return torch::matmul(CamPoints(from),
                       to_from.narrow(0, 0, 3).narrow(1, 0, 3).t()) +
         to_from.narrow(0, 0, 3).select(1, 3);
}

PairwisePointmaps ExactPairs(
    const FrameRange& frames,
    const std::vector<std::pair<int64_t, int64_t>>& edges) {
  std::vector<torch::Tensor> pi, pj;
  for (const auto& [i, j] : edges) {
    const int64_t gi = frames.begin + i;
    const int64_t gj = frames.begin + j;
    const double scale = 0.7 + 0.05 * static_cast<double>((gi * 7 + gj) % 9);
    pi.push_back(PointsIn(gi, gi) * scale);
    pj.push_back(PointsIn(gi, gj) * scale);
  }
  PairwisePointmaps p;
  p.edges = edges;
  p.pts_i = torch::stack(pi).to(torch::kFloat32);
  p.pts_j = torch::stack(pj).to(torch::kFloat32);
  p.conf_i = torch::full({p.pts_i.size(0), kHeight, kWidth}, 5.0);
  p.conf_j = p.conf_i.clone();
  return p;
}

struct Trajectory {
  std::map<int64_t, Eigen::Vector3d> centre;  // frame -> camera centre
  // The same centres left in each window's own world (no registration).
  std::map<int64_t, Eigen::Vector3d> unregistered;
  int64_t windows = 0;
  std::vector<int64_t> boundaries;  // first frame of each later window
};

Trajectory AlignSynthetic(int64_t n,
                          const WindowedAlignmentOptions& options,
                          const AlignStepFunction& on_step = nullptr) {
  Trajectory out;
  AlignInWindows(
      n,
      options,
      ExactPairs,
      [&out](const AlignedWindow& w) {
        EXPECT_EQ(out.centre.size(), static_cast<size_t>(w.first_new));
        if (out.windows++ > 0) out.boundaries.push_back(w.first_new);
        const torch::Tensor c2w = w.c2w.to(torch::kFloat64);
        for (int64_t f = w.first_new; f < w.frames.end; ++f) {
          const int64_t k = f - w.frames.begin;
          out.centre[f] = Eigen::Vector3d(c2w[k][0][3].item<double>(),
                                          c2w[k][1][3].item<double>(),
                                          c2w[k][2][3].item<double>());
          out.unregistered[f] = w.world_from_window.Inverse() * out.centre[f];
        }
      },
      on_step);
  return out;
}

std::vector<double> Steps(const std::map<int64_t, Eigen::Vector3d>& centre) {
  std::vector<double> steps;
  for (int64_t f = 1; f < static_cast<int64_t>(centre.size()); ++f) {
    steps.push_back((centre.at(f) - centre.at(f - 1)).norm());
  }
  return steps;
}

// The largest step into a window's first new frame over the median step.
double WorstBoundaryRatio(const std::map<int64_t, Eigen::Vector3d>& centre,
                          const std::vector<int64_t>& boundaries) {
  const std::vector<double> steps = Steps(centre);
  std::vector<double> sorted = steps;
  std::nth_element(
      sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  const double median = sorted[sorted.size() / 2];
  double worst = 0.0;
  for (int64_t b : boundaries) worst = std::max(worst, steps[b - 1] / median);
  return worst;
}

WindowedAlignmentOptions SyntheticOptions() {
  WindowedAlignmentOptions o;
  o.align.iterations = 60;
  o.window = 8;
  o.overlap = 3;
  return o;
}

TEST(Dust3rAlignWindows, PlanCoversTheClipWithOverlaps) {
  const std::vector<FrameRange> w = PlanAlignmentWindows(20, 8, 3);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[0].begin, 0);
  EXPECT_EQ(w[1].begin, 5);
  EXPECT_EQ(w[2].begin, 10);
  EXPECT_EQ(w[3].begin, 12);  // moved back: a full window ending at 20
  for (size_t k = 0; k < w.size(); ++k) {
    EXPECT_EQ(w[k].size(), 8);
    if (k > 0) {
      EXPECT_GE(w[k - 1].end - w[k].begin, 3);
    }
  }
  EXPECT_EQ(w.back().end, 20);
  EXPECT_EQ(PlanAlignmentWindows(20, 0, 3).size(), 1u);
  EXPECT_EQ(PlanAlignmentWindows(20, 20, 3).size(), 1u);
}

TEST(Dust3rAlignWindows, Badarg) {
  EXPECT_THROW(PlanAlignmentWindows(1, 8, 3), InputError);
  try {
    PlanAlignmentWindows(20, 4, 4);
    FAIL() << "overlap = window accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("overlap 4"), std::string::npos)
        << e.what();
  }
  WindowedAlignmentOptions o;
  o.window = 5;
  o.overlap = 0;
  try {
    o.Check();
    FAIL() << "overlap 0 accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("overlap = 0"), std::string::npos)
        << e.what();
  }
  o.overlap = 2;
  o.registration_stride = 0;
  EXPECT_THROW(o.Check(), InputError);
}

// The clip of 20 frames in 4 windows of 8: at every window boundary the
// camera step is at most twice the median step, and the whole trajectory
// matches the ground truth up to one similarity.
TEST(Dust3rAlignWindows, NoJumpAtWindowBoundaries) {
  torch::manual_seed(0);
  const int64_t n = 20;
  const Trajectory t = AlignSynthetic(n, SyntheticOptions());
  ASSERT_EQ(t.windows, 4);
  ASSERT_EQ(static_cast<int64_t>(t.centre.size()), n);
  const double worst = WorstBoundaryRatio(t.centre, t.boundaries);
  const double unregistered = WorstBoundaryRatio(t.unregistered, t.boundaries);
  RecordProperty("boundary_step_ratio", std::to_string(worst));
  std::printf(
      "windowed alignment: worst boundary step / median step = %.4f "
      "(%.2f with each window left in its own world)\n",
      worst,
      unregistered);
  EXPECT_LE(worst, 2.0);
  EXPECT_GT(unregistered, 2.0);  // the check can fail: windows need registering
  // One similarity maps the recovered centres onto the ground truth's.
  Eigen::Matrix3Xd got(3, n), gt(3, n);
  for (int64_t f = 0; f < n; ++f) {
    got.col(f) = t.centre.at(f);
    const torch::Tensor g = GtC2w(f);
    gt.col(f) =
        Eigen::Vector3d(g[0][3].item<double>(), g[1][3].item<double>(), 0.0);
  }
  const Eigen::Matrix4d sim = Eigen::umeyama(got, gt, true);
  const Eigen::Matrix3Xd mapped =
      (sim.topLeftCorner<3, 3>() * got).colwise() + sim.topRightCorner<3, 1>();
  const double rms = std::sqrt((mapped - gt).colwise().squaredNorm().mean());
  std::printf(
      "windowed alignment: centre RMS after one Sim3 = %.4f "
      "(step 0.25)\n",
      rms);
  EXPECT_LT(rms, 0.05);
}

// The steps run and reported over all windows; a throw from the step
// callback stops the alignment at that step.
TEST(Dust3rAlignWindows, StepsCountAllWindowsAndAThrowStops) {
  WindowedAlignmentOptions o = SyntheticOptions();
  o.align.iterations = 5;
  std::vector<int64_t> seen;
  AlignSynthetic(20, o, [&seen](int64_t done, int64_t total) {
    EXPECT_EQ(total, 20);
    seen.push_back(done);
  });
  ASSERT_EQ(seen.size(), 20u);
  EXPECT_EQ(seen.back(), 20);
  int64_t last = 0;
  EXPECT_THROW(AlignSynthetic(20,
                              o,
                              [&last](int64_t done, int64_t) {
                                last = done;
                                if (done == 7) throw Cancelled("stop");
                              }),
               Cancelled);
  EXPECT_EQ(last, 7);
}

}  // namespace
}  // namespace vanelia::model
