#include "vanelia/floor/proxies.hpp"

#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <Eigen/Core>

namespace vanelia {
namespace {

// A floor cell's key: its integer (i, j) packed in 64 bits.
int64_t CellKey(int64_t i, int64_t j) {
  const uint64_t hi = static_cast<uint64_t>(i) << 32U;
  return static_cast<int64_t>(hi ^ (static_cast<uint64_t>(j) & 0xffffffffULL));
}

struct Cell {
  int64_t i = 0;
  int64_t j = 0;
  std::vector<int> points;  // column indices into the point matrix
  int cluster = -1;
};

struct Rectangle {
  Eigen::Vector2d centre = Eigen::Vector2d::Zero();
  Eigen::Vector2d size = Eigen::Vector2d::Zero();  // x >= y
  double yaw_rad = 0.0;                            // of the x side
};

// The [q, 1 - q] quantile range of `values` (reordered).
std::pair<double, double> Range(std::vector<double>* values, double q) {
  const size_t n = values->size();
  const auto lo = static_cast<size_t>(std::floor(q * static_cast<double>(n)));
  const size_t hi = n - 1 - lo;
  std::nth_element(values->begin(),
                   values->begin() + static_cast<int64_t>(lo),
                   values->end());
  const double a = (*values)[lo];
  std::nth_element(values->begin(),
                   values->begin() + static_cast<int64_t>(hi),
                   values->end());
  return {a, (*values)[hi]};
}

// The rectangle at `angle` around the [q, 1 - q] range of the points'
// projections on its two sides.
Rectangle RectangleAt(const std::vector<Eigen::Vector2d>& xy,
                      double angle,
                      double q,
                      std::vector<double>* scratch_u,
                      std::vector<double>* scratch_v) {
  const Eigen::Vector2d u(std::cos(angle), std::sin(angle));
  const Eigen::Vector2d v(-u.y(), u.x());
  scratch_u->clear();
  scratch_v->clear();
  for (const Eigen::Vector2d& p : xy) {
    scratch_u->push_back(p.dot(u));
    scratch_v->push_back(p.dot(v));
  }
  const auto [u0, u1] = Range(scratch_u, q);
  const auto [v0, v1] = Range(scratch_v, q);
  Rectangle r;
  r.centre = 0.5 * (u0 + u1) * u + 0.5 * (v0 + v1) * v;
  r.size = Eigen::Vector2d(u1 - u0, v1 - v0);
  r.yaw_rad = angle;
  return r;
}

// The smallest-area footprint rectangle over the turns 0..90 degrees (a
// rectangle repeats every quarter turn): 1-degree steps, then 0.1-degree
// steps around the best. The sides span the [q, 1 - q] quantiles of the
// points, so a few stray points do not widen it.
Rectangle FootprintRectangle(const std::vector<Eigen::Vector2d>& xy, double q) {
  std::vector<double> su;
  std::vector<double> sv;
  Rectangle best;
  double best_area = std::numeric_limits<double>::infinity();
  const auto consider = [&](double angle_deg) {
    const Rectangle r = RectangleAt(xy, angle_deg * M_PI / 180.0, q, &su, &sv);
    const double area = r.size.x() * r.size.y();
    if (area < best_area) {
      best_area = area;
      best = r;
    }
  };
  for (int a = 0; a < 90; ++a) consider(a);
  const double coarse = best.yaw_rad * 180.0 / M_PI;
  for (int a = -9; a <= 9; ++a) consider(coarse + 0.1 * a);
  if (best.size.x() < best.size.y()) {
    std::swap(best.size.x(), best.size.y());
    best.yaw_rad += M_PI / 2;
  }
  // A box is symmetric under a half turn: keep yaw in (-pi/2, pi/2].
  while (best.yaw_rad > M_PI / 2) best.yaw_rad -= M_PI;
  while (best.yaw_rad <= -M_PI / 2) best.yaw_rad += M_PI;
  return best;
}

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
                            int64_t* above) {
  std::vector<int> kept;
  std::vector<Eigen::Matrix<int64_t, 3, 1>> voxel;
  std::unordered_map<int64_t, int> voxel_count;
  for (int k = 0; k < points.cols(); ++k) {
    const Eigen::Vector3f p = points.col(k);
    if (!p.allFinite() || p.z() < o.min_height_m || p.z() > o.max_height_m) {
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

// Flood fill over 8-connected cells; returns the cells of each cluster.
std::vector<std::vector<int>> ClusterCells(std::vector<Cell>* cells) {
  std::unordered_map<int64_t, int> index;
  for (size_t c = 0; c < cells->size(); ++c) {
    index.emplace(CellKey((*cells)[c].i, (*cells)[c].j), static_cast<int>(c));
  }
  std::vector<std::vector<int>> clusters;
  for (size_t seed = 0; seed < cells->size(); ++seed) {
    if ((*cells)[seed].cluster >= 0) continue;
    const int id = static_cast<int>(clusters.size());
    clusters.emplace_back();
    std::vector<int> stack = {static_cast<int>(seed)};
    (*cells)[seed].cluster = id;
    while (!stack.empty()) {
      const int c = stack.back();
      stack.pop_back();
      clusters[id].push_back(c);
      for (int di = -1; di <= 1; ++di) {
        for (int dj = -1; dj <= 1; ++dj) {
          const auto it =
              index.find(CellKey((*cells)[c].i + di, (*cells)[c].j + dj));
          if (it == index.end() || (*cells)[it->second].cluster >= 0) continue;
          (*cells)[it->second].cluster = id;
          stack.push_back(it->second);
        }
      }
    }
  }
  return clusters;
}

// A box in its own frame: the footprint's sides at u0 < u1 (along the
// rectangle's x) and v0 < v1, the top at `top`.
struct BoxBounds {
  double u0, u1, v0, v1, top;
};

// The median of `values` (reordered; not empty).
double Median(std::vector<double>* values) {
  const auto mid = static_cast<int64_t>(values->size() / 2);
  std::nth_element(values->begin(), values->begin() + mid, values->end());
  return (*values)[static_cast<size_t>(mid)];
}

// The points of one face: their coordinate along its normal (`along`) and
// along the footprint side it spans (`across`; sides only).
struct FacePoints {
  std::vector<double> along;
  std::vector<double> across;
};

// Moves each face that the points show (the four sides and the top) onto
// the median of its points: those within face_band_m of it and at least
// face_band_m from its edges (so a neighbouring face's points never count).
// A face the cameras saw is dense, and its median is where the surface is;
// the quantile extent lies ~1.6 noise sigma outside a dense face and inside
// a sparsely seen edge (a 1.5 cm error moves a contact shadow by pixels).
// A face with fewer than min_face_points points (unseen) keeps its extent.
// Sets `*tilt_rad` to the turn of the box that the seen sides show (their
// points' line fits, weighted by their spread), 0 when none is seen.
BoxBounds RefineFaces(const std::vector<Eigen::Vector3d>& uvz,
                      BoxBounds b,
                      const ProxyOptions& o,
                      double* tilt_rad) {
  const double band = o.face_band_m;
  FacePoints face[5];
  for (int pass = 0; pass < 2; ++pass) {
    for (FacePoints& f : face) f = FacePoints();
    for (const Eigen::Vector3d& p : uvz) {
      const bool inside_u = p.x() > b.u0 + band && p.x() < b.u1 - band;
      const bool inside_v = p.y() > b.v0 + band && p.y() < b.v1 - band;
      const bool below_top = p.z() < b.top - band;
      const auto add = [](FacePoints* f, double along, double across) {
        f->along.push_back(along);
        f->across.push_back(across);
      };
      if (inside_v && below_top) {
        if (std::abs(p.x() - b.u0) < band) add(&face[0], p.x(), p.y());
        if (std::abs(p.x() - b.u1) < band) add(&face[1], p.x(), p.y());
      }
      if (inside_u && below_top) {
        if (std::abs(p.y() - b.v0) < band) add(&face[2], p.y(), p.x());
        if (std::abs(p.y() - b.v1) < band) add(&face[3], p.y(), p.x());
      }
      if (inside_u && inside_v && std::abs(p.z() - b.top) < band) {
        add(&face[4], p.z(), 0.0);
      }
    }
    double* const bound[5] = {&b.u0, &b.u1, &b.v0, &b.v1, &b.top};
    for (int f = 0; f < 5; ++f) {
      if (static_cast<int>(face[f].along.size()) >= o.min_face_points) {
        std::vector<double> along = face[f].along;
        *bound[f] = Median(&along);
      }
    }
  }
  // A side turned by t: u-sides have u = c - tan(t) v, v-sides
  // v = c + tan(t) u (least squares of along on across).
  double weighted = 0.0;
  double weight = 0.0;
  for (int f = 0; f < 4; ++f) {
    const FacePoints& side = face[f];
    const auto n = static_cast<double>(side.along.size());
    if (n < o.min_face_points) continue;
    double ma = 0.0;
    double mc = 0.0;
    for (size_t k = 0; k < side.along.size(); ++k) {
      ma += side.along[k] / n;
      mc += side.across[k] / n;
    }
    double sac = 0.0;
    double scc = 0.0;
    for (size_t k = 0; k < side.along.size(); ++k) {
      sac += (side.along[k] - ma) * (side.across[k] - mc);
      scc += (side.across[k] - mc) * (side.across[k] - mc);
    }
    if (scc <= 0.0) continue;
    const double slope = std::atan(sac / scc);
    weighted += (f < 2 ? -slope : slope) * scc;
    weight += scc;
  }
  *tilt_rad = weight > 0.0 ? weighted / weight : 0.0;
  return b;
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
               const ProxyOptions& o) {
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
  for (int pass = 0; pass < 3; ++pass) {
    double tilt = 0.0;
    b = RefineFaces(InFrame(xy, z, origin, yaw), b, o, &tilt);
    if (pass == 2 || std::abs(tilt) < 1e-4) break;
    const Eigen::Vector2d u(std::cos(yaw), std::sin(yaw));
    const Eigen::Vector2d v(-u.y(), u.x());
    origin += 0.5 * (b.u0 + b.u1) * u + 0.5 * (b.v0 + b.v1) * v;
    const double half_u = 0.5 * (b.u1 - b.u0);
    const double half_v = 0.5 * (b.v1 - b.v0);
    b = {-half_u, half_u, -half_v, half_v, b.top};
    yaw += tilt;
  }
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
    char text[160];
    std::snprintf(
        text, sizeof(text), "ProxyOptions::%s = %g; %s", field, value, rule);
    throw InputError(text);
  };
  if (!(std::isfinite(min_height_m) && min_height_m > 0.0)) {
    fail("min_height_m", min_height_m, "must be > 0 metres");
  }
  if (!(std::isfinite(max_height_m) && max_height_m > min_height_m)) {
    fail("max_height_m", max_height_m, "must be > min_height_m");
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
  std::vector<Cell> cells =
      BinPoints(points_in_world, options, &set.points_above_floor);
  for (const std::vector<int>& cluster : ClusterCells(&cells)) {
    std::vector<int> members;
    for (const int c : cluster) {
      members.insert(
          members.end(), cells[c].points.begin(), cells[c].points.end());
    }
    if (static_cast<int>(members.size()) < options.min_points) {
      ++set.clusters_rejected;
      continue;
    }
    const Proxy proxy = FitProxy(points_in_world, members, options);
    if (proxy.size_m.y() > options.max_object_m) {
      ++set.clusters_rejected;
      continue;
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
              {"summary", DescribeProxies(set)}};
}

}  // namespace vanelia
