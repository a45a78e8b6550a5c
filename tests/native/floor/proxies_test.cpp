#include "vanelia/floor/proxies.hpp"

#include "vanelia/core/error.hpp"

#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <gtest/gtest.h>

namespace vanelia {
namespace {

struct BoxSpec {
  Eigen::Vector2d centre;
  Eigen::Vector3d size;  // x, y, z (height)
  double yaw_rad;
};

// Points on the surfaces of `box` (four sides and the top, as a tracker sees
// them: sparse and noisy), appended to `points`.
void AddBoxPoints(const BoxSpec& box,
                  int count,
                  double noise_m,
                  std::mt19937* rng,
                  std::vector<Eigen::Vector3f>* points) {
  std::uniform_real_distribution<double> unit(-0.5, 0.5);
  std::normal_distribution<double> noise(0.0, noise_m);
  const double c = std::cos(box.yaw_rad);
  const double s = std::sin(box.yaw_rad);
  for (int k = 0; k < count; ++k) {
    Eigen::Vector3d q(unit(*rng), unit(*rng), unit(*rng) + 0.5);
    const int face = k % 5;
    if (face == 0) q.x() = -0.5;
    if (face == 1) q.x() = 0.5;
    if (face == 2) q.y() = -0.5;
    if (face == 3) q.y() = 0.5;
    if (face == 4) q.z() = 1.0;
    const Eigen::Vector3d local = q.cwiseProduct(box.size);
    const Eigen::Vector3d world(box.centre.x() + c * local.x() - s * local.y(),
                                box.centre.y() + s * local.x() + c * local.y(),
                                local.z());
    const Eigen::Vector3d n(noise(*rng), noise(*rng), noise(*rng));
    points->push_back((world + n).cast<float>());
  }
}

Eigen::Matrix3Xf ToMatrix(const std::vector<Eigen::Vector3f>& points) {
  Eigen::Matrix3Xf m(3, static_cast<int64_t>(points.size()));
  for (size_t k = 0; k < points.size(); ++k) {
    m.col(static_cast<int64_t>(k)) = points[k];
  }
  return m;
}

// Floor points with noise below the height threshold, and uniform outliers
// scattered in the air.
void AddFloorAndOutliers(int floor,
                         int outliers,
                         std::mt19937* rng,
                         std::vector<Eigen::Vector3f>* points) {
  std::uniform_real_distribution<float> xy(-6.0F, 6.0F);
  std::uniform_real_distribution<float> height(0.1F, 3.0F);
  std::normal_distribution<float> noise(0.0F, 0.01F);
  for (int k = 0; k < floor; ++k) {
    points->emplace_back(xy(*rng), xy(*rng), noise(*rng));
  }
  for (int k = 0; k < outliers; ++k) {
    points->emplace_back(xy(*rng), xy(*rng), height(*rng));
  }
}

double AngleDiff(double a, double b) {  // modulo a half turn
  double d = std::fmod(a - b, M_PI);
  if (d > M_PI / 2) d -= M_PI;
  if (d < -M_PI / 2) d += M_PI;
  return std::abs(d);
}

TEST(BuildProxies, OrientedBoxesAmongFloorNoiseAndOutliers) {
  std::mt19937 rng(5);
  std::vector<Eigen::Vector3f> points;
  const std::vector<BoxSpec> boxes = {
      {{-1.0, 1.8}, {0.8, 0.6, 0.8}, 25.0 * M_PI / 180.0},
      {{1.2, 0.4}, {0.9, 0.5, 0.6}, -40.0 * M_PI / 180.0},
  };
  for (const BoxSpec& b : boxes) AddBoxPoints(b, 400, 0.005, &rng, &points);
  AddFloorAndOutliers(3000, 25, &rng, &points);
  const ProxySet set = BuildProxies(ToMatrix(points), ProxyOptions());
  ASSERT_EQ(set.proxies.size(), 2U) << DescribeProxies(set);
  EXPECT_EQ(set.Count(ProxyKind::kBox), 2);
  // Side points lower than min_height_m are floor; the outliers are above
  // the floor but in no proxy.
  EXPECT_GE(set.points_used, 700);
  EXPECT_GE(set.points_above_floor, set.points_used + 20);
  // Largest footprint first: box 0 (0.48 m^2) then box 1 (0.45 m^2).
  for (size_t i = 0; i < boxes.size(); ++i) {
    const Proxy& p = set.proxies[i];
    const BoxSpec& b = boxes[i];
    EXPECT_NEAR(p.centre_m.x(), b.centre.x(), 0.03) << i;
    EXPECT_NEAR(p.centre_m.y(), b.centre.y(), 0.03) << i;
    EXPECT_NEAR(p.size_m.x(), b.size.x(), 0.05) << i;
    EXPECT_NEAR(p.size_m.y(), b.size.y(), 0.05) << i;
    EXPECT_NEAR(p.size_m.z(), b.size.z(), 0.03) << i;
    EXPECT_NEAR(p.centre_m.z(), 0.5 * p.size_m.z(), 1e-9) << i;
    EXPECT_LT(AngleDiff(p.yaw_rad, b.yaw_rad), 3.0 * M_PI / 180.0) << i;
    EXPECT_GT(p.yaw_rad, -M_PI / 2);
    EXPECT_LE(p.yaw_rad, M_PI / 2);
  }
}

TEST(BuildProxies, WallIsAPlane) {
  std::mt19937 rng(7);
  std::vector<Eigen::Vector3f> points;
  AddBoxPoints({{0.0, 5.0}, {6.0, 0.1, 2.5}, 0.0}, 600, 0.01, &rng, &points);
  AddBoxPoints({{0.0, 1.0}, {0.5, 0.5, 0.5}, 0.0}, 200, 0.005, &rng, &points);
  const ProxySet set = BuildProxies(ToMatrix(points), ProxyOptions());
  ASSERT_EQ(set.proxies.size(), 2U) << DescribeProxies(set);
  EXPECT_EQ(set.proxies[0].kind, ProxyKind::kPlane);
  EXPECT_NEAR(set.proxies[0].size_m.x(), 6.0, 0.1);
  EXPECT_LT(set.proxies[0].size_m.y(), 0.2);
  EXPECT_LT(AngleDiff(set.proxies[0].yaw_rad, 0.0), 0.02);
  EXPECT_EQ(set.proxies[1].kind, ProxyKind::kBox);
  const std::string line = DescribeProxies(set);
  EXPECT_NE(line.find("2 proxies (1 boxes, 1 walls)"), std::string::npos)
      << line;
  EXPECT_NE(line.find("wall 6."), std::string::npos) << line;
}

TEST(BuildProxies, FloorOnlyAndEmptyGiveNone) {
  std::mt19937 rng(9);
  std::vector<Eigen::Vector3f> points;
  AddFloorAndOutliers(2000, 0, &rng, &points);
  const ProxySet floor = BuildProxies(ToMatrix(points), ProxyOptions());
  EXPECT_TRUE(floor.proxies.empty()) << DescribeProxies(floor);
  EXPECT_LT(floor.points_above_floor, 5);  // 5 sigma of floor noise
  const ProxySet empty = BuildProxies(Eigen::Matrix3Xf(3, 0), ProxyOptions());
  EXPECT_TRUE(empty.proxies.empty());
  EXPECT_EQ(empty.points_above_floor, 0);
}

TEST(BuildProxies, StrayPointsAboveABoxDoNotRaiseIt) {
  std::mt19937 rng(11);
  std::vector<Eigen::Vector3f> points;
  AddBoxPoints({{0.0, 0.0}, {0.6, 0.6, 0.5}, 0.0}, 500, 0.003, &rng, &points);
  points.emplace_back(0.0F, 0.0F, 2.5F);  // mismatched features
  points.emplace_back(0.1F, 0.1F, 1.9F);
  points.emplace_back(NAN, 0.0F, 0.3F);  // never counted
  const ProxySet set = BuildProxies(ToMatrix(points), ProxyOptions());
  ASSERT_EQ(set.proxies.size(), 1U);
  EXPECT_NEAR(set.proxies[0].size_m.z(), 0.5, 0.02);
}

// The cameras saw two sides and the top of a box (as in the occluder clip):
// the seen faces land on their surfaces (the median of their points), not
// ~1.6 noise sigma out (the quantile extent of a dense face); the unseen
// sides, known only from the edges of the top (trimmed by extent_trim),
// stay within 3.5 cm inside.
TEST(BuildProxies, SeenFacesLandOnTheirSurfaces) {
  std::mt19937 rng(17);
  std::uniform_real_distribution<double> unit(-0.5, 0.5);
  std::normal_distribution<double> noise(0.0, 0.01);
  const Eigen::Vector3d centre(0.1, 1.1, 0.35);
  const Eigen::Vector3d size(0.7, 0.3, 0.7);
  std::vector<Eigen::Vector3f> points;
  // The south side (-y), the east side (+x) and the top, 400 points/m^2.
  const std::vector<std::pair<int, double>> faces = {
      {1, -0.5}, {0, 0.5}, {2, 0.5}};
  for (const auto& [axis, side] : faces) {
    const int a = (axis + 1) % 3;
    const int b = (axis + 2) % 3;
    const int count = static_cast<int>(400.0 * size[a] * size[b]);
    for (int k = 0; k < count; ++k) {
      Eigen::Vector3d q(unit(rng), unit(rng), unit(rng));
      q[axis] = side;
      Eigen::Vector3d p = centre + q.cwiseProduct(size);
      p += Eigen::Vector3d(noise(rng), noise(rng), noise(rng));
      points.push_back(p.cast<float>());
    }
  }
  const ProxySet set = BuildProxies(ToMatrix(points), ProxyOptions());
  ASSERT_EQ(set.proxies.size(), 1U) << DescribeProxies(set);
  const Proxy& p = set.proxies[0];
  ASSERT_LT(AngleDiff(p.yaw_rad, 0.0), 1.0 * M_PI / 180.0);
  const double south = p.centre_m.y() - 0.5 * p.size_m.y();
  const double east = p.centre_m.x() + 0.5 * p.size_m.x();
  EXPECT_NEAR(south, 0.95, 0.004) << DescribeProxies(set);
  EXPECT_NEAR(east, 0.45, 0.004) << DescribeProxies(set);
  EXPECT_NEAR(p.size_m.z(), 0.70, 0.004) << DescribeProxies(set);
  EXPECT_NEAR(p.centre_m.y() + 0.5 * p.size_m.y(), 1.25, 0.035);
  EXPECT_NEAR(p.centre_m.x() - 0.5 * p.size_m.x(), -0.25, 0.035);
}

TEST(BuildProxies, TooWideClusterIsRejected) {
  std::mt19937 rng(13);
  std::vector<Eigen::Vector3f> points;
  AddBoxPoints({{0.0, 0.0}, {5.0, 5.0, 1.0}, 0.0}, 20000, 0.01, &rng, &points);
  ProxyOptions options;
  options.max_object_m = 4.0;
  const ProxySet set = BuildProxies(ToMatrix(points), options);
  EXPECT_TRUE(set.proxies.empty()) << DescribeProxies(set);
  EXPECT_EQ(set.clusters_rejected, 1);
  EXPECT_NE(DescribeProxies(set).find("1 cluster(s) rejected"),
            std::string::npos);
}

TEST(BuildProxies, Badarg) {
  const Eigen::Matrix3Xf none(3, 0);
  const auto message = [&](const ProxyOptions& o) {
    try {
      BuildProxies(none, o);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no InputError");
  };
  ProxyOptions o;
  o.min_height_m = 0.0;
  EXPECT_NE(message(o).find("ProxyOptions::min_height_m = 0"),
            std::string::npos);
  o = ProxyOptions();
  o.max_height_m = 0.01;
  EXPECT_NE(message(o).find("max_height_m"), std::string::npos);
  o = ProxyOptions();
  o.cell_m = -1.0;
  EXPECT_NE(message(o).find("cell_m = -1"), std::string::npos);
  o = ProxyOptions();
  o.min_points = 2;
  EXPECT_NE(message(o).find("min_points = 2; must be >= 3"), std::string::npos);
  o = ProxyOptions();
  o.top_quantile = 1.5;
  EXPECT_NE(message(o).find("top_quantile"), std::string::npos);
  o = ProxyOptions();
  o.min_neighbours = 0;
  EXPECT_NE(message(o).find("min_neighbours"), std::string::npos);
  o = ProxyOptions();
  o.noise_radius_m = 0.0;
  EXPECT_NE(message(o).find("noise_radius_m = 0"), std::string::npos);
  o = ProxyOptions();
  o.extent_trim = 0.3;
  EXPECT_NE(message(o).find("extent_trim = 0.3"), std::string::npos);
  o = ProxyOptions();
  o.face_band_m = 0.0;
  EXPECT_NE(message(o).find("face_band_m = 0; must be > 0"), std::string::npos);
  o = ProxyOptions();
  o.min_face_points = 0;
  EXPECT_NE(message(o).find("min_face_points = 0"), std::string::npos);
}

}  // namespace
}  // namespace vanelia
