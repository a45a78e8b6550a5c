// The floor the points show (proxies_impl.hpp, proxies.hpp step 1).
#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <vector>

#include <Eigen/Core>
#include <Eigen/LU>

#include "proxies_impl.hpp"

namespace vanelia::internal {

// The floor the points show (proxies.hpp, step 1): in cells of kFloorCellM
// with at least kFloorCellPoints points, the kFloorQuantile height when it
// is within kFloorBandM of z = 0 and at least half of the cell's points lie
// within kFloorFlatM of it (a floor, not the side of an object standing on
// a floor the tracker did not see); a plane
// through those by least squares with Tukey weights (an object's cell with
// no floor in it is an outlier), tilted at most kFloorMaxTiltRad. Not
// fitted (z = 0) with fewer than kFloorMinCells cells, a steeper plane, or
// a plane within min_height_m / 2 of z = 0 wherever the points are.
constexpr double kFloorCellM = 0.5;
constexpr int kFloorCellPoints = 4;
constexpr double kFloorBandM = 0.4;
constexpr double kFloorQuantile = 0.2;
constexpr double kFloorFlatM = 0.15;
constexpr double kFloorMaxTiltRad = 10.0 * M_PI / 180.0;
constexpr int kFloorMinCells = 6;

namespace {

// Per floor cell with enough points, (x, y, floor z) of its centre when it
// looks like floor (see above).
std::vector<Eigen::Vector3d> FloorSamples(const Eigen::Matrix3Xf& points,
                                          const ProxyOptions& o) {
  std::unordered_map<int64_t, std::vector<double>> cell_z;
  for (int k = 0; k < points.cols(); ++k) {
    const Eigen::Vector3f p = points.col(k);
    if (!p.allFinite() || p.z() < -kFloorBandM || p.z() > o.max_height_m) {
      continue;
    }
    cell_z[CellKey(static_cast<int64_t>(std::floor(p.x() / kFloorCellM)),
                   static_cast<int64_t>(std::floor(p.y() / kFloorCellM)))]
        .push_back(p.z());
  }
  std::vector<Eigen::Vector3d> samples;  // (x, y, floor z)
  for (auto& [key, z] : cell_z) {
    if (static_cast<int>(z.size()) < kFloorCellPoints) continue;
    const auto q = static_cast<int64_t>(kFloorQuantile *
                                        static_cast<double>(z.size() - 1));
    std::nth_element(z.begin(), z.begin() + q, z.end());
    const double low = z[static_cast<size_t>(q)];
    const auto flat = std::count_if(z.begin(), z.end(), [&](double h) {
      return std::abs(h - low) < kFloorFlatM;
    });
    // An object's cell (or a wall's, or a top above the floor band).
    if (2 * flat < static_cast<int64_t>(z.size()) || low > kFloorBandM) {
      continue;
    }
    const auto i = static_cast<int64_t>(
        static_cast<int32_t>(static_cast<uint64_t>(key) >> 32U));
    const auto j = static_cast<int64_t>(
        static_cast<int32_t>(static_cast<uint64_t>(key) & 0xffffffffULL));
    samples.emplace_back((static_cast<double>(i) + 0.5) * kFloorCellM,
                         (static_cast<double>(j) + 0.5) * kFloorCellM,
                         low);
  }
  return samples;
}

// The plane z = slope . (x, y) + c through `samples` by iteratively
// reweighted least squares (Tukey); false when singular.
bool TukeyPlane(const std::vector<Eigen::Vector3d>& samples,
                const ProxyOptions& o,
                Eigen::Vector3d* plane_out) {
  std::vector<double> weight(samples.size(), 1.0);
  Eigen::Vector3d plane = Eigen::Vector3d::Zero();  // slope x, slope y, c
  for (int iteration = 0; iteration < 10; ++iteration) {
    Eigen::Matrix3d a = Eigen::Matrix3d::Zero();
    Eigen::Vector3d b = Eigen::Vector3d::Zero();
    for (size_t k = 0; k < samples.size(); ++k) {
      const Eigen::Vector3d row(samples[k].x(), samples[k].y(), 1.0);
      a += weight[k] * row * row.transpose();
      b += weight[k] * row * samples[k].z();
    }
    if (std::abs(a.determinant()) < 1e-9) return false;
    plane = a.inverse() * b;
    std::vector<double> residual;
    residual.reserve(samples.size());
    for (const Eigen::Vector3d& s : samples) {
      residual.push_back(
          std::abs(s.z() - plane.x() * s.x() - plane.y() * s.y() - plane.z()));
    }
    std::vector<double> sorted = residual;
    const double scale =
        std::max(4.685 * 1.4826 * Median(&sorted), 2.0 * o.min_height_m);
    for (size_t k = 0; k < samples.size(); ++k) {
      const double r = residual[k] / scale;
      weight[k] = r < 1.0 ? (1.0 - r * r) * (1.0 - r * r) : 0.0;
    }
  }
  *plane_out = plane;
  return true;
}

}  // namespace

ProxyFloor FitFloor(const Eigen::Matrix3Xf& points, const ProxyOptions& o) {
  const std::vector<Eigen::Vector3d> samples = FloorSamples(points, o);
  ProxyFloor floor;
  Eigen::Vector3d plane = Eigen::Vector3d::Zero();  // slope x, slope y, c
  if (static_cast<int>(samples.size()) < kFloorMinCells ||
      !TukeyPlane(samples, o, &plane)) {
    return floor;
  }
  if (std::atan(plane.head<2>().norm()) > kFloorMaxTiltRad) return floor;
  double off = 0.0;
  for (const Eigen::Vector3d& s : samples) {
    off = std::max(off,
                   std::abs(plane.x() * s.x() + plane.y() * s.y() + plane.z()));
  }
  if (off >= 0.5 * o.min_height_m) {
    floor.slope = plane.head<2>();
    floor.offset = plane.z();
    floor.fitted = true;
  }
  double sum = 0.0;
  int64_t count = 0;
  for (int k = 0; k < points.cols(); ++k) {
    const Eigen::Vector3f p = points.col(k);
    if (!p.allFinite()) continue;
    const double h = p.z() - floor.HeightAt(p.x(), p.y());
    if (h < 0.0 && h > -kFloorBandM) {
      sum += h * h;
      ++count;
    }
  }
  floor.noise_m = count > 0 ? std::sqrt(sum / static_cast<double>(count)) : 0.0;
  return floor;
}

}  // namespace vanelia::internal
