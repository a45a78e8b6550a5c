// Private to floor/placement.cpp: the scoring of candidate spots (one
// frame's view of the product's box, the points above the floor, the cost
// of a spot). Implemented in placement_scoring.cpp.
#pragma once

#include "vanelia/floor/placement.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <unordered_map>
#include <vector>

#include <Eigen/Core>

namespace vanelia::internal {

constexpr double kNearZ = 1e-3;          // metres in front of the camera
constexpr double kMinStep = 0.01;        // metres: the finest candidate grid
constexpr double kSizeWeight = 1.0;      // cost of log(size / preferred)
constexpr double kTieBreak = 0.01;       // weight of secondary terms
constexpr double kObstacleWeight = 0.1;  // per point near a free spot

struct View {
  Eigen::Matrix<double, 3, 4> projection;  // K [R | t], world -> pixels
  Eigen::Vector3d centre;                  // camera centre, world
  Eigen::Matrix3d world_from_cam;          // R^T
  Intrinsics intrinsics;
};

enum class Visibility { kFully, kPartly, kOut };

struct BoxView {
  Visibility visibility = Visibility::kOut;
  bool in_front = false;    // all eight corners in front of the camera
  double height_px = 0.0;   // v extent of the corners (when in_front)
  double centrality = 1.0;  // product centre from the image centre, 0..~1
};

using Corners = std::array<Eigen::Vector3d, 8>;

// What every candidate is scored against.
struct Context {
  std::vector<View> views;  // the scoring frames (or all, for the report)
  double width = 0.0;       // pixels
  double height = 0.0;
  Eigen::Vector3d size_m = Eigen::Vector3d::Zero();  // scaled box
  Eigen::Vector2d camera_mean = Eigen::Vector2d::Zero();
  const PlacementOptions* options = nullptr;
  ProductFront front = ProductFront::kGltfForward;
};

struct Score {
  Eigen::Vector2d spot = Eigen::Vector2d::Zero();
  double heading_rad = 0.0;
  int64_t obstacles = 0;         // points above the floor near the spot
  int64_t clusters = 0;          // outlines of point clusters touching the spot
  double fully = 0.0;            // fraction of the scoring frames
  double height_fraction = 0.0;  // median projected height / frame height
  double centrality = 1.0;       // mean over the frames that see it
};

// Reconstructed points above the floor, binned on the floor for radius
// queries.
class ObstacleGrid {
 public:
  ObstacleGrid(const Eigen::Matrix3Xf& points,
               double z_lo,
               double z_hi,
               double cell)
      : cell_(std::max(cell, kMinStep)) {
    for (Eigen::Index i = 0; i < points.cols(); ++i) {
      const Eigen::Vector3d p = points.col(i).cast<double>();
      if (!p.allFinite() || p.z() <= z_lo || p.z() > z_hi) continue;
      cells_[Key(Cell(p.x()), Cell(p.y()))].push_back(p.head<2>());
    }
  }

  int64_t CountWithin(const Eigen::Vector2d& centre, double radius) const {
    int64_t count = 0;
    for (int64_t ix = Cell(centre.x() - radius);
         ix <= Cell(centre.x() + radius);
         ++ix) {
      for (int64_t iy = Cell(centre.y() - radius);
           iy <= Cell(centre.y() + radius);
           ++iy) {
        const auto it = cells_.find(Key(ix, iy));
        if (it == cells_.end()) continue;
        for (const Eigen::Vector2d& p : it->second) {
          if ((p - centre).squaredNorm() <= radius * radius) ++count;
        }
      }
    }
    return count;
  }

  // Adds the outlines (2-D convex hulls) of the clusters of points between
  // z_lo and z_hi: points in 8-connected cells of `cell` metres, at least
  // `min_points` of them, no wider than `max_extent`. Sparse points mostly
  // lie on an object's edges; its outline also covers the inside they leave
  // empty.
  void AddOutlines(const Eigen::Matrix3Xf& points,
                   double z_lo,
                   double z_hi,
                   double cell,
                   int min_points,
                   double max_extent);

  // How many outlines come closer than `radius` to `centre` (or hold it).
  int64_t OutlinesWithin(const Eigen::Vector2d& centre, double radius) const;

 private:
  int64_t Cell(double x) const {
    return static_cast<int64_t>(std::floor(x / cell_));
  }

  static int64_t Key(int64_t ix, int64_t iy) {
    return ix * 2654435761LL + iy;  // a hash, not an index
  }

  double cell_;
  std::unordered_map<int64_t, std::vector<Eigen::Vector2d>> cells_;
  std::vector<std::vector<Eigen::Vector2d>> outlines_;  // counter-clockwise
};

struct Region {
  Eigen::Vector2d lo =
      Eigen::Vector2d::Constant(std::numeric_limits<double>::infinity());
  Eigen::Vector2d hi = -lo;

  bool Empty() const { return !(lo.x() <= hi.x() && lo.y() <= hi.y()); }

  void Extend(const Eigen::Vector2d& p) {
    lo = lo.cwiseMin(p);
    hi = hi.cwiseMax(p);
  }
};

// Frames [i * (n - 1) / (count - 1)], at most max_views of them.
std::vector<View> MakeViews(const CameraTrack& track, int64_t max_views);

// The eight corners of the box standing at `spot` turned by heading_rad.
Corners BoxCorners(const Eigen::Vector2d& spot,
                   double heading_rad,
                   const Eigen::Vector3d& size_m);

// How one view sees the box (and its centre `middle`).
BoxView ProjectBox(const View& view,
                   const Corners& corners,
                   const Eigen::Vector3d& middle,
                   double width,
                   double height,
                   double border_px);

// The median (upper for even sizes); 0 for none. Reorders `values`.
double Median(std::vector<double>* values);

// The heading that turns `front` towards camera_mean from spot.
double HeadingFor(const Eigen::Vector2d& spot,
                  const Eigen::Vector2d& camera_mean,
                  const Eigen::Vector3d& size_m,
                  ProductFront front);

// The footprint's circumscribed radius plus the margin, metres.
double ProductRadius(const Eigen::Vector3d& size_m, double margin_m);

// The spot's score on ctx.views; `heights` is scratch space.
Score ScoreSpot(const Eigen::Vector2d& spot,
                const Context& ctx,
                const ObstacleGrid& obstacles,
                std::vector<double>* heights);

bool InBand(double fraction, const PlacementOptions& o);

// 0: good; 1: free and in frame, size outside the band; 2: free; 3: none.
int Tier(const Score& s, const PlacementOptions& o);

// Within a tier, lower is better.
double Cost(const Score& s, const PlacementOptions& o);

bool Better(const Score& a, const Score& b, const PlacementOptions& o);

// The floor seen through a 9 x 7 grid of pixels of every view, at most
// `max_distance_m` (along the floor) from the camera.
Region FloorRegion(const Context& ctx, double max_distance_m);

// A grid of about n x n spots over the region (square cells).
std::vector<Eigen::Vector2d> GridSpots(const Region& region, int n);

Context MakeContext(const CameraTrack& track,
                    const ProductBox& box,
                    double scale,
                    const PlacementOptions& options,
                    int64_t max_views);

// Points above floor_clearance_m and below the cameras' mean height (or
// the product's top + 0.5 m when higher).
ObstacleGrid MakeObstacles(const Eigen::Matrix3Xf& points,
                           const Context& ctx,
                           const PlacementOptions& options);

}  // namespace vanelia::internal
