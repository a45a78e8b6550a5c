// Upstream's overlap keyframe rule: numpy's percentile, the score on
// synthetic pointmaps with known answers, and argument checks. Parity with
// upstream's own run is in the video_overlap* fixtures (must3r_parity_test).
#include "vanelia/model/must3r/overlap_keyframes.hpp"

#include "vanelia/core/error.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace vanelia::model {
namespace {

TEST(PercentileLinear, MatchesNumpyBitForBit) {
  // np.percentile(vals, q) printed by numpy 1.24 (method "linear").
  const std::vector<double> vals = {0.3, 1.7, -2.0, 5.5, 0.25, 9.0, 3.1};
  const std::vector<std::pair<double, double>> expected = {
      {0.0, -2.0},
      {10.0, -0.6499999999999998},
      {33.3, 0.2999},
      {50.0, 1.7},
      {70.0, 3.5799999999999983},
      {85.0, 5.849999999999999},
      {99.9, 8.979000000000003},
      {100.0, 9.0}};
  for (const auto& [q, want] : expected) {
    std::vector<double> v = vals;
    EXPECT_EQ(PercentileLinear(&v, q), want) << "q = " << q;
  }
  const double max = std::numeric_limits<double>::max();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> v = {1.0, max, max};
  EXPECT_EQ(PercentileLinear(&v, 85.0), max);
  v = {1.0, 2.0, -inf};
  EXPECT_EQ(PercentileLinear(&v, 85.0), 1.7);
  v = {-inf, 2.0, 3.0};
  EXPECT_EQ(PercentileLinear(&v, 30.0), -inf);
  v = {4.0};
  EXPECT_EQ(PercentileLinear(&v, 85.0), 4.0);
  v = {1.0, std::nan(""), 2.0};
  EXPECT_TRUE(std::isnan(PercentileLinear(&v, 50.0)));
  v.clear();
  EXPECT_THROW(PercentileLinear(&v, 50.0), InputError);
}

// A fronto-parallel wall at depth z seen by a camera at `x` (identity
// rotation), conf 2 everywhere; points 0.1 apart, off the quadrant borders
// (no point straight above, below or beside the camera).
PointmapPrediction Wall(float x, float z, int h = 8, int w = 12) {
  PointmapPrediction p;
  const torch::Tensor u = torch::arange(w, torch::kFloat32).view({1, w});
  const torch::Tensor v = torch::arange(h, torch::kFloat32).view({h, 1});
  const torch::Tensor ones = torch::ones({h, w});
  p.pts3d_local = torch::stack({(u - w / 2.0 + 0.25) * 0.1 * ones,
                                (v - h / 2.0 + 0.25) * 0.1 * ones,
                                z * ones},
                               -1);
  p.pts3d = p.pts3d_local.clone();
  p.pts3d.select(-1, 0).add_(x);
  p.conf = 2.0 * ones;
  p.c2w = torch::eye(4);
  p.c2w[0][3] = x;
  return p;
}

TEST(OverlapKeyframeRule, ScoresDistanceOverDepth) {
  OverlapKeyframeOptions o;
  o.subsample = 1;
  OverlapKeyframeRule rule(o);
  const PointmapPrediction first = Wall(0.f, 2.f);
  // Nothing filed yet: every quadrant is empty, distances are +inf.
  EXPECT_EQ(rule.Score(first), std::numeric_limits<double>::max());
  rule.AddKeyframe(first);
  // The same view: every point is in memory.
  EXPECT_EQ(rule.Score(first), 0.0);
  EXPECT_FALSE(rule.IsKeyframe(0.0));
  // Slid by 0.05 (half the point spacing): each point is 0.05 from a stored
  // one in its quadrant; divided by depth 2.
  const double slid = rule.Score(Wall(0.05f, 2.f));
  EXPECT_NEAR(slid, 0.05 / 2.0, 1e-6);
  EXPECT_FALSE(rule.IsKeyframe(slid));
  // Slid by the wall's width: far from memory, a keyframe.
  const double far = rule.Score(Wall(1.2f, 2.f));
  EXPECT_GT(far, 0.05);
  EXPECT_TRUE(rule.IsKeyframe(far));
  // No confident point: score 0, as upstream.
  PointmapPrediction dim = Wall(5.f, 2.f);
  dim.conf.fill_(1.5);
  EXPECT_EQ(rule.Score(dim), 0.0);
}

TEST(OverlapKeyframeRule, Badarg) {
  auto expect_field = [](OverlapKeyframeOptions o, const std::string& field) {
    try {
      o.Check();
      FAIL() << field << ": no throw";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos)
          << e.what();
    }
  };
  OverlapKeyframeOptions o;
  o.subsample = 0;
  expect_field(o, "subsample");
  o = {};
  o.percentile = 101.0;
  expect_field(o, "percentile");
  o = {};
  o.threshold = -1.0;
  expect_field(o, "threshold");
  o = {};
  o.min_conf = std::nan("");
  expect_field(o, "min_conf");
  o = {};
  o.quadrant_divider = 0;
  expect_field(o, "quadrant_divider");
  OverlapKeyframeRule rule{OverlapKeyframeOptions{}};
  PointmapPrediction bad = Wall(0.f, 1.f);
  bad.conf = bad.conf.unsqueeze(0);
  EXPECT_THROW(rule.Score(bad), InputError);
}

}  // namespace
}  // namespace vanelia::model
