// Scoring of candidate spots for floor/placement.cpp (see
// placement_impl.hpp).
#include "vanelia/core/error.hpp"
#include "vanelia/floor/placement.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <Eigen/Geometry>

#include "placement_impl.hpp"

namespace vanelia::internal {

View MakeView(const TrackedFrame& frame) {
  View view;
  const Eigen::Matrix3d r = frame.cam_from_world.rotation.toRotationMatrix();
  view.projection = frame.intrinsics.K() * frame.cam_from_world.ToMatrix();
  view.world_from_cam = r.transpose();
  view.centre = -(view.world_from_cam * frame.cam_from_world.translation);
  view.intrinsics = frame.intrinsics;
  return view;
}

std::vector<View> MakeViews(const CameraTrack& track, int64_t max_views) {
  const int64_t n = static_cast<int64_t>(track.frames.size());
  const int64_t count = std::min(n, max_views);
  std::vector<View> views;
  views.reserve(count);
  for (int64_t k = 0; k < count; ++k) {
    const int64_t i = count == 1 ? 0 : k * (n - 1) / (count - 1);
    views.push_back(MakeView(track.frames[i]));
  }
  return views;
}

Corners BoxCorners(const Eigen::Vector2d& spot,
                   double heading_rad,
                   const Eigen::Vector3d& size_m) {
  const double c = std::cos(heading_rad);
  const double s = std::sin(heading_rad);
  Corners corners;
  int k = 0;
  for (const double x : {-0.5 * size_m.x(), 0.5 * size_m.x()}) {
    for (const double y : {-0.5 * size_m.y(), 0.5 * size_m.y()}) {
      for (const double z : {0.0, size_m.z()}) {
        corners[k++] = {spot.x() + c * x - s * y, spot.y() + s * x + c * y, z};
      }
    }
  }
  return corners;
}

BoxView ProjectBox(const View& view,
                   const Corners& corners,
                   const Eigen::Vector3d& middle,
                   double width,
                   double height,
                   double border_px) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double u_lo = kInf, u_hi = -kInf, v_lo = kInf, v_hi = -kInf;
  int in_front = 0;
  for (const Eigen::Vector3d& corner : corners) {
    const Eigen::Vector3d x = view.projection * corner.homogeneous();
    if (x.z() <= kNearZ) continue;
    ++in_front;
    const double u = x.x() / x.z();
    const double v = x.y() / x.z();
    u_lo = std::min(u_lo, u);
    u_hi = std::max(u_hi, u);
    v_lo = std::min(v_lo, v);
    v_hi = std::max(v_hi, v);
  }
  BoxView out;
  if (in_front == 0) return out;
  out.in_front = in_front == 8;
  const double lo = -0.5;  // pixel edges
  const bool overlaps =
      u_hi >= lo && u_lo <= width + lo && v_hi >= lo && v_lo <= height + lo;
  const bool inside = out.in_front && u_lo >= lo + border_px &&
                      u_hi <= width + lo - border_px &&
                      v_lo >= lo + border_px && v_hi <= height + lo - border_px;
  out.visibility = inside     ? Visibility::kFully
                   : overlaps ? Visibility::kPartly
                              : Visibility::kOut;
  if (out.in_front) out.height_px = v_hi - v_lo;
  const Eigen::Vector3d m = view.projection * middle.homogeneous();
  if (m.z() > kNearZ) {
    const double du = (m.x() / m.z() - 0.5 * (width - 1.0)) / width;
    const double dv = (m.y() / m.z() - 0.5 * (height - 1.0)) / height;
    out.centrality = std::min(1.0, std::hypot(du, dv));
  }
  return out;
}

double Median(std::vector<double>* values) {
  if (values->empty()) return 0.0;
  const size_t mid = values->size() / 2;
  std::nth_element(values->begin(), values->begin() + mid, values->end());
  return (*values)[mid];
}

// Reconstructed points above the floor, binned on the floor for radius
double HeadingFor(const Eigen::Vector2d& spot,
                  const Eigen::Vector2d& camera_mean,
                  const Eigen::Vector3d& size_m,
                  ProductFront front) {
  const Eigen::Vector2d d = camera_mean - spot;
  if (d.norm() < 1e-9) return 0.0;
  // Rz(h) (0, -1) = (sin h, -cos h) points along d: the front faces d.
  double heading = std::atan2(d.x(), -d.y());
  if (front == ProductFront::kWidestFace && size_m.y() > size_m.x()) {
    heading += 0.5 * M_PI;  // Rz(h) (-1, 0): the x faces are the wider
  }
  return std::remainder(heading, 2.0 * M_PI);
}

double ProductRadius(const Eigen::Vector3d& size_m, double margin_m) {
  return 0.5 * std::hypot(size_m.x(), size_m.y()) + margin_m;
}

Score ScoreSpot(const Eigen::Vector2d& spot,
                const Context& ctx,
                const ObstacleGrid& obstacles,
                std::vector<double>* heights) {
  const PlacementOptions& o = *ctx.options;
  Score score;
  score.spot = spot;
  score.heading_rad = HeadingFor(spot, ctx.camera_mean, ctx.size_m, ctx.front);
  const double radius = ProductRadius(ctx.size_m, o.obstacle_margin_m);
  score.obstacles = obstacles.CountWithin(spot, radius);
  score.clusters = obstacles.OutlinesWithin(spot, radius);
  const Corners corners = BoxCorners(spot, score.heading_rad, ctx.size_m);
  const Eigen::Vector3d middle(spot.x(), spot.y(), 0.5 * ctx.size_m.z());
  heights->clear();
  int64_t fully = 0;
  int64_t seen = 0;
  double centrality = 0.0;
  for (const View& view : ctx.views) {
    const BoxView b =
        ProjectBox(view, corners, middle, ctx.width, ctx.height, o.border_px);
    if (b.visibility == Visibility::kFully) ++fully;
    if (b.in_front) heights->push_back(b.height_px);
    if (b.visibility != Visibility::kOut) {
      ++seen;
      centrality += b.centrality;
    }
  }
  const double n = std::max<double>(1.0, ctx.views.size());
  score.fully = fully / n;
  score.height_fraction = Median(heights) / ctx.height;
  score.centrality = seen > 0 ? centrality / seen : 1.0;
  return score;
}

bool Free(const Score& s, const PlacementOptions& o) {
  return s.obstacles < o.min_obstacle_points && s.clusters == 0;
}

bool InFrame(const Score& s, const PlacementOptions& o) {
  return s.fully >= o.min_fully_visible_fraction;
}

bool InBand(double fraction, const PlacementOptions& o) {
  return fraction >= o.min_height_fraction && fraction <= o.max_height_fraction;
}

// log distance of a height fraction from the [min, max] band (0 inside).
double BandDistance(double fraction, const PlacementOptions& o) {
  const double f = std::max(fraction, 1e-6);
  if (f < o.min_height_fraction) return std::log(o.min_height_fraction / f);
  if (f > o.max_height_fraction) return std::log(f / o.max_height_fraction);
  return 0.0;
}

// 0: good; 1: free and in frame, size outside the band; 2: free; 3: none.
int Tier(const Score& s, const PlacementOptions& o) {
  if (!Free(s, o)) return 3;
  if (!InFrame(s, o)) return 2;
  return InBand(s.height_fraction, o) ? 0 : 1;
}

double Cost(const Score& s, const PlacementOptions& o) {
  const double size_log = std::abs(std::log(std::max(s.height_fraction, 1e-6) /
                                            o.preferred_height_fraction));
  const double band = BandDistance(s.height_fraction, o);
  // Lone points near a free spot (fewer than the rule's count) still make
  // it less attractive than a spot with none.
  const double near = kObstacleWeight * static_cast<double>(s.obstacles);
  switch (Tier(s, o)) {
    case 0:
      return s.centrality + kSizeWeight * size_log + near;
    case 1:
      return band + kTieBreak * s.centrality + near;
    case 2:
      return -s.fully + kTieBreak * (band + s.centrality) + near;
    default:
      return static_cast<double>(s.obstacles + s.clusters) - s.fully;
  }
}

bool Better(const Score& a, const Score& b, const PlacementOptions& o) {
  const int ta = Tier(a, o);
  const int tb = Tier(b, o);
  if (ta != tb) return ta < tb;
  return Cost(a, o) < Cost(b, o);
}

// The floor seen through a 9 x 7 grid of pixels of every view, at most
// `max_distance_m` (along the floor) from the camera.
Region FloorRegion(const Context& ctx, double max_distance_m) {
  Region region;
  for (const View& view : ctx.views) {
    if (view.centre.z() <= 0.0) continue;
    for (int i = 0; i <= 8; ++i) {
      for (int j = 0; j <= 6; ++j) {
        const Eigen::Vector2d pixel(-0.5 + ctx.width * i / 8.0,
                                    -0.5 + ctx.height * j / 6.0);
        const Eigen::Vector3d d =
            view.world_from_cam * view.intrinsics.Unproject(pixel);
        if (d.z() >= -1e-9) continue;
        const Eigen::Vector3d hit = view.centre - (view.centre.z() / d.z()) * d;
        if ((hit - view.centre).head<2>().norm() > max_distance_m) continue;
        region.Extend(hit.head<2>());
      }
    }
  }
  return region;
}

// A grid of about n x n spots over the region (square cells).
std::vector<Eigen::Vector2d> GridSpots(const Region& region, int n) {
  const Eigen::Vector2d extent = region.hi - region.lo;
  const double step = std::max(extent.maxCoeff() / (n - 1), kMinStep);
  const int nx = static_cast<int>(extent.x() / step) + 1;
  const int ny = static_cast<int>(extent.y() / step) + 1;
  const Eigen::Vector2d start = 0.5 * (region.lo + region.hi) -
                                0.5 * step * Eigen::Vector2d(nx - 1, ny - 1);
  std::vector<Eigen::Vector2d> spots;
  spots.reserve(static_cast<size_t>(nx) * ny);
  for (int i = 0; i < nx; ++i) {
    for (int j = 0; j < ny; ++j) {
      spots.push_back(start + step * Eigen::Vector2d(i, j));
    }
  }
  return spots;
}

Context MakeContext(const CameraTrack& track,
                    const ProductBox& box,
                    double scale,
                    const PlacementOptions& options,
                    int64_t max_views) {
  Context ctx;
  ctx.views = MakeViews(track, max_views);
  ctx.width = track.width;
  ctx.height = track.height;
  ctx.size_m = scale * box.size_m;
  ctx.options = &options;
  ctx.front = options.front;
  Eigen::Vector2d sum = Eigen::Vector2d::Zero();
  for (const TrackedFrame& frame : track.frames) {
    const Rigid3d world_from_cam = frame.cam_from_world.Inverse();
    sum += world_from_cam.translation.head<2>();
  }
  ctx.camera_mean = sum / static_cast<double>(track.frames.size());
  return ctx;
}

ObstacleGrid MakeObstacles(const Eigen::Matrix3Xf& points,
                           const Context& ctx,
                           const PlacementOptions& options) {
  double camera_height = 0.0;
  for (const View& view : ctx.views) camera_height += view.centre.z();
  camera_height /= static_cast<double>(ctx.views.size());
  const double z_hi = std::max(camera_height, ctx.size_m.z() + 0.5);
  const double radius = ProductRadius(ctx.size_m, options.obstacle_margin_m);
  ObstacleGrid grid(points, options.floor_clearance_m, z_hi, radius);
  grid.AddOutlines(points,
                   options.obstacle_min_height_m,
                   z_hi,
                   options.obstacle_cluster_m,
                   options.min_obstacle_points,
                   options.max_outline_m);
  return grid;
}

namespace {

double Cross(const Eigen::Vector2d& o,
             const Eigen::Vector2d& a,
             const Eigen::Vector2d& b) {
  return (a.x() - o.x()) * (b.y() - o.y()) - (a.y() - o.y()) * (b.x() - o.x());
}

// Andrew's monotone chain; counter-clockwise, no repeated end point.
std::vector<Eigen::Vector2d> ConvexHull(std::vector<Eigen::Vector2d> p) {
  std::sort(p.begin(), p.end(), [](const auto& a, const auto& b) {
    return a.x() < b.x() || (a.x() == b.x() && a.y() < b.y());
  });
  if (p.size() < 3) return p;
  std::vector<Eigen::Vector2d> hull(2 * p.size());
  size_t k = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    while (k >= 2 && Cross(hull[k - 2], hull[k - 1], p[i]) <= 0) --k;
    hull[k++] = p[i];
  }
  for (size_t i = p.size() - 1, t = k + 1; i > 0; --i) {
    while (k >= t && Cross(hull[k - 2], hull[k - 1], p[i - 1]) <= 0) --k;
    hull[k++] = p[i - 1];
  }
  hull.resize(k - 1);
  return hull;
}

// Distance from `c` to a convex polygon (0 inside).
double DistanceToPolygon(const std::vector<Eigen::Vector2d>& poly,
                         const Eigen::Vector2d& c) {
  if (poly.size() == 1) return (poly[0] - c).norm();
  bool inside = poly.size() >= 3;
  double best = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < poly.size(); ++i) {
    const Eigen::Vector2d& a = poly[i];
    const Eigen::Vector2d& b = poly[(i + 1) % poly.size()];
    if (Cross(a, b, c) < 0) inside = false;
    const Eigen::Vector2d d = b - a;
    const double t =
        std::clamp((c - a).dot(d) / std::max(d.squaredNorm(), 1e-18), 0.0, 1.0);
    best = std::min(best, (a + t * d - c).norm());
  }
  return inside ? 0.0 : best;
}

}  // namespace

void ObstacleGrid::AddOutlines(const Eigen::Matrix3Xf& points,
                               double z_lo,
                               double z_hi,
                               double cell,
                               int min_points,
                               double max_extent) {
  std::unordered_map<int64_t, std::vector<Eigen::Vector2d>> cells;
  const auto index = [cell](double x) {
    return static_cast<int64_t>(std::floor(x / cell));
  };
  for (Eigen::Index i = 0; i < points.cols(); ++i) {
    const Eigen::Vector3d p = points.col(i).cast<double>();
    if (!p.allFinite() || p.z() <= z_lo || p.z() > z_hi) continue;
    cells[Key(index(p.x()), index(p.y()))].push_back(p.head<2>());
  }
  std::unordered_map<int64_t, bool> seen;
  for (const auto& [key, first] : cells) {
    if (seen[key]) continue;
    std::vector<Eigen::Vector2d> cluster;
    std::vector<int64_t> stack = {key};
    seen[key] = true;
    while (!stack.empty()) {
      const int64_t k = stack.back();
      stack.pop_back();
      const std::vector<Eigen::Vector2d>& members = cells.at(k);
      cluster.insert(cluster.end(), members.begin(), members.end());
      const int64_t ix = index(members[0].x());
      const int64_t iy = index(members[0].y());
      for (int64_t dx = -1; dx <= 1; ++dx) {
        for (int64_t dy = -1; dy <= 1; ++dy) {
          const int64_t n = Key(ix + dx, iy + dy);
          if (cells.count(n) == 0 || seen[n]) continue;
          seen[n] = true;
          stack.push_back(n);
        }
      }
    }
    if (static_cast<int64_t>(cluster.size()) < min_points) continue;
    std::vector<Eigen::Vector2d> hull = ConvexHull(std::move(cluster));
    double extent = 0.0;
    for (const Eigen::Vector2d& p : hull) {
      for (const Eigen::Vector2d& q : hull) {
        extent = std::max(extent, (p - q).norm());
      }
    }
    if (extent <= max_extent) outlines_.push_back(std::move(hull));
  }
}

int64_t ObstacleGrid::OutlinesWithin(const Eigen::Vector2d& centre,
                                     double radius) const {
  int64_t count = 0;
  for (const std::vector<Eigen::Vector2d>& outline : outlines_) {
    if (DistanceToPolygon(outline, centre) < radius) ++count;
  }
  return count;
}

}  // namespace vanelia::internal
