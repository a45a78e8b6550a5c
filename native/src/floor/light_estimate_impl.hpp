// Private to floor/light_estimate.cpp: the shadow casters (objects as
// vertical prisms), the floor map and the shadow rasteriser. Implemented in
// light_floor_map.cpp.
#pragma once

#include "vanelia/decode/frame.hpp"
#include "vanelia/floor/light_estimate.hpp"
#include "vanelia/trackfile/camera_track.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace vanelia::internal {

using Polygon2d = std::vector<Eigen::Vector2d>;  // counter-clockwise

// A part of an object standing on the floor: footprint x [0, height_m].
struct ShadowCaster {
  Polygon2d hull;   // convex outline of its points, grown by margin / 2
  Polygon2d grown;  // grown by the whole margin: excluded, occludes
  double height_m = 0.0;
  int64_t points = 0;
};

// 2-D convex hull (Andrew's monotone chain), counter-clockwise, no
// collinear points; fewer than 3 distinct points give what there is.
Polygon2d ConvexHull2d(std::vector<Eigen::Vector2d> points);

// Inside or on a counter-clockwise convex polygon (>= 3 vertices).
bool InsideConvex(const Polygon2d& polygon, const Eigen::Vector2d& p);

// The objects among the points (see LightEstimateOptions) as prisms, one
// per occupied cell of an object; `objects` gets the number of objects.
std::vector<ShadowCaster> FindShadowCasters(
    const Eigen::Matrix3Xf& points_in_world,
    const LightEstimateOptions& options,
    int64_t* objects);

// Whether the segment a -> b (world) passes through the prism
// caster.grown x [0, caster.height_m], stopping short of b.
bool SegmentHitsPrism(const ShadowCaster& caster,
                      const Eigen::Vector3d& a,
                      const Eigen::Vector3d& b);

// A floor grid around the casters with each cell's median appearance.
struct FloorMap {
  double x0 = 0.0;  // world x, y of cell (0, 0)'s corner
  double y0 = 0.0;
  double cell = 0.04;
  int nx = 0;
  int ny = 0;
  std::vector<uint8_t> valid;        // observed floor, outside every object
  std::vector<float> luminance;      // linear, median over frames
  std::vector<Eigen::Vector3f> rgb;  // linear, per-channel median
  std::vector<float> darkness;       // log(lit / luminance) >= 0, filtered

  int Index(int ix, int iy) const { return iy * nx + ix; }

  Eigen::Vector2d Centre(int ix, int iy) const {
    return {x0 + (ix + 0.5) * cell, y0 + (iy + 0.5) * cell};
  }
};

// One frame ready to sample: projection into its (possibly resized) image.
struct SampledView {
  Eigen::Matrix<double, 3, 4> projection;  // world -> pixels of `image`
  Eigen::Vector3d centre;                  // camera centre, world
  const Image* image = nullptr;
};

// sRGB 8-bit -> linear (the IEC 61966-2-1 curve), a table of 256.
const std::array<float, 256>& LinearFromSrgb();

// Up to max_frames of `frames` that have a tracked frame's index, spread
// over them, each with its projection scaled to its image's size. Throws
// InputError "<caller>: none of the N frames has the index of a tracked
// frame" when none matches.
std::vector<SampledView> SampleViews(const CameraTrack& track,
                                     const std::vector<Frame>& frames,
                                     size_t max_frames,
                                     const std::string& caller);

FloorMap BuildFloorMap(const std::vector<ShadowCaster>& casters,
                       const std::vector<SampledView>& views,
                       const LightEstimateOptions& options);

// The valid cells in the shadow every caster casts when the light travels
// horizontally along `shadow_dir` (unit, the way shadows point) at
// `elevation_rad`, each once (stamps[i] == stamp marks a cell already
// listed; stamps has map size). Appends their indices to `cells`.
void RasteriseShadows(const FloorMap& map,
                      const std::vector<ShadowCaster>& casters,
                      const Eigen::Vector2d& shadow_dir,
                      double elevation_rad,
                      double max_length_m,
                      int stamp,
                      std::vector<int>* stamps,
                      std::vector<int>* cells);

}  // namespace vanelia::internal
