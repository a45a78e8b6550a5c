// An environment from the footage (issue 21): the plate's frames, placed
// with their solved cameras, fill an equirectangular world texture around
// the product's spot, so that the product is lit by the room it stands in
// and a glossy product reflects it.
//
// The track is in Blender's world (floor z = 0, Z up, metres; see
// alignment.hpp); cam_from_world poses use OpenCV camera axes. The map's
// centre is `centre_height_m` above the spot. For every texel, direction d
// from the centre:
//   1. where d looks: below the horizon the floor point it hits (z = 0), so
//      that floor texels land right whatever the cameras' parallax; above
//      the horizon, and on the floor beyond `radius_m`, the point at
//      `radius_m` (the room as a sphere around the centre);
//   2. every sampled frame whose camera sees that point in front of it
//      gives its colour (bilinear, linear RGB from sRGB), weighted by its
//      distance to the image border (a smooth ramp of border_fraction of
//      the image) and, on the sphere, by the angle between d and the
//      camera's ray to the point (parallax: 1 at 0, 0 at max_parallax_deg);
//      the weighted mean is the texel's colour, its weight sum / 0.25 (up
//      to 1) how much of it was seen;
//   3. the unseen texels below the horizon take the floor's median colour
//      (of the seen floor texels), then pull-push (Gortler et al. 1996,
//      "The Lumigraph", section 3.4.1) fills every remaining hole from
//      blurred neighbours, wrapping around in azimuth.
// Equirectangular as Blender's Environment Texture reads it: column u
// (0..1, left to right) is azimuth atan2(y, x) = (0.5 - u) * 360 degrees
// (+X at the centre column, +Y a quarter to the left), row v (0..1, top
// to bottom) is elevation (0.5 - v) * 180 degrees.
#pragma once

#include "vanelia/decode/frame.hpp"
#include "vanelia/trackfile/camera_track.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace vanelia {

struct EnvironmentMapOptions {
  // Texture width, pixels (even, 16..8192); the height is half of it. 512
  // is 0.7 degrees a texel: reflections on a product, not a mirror.
  int width = 512;
  // Frames sampled from those given, evenly spaced (>= 1): more fill more
  // directions on a moving camera, at a linear cost.
  int max_frames = 24;
  // The map's centre above the product's spot, metres (>= 0): about the
  // middle of a small product, where its reflections come from.
  double centre_height_m = 0.2;
  // The room's radius around the centre, metres (> 0): directions above the
  // horizon (and floor points farther than this) look at this distance.
  double radius_m = 8.0;
  // The border ramp: a frame's weight rises from 0 at its edge to 1 this
  // fraction of its smaller side inside (0 < f <= 0.5).
  double border_fraction = 0.08;
  // Above the horizon a frame counts while its ray to the point is within
  // this angle of the map's direction, degrees (0 < a <= 90): parallax.
  double max_parallax_deg = 40.0;

  // Throws InputError naming the first field that breaks its rule.
  void Check() const;
};

struct EnvironmentMap {
  int width = 0;   // texels
  int height = 0;  // width / 2
  // [height, width, 3] f32, row 0 at the zenith: linear RGB (the plate's
  // sRGB decoded; 1 = the plate's white), holes filled.
  std::vector<float> rgb;
  // [height, width] f32 0..1: how much of each texel the frames saw (the
  // weight sum / 0.25, capped at 1); 0 = filled, below 1 = blended with the
  // fill.
  std::vector<float> seen;
  Eigen::Vector3d centre_m = Eigen::Vector3d::Zero();  // world
  // Linear RGB: the median of the seen floor texels (mid grey when none).
  Eigen::Vector3d floor_rgb = Eigen::Vector3d::Constant(0.18);
  // Solid-angle shares (0..1) seen: the whole sphere, and the upper and the
  // lower hemisphere.
  double seen_fraction = 0.0;
  double seen_above = 0.0;
  double seen_below = 0.0;
  int64_t frames_used = 0;
};

// Builds the map around `spot_m` (the product's floor point, world).
// `frames` are decoded frames, matched to the track's frames by index (any
// size: the intrinsics are scaled). Throws InputError for a track without
// frames or size, no frame matching the track, a spot that is not finite,
// or bad options. A map no frame sees is a value (seen_fraction 0, the
// floor colour everywhere).
EnvironmentMap BuildEnvironmentMap(const CameraTrack& track,
                                   const std::vector<Frame>& frames,
                                   const Eigen::Vector3d& spot_m,
                                   const EnvironmentMapOptions& options);

// The unit direction of texel centre (column x, row y) of a width x height
// equirectangular map (the convention above).
Eigen::Vector3d EnvironmentDirection(int width, int height, int x, int y);

// Writes the map as a Radiance RGBE file (.hdr: float colour Blender and
// most tools read), uncompressed scanlines, atomically. Throws InputError
// when `path` exists and `overwrite` is false, or it cannot be written.
void WriteEnvironmentHdr(const EnvironmentMap& map,
                         const std::string& path,
                         bool overwrite);

// One line: "WxH, S% of the sphere seen (A% above, B% below the horizon)
// from N frames, floor (r, g, b)".
std::string DescribeEnvironment(const EnvironmentMap& map);

}  // namespace vanelia
