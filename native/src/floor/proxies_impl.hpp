// Private to the floor module's proxies (proxies.cpp): the footprint
// rectangle and face refinement of one cluster's box (proxies_shapes.cpp)
// and the floor the points show (proxy_floor.cpp).
#pragma once

#include "vanelia/floor/proxies.hpp"

#include <cstdint>
#include <vector>

#include <Eigen/Core>

namespace vanelia::internal {

// A floor cell's key: its integer (i, j) packed in 64 bits.
inline int64_t CellKey(int64_t i, int64_t j) {
  const uint64_t hi = static_cast<uint64_t>(i) << 32U;
  return static_cast<int64_t>(hi ^ (static_cast<uint64_t>(j) & 0xffffffffULL));
}

struct Rectangle {
  Eigen::Vector2d centre = Eigen::Vector2d::Zero();
  Eigen::Vector2d size = Eigen::Vector2d::Zero();  // x >= y
  double yaw_rad = 0.0;                            // of the x side
};

// A box in its own frame: the footprint's sides at u0 < u1 (along the
// rectangle's x) and v0 < v1, the top at `top`.
struct BoxBounds {
  double u0, u1, v0, v1, top;
};

// The (upper) median of `values`, reordered; 0 when empty. Shared with the
// placement (defined in placement_scoring.cpp, declared in placement_impl.hpp).
double Median(std::vector<double>* values);

// The smallest-area footprint rectangle of `xy` over the turns 0..90
// degrees, its sides at the [q, 1 - q] quantiles of the points.
Rectangle FootprintRectangle(const std::vector<Eigen::Vector2d>& xy, double q);

// Moves each face of `b` that the points `uvz` (in the box's frame) show
// onto the median of its points; sets `*tilt_rad` to the turn the seen
// sides show and `seen` to the faces seen (u0, u1, v0, v1, top).
BoxBounds RefineFaces(const std::vector<Eigen::Vector3d>& uvz,
                      BoxBounds b,
                      const ProxyOptions& o,
                      double* tilt_rad,
                      bool seen[5]);

// The floor the points show (proxies.hpp, step 1); z = 0 when they show
// none that differs from it.
ProxyFloor FitFloor(const Eigen::Matrix3Xf& points, const ProxyOptions& o);

}  // namespace vanelia::internal
