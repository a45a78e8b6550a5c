// Automatic placement of the product on the floor of an aligned track
// (issue 20): where it stands, which way it faces, and a report that says
// how well it can be seen.
//
// The track is in Blender's world (floor z = 0, Z up, metres; see
// alignment.hpp); cam_from_world poses use OpenCV camera axes. The product
// is its bounding box as product.py places it: the footprint centred on the
// spot, the base on the floor, Blender axes (glTF +Y up -> +Z; glTF +Z, the
// product's front, -> -Y). A heading `h` turns it about +Z:
//
//   x_in_world = spot + scale * Rz(h) * x_in_product
//
// PlaceProduct scores candidate floor spots (a grid over the floor the
// cameras see, refined around the best) on a subset of the frames:
//   1. free: fewer than min_obstacle_points reconstructed points above the
//      floor within the footprint's radius plus a margin, and clear of the
//      outlines of the clusters of points above the floor (something
//      stands there);
//   2. fully inside the frame (all 8 box corners, `border_px` in) on at least
//      `min_fully_visible_fraction` of the frames;
//   3. large enough: the median projected height (v extent of the corners)
//      within [min, max]_height_fraction of the frame height, closest to
//      `preferred_height_fraction`;
//   4. near where the cameras look: the product's image centre close to the
//      frame centre, averaged over the frames.
// Among spots meeting 1-3 it takes the lowest cost of 3 and 4. When none
// does it falls back in this order and says why in the report: the free,
// in-frame spot closest to the size band (the nearest to the cameras when
// every spot shows it too small at real size), else the free spot most often
// in frame, else the spot with the fewest points above the floor. It never
// fails silently: the report's `reason` is empty only for a good spot.
// The heading turns the product's front towards the average camera centre
// (`front`: glTF +Z, or the widest face of the box).
#pragma once

#include "vanelia/trackfile/camera_track.hpp"

#include <cstdint>
#include <optional>
#include <string>

#include <Eigen/Core>

#include <nlohmann/json.hpp>

namespace vanelia {

// Which side of the product is its front.
enum class ProductFront {
  kGltfForward,  // glTF +Z (Blender -Y), the glTF convention
  kWidestFace,   // the wider of the box's two vertical face pairs
};

struct PlacementOptions {
  // Scale the product to this height, metres (> 0); unset: the box's size.
  std::optional<double> target_height_m;
  // The product's median projected height should lie in this band, as a
  // fraction of the frame height (0 < min < preferred < max <= 1): smaller
  // is hard to see, larger crowds the frame.
  double min_height_fraction = 0.15;
  double preferred_height_fraction = 0.25;
  double max_height_fraction = 0.50;
  // A good spot keeps the whole box in frame on at least this fraction of
  // the frames (0..1].
  double min_fully_visible_fraction = 0.95;
  // A projected corner closer than this to the frame's edge counts as out,
  // pixels (>= 0): room for the silhouette's anti-aliasing.
  double border_px = 2.0;
  // Candidate spots per side of the coarse grid (4..1000); the best is refined
  // on a 9 x 9 grid at a third of the step.
  int grid_size = 40;
  // Frames scored per candidate, evenly spaced (>= 1); the report uses all.
  int max_scoring_frames = 96;
  // Reconstructed points lower than this are the floor, metres (> 0): a
  // little above the floor's noise.
  double floor_clearance_m = 0.05;
  // Free ring around the footprint's circumscribed circle, metres (>= 0).
  double obstacle_margin_m = 0.10;
  // Points higher than this, metres (> 0), are grouped into objects:
  // points in 8-connected cells of obstacle_cluster_m (> 0) form one, and
  // its outline on the floor (the 2-D convex hull) is not free either.
  // Sparse points lie on an object's edges and corners; the outline covers
  // the inside they leave empty (a spot inside a box).
  double obstacle_min_height_m = 0.10;
  double obstacle_cluster_m = 0.40;
  // A cluster wider than this, metres (> 0), is a wall or several objects
  // run together (its hull would cover free floor): its points count, its
  // outline does not.
  double max_outline_m = 3.0;
  // This many points above the floor near a spot mean something stands
  // there (>= 1; isolated outliers are ignored).
  int min_obstacle_points = 3;
  // With allow_scale, a product too small everywhere is scaled up so the
  // chosen spot shows it at preferred_height_fraction, at most max_scale
  // (>= 1). Off by default: the product keeps its real size.
  bool allow_scale = false;
  double max_scale = 10.0;
  ProductFront front = ProductFront::kGltfForward;

  // Throws InputError naming the first field that breaks its rule.
  void Check() const;
};

// The product's bounding box (product.py's placement: footprint centred on
// the origin, base at z = 0), Blender axes, metres.
struct ProductBox {
  Eigen::Vector3d size_m = Eigen::Vector3d(0.1, 0.1, 0.3);  // x, y, z (up)
};

struct PlacementReport {
  int64_t frames = 0;          // registered frames of the track
  int64_t fully_visible = 0;   // all box corners in frame
  int64_t partly_visible = 0;  // some of the box in frame
  int64_t out_of_frame = 0;    // none of it (or behind the camera)
  // Projected height (v extent of the box corners), pixels, over frames with
  // the whole box in front of the camera; 0 when there are none.
  double height_px_min = 0.0;
  double height_px_median = 0.0;
  double height_px_max = 0.0;
  double median_height_fraction = 0.0;  // height_px_median / frame height
  int64_t obstacle_points = 0;          // points above the floor near the spot
  int64_t obstacle_clusters = 0;        // outlines of point clusters it touches
  int64_t candidates = 0;               // spots scored
  int64_t good_candidates = 0;          // spots meeting all three rules
  // Empty for a good spot; else why none was found and what was taken.
  std::string reason;

  double FullyVisibleFraction() const {
    return frames > 0 ? static_cast<double>(fully_visible) / frames : 0.0;
  }
};

struct Placement {
  Eigen::Vector3d location_m = Eigen::Vector3d::Zero();  // (x, y, 0)
  double heading_rad = 0.0;  // turn about +Z (product.py's rotation_euler.z)
  double scale = 1.0;        // uniform, applied to ProductBox::size_m
  PlacementReport report;
};

// Chooses the spot, heading and scale. `points_in_world` [3, N] f32 are the
// reconstructed points in the track's (Blender) world, possibly empty.
// Throws InputError for a track without frames or image size, a box with a
// non-positive or non-finite side, or bad options.
Placement PlaceProduct(const CameraTrack& track,
                       const Eigen::Matrix3Xf& points_in_world,
                       const ProductBox& box,
                       const PlacementOptions& options);

// The report of a given spot (the user's --location), heading and scale, on
// every frame; `reason` says when it breaks a rule. Throws as PlaceProduct.
PlacementReport EvaluatePlacement(const CameraTrack& track,
                                  const Eigen::Matrix3Xf& points_in_world,
                                  const ProductBox& box,
                                  const Eigen::Vector3d& location_m,
                                  double heading_rad,
                                  double scale,
                                  const PlacementOptions& options);

// The placement the add-on asks for (the binding's and `vanelia call`'s
// place_product): without `location_m` the automatic spot (PlaceProduct),
// with it the report of that spot at `heading_deg`, scaled to
// options.target_height_m when set (EvaluatePlacement). `front` is "gltf" or
// "widest". Throws InputError naming a bad front, size or option.
Placement PlaceOrEvaluate(const CameraTrack& track,
                          const Eigen::Matrix3Xf& points_in_world,
                          const Eigen::Vector3d& size_m,
                          PlacementOptions options,
                          const std::string& front,
                          const std::optional<Eigen::Vector3d>& location_m,
                          double heading_deg);

// The heading that turns `front` towards the average camera centre from
// `location_m` (0 when the cameras are right above it).
double HeadingTowardsCameras(const CameraTrack& track,
                             const Eigen::Vector3d& location_m,
                             const ProductBox& box,
                             ProductFront front);

// One line for summaries and the panel:
// "spot (x, y, 0) m, heading H deg, scale S; fully in frame F/N, partly P,
//  out O; height px min/median/max (M % of the frame)[; reason]".
std::string DescribePlacement(const Placement& placement);

// The report as the binding's and `vanelia call`'s place_product return it:
// {"frames", "fully_visible", "partly_visible", "out_of_frame",
// "fully_visible_fraction", "height_px_min", "height_px_median",
// "height_px_max", "median_height_fraction", "obstacle_points",
// "obstacle_clusters", "candidates", "good_candidates", "reason"}.
nlohmann::ordered_json PlacementReportToJson(const PlacementReport& report);

// place_product's result: {"location": [x, y, z] m, "heading_deg", "scale",
// "automatic" (the spot was chosen, not given), "report"
// (PlacementReportToJson), "summary" (DescribePlacement)}.
nlohmann::ordered_json PlacementToJson(const Placement& placement,
                                       bool automatic);

}  // namespace vanelia
