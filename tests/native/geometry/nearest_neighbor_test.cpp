#include "vanelia/geometry/nearest_neighbor.hpp"

#include "vanelia/core/error.hpp"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace vanelia {
namespace {

double BruteForce(const std::vector<Eigen::Vector3f>& points,
                  const Eigen::Vector3f& q) {
  double best = std::numeric_limits<double>::infinity();
  for (const Eigen::Vector3f& p : points) {
    const double dx = static_cast<double>(q.x()) - p.x();
    const double dy = static_cast<double>(q.y()) - p.y();
    const double dz = static_cast<double>(q.z()) - p.z();
    best = std::min(best, dx * dx + dy * dy + dz * dz);
  }
  return std::sqrt(best);
}

TEST(NearestNeighbor3d, EmptySetIsInfinitelyFar) {
  NearestNeighbor3d nn;
  EXPECT_TRUE(std::isinf(nn.Distance(Eigen::Vector3f(1, 2, 3))));
  nn.Add({});
  EXPECT_EQ(nn.Size(), 0);
  EXPECT_TRUE(std::isinf(nn.Distance(Eigen::Vector3f(1, 2, 3))));
}

TEST(NearestNeighbor3d, MatchesBruteForceBitForBitAcrossBatches) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.f, 2.f);
  NearestNeighbor3d nn;
  std::vector<Eigen::Vector3f> all;
  // Batches of uneven sizes exercise the merges of the binary counter;
  // duplicated and clustered points exercise ties and degenerate splits.
  for (int batch : {1, 5, 300, 17, 0, 1024, 3, 64}) {
    std::vector<Eigen::Vector3f> pts;
    for (int i = 0; i < batch; ++i) {
      Eigen::Vector3f p(g(rng), g(rng), 0.01f * g(rng));
      if (i % 7 == 0 && !pts.empty()) p = pts.back();
      pts.push_back(p);
    }
    nn.Add(pts);
    all.insert(all.end(), pts.begin(), pts.end());
    ASSERT_EQ(nn.Size(), static_cast<int64_t>(all.size()));
    for (int k = 0; k < 200; ++k) {
      const Eigen::Vector3f q(g(rng), g(rng), g(rng));
      ASSERT_EQ(nn.Distance(q), BruteForce(all, q)) << "query " << k;
    }
    if (!all.empty()) {
      EXPECT_EQ(nn.Distance(all.front()), 0.0);
    }
  }
}

TEST(NearestNeighbor3d, Badarg) {
  NearestNeighbor3d nn;
  try {
    nn.Add({Eigen::Vector3f(0, 0, 0),
            Eigen::Vector3f(0, std::numeric_limits<float>::quiet_NaN(), 0)});
    FAIL() << "no throw";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("point 1"), std::string::npos);
  }
}

}  // namespace
}  // namespace vanelia
