// The pieces of the light estimate (light_estimate_impl.hpp): shadow casters
// from the reconstructed points, the floor map from the frames, and the
// shadows' rasteriser.
#include "vanelia/core/error.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "light_estimate_impl.hpp"

namespace vanelia::internal {

// sRGB 8-bit -> linear (the IEC 61966-2-1 curve).
const std::array<float, 256>& LinearFromSrgb() {
  static const std::array<float, 256> kTable = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) {
      const double c = i / 255.0;
      t[i] = static_cast<float>(
          c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4));
    }
    return t;
  }();
  return kTable;
}

std::vector<SampledView> SampleViews(const CameraTrack& track,
                                     const std::vector<Frame>& frames,
                                     size_t max_frames,
                                     const std::string& caller) {
  std::map<int64_t, const Frame*> by_index;
  for (const Frame& f : frames) {
    if (!f.rgb.Empty() && f.rgb.width >= 2 && f.rgb.height >= 2) {
      by_index[f.index] = &f;
    }
  }
  std::vector<std::pair<const TrackedFrame*, const Frame*>> matched;
  for (const TrackedFrame& t : track.frames) {
    const auto it = by_index.find(t.index);
    if (it != by_index.end()) matched.emplace_back(&t, it->second);
  }
  if (matched.empty()) {
    throw InputError(caller + ": none of the " + std::to_string(frames.size()) +
                     " frames has the index of a tracked frame");
  }
  std::vector<SampledView> views;
  const size_t count = std::min(matched.size(), max_frames);
  for (size_t s = 0; s < count; ++s) {
    const size_t j = count == 1 ? 0 : s * (matched.size() - 1) / (count - 1);
    const TrackedFrame& t = *matched[j].first;
    const Image& image = matched[j].second->rgb;
    const int w = t.intrinsics.width > 0 ? t.intrinsics.width : track.width;
    const int h = t.intrinsics.height > 0 ? t.intrinsics.height : track.height;
    // Pixel centres at integers: scale about (-0.5, -0.5).
    const double sx = static_cast<double>(image.width) / w;
    const double sy = static_cast<double>(image.height) / h;
    Eigen::Matrix3d k = Eigen::Matrix3d::Identity();
    k(0, 0) = t.intrinsics.fx * sx;
    k(1, 1) = t.intrinsics.fy * sy;
    k(0, 2) = (t.intrinsics.cx + 0.5) * sx - 0.5;
    k(1, 2) = (t.intrinsics.cy + 0.5) * sy - 0.5;
    SampledView view;
    view.projection = k * t.cam_from_world.ToMatrix();
    view.centre = t.cam_from_world.Inverse().translation;
    view.image = &image;
    views.push_back(view);
  }
  return views;
}

namespace {

double Cross(const Eigen::Vector2d& a, const Eigen::Vector2d& b) {
  return a.x() * b.y() - a.y() * b.x();
}

// Bilinear linear-RGB sample at pixel (u, v), pixel centres at integers;
// the caller keeps (u, v) inside [0, w - 1] x [0, h - 1].
Eigen::Vector3f SampleLinear(const Image& image, double u, double v) {
  const auto& lut = LinearFromSrgb();
  const int x0 = std::min(static_cast<int>(u), image.width - 2);
  const int y0 = std::min(static_cast<int>(v), image.height - 2);
  const float fx = static_cast<float>(u - x0);
  const float fy = static_cast<float>(v - y0);
  Eigen::Vector3f out = Eigen::Vector3f::Zero();
  const int channels = image.channels;
  for (int c = 0; c < 3; ++c) {
    const int ch = channels >= 3 ? c : 0;
    const float a = lut[image.At(x0, y0, ch)];
    const float b = lut[image.At(x0 + 1, y0, ch)];
    const float d = lut[image.At(x0, y0 + 1, ch)];
    const float e = lut[image.At(x0 + 1, y0 + 1, ch)];
    out[c] = (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy;
  }
  return out;
}

float Luminance(const Eigen::Vector3f& rgb) {
  return 0.2126f * rgb.x() + 0.7152f * rgb.y() + 0.0722f * rgb.z();
}

float MedianOf(std::vector<float>* values) {
  auto mid = values->begin() + static_cast<std::ptrdiff_t>(values->size() / 2);
  std::nth_element(values->begin(), mid, values->end());
  return *mid;
}

// Points higher than object_min_height_m binned in object_cluster_m cells;
// cells with fewer than two points are dropped (isolated mismatches), and
// the rest grouped 8-connected: each group is a list of cells, each cell a
// list of point indices.
using Cell = std::vector<int>;

std::vector<std::vector<Cell>> ClusterPoints(const Eigen::Matrix3Xf& points,
                                             const LightEstimateOptions& o) {
  const double cell = o.object_cluster_m;
  auto key = [](int64_t ix, int64_t iy) { return ix * 2654435761LL + iy; };
  std::unordered_map<int64_t, Cell> cells;
  std::unordered_map<int64_t, std::pair<int64_t, int64_t>> coords;
  for (Eigen::Index i = 0; i < points.cols(); ++i) {
    const Eigen::Vector3f p = points.col(i);
    if (!p.allFinite() || p.z() <= o.object_min_height_m) continue;
    const int64_t ix = static_cast<int64_t>(std::floor(p.x() / cell));
    const int64_t iy = static_cast<int64_t>(std::floor(p.y() / cell));
    cells[key(ix, iy)].push_back(static_cast<int>(i));
    coords[key(ix, iy)] = {ix, iy};
  }
  for (auto it = cells.begin(); it != cells.end();) {
    it = it->second.size() < 2 ? cells.erase(it) : std::next(it);
  }
  std::unordered_map<int64_t, bool> seen;
  std::vector<std::vector<Cell>> clusters;
  for (const auto& [start, unused] : cells) {
    if (seen[start]) continue;
    std::vector<Cell> members;
    std::vector<int64_t> stack = {start};
    seen[start] = true;
    while (!stack.empty()) {
      const int64_t k = stack.back();
      stack.pop_back();
      members.push_back(cells[k]);
      const auto [ix, iy] = coords[k];
      for (int dx = -1; dx <= 1; ++dx) {
        for (int dy = -1; dy <= 1; ++dy) {
          const int64_t n = key(ix + dx, iy + dy);
          if (cells.count(n) != 0 && !seen[n]) {
            seen[n] = true;
            stack.push_back(n);
          }
        }
      }
    }
    clusters.push_back(std::move(members));
  }
  return clusters;
}

// A convex polygon grown by `margin` (Minkowski sum with an octagon).
Polygon2d Grow(const std::vector<Eigen::Vector2d>& points, double margin) {
  std::vector<Eigen::Vector2d> grown;
  for (const auto& v : points) {
    for (int k = 0; k < 8; ++k) {
      const double a = k * M_PI / 4.0;
      grown.push_back(v + margin * Eigen::Vector2d(std::cos(a), std::sin(a)));
    }
  }
  return ConvexHull2d(grown);
}

}  // namespace

Polygon2d ConvexHull2d(std::vector<Eigen::Vector2d> points) {
  std::sort(points.begin(),
            points.end(),
            [](const Eigen::Vector2d& a, const Eigen::Vector2d& b) {
              return a.x() < b.x() || (a.x() == b.x() && a.y() < b.y());
            });
  points.erase(std::unique(points.begin(), points.end()), points.end());
  if (points.size() < 3) return points;
  Polygon2d hull(2 * points.size());
  size_t k = 0;
  for (size_t i = 0; i < points.size(); ++i) {  // lower chain
    while (k >= 2 &&
           Cross(hull[k - 1] - hull[k - 2], points[i] - hull[k - 2]) <= 0) {
      --k;
    }
    hull[k++] = points[i];
  }
  for (size_t i = points.size() - 1, t = k + 1; i > 0; --i) {  // upper chain
    while (k >= t &&
           Cross(hull[k - 1] - hull[k - 2], points[i - 1] - hull[k - 2]) <= 0) {
      --k;
    }
    hull[k++] = points[i - 1];
  }
  hull.resize(k - 1);
  return hull;
}

bool InsideConvex(const Polygon2d& polygon, const Eigen::Vector2d& p) {
  if (polygon.size() < 3) return false;
  for (size_t i = 0; i < polygon.size(); ++i) {
    const Eigen::Vector2d& a = polygon[i];
    const Eigen::Vector2d& b = polygon[(i + 1) % polygon.size()];
    if (Cross(b - a, p - a) < 0) return false;
  }
  return true;
}

std::vector<ShadowCaster> FindShadowCasters(
    const Eigen::Matrix3Xf& points_in_world,
    const LightEstimateOptions& options,
    int64_t* objects) {
  // Each occupied cell of an object is a prism of its own (its points'
  // outline, its highest point): the union follows non-convex shapes and
  // neighbouring objects that one outline would bridge.
  std::vector<ShadowCaster> casters;
  *objects = 0;
  const double margin = std::max(options.object_margin_m, 1e-3);
  for (const std::vector<Cell>& cells :
       ClusterPoints(points_in_world, options)) {
    std::vector<Eigen::Vector2d> all;
    for (const Cell& cell : cells) {
      for (const int i : cell) {
        all.emplace_back(points_in_world(0, i), points_in_world(1, i));
      }
    }
    if (static_cast<int>(all.size()) < options.min_object_points) continue;
    Eigen::Vector2d lo = all[0], hi = all[0];
    for (const auto& v : all) {
      lo = lo.cwiseMin(v);
      hi = hi.cwiseMax(v);
    }
    if ((hi - lo).maxCoeff() > options.max_object_width_m) continue;
    ++*objects;
    for (const Cell& cell : cells) {
      std::vector<Eigen::Vector2d> xy;
      std::vector<float> z;
      for (const int i : cell) {
        xy.emplace_back(points_in_world(0, i), points_in_world(1, i));
        z.push_back(points_in_world(2, i));
      }
      // The top: the second highest point, robust to one stray point.
      std::sort(z.begin(), z.end());
      ShadowCaster caster;
      caster.height_m = z[z.size() - 2];
      caster.hull = Grow(ConvexHull2d(xy), 0.5 * margin);
      caster.grown = Grow(caster.hull, 0.5 * margin);
      caster.points = static_cast<int64_t>(cell.size());
      casters.push_back(std::move(caster));
    }
  }
  return casters;
}

bool SegmentHitsPrism(const ShadowCaster& caster,
                      const Eigen::Vector3d& a,
                      const Eigen::Vector3d& b) {
  double t0 = 0.0;
  double t1 = 1.0 - 1e-6;
  const Eigen::Vector3d d = b - a;
  // Slab 0 <= z <= height.
  auto clip = [&](double value_at_0, double slope) {  // value + slope t >= 0
    if (std::abs(slope) < 1e-12) return value_at_0 >= 0.0;
    const double t = -value_at_0 / slope;
    if (slope > 0) {
      t0 = std::max(t0, t);
    } else {
      t1 = std::min(t1, t);
    }
    return t0 <= t1;
  };
  if (!clip(a.z(), d.z()) || !clip(caster.height_m - a.z(), -d.z())) {
    return false;
  }
  const Polygon2d& poly = caster.grown;
  const Eigen::Vector2d a2 = a.head<2>();
  const Eigen::Vector2d d2 = d.head<2>();
  for (size_t i = 0; i < poly.size(); ++i) {
    const Eigen::Vector2d e = poly[(i + 1) % poly.size()] - poly[i];
    if (!clip(Cross(e, a2 - poly[i]), Cross(e, d2))) return false;
  }
  return t0 <= t1;
}

namespace {

using Box2d = std::pair<Eigen::Vector2d, Eigen::Vector2d>;

// The map's grid over the floor around the casters (each caster's box grown
// by the longest shadow), cells cleared; `boxes` gets the grown boxes.
FloorMap AllocateFloorMap(const std::vector<ShadowCaster>& casters,
                          const LightEstimateOptions& options,
                          std::vector<Box2d>* boxes) {
  FloorMap map;
  const double reach = options.max_shadow_length_m + options.object_margin_m;
  Eigen::Vector2d lo = Eigen::Vector2d::Constant(1e30);
  Eigen::Vector2d hi = Eigen::Vector2d::Constant(-1e30);
  for (const ShadowCaster& c : casters) {
    Eigen::Vector2d clo = c.grown[0], chi = c.grown[0];
    for (const auto& v : c.grown) {
      clo = clo.cwiseMin(v);
      chi = chi.cwiseMax(v);
    }
    clo.array() -= reach;
    chi.array() += reach;
    boxes->emplace_back(clo, chi);
    lo = lo.cwiseMin(clo);
    hi = hi.cwiseMax(chi);
  }
  // At most ~1000 cells a side: coarser cells for a very wide scene.
  map.cell = std::max(options.cell_m, (hi - lo).maxCoeff() / 1000.0);
  map.x0 = lo.x();
  map.y0 = lo.y();
  map.nx =
      std::max(1, static_cast<int>(std::ceil((hi.x() - lo.x()) / map.cell)));
  map.ny =
      std::max(1, static_cast<int>(std::ceil((hi.y() - lo.y()) / map.cell)));
  const size_t n = static_cast<size_t>(map.nx) * map.ny;
  map.valid.assign(n, 0);
  map.luminance.assign(n, 0.0f);
  map.rgb.assign(n, Eigen::Vector3f::Zero());
  map.darkness.assign(n, 0.0f);
  return map;
}

// The floor colour of cell (ix, iy): the median over the views that see it
// unhidden and not too grazing; false when too few do or they disagree (a
// wall, an object's face or a moving thing seen through the cell).
bool SampleFloorCell(int ix,
                     int iy,
                     const std::vector<ShadowCaster>& casters,
                     const std::vector<SampledView>& views,
                     const LightEstimateOptions& options,
                     FloorMap* map) {
  const size_t min_samples = std::max<size_t>(2, views.size() / 4);
  const double min_sin =
      std::sin(options.min_view_elevation_deg * M_PI / 180.0);
  const Eigen::Vector2d p2 = map->Centre(ix, iy);
  const Eigen::Vector3d x(p2.x(), p2.y(), 0.0);
  std::vector<float> lum, r, g, b;
  for (const SampledView& view : views) {
    const Eigen::Vector3d q = view.projection * x.homogeneous();
    if (q.z() <= 1e-3) continue;
    const Eigen::Vector3d ray = view.centre - x;
    if (ray.z() < min_sin * ray.norm()) continue;  // too grazing
    const double u = q.x() / q.z(), v = q.y() / q.z();
    if (u < 0 || v < 0 || u > view.image->width - 1 ||
        v > view.image->height - 1) {
      continue;
    }
    bool hidden = false;
    for (const ShadowCaster& c : casters) {
      if (SegmentHitsPrism(c, view.centre, x)) {
        hidden = true;
        break;
      }
    }
    if (hidden) continue;
    const Eigen::Vector3f rgb = SampleLinear(*view.image, u, v);
    lum.push_back(Luminance(rgb));
    r.push_back(rgb.x()), g.push_back(rgb.y()), b.push_back(rgb.z());
  }
  if (lum.size() < min_samples) return false;
  const float median = MedianOf(&lum);
  std::vector<float>& spread = lum;
  for (float& l : spread) l = std::abs(l - median);
  if (MedianOf(&spread) > options.max_view_spread * median) return false;
  const int i = map->Index(ix, iy);
  map->valid[i] = 1;
  map->luminance[i] = median;
  map->rgb[i] = {MedianOf(&r), MedianOf(&g), MedianOf(&b)};
  return true;
}

// The lit level is local: lit_percentile of the luminance in blocks of
// `block` cells (-1 for a block with too few valid cells).
std::vector<float> BlockLitLevels(const FloorMap& map,
                                  int block,
                                  const LightEstimateOptions& options) {
  const int bx = (map.nx + block - 1) / block,
            by = (map.ny + block - 1) / block;
  std::vector<float> block_lit(static_cast<size_t>(bx) * by, -1.0f);
  std::vector<float> values;
  for (int jy = 0; jy < by; ++jy) {
    for (int jx = 0; jx < bx; ++jx) {
      values.clear();
      for (int iy = jy * block; iy < std::min(map.ny, (jy + 1) * block); ++iy) {
        for (int ix = jx * block; ix < std::min(map.nx, (jx + 1) * block);
             ++ix) {
          if (map.valid[map.Index(ix, iy)]) {
            values.push_back(map.luminance[map.Index(ix, iy)]);
          }
        }
      }
      if (values.size() < static_cast<size_t>(block)) continue;
      auto at = values.begin() +
                static_cast<std::ptrdiff_t>(options.lit_percentile / 100.0 *
                                            (values.size() - 1));
      std::nth_element(values.begin(), at, values.end());
      block_lit[jy * bx + jx] = *at;
    }
  }
  return block_lit;
}

// log(lit / luminance) per valid cell, the lit level being the median of the
// cell's 3 x 3 blocks; a cell without a lit block nearby becomes invalid.
std::vector<float> RawDarkness(const std::vector<float>& block_lit,
                               int block,
                               FloorMap* map) {
  const int bx = (map->nx + block - 1) / block,
            by = (map->ny + block - 1) / block;
  std::vector<float> raw(map->valid.size(), 0.0f);
  std::vector<float> values;
  for (int iy = 0; iy < map->ny; ++iy) {
    for (int ix = 0; ix < map->nx; ++ix) {
      const int i = map->Index(ix, iy);
      if (!map->valid[i]) continue;
      values.clear();
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          const int jx = ix / block + dx, jy = iy / block + dy;
          if (jx < 0 || jy < 0 || jx >= bx || jy >= by) continue;
          if (block_lit[jy * bx + jx] > 0) {
            values.push_back(block_lit[jy * bx + jx]);
          }
        }
      }
      if (values.empty()) {
        map->valid[i] = 0;
        continue;
      }
      const float lit = std::max(MedianOf(&values), 1e-5f);
      raw[i] =
          std::max(0.0f, std::log(lit / std::max(map->luminance[i], 1e-5f)));
    }
  }
  return raw;
}

// 3 x 3 median over valid neighbours: thin dark lines go, shadows stay.
void SmoothDarkness(const std::vector<float>& raw, FloorMap* map) {
  std::vector<float> window;
  for (int iy = 0; iy < map->ny; ++iy) {
    for (int ix = 0; ix < map->nx; ++ix) {
      if (!map->valid[map->Index(ix, iy)]) continue;
      window.clear();
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          const int jx = ix + dx, jy = iy + dy;
          if (jx < 0 || jy < 0 || jx >= map->nx || jy >= map->ny) continue;
          if (map->valid[map->Index(jx, jy)]) {
            window.push_back(raw[map->Index(jx, jy)]);
          }
        }
      }
      map->darkness[map->Index(ix, iy)] = MedianOf(&window);
    }
  }
}

}  // namespace

FloorMap BuildFloorMap(const std::vector<ShadowCaster>& casters,
                       const std::vector<SampledView>& views,
                       const LightEstimateOptions& options) {
  std::vector<Box2d> boxes;
  FloorMap map = AllocateFloorMap(casters, options, &boxes);
  for (int iy = 0; iy < map.ny; ++iy) {
    for (int ix = 0; ix < map.nx; ++ix) {
      const Eigen::Vector2d p2 = map.Centre(ix, iy);
      bool near = false;
      for (const auto& [blo, bhi] : boxes) {
        near = near || ((p2.array() >= blo.array()).all() &&
                        (p2.array() <= bhi.array()).all());
      }
      bool inside = false;
      for (const ShadowCaster& c : casters) {
        inside = inside || InsideConvex(c.grown, p2);
      }
      if (near && !inside)
        SampleFloorCell(ix, iy, casters, views, options, &map);
    }
  }
  // The floor's light and look change across a wide view (grazing angles,
  // vignetting, sky): the lit level is taken per block of lit_block_m.
  const int block = std::max(
      1, static_cast<int>(std::lround(options.lit_block_m / map.cell)));
  const std::vector<float> raw =
      RawDarkness(BlockLitLevels(map, block, options), block, &map);
  SmoothDarkness(raw, &map);
  return map;
}

void RasteriseShadows(const FloorMap& map,
                      const std::vector<ShadowCaster>& casters,
                      const Eigen::Vector2d& shadow_dir,
                      double elevation_rad,
                      double max_length_m,
                      int stamp,
                      std::vector<int>* stamps,
                      std::vector<int>* cells) {
  for (const ShadowCaster& c : casters) {
    const double length =
        std::min(max_length_m, c.height_m / std::tan(elevation_rad));
    std::vector<Eigen::Vector2d> corners = c.hull;
    for (const auto& v : c.hull) corners.push_back(v + length * shadow_dir);
    const Polygon2d shadow = ConvexHull2d(corners);
    Eigen::Vector2d lo = shadow[0], hi = shadow[0];
    for (const auto& v : shadow) {
      lo = lo.cwiseMin(v);
      hi = hi.cwiseMax(v);
    }
    const int x_begin =
        std::max(0, static_cast<int>((lo.x() - map.x0) / map.cell));
    const int y_begin =
        std::max(0, static_cast<int>((lo.y() - map.y0) / map.cell));
    const int x_end =
        std::min(map.nx, static_cast<int>((hi.x() - map.x0) / map.cell) + 1);
    const int y_end =
        std::min(map.ny, static_cast<int>((hi.y() - map.y0) / map.cell) + 1);
    for (int iy = y_begin; iy < y_end; ++iy) {
      for (int ix = x_begin; ix < x_end; ++ix) {
        const int i = map.Index(ix, iy);
        if (!map.valid[i] || (*stamps)[i] == stamp) continue;
        if (!InsideConvex(shadow, map.Centre(ix, iy))) continue;
        (*stamps)[i] = stamp;
        cells->push_back(i);
      }
    }
  }
}

}  // namespace vanelia::internal
