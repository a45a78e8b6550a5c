#include "vanelia/floor/proxies.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/option_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <Eigen/LU>

#include "proxies_impl.hpp"

namespace vanelia {
namespace {

using internal::BoxBounds;
using internal::CellKey;
using internal::FitFloor;
using internal::FootprintRectangle;
using internal::Rectangle;
using internal::RefineFaces;

struct Cell {
  int64_t i = 0;
  int64_t j = 0;
  std::vector<int> points;  // column indices into the point matrix
  int cluster = -1;
};

// A voxel's key: its integer (i, j, k) packed in 64 bits (21 bits each).
int64_t VoxelKey(int64_t i, int64_t j, int64_t k) {
  const auto part = [](int64_t v) {
    return static_cast<uint64_t>(v) & 0x1fffffULL;
  };
  return static_cast<int64_t>((part(i) << 42U) | (part(j) << 21U) | part(k));
}

// The points above the floor in floor cells; a point counts only when the
// 27 voxels (cubes of noise_radius_m) around it hold at least min_neighbours
// points (itself included): outliers scattered in the air are alone there,
// surfaces are dense, so noise never bridges two objects.
std::vector<Cell> BinPoints(const Eigen::Matrix3Xf& points,
                            const ProxyOptions& o,
                            double min_height_m,
                            int64_t* above) {
  std::vector<int> kept;
  std::vector<Eigen::Matrix<int64_t, 3, 1>> voxel;
  std::unordered_map<int64_t, int> voxel_count;
  for (int k = 0; k < points.cols(); ++k) {
    const Eigen::Vector3f p = points.col(k);
    if (!p.allFinite() || p.z() < min_height_m || p.z() > o.max_height_m) {
      continue;
    }
    ++*above;
    const Eigen::Vector3d cell =
        (p.cast<double>() / o.noise_radius_m).array().floor();
    kept.push_back(k);
    voxel.emplace_back(static_cast<int64_t>(cell.x()),
                       static_cast<int64_t>(cell.y()),
                       static_cast<int64_t>(cell.z()));
    ++voxel_count[VoxelKey(
        voxel.back().x(), voxel.back().y(), voxel.back().z())];
  }
  std::unordered_map<int64_t, int> index;
  std::vector<Cell> cells;
  for (size_t n = 0; n < kept.size(); ++n) {
    int neighbours = 0;
    for (int dx = -1; dx <= 1; ++dx) {
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dz = -1; dz <= 1; ++dz) {
          const auto it = voxel_count.find(VoxelKey(
              voxel[n].x() + dx, voxel[n].y() + dy, voxel[n].z() + dz));
          if (it != voxel_count.end()) neighbours += it->second;
        }
      }
    }
    if (neighbours < o.min_neighbours) continue;
    const Eigen::Vector3f p = points.col(kept[n]);
    const auto i = static_cast<int64_t>(std::floor(p.x() / o.cell_m));
    const auto j = static_cast<int64_t>(std::floor(p.y() / o.cell_m));
    const auto [it, added] =
        index.emplace(CellKey(i, j), static_cast<int>(cells.size()));
    if (added) cells.push_back(Cell{i, j, {}, -1});
    cells[it->second].points.push_back(kept[n]);
  }
  return cells;
}

// The 8-connected components of the cells `in[c]` is true for, seeded in
// the order of `order`.
std::vector<std::vector<int>> Components(
    const std::vector<Cell>& cells,
    const std::unordered_map<int64_t, int>& index,
    const std::vector<int>& order,
    const std::vector<char>& in) {
  std::vector<int> label(cells.size(), -1);
  std::vector<std::vector<int>> components;
  for (const int seed : order) {
    if (!in[seed] || label[seed] >= 0) continue;
    const int id = static_cast<int>(components.size());
    components.emplace_back();
    std::vector<int> stack = {seed};
    label[seed] = id;
    while (!stack.empty()) {
      const int c = stack.back();
      stack.pop_back();
      components[id].push_back(c);
      for (int di = -1; di <= 1; ++di) {
        for (int dj = -1; dj <= 1; ++dj) {
          const auto it = index.find(CellKey(cells[c].i + di, cells[c].j + dj));
          if (it == index.end() || !in[it->second] || label[it->second] >= 0) {
            continue;
          }
          label[it->second] = id;
          stack.push_back(it->second);
        }
      }
    }
  }
  return components;
}

// Whether the points of `members` lie along a line: a wall (its ends are
// dense where its middle, seen sparsely, is not; never split).
bool WallLike(const std::vector<Cell>& cells,
              const std::vector<int>& members,
              const ProxyOptions& o) {
  Eigen::Vector2d mean = Eigen::Vector2d::Zero();
  double n = 0.0;
  for (const int c : members) {
    const Eigen::Vector2d centre(static_cast<double>(cells[c].i) + 0.5,
                                 static_cast<double>(cells[c].j) + 0.5);
    mean += centre;
    n += 1.0;
  }
  mean /= n;
  Eigen::Matrix2d cov = Eigen::Matrix2d::Zero();
  for (const int c : members) {
    const Eigen::Vector2d d =
        Eigen::Vector2d(static_cast<double>(cells[c].i) + 0.5,
                        static_cast<double>(cells[c].j) + 0.5) -
        mean;
    cov += d * d.transpose() / n;
  }
  // Eigenvalues of the 2 x 2 covariance, in cells squared.
  const double half_trace = 0.5 * cov.trace();
  const double root =
      std::sqrt(std::max(0.0, half_trace * half_trace - cov.determinant()));
  const double length = std::sqrt(12.0 * (half_trace + root)) * o.cell_m;
  const double width =
      std::sqrt(12.0 * std::max(0.0, half_trace - root)) * o.cell_m;
  return length >= o.wall_min_length_m &&
         width <= o.wall_max_thickness_m + 2.0 * o.cell_m;
}

// The clusters (their cells): the 8-connected components of the cells,
// each split at its low-density valleys. A cell's density is the number of
// points in the 3 x 3 cells around it; the cluster's dense cells (at least
// min_cell_points and core_fraction of the density its median point sees)
// form its cores. Two or
// more cores of at least min_points points and a tenth of the component's
// each are several objects joined by sparse points (noise, a floor seen as
// a band of points, a smeared edge): each core becomes a cluster of its
// dense cells, the sparse cells go. One core, or a wall: the whole
// component, as it is.
std::vector<std::vector<int>> ClusterCells(const std::vector<Cell>& cells,
                                           const ProxyOptions& o) {
  std::unordered_map<int64_t, int> index;
  std::vector<int> all(cells.size());
  for (size_t c = 0; c < cells.size(); ++c) {
    index.emplace(CellKey(cells[c].i, cells[c].j), static_cast<int>(c));
    all[c] = static_cast<int>(c);
  }
  std::vector<int> density(cells.size(), 0);
  for (size_t c = 0; c < cells.size(); ++c) {
    for (int di = -1; di <= 1; ++di) {
      for (int dj = -1; dj <= 1; ++dj) {
        const auto it = index.find(CellKey(cells[c].i + di, cells[c].j + dj));
        if (it != index.end()) {
          density[c] += static_cast<int>(cells[it->second].points.size());
        }
      }
    }
  }
  const auto points_of = [&](const std::vector<int>& members) {
    size_t n = 0;
    for (const int c : members) n += cells[c].points.size();
    return n;
  };
  std::vector<std::vector<int>> clusters;
  const std::vector<char> every(cells.size(), 1);
  for (std::vector<int>& component : Components(cells, index, all, every)) {
    // The density its typical point sees (point-weighted median).
    std::vector<std::pair<int, size_t>> by_density;
    size_t total = 0;
    for (const int c : component) {
      by_density.emplace_back(density[c], cells[c].points.size());
      total += cells[c].points.size();
    }
    std::sort(by_density.begin(), by_density.end());
    int typical = 0;
    for (size_t k = 0, seen = 0; k < by_density.size(); ++k) {
      seen += by_density[k].second;
      typical = by_density[k].first;
      if (2 * seen >= total) break;
    }
    const double threshold = std::max(static_cast<double>(o.min_cell_points),
                                      o.core_fraction * typical);
    std::vector<char> dense(cells.size(), 0);
    for (const int c : component) dense[c] = density[c] >= threshold ? 1 : 0;
    std::vector<std::vector<int>> cores;
    const size_t significant =
        std::max(static_cast<size_t>(o.min_points), points_of(component) / 10);
    for (std::vector<int>& core : Components(cells, index, component, dense)) {
      if (points_of(core) >= significant) cores.push_back(std::move(core));
    }
    if (cores.size() < 2 || WallLike(cells, component, o)) {
      clusters.push_back(std::move(component));
    } else {
      for (std::vector<int>& core : cores) clusters.push_back(std::move(core));
    }
  }
  return clusters;
}

// The points of `xy`, `z` in the frame of a footprint turned by `yaw`
// around `origin`: (u, v, z).
std::vector<Eigen::Vector3d> InFrame(const std::vector<Eigen::Vector2d>& xy,
                                     const std::vector<double>& z,
                                     const Eigen::Vector2d& origin,
                                     double yaw) {
  const Eigen::Vector2d u(std::cos(yaw), std::sin(yaw));
  const Eigen::Vector2d v(-u.y(), u.x());
  std::vector<Eigen::Vector3d> uvz;
  uvz.reserve(xy.size());
  for (size_t k = 0; k < xy.size(); ++k) {
    const Eigen::Vector2d d = xy[k] - origin;
    uvz.emplace_back(d.dot(u), d.dot(v), z[k]);
  }
  return uvz;
}

Proxy FitProxy(const Eigen::Matrix3Xf& points,
               const std::vector<int>& members,
               const ProxyOptions& o,
               double noise_m) {
  std::vector<Eigen::Vector2d> xy;
  std::vector<double> z;
  xy.reserve(members.size());
  z.reserve(members.size());
  for (const int k : members) {
    xy.emplace_back(points(0, k), points(1, k));
    z.push_back(points(2, k));
  }
  const Rectangle rect = FootprintRectangle(xy, o.extent_trim);
  std::vector<double> heights = z;
  const auto q = static_cast<size_t>(
      std::floor(o.top_quantile * static_cast<double>(z.size() - 1)));
  std::nth_element(heights.begin(),
                   heights.begin() + static_cast<int64_t>(q),
                   heights.end());
  // The faces the points show, then the turn their sides show (the
  // smallest-area rectangle of trimmed extents is ~1 degree off when only
  // two sides were seen), three times.
  Eigen::Vector2d origin = rect.centre;
  double yaw = rect.yaw_rad;
  const double hu = 0.5 * rect.size.x();
  const double hv = 0.5 * rect.size.y();
  BoxBounds b{-hu, hu, -hv, hv, heights[q]};
  bool seen[5] = {false, false, false, false, false};
  for (int pass = 0; pass < 3; ++pass) {
    double tilt = 0.0;
    b = RefineFaces(InFrame(xy, z, origin, yaw), b, o, &tilt, seen);
    if (pass == 2 || std::abs(tilt) < 1e-4) break;
    const Eigen::Vector2d u(std::cos(yaw), std::sin(yaw));
    const Eigen::Vector2d v(-u.y(), u.x());
    origin += 0.5 * (b.u0 + b.u1) * u + 0.5 * (b.v0 + b.v1) * v;
    const double half_u = 0.5 * (b.u1 - b.u0);
    const double half_v = 0.5 * (b.v1 - b.v0);
    b = {-half_u, half_u, -half_v, half_v, b.top};
    yaw += tilt;
  }
  // A face its points did not show keeps the quantile extent, which noisy
  // points (a classical track's, ~noise_m along the view rays) push out by
  // about noise_m: half of it back, keeping at least half the extent.
  const double shrink = 0.5 * noise_m;
  const auto inward = [&](double* lo, double* hi, bool seen_lo, bool seen_hi) {
    const double cut = std::min(shrink, 0.25 * (*hi - *lo));
    if (!seen_lo) *lo += cut;
    if (!seen_hi) *hi -= cut;
  };
  inward(&b.u0, &b.u1, seen[0], seen[1]);
  inward(&b.v0, &b.v1, seen[2], seen[3]);
  if (!seen[4]) b.top -= std::min(shrink, 0.25 * b.top);
  const Eigen::Vector2d u(std::cos(yaw), std::sin(yaw));
  const Eigen::Vector2d v(-u.y(), u.x());
  Eigen::Vector2d size(b.u1 - b.u0, b.v1 - b.v0);
  const Eigen::Vector2d centre =
      origin + 0.5 * (b.u0 + b.u1) * u + 0.5 * (b.v0 + b.v1) * v;
  if (size.x() < size.y()) {  // keep x along the longer side
    std::swap(size.x(), size.y());
    yaw += M_PI / 2;
  }
  // A box is symmetric under a half turn: keep yaw in (-pi/2, pi/2].
  while (yaw > M_PI / 2) yaw -= M_PI;
  while (yaw <= -M_PI / 2) yaw += M_PI;
  Proxy proxy;
  proxy.size_m = Eigen::Vector3d(size.x(), size.y(), b.top);
  proxy.centre_m = Eigen::Vector3d(centre.x(), centre.y(), 0.5 * b.top);
  proxy.yaw_rad = yaw;
  proxy.num_points = static_cast<int64_t>(members.size());
  proxy.kind =
      size.x() >= o.wall_min_length_m && size.y() <= o.wall_max_thickness_m
          ? ProxyKind::kPlane
          : ProxyKind::kBox;
  return proxy;
}

}  // namespace

const char* ToString(ProxyKind kind) {
  return kind == ProxyKind::kPlane ? "wall" : "box";
}

void ProxyOptions::Check() const {
  const auto fail = [](const char* field, double value, const char* rule) {
    internal::ThrowBadOption("ProxyOptions", field, value, rule);
  };
  if (!(std::isfinite(min_height_m) && min_height_m > 0.0)) {
    fail("min_height_m", min_height_m, "must be > 0 metres");
  }
  if (!(std::isfinite(max_height_m) && max_height_m > min_height_m)) {
    fail("max_height_m", max_height_m, "must be > min_height_m");
  }
  if (!(std::isfinite(floor_sigmas) && floor_sigmas >= 0.0)) {
    fail("floor_sigmas", floor_sigmas, "must be >= 0");
  }
  if (min_cell_points < 1) {
    fail("min_cell_points", min_cell_points, "must be >= 1");
  }
  if (!(core_fraction >= 0.0 && core_fraction < 1.0)) {
    fail("core_fraction", core_fraction, "must be in [0, 1)");
  }
  if (!(std::isfinite(cell_m) && cell_m > 0.0)) {
    fail("cell_m", cell_m, "must be > 0 metres");
  }
  if (!(std::isfinite(noise_radius_m) && noise_radius_m > 0.0)) {
    fail("noise_radius_m", noise_radius_m, "must be > 0 metres");
  }
  if (min_neighbours < 1) {
    fail("min_neighbours", min_neighbours, "must be >= 1");
  }
  if (!(extent_trim >= 0.0 && extent_trim < 0.25)) {
    fail("extent_trim", extent_trim, "must be in [0, 0.25)");
  }
  if (min_points < 3) fail("min_points", min_points, "must be >= 3");
  if (!(std::isfinite(face_band_m) && face_band_m > 0.0)) {
    fail("face_band_m", face_band_m, "must be > 0 metres");
  }
  if (min_face_points < 1) {
    fail("min_face_points", min_face_points, "must be >= 1");
  }
  if (!(top_quantile >= 0.5 && top_quantile <= 1.0)) {
    fail("top_quantile", top_quantile, "must be in [0.5, 1]");
  }
  if (!(std::isfinite(wall_min_length_m) && wall_min_length_m > 0.0)) {
    fail("wall_min_length_m", wall_min_length_m, "must be > 0 metres");
  }
  if (!(std::isfinite(wall_max_thickness_m) && wall_max_thickness_m > 0.0)) {
    fail("wall_max_thickness_m", wall_max_thickness_m, "must be > 0 metres");
  }
  if (!(std::isfinite(max_object_m) && max_object_m > 0.0)) {
    fail("max_object_m", max_object_m, "must be > 0 metres");
  }
}

int64_t ProxySet::Count(ProxyKind kind) const {
  return std::count_if(proxies.begin(), proxies.end(), [&](const Proxy& p) {
    return p.kind == kind;
  });
}

ProxySet BuildProxies(const Eigen::Matrix3Xf& points_in_world,
                      const ProxyOptions& options) {
  options.Check();
  ProxySet set;
  set.floor = FitFloor(points_in_world, options);
  // The points with their height above the fitted floor as z.
  Eigen::Matrix3Xf levelled = points_in_world;
  if (set.floor.fitted) {
    for (int k = 0; k < levelled.cols(); ++k) {
      levelled(2, k) -= static_cast<float>(
          set.floor.HeightAt(levelled(0, k), levelled(1, k)));
    }
  }
  const double min_height =
      std::max(options.min_height_m, options.floor_sigmas * set.floor.noise_m);
  std::vector<Cell> cells =
      BinPoints(levelled, options, min_height, &set.points_above_floor);
  for (const std::vector<int>& cluster : ClusterCells(cells, options)) {
    std::vector<int> members;
    for (const int c : cluster) {
      members.insert(
          members.end(), cells[c].points.begin(), cells[c].points.end());
    }
    if (static_cast<int>(members.size()) < options.min_points) {
      ++set.clusters_rejected;
      continue;
    }
    Proxy proxy = FitProxy(levelled, members, options, set.floor.noise_m);
    if (proxy.size_m.y() > options.max_object_m) {
      ++set.clusters_rejected;
      continue;
    }
    if (set.floor.fitted) {  // from the floor's lowest corner to the top
      const Eigen::Vector2d u(std::cos(proxy.yaw_rad), std::sin(proxy.yaw_rad));
      const Eigen::Vector2d v(-u.y(), u.x());
      const Eigen::Vector2d c = proxy.centre_m.head<2>();
      const double top = set.floor.HeightAt(c.x(), c.y()) + proxy.size_m.z();
      double bottom = std::numeric_limits<double>::infinity();
      for (const double a : {-0.5, 0.5}) {
        for (const double b : {-0.5, 0.5}) {
          const Eigen::Vector2d corner =
              c + a * proxy.size_m.x() * u + b * proxy.size_m.y() * v;
          bottom = std::min(bottom, set.floor.HeightAt(corner.x(), corner.y()));
        }
      }
      proxy.size_m.z() = top - bottom;
      proxy.centre_m.z() = 0.5 * (top + bottom);
    }
    set.points_used += proxy.num_points;
    set.proxies.push_back(proxy);
  }
  std::sort(set.proxies.begin(),
            set.proxies.end(),
            [](const Proxy& a, const Proxy& b) {
              return a.size_m.x() * a.size_m.y() > b.size_m.x() * b.size_m.y();
            });
  return set;
}

std::string DescribeProxies(const ProxySet& set) {
  char text[256];
  std::snprintf(text,
                sizeof(text),
                "%zu proxies (%lld boxes, %lld walls) from %lld points above "
                "the floor",
                set.proxies.size(),
                static_cast<long long>(set.Count(ProxyKind::kBox)),
                static_cast<long long>(set.Count(ProxyKind::kPlane)),
                static_cast<long long>(set.points_above_floor));
  std::string line = text;
  for (size_t i = 0; i < set.proxies.size(); ++i) {
    const Proxy& p = set.proxies[i];
    std::snprintf(text,
                  sizeof(text),
                  "%s %s %.2fx%.2fx%.2f m at (%.2f, %.2f)",
                  i == 0 ? ":" : ",",
                  ToString(p.kind),
                  p.size_m.x(),
                  p.size_m.y(),
                  p.size_m.z(),
                  p.centre_m.x(),
                  p.centre_m.y());
    line += text;
  }
  if (set.floor.fitted) {
    std::snprintf(text,
                  sizeof(text),
                  "; heights from the points' floor (%.1f deg off the "
                  "track's, %.0f cm noise)",
                  std::atan(set.floor.slope.norm()) * 180.0 / M_PI,
                  100.0 * set.floor.noise_m);
    line += text;
  }
  if (set.clusters_rejected > 0) {
    line += "; " + std::to_string(set.clusters_rejected) +
            " cluster(s) rejected (too few points or too wide)";
  }
  return line;
}

nlohmann::ordered_json ProxySetToJson(const ProxySet& set) {
  using Json = nlohmann::ordered_json;
  Json proxies = Json::array();
  for (const Proxy& p : set.proxies) {
    proxies.push_back(
        Json{{"kind", ToString(p.kind)},
             {"centre", {p.centre_m.x(), p.centre_m.y(), p.centre_m.z()}},
             {"size", {p.size_m.x(), p.size_m.y(), p.size_m.z()}},
             {"yaw_deg", p.yaw_rad * 180.0 / M_PI},
             {"points", p.num_points}});
  }
  return Json{{"proxies", proxies},
              {"count", set.proxies.size()},
              {"boxes", set.Count(ProxyKind::kBox)},
              {"walls", set.Count(ProxyKind::kPlane)},
              {"points_above_floor", set.points_above_floor},
              {"points_used", set.points_used},
              {"clusters_rejected", set.clusters_rejected},
              {"floor",
               {{"fitted", set.floor.fitted},
                {"slope", {set.floor.slope.x(), set.floor.slope.y()}},
                {"offset", set.floor.offset},
                {"noise_m", set.floor.noise_m}}},
              {"summary", DescribeProxies(set)}};
}

}  // namespace vanelia
