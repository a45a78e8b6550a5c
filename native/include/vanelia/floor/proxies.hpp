// Proxy geometry from the reconstruction (issue 20): the reconstructed
// points that stand above the floor of an aligned track, grouped into simple
// shapes that the add-on places as holdout / shadow-catcher objects, so that
// a static real object in front of the product hides it and a real object
// beside it catches its shadow.
//
// The points are in Blender's world (floor z = 0, Z up, metres; see
// alignment.hpp). BuildProxies:
//   1. fits the floor the points show (FitFloor: a plane through the low
//      points of 0.5 m cells, robust to the objects; z = 0 when it is
//      within min_height_m / 2 of it): a tracker's floor may be tilted by a
//      few degrees and its points noisy (the classical tracker on a
//      320 x 180 orbit: 3.5 degrees, 9 cm); heights are measured from it;
//   2. keeps the points between max(min_height_m, floor_sigmas x the
//      floor's noise) and max_height_m above it (lower ones are the floor
//      and its noise);
//   3. drops a point with fewer than min_neighbours points (itself
//      included) in the 3 x 3 x 3 voxels of noise_radius_m around it
//      (outliers scattered in the air are alone there, so they never bridge
//      two objects) and bins the rest in floor cells of cell_m;
//   4. joins 8-connected cells into clusters and splits a cluster at its
//      low-density valleys: when its dense cells (at least min_cell_points
//      points in the 3 x 3 cells around, and core_fraction of what its
//      median point sees)
//      form two or more cores of min_points, each core is a cluster of its
//      dense cells (sparse noise between two objects never joins them);
//      drops a cluster of fewer than min_points points;
//   5. fits each cluster's footprint with the smallest-area rectangle over
//      its turns (1-degree search refined to 0.1 degree) whose sides span
//      the [extent_trim, 1 - extent_trim] quantiles of the points'
//      projections, and its height with the top_quantile of the points'
//      heights (both robust to a few stray points); the shape stands on the
//      floor (down to the fitted floor's lowest point under it); then moves
//      each face the points show (a side or the top with
//      at least min_face_points points within face_band_m of it, away from
//      its edges) onto their median, and turns the box by the tilt of the
//      seen sides' line fits (up to three times): the quantiles lie outside
//      a densely seen face by ~1.6 noise sigma and inside a sparsely seen
//      edge, the smallest-area turn is ~1 degree off when two sides were
//      seen, and a contact shadow on a face moves with it;
//   6. names it a wall (a plane) when it is long (>= wall_min_length_m) and
//      thin (<= wall_max_thickness_m), else an object (an oriented box).
//      A cluster wider than max_object_m both ways is several things run
//      together: it is counted as rejected, never placed (it would hide
//      free floor).
// A proxy's box is (centre, size, yaw):
//   x_in_world = centre + Rz(yaw) * x_in_box,  x_in_box in [-size/2, size/2]
// with size.x() >= size.y() (x along the longer side) and yaw in
// (-pi/2, pi/2].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

#include <nlohmann/json.hpp>

namespace vanelia {

enum class ProxyKind {
  kBox,    // an object standing on the floor: an oriented box
  kPlane,  // a wall: a thin box, its plane through the centre along x
};

const char* ToString(ProxyKind kind);

struct ProxyOptions {
  // Points lower than this above the floor are the floor, metres (> 0):
  // a little above the floor's reconstruction noise.
  double min_height_m = 0.05;
  // Points higher than this are ignored (ceiling, sky outliers), metres
  // (> min_height_m).
  double max_height_m = 4.0;
  // A point is above the floor when higher than this many times the
  // floor's noise (the RMS of the floor points below the fitted floor) too
  // (>= 0; 0 trusts min_height_m alone).
  double floor_sigmas = 2.5;
  // Side of the floor cells that cluster the points, metres (> 0): about
  // the largest gap inside one object that still keeps it one.
  double cell_m = 0.15;
  // A cell is dense (in a core of its cluster) when the 3 x 3 cells around
  // it hold at least this many points (>= 1) and at least core_fraction of
  // the density the cluster's median point sees ([0, 1)).
  int min_cell_points = 4;
  double core_fraction = 0.25;
  // A point with fewer points (itself included) in the 27 voxels of
  // noise_radius_m around it is noise: metres (> 0) and count (>= 1).
  double noise_radius_m = 0.1;
  int min_neighbours = 3;
  // The footprint's sides span this quantile of the points' projections to
  // one minus it ([0, 0.25)): 0 is the hull, a little more ignores strays.
  double extent_trim = 0.03;
  // A cluster with fewer points is not an object (>= 3).
  int min_points = 12;
  // A face's points lie within this distance of it, metres (> 0): a few
  // times the reconstruction's noise, under half the smallest face.
  double face_band_m = 0.05;
  // A face with fewer points keeps its quantile extent (>= 1): the cameras
  // did not see it.
  int min_face_points = 10;
  // The proxy's top is this quantile of its points' heights (0.5..1]: 1 is
  // the highest point, lower values ignore a few stray points above it.
  double top_quantile = 0.98;
  // Walls: at least this long, metres (> 0) ...
  double wall_min_length_m = 2.0;
  // ... and at most this thick, metres (> 0).
  double wall_max_thickness_m = 0.5;
  // A cluster wider than this in both footprint directions is rejected,
  // metres (> 0).
  double max_object_m = 4.0;

  // Throws InputError naming the first field that breaks its rule.
  void Check() const;
};

struct Proxy {
  ProxyKind kind = ProxyKind::kBox;
  // z = size z / 2 on the aligned floor; on a fitted floor the box reaches
  // from its lowest point under the footprint to the top.
  Eigen::Vector3d centre_m = Eigen::Vector3d::Zero();
  Eigen::Vector3d size_m = Eigen::Vector3d::Zero();  // x >= y, z up
  double yaw_rad = 0.0;                              // turn about +Z
  int64_t num_points = 0;                            // points it covers
};

// The floor the points show: z = slope . (x, y) + offset in the world.
struct ProxyFloor {
  Eigen::Vector2d slope = Eigen::Vector2d::Zero();
  double offset = 0.0;
  double noise_m = 0.0;  // RMS of the floor points below it
  bool fitted = false;   // false: z = 0 (too few points, or it agrees)

  double HeightAt(double x, double y) const {
    return slope.x() * x + slope.y() * y + offset;
  }
};

struct ProxySet {
  std::vector<Proxy> proxies;      // largest footprint first
  ProxyFloor floor;                // heights are measured from it
  int64_t points_above_floor = 0;  // points in [min_height_m, max_height_m]
  int64_t points_used = 0;         // points in the proxies' clusters
  int64_t clusters_rejected = 0;   // too few points or too wide

  int64_t Count(ProxyKind kind) const;
};

// The proxies of `points_in_world` [3, N] f32 (Blender world, possibly
// empty). Throws InputError for bad options.
ProxySet BuildProxies(const Eigen::Matrix3Xf& points_in_world,
                      const ProxyOptions& options);

// One line for summaries and the panel: "N proxies (B boxes, W walls) from P
// points above the floor: box 0.80x0.60x1.20 m at (x, y), ...".
std::string DescribeProxies(const ProxySet& set);

// The set as the JSON the binding's build_proxies returns (and batch.py and
// scene/proxies.py read): {"proxies": [{"kind", "centre", "size",
// "yaw_deg", "points"}], "count", "boxes", "walls", "points_above_floor",
// "points_used", "clusters_rejected", "floor": {"fitted", "slope",
// "offset", "noise_m"}, "summary"}; metres, degrees.
nlohmann::ordered_json ProxySetToJson(const ProxySet& set);

}  // namespace vanelia
