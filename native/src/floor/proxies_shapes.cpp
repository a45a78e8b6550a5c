// The box of one cluster of points (proxies_impl.hpp): its footprint
// rectangle and the faces its points show.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "proxies_impl.hpp"

namespace vanelia::internal {
namespace {

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

// The points of one face: their coordinate along its normal (`along`) and
// along the footprint side it spans (`across`; sides only).
struct FacePoints {
  std::vector<double> along;
  std::vector<double> across;
};

}  // namespace

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
                      double* tilt_rad,
                      bool seen[5]) {
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
      seen[f] = static_cast<int>(face[f].along.size()) >= o.min_face_points;
      if (seen[f]) {
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

}  // namespace vanelia::internal
