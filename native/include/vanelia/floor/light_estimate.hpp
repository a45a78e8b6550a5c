// The key light of a clip, estimated from its tracked footage (issue 21):
// where the sun is (azimuth, elevation), how hard it is, and the ambient
// light's level and colour, so that the product is lit as the plate.
//
// The track is in Blender's world (floor z = 0, Z up, metres; see
// alignment.hpp); cam_from_world poses use OpenCV camera axes. The method is
// analysis by synthesis of cast shadows:
//   1. shadow casters: the reconstructed points above the floor grouped into
//      objects (8-connected cells of `object_cluster_m`), each cell of an
//      object a vertical prism: the 2-D convex hull of its points on the
//      floor and the height of its top points;
//   2. a floor map around them: every `cell_m` cell of the floor projected
//      into the sampled frames (skipping frames where an object's prism hides
//      it, or sees it at a grazing angle) and its median linear luminance and
//      colour kept; its darkness is log(lit level / luminance), the lit
//      level being a local high percentile, median-filtered 3 x 3 so that
//      thin dark lines (joints, mortar) do not count;
//   3. the sun: for every direction on an azimuth x elevation grid (then
//      refined) the shadow each prism casts on the floor (the convex hull of
//      its footprint and the footprint moved by height / tan(elevation) away
//      from the sun) is rasterised, and the direction whose shadow mask
//      correlates best (Pearson) with the darkness map wins;
//   4. softness and ambient: the median floor colour inside the predicted
//      shadow (ambient only) against outside it (ambient + sun).
// With no object, too weak a correlation or too little contrast between
// shadow and lit floor (overcast, no shadows) the estimate is unsupported:
// `reason` says why and the light falls back to a soft top-down one.
#pragma once

#include "vanelia/decode/frame.hpp"
#include "vanelia/trackfile/camera_track.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace vanelia {

struct LightEstimateOptions {
  // Frames sampled from those given, evenly spaced (>= 1): more frames
  // reject moving things and noise, at a linear cost.
  int max_frames = 24;
  // Floor map cell, metres (> 0): a few pixels at the clips' distances.
  double cell_m = 0.04;
  // Points lower than this are floor, metres (> 0).
  double floor_clearance_m = 0.05;
  // Objects: points higher than object_min_height_m (> floor clearance;
  // above the floor points' noise) in 8-connected cells of object_cluster_m
  // (> 0) holding two or more points, at least min_object_points (>= 3) in
  // all, at most max_object_width_m wide (> 0; wider is a wall or several
  // objects run together). Each cell is a prism of its own.
  double object_min_height_m = 0.25;
  double object_cluster_m = 0.25;
  int min_object_points = 12;
  double max_object_width_m = 2.5;
  // The floor searched for shadows reaches this far from each object,
  // metres (> 0); a longer shadow is cut there.
  double max_shadow_length_m = 1.5;
  // Sun elevations tried, degrees (0 < min < max < 90).
  double min_elevation_deg = 10.0;
  double max_elevation_deg = 85.0;
  // The exclusion and occlusion margin around an object's outline, metres
  // (>= 0): sparse points under-cover an object's outline.
  double object_margin_m = 0.06;
  // The lit level of the floor is this percentile (0 < p < 100) of the
  // luminance in blocks of lit_block_m (> 0, a few shadow widths), taken
  // locally (the median of a cell's 3 x 3 blocks).
  double lit_percentile = 75.0;
  double lit_block_m = 0.5;
  // A floor cell is seen from a frame only when the ray to the camera rises
  // at least this much above the floor, degrees (0..90): grazing views
  // smear the floor.
  double min_view_elevation_deg = 8.0;
  // A cell whose luminance varies across the frames by more than this
  // fraction of its median (median absolute deviation, >= 0) is not floor
  // (an object's face or a wall seen through it) and is left out.
  double max_view_spread = 0.15;
  // Supported when the best correlation reaches min_correlation (0..1;
  // the rendered test clips: 0.14-0.22 with a sun, 0.10 overcast) and the
  // shadowed floor is at most max_ambient_fraction (0..1) as bright as the
  // lit floor.
  double min_correlation = 0.12;
  double max_ambient_fraction = 0.8;
  // The floor's diffuse albedo (0 < a <= 1; assumed neutral): the plate's
  // floor colours divided by it are the light in the plate's own units
  // (LightEstimate::sun_rgb, sky_rgb), which carries the camera's exposure,
  // gain and white balance. 0.35: a mid-grey floor.
  double floor_albedo = 0.35;

  // Throws InputError naming the first field that breaks its rule.
  void Check() const;
};

struct LightEstimate {
  // False: no sun could be found (see reason); the direction is then the
  // soft top-down fallback (elevation 90) and softness 1.
  bool supported = false;
  // Where the light comes from: azimuth from +X towards +Y, elevation above
  // the floor, degrees (scene/lighting.py's convention).
  double azimuth_deg = 0.0;
  double elevation_deg = 90.0;
  // Unit vector the light travels along (pointing down), world.
  Eigen::Vector3d direction = Eigen::Vector3d(0.0, 0.0, -1.0);
  // 0..1: the shadow mask's correlation with the floor's darkness (0 when
  // unsupported).
  double confidence = 0.0;
  // Shadowed / lit floor luminance (0..1): the ambient share of the light
  // on the floor; 0 = a hard sun in a black sky, 1 = overcast.
  double ambient_fraction = 1.0;
  // Sun irradiance on the floor / ambient irradiance on the floor
  // (lit / shadowed - 1; 0 when unsupported).
  double key_to_ambient = 0.0;
  // Linear RGB of the floor in shadow and lit (medians), and the ambient
  // light's colour: shadowed / lit per channel, scaled to a maximum of 1
  // (white when unsupported).
  Eigen::Vector3d shadow_floor_rgb = Eigen::Vector3d::Zero();
  Eigen::Vector3d lit_floor_rgb = Eigen::Vector3d::Zero();
  Eigen::Vector3d ambient_rgb = Eigen::Vector3d::Ones();
  // The light in the plate's units (its linear light as the composite sees
  // it: sRGB-decoded display values), so that a white diffuse floor lit by
  // them would look as the plate's floor over floor_albedo: sky_rgb is the
  // radiance of a uniform sky giving the shadowed floor's colour
  // (shadow_floor_rgb / floor_albedo), sun_rgb the sun's share of the lit
  // floor ((lit - shadow) / floor_albedo; a Blender sun of strength S and
  // colour c adds S c sin(elevation) / pi). Exposure, gain and white
  // balance are in them. Zero when the floor was not measured; when
  // unsupported, sky_rgb is the lit floor's and sun_rgb zero.
  Eigen::Vector3d sun_rgb = Eigen::Vector3d::Zero();
  Eigen::Vector3d sky_rgb = Eigen::Vector3d::Zero();
  // The options' floor_albedo (0: the floor was not measured).
  double floor_albedo = 0.0;
  int64_t objects = 0;       // shadow casters found
  int64_t frames_used = 0;   // frames sampled
  int64_t floor_cells = 0;   // observed floor cells searched
  int64_t shadow_cells = 0;  // of them in the predicted shadow
  std::string reason;        // empty when supported
};

// Estimates the key light. `points_in_world` [3, N] f32 are the track's
// reconstructed points (Blender world); `frames` are decoded frames, matched
// to the track's frames by index (any size: the intrinsics are scaled).
// Throws InputError for a track without frames or size, no frame matching
// the track, or bad options; an unsupported estimate is a value.
LightEstimate EstimateLight(const CameraTrack& track,
                            const Eigen::Matrix3Xf& points_in_world,
                            const std::vector<Frame>& frames,
                            const LightEstimateOptions& options);

// The unit vector light coming from (azimuth_deg, elevation_deg) travels
// along (pointing down).
Eigen::Vector3d SunTravelDirection(double azimuth_deg, double elevation_deg);

// One line: "sun from azimuth A deg, elevation E deg (confidence C),
// ambient F of the floor light, ambient colour (r, g, b); N objects,
// S/M floor cells in shadow" or "unsupported: REASON; soft top-down light",
// then "; plate light: sun (r, g, b), sky (r, g, b) at floor albedo A"
// when the floor was measured.
std::string DescribeLight(const LightEstimate& estimate);

}  // namespace vanelia
