#include "vanelia/floor/placement.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/option_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "placement_impl.hpp"

namespace vanelia {
namespace {

using internal::Context;
using internal::kMinStep;
using internal::ObstacleGrid;
using internal::Region;
using internal::Score;

constexpr int kRefineHalf = 4;           // refinement grid: 2 * 4 + 1 a side
constexpr double kFallbackRadius = 2.0;  // metres around the cameras

void CheckInputs(const CameraTrack& track,
                 const ProductBox& box,
                 const char* caller) {
  const std::string name(caller);
  if (track.frames.empty()) {
    throw InputError(name + ": the track has no registered frames");
  }
  if (track.width <= 0 || track.height <= 0) {
    throw InputError(name + ": track image size " +
                     std::to_string(track.width) + "x" +
                     std::to_string(track.height) + "; must be positive");
  }
  const Eigen::Vector3d& s = box.size_m;
  if (!s.allFinite() || s.minCoeff() <= 0.0) {
    char text[160];
    std::snprintf(text,
                  sizeof(text),
                  "ProductBox::size_m = (%g, %g, %g); every side must be a "
                  "finite number > 0 metres",
                  s.x(),
                  s.y(),
                  s.z());
    throw InputError(name + ": " + text);
  }
  for (const TrackedFrame& frame : track.frames) {
    if (!(frame.intrinsics.fx > 0.0 && frame.intrinsics.fy > 0.0)) {
      throw InputError(name + ": frame " + std::to_string(frame.index) +
                       " has focal length <= 0 pixels");
    }
  }
}

std::string Percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f %%", 100.0 * fraction);
  return text;
}

PlacementReport ReportFor(const Context& all,
                          const ObstacleGrid& obstacles,
                          const Eigen::Vector2d& spot,
                          double heading_rad) {
  const PlacementOptions& o = *all.options;
  PlacementReport report;
  report.frames = static_cast<int64_t>(all.views.size());
  const double radius =
      internal::ProductRadius(all.size_m, o.obstacle_margin_m);
  report.obstacle_points = obstacles.CountWithin(spot, radius);
  report.obstacle_clusters = obstacles.OutlinesWithin(spot, radius);
  const internal::Corners corners =
      internal::BoxCorners(spot, heading_rad, all.size_m);
  const Eigen::Vector3d middle(spot.x(), spot.y(), 0.5 * all.size_m.z());
  std::vector<double> heights;
  for (const internal::View& view : all.views) {
    const internal::BoxView b = internal::ProjectBox(
        view, corners, middle, all.width, all.height, o.border_px);
    if (b.visibility == internal::Visibility::kFully) ++report.fully_visible;
    if (b.visibility == internal::Visibility::kPartly) ++report.partly_visible;
    if (b.visibility == internal::Visibility::kOut) ++report.out_of_frame;
    if (b.in_front) heights.push_back(b.height_px);
  }
  if (!heights.empty()) {
    const auto [lo, hi] = std::minmax_element(heights.begin(), heights.end());
    report.height_px_min = *lo;
    report.height_px_max = *hi;
    report.height_px_median = internal::Median(&heights);
  }
  report.median_height_fraction = report.height_px_median / all.height;
  return report;
}

// What the report's spot breaks, "" when it keeps every rule.
std::string RuleBreaks(const PlacementReport& r, const PlacementOptions& o) {
  std::vector<std::string> broken;
  if (r.obstacle_clusters > 0) {
    broken.push_back("within the outline of " +
                     std::to_string(r.obstacle_clusters) +
                     " cluster(s) of reconstructed points above the floor "
                     "(something stands there)");
  }
  if (r.obstacle_points >= o.min_obstacle_points) {
    broken.push_back(std::to_string(r.obstacle_points) +
                     " reconstructed points above the floor at the spot "
                     "(something stands there)");
  }
  if (r.FullyVisibleFraction() < o.min_fully_visible_fraction) {
    broken.push_back("fully in frame on " + Percent(r.FullyVisibleFraction()) +
                     " of the frames (wanted >= " +
                     Percent(o.min_fully_visible_fraction) + ")");
  }
  if (!internal::InBand(r.median_height_fraction, o)) {
    broken.push_back("median height " + Percent(r.median_height_fraction) +
                     " of the frame (wanted " + Percent(o.min_height_fraction) +
                     " to " + Percent(o.max_height_fraction) + ")");
  }
  std::string text;
  for (const std::string& b : broken) text += (text.empty() ? "" : "; ") + b;
  return text;
}

std::string FallbackReason(const Score& best,
                           const PlacementOptions& o,
                           double height_m) {
  char size[48];
  std::snprintf(size, sizeof(size), "%.3g m tall", height_m);
  switch (internal::Tier(best, o)) {
    case 0:
      return "";
    case 1:
      if (best.height_fraction < o.min_height_fraction) {
        return std::string("no free floor spot in view shows the product (") +
               size + ") at >= " + Percent(o.min_height_fraction) +
               " of the frame height at this size; took the nearest free "
               "spot that stays in frame (median " +
               Percent(best.height_fraction) +
               "); give a target height to make it larger";
      }
      return std::string("no free floor spot in view shows the product (") +
             size + ") at <= " + Percent(o.max_height_fraction) +
             " of the frame height; took the farthest free spot that stays "
             "in frame (median " +
             Percent(best.height_fraction) + ")";
    case 2:
      return "no free floor spot keeps the product fully in frame on >= " +
             Percent(o.min_fully_visible_fraction) +
             " of the frames; took the one in frame most often (" +
             Percent(best.fully) + " of the scored frames)";
    default:
      return "every candidate spot has reconstructed points above the floor "
             "at or around it (something stands there); took the one with "
             "the fewest (" +
             std::to_string(best.obstacles) + " points, " +
             std::to_string(best.clusters) + " outlines)";
  }
}

// The best spot of the coarse grid and of its refinement.
Score SearchSpots(const Context& ctx,
                  const ObstacleGrid& obstacles,
                  const Region& region,
                  PlacementReport* counts) {
  const PlacementOptions& o = *ctx.options;
  std::vector<double> heights;
  heights.reserve(ctx.views.size());
  Score best;
  bool have = false;
  const auto consider = [&](const Eigen::Vector2d& spot) {
    const Score s = internal::ScoreSpot(spot, ctx, obstacles, &heights);
    ++counts->candidates;
    if (internal::Tier(s, o) == 0) ++counts->good_candidates;
    if (!have || internal::Better(s, best, o)) best = s;
    have = true;
  };
  const std::vector<Eigen::Vector2d> coarse =
      internal::GridSpots(region, o.grid_size);
  for (const Eigen::Vector2d& spot : coarse) consider(spot);
  const Eigen::Vector2d extent = region.hi - region.lo;
  const double step = std::max(extent.maxCoeff() / (o.grid_size - 1), kMinStep);
  const Eigen::Vector2d centre = best.spot;
  for (int i = -kRefineHalf; i <= kRefineHalf; ++i) {
    for (int j = -kRefineHalf; j <= kRefineHalf; ++j) {
      if (i == 0 && j == 0) continue;
      consider(centre + (step / 3.0) * Eigen::Vector2d(i, j));
    }
  }
  return best;
}

}  // namespace

void PlacementOptions::Check() const {
  const auto fail =
      [](const std::string& field, double value, const std::string& rule) {
        internal::ThrowBadOption("PlacementOptions", field, value, rule);
      };
  if (target_height_m &&
      !(std::isfinite(*target_height_m) && *target_height_m > 0.0)) {
    fail("target_height_m", *target_height_m, "must be > 0 metres");
  }
  if (!(min_height_fraction > 0.0)) {
    fail("min_height_fraction", min_height_fraction, "must be > 0");
  }
  if (!(preferred_height_fraction > min_height_fraction)) {
    fail("preferred_height_fraction",
         preferred_height_fraction,
         "must be > min_height_fraction");
  }
  if (!(max_height_fraction > preferred_height_fraction &&
        max_height_fraction <= 1.0)) {
    fail("max_height_fraction",
         max_height_fraction,
         "must be > preferred_height_fraction and <= 1");
  }
  if (!(min_fully_visible_fraction > 0.0 &&
        min_fully_visible_fraction <= 1.0)) {
    fail("min_fully_visible_fraction",
         min_fully_visible_fraction,
         "must be in (0, 1]");
  }
  if (!(std::isfinite(border_px) && border_px >= 0.0)) {
    fail("border_px", border_px, "must be >= 0 pixels");
  }
  if (grid_size < 4 || grid_size > 1000) {
    fail("grid_size", grid_size, "must be between 4 and 1000");
  }
  if (max_scoring_frames < 1) {
    fail("max_scoring_frames", max_scoring_frames, "must be >= 1");
  }
  if (!(std::isfinite(floor_clearance_m) && floor_clearance_m > 0.0)) {
    fail("floor_clearance_m", floor_clearance_m, "must be > 0 metres");
  }
  if (!(std::isfinite(obstacle_min_height_m) && obstacle_min_height_m > 0.0)) {
    fail("obstacle_min_height_m", obstacle_min_height_m, "must be > 0 metres");
  }
  if (!(std::isfinite(obstacle_cluster_m) && obstacle_cluster_m > 0.0)) {
    fail("obstacle_cluster_m", obstacle_cluster_m, "must be > 0 metres");
  }
  if (!(std::isfinite(max_outline_m) && max_outline_m > 0.0)) {
    fail("max_outline_m", max_outline_m, "must be > 0 metres");
  }
  if (!(std::isfinite(obstacle_margin_m) && obstacle_margin_m >= 0.0)) {
    fail("obstacle_margin_m", obstacle_margin_m, "must be >= 0 metres");
  }
  if (min_obstacle_points < 1) {
    fail("min_obstacle_points", min_obstacle_points, "must be >= 1");
  }
  if (!(std::isfinite(max_scale) && max_scale >= 1.0)) {
    fail("max_scale", max_scale, "must be >= 1");
  }
}

double HeadingTowardsCameras(const CameraTrack& track,
                             const Eigen::Vector3d& location_m,
                             const ProductBox& box,
                             ProductFront front) {
  Eigen::Vector2d sum = Eigen::Vector2d::Zero();
  for (const TrackedFrame& frame : track.frames) {
    sum += frame.cam_from_world.Inverse().translation.head<2>();
  }
  if (track.frames.empty()) return 0.0;
  return internal::HeadingFor(location_m.head<2>(),
                              sum / static_cast<double>(track.frames.size()),
                              box.size_m,
                              front);
}

PlacementReport EvaluatePlacement(const CameraTrack& track,
                                  const Eigen::Matrix3Xf& points_in_world,
                                  const ProductBox& box,
                                  const Eigen::Vector3d& location_m,
                                  double heading_rad,
                                  double scale,
                                  const PlacementOptions& options) {
  options.Check();
  CheckInputs(track, box, "EvaluatePlacement");
  if (!location_m.allFinite() || !std::isfinite(heading_rad) ||
      !(std::isfinite(scale) && scale > 0.0)) {
    throw InputError(
        "EvaluatePlacement: location, heading and scale must be finite "
        "(scale > 0)");
  }
  const Context all = internal::MakeContext(
      track, box, scale, options, static_cast<int64_t>(track.frames.size()));
  const ObstacleGrid obstacles =
      internal::MakeObstacles(points_in_world, all, options);
  PlacementReport report =
      ReportFor(all, obstacles, location_m.head<2>(), heading_rad);
  report.candidates = 1;
  report.reason = RuleBreaks(report, options);
  report.good_candidates = report.reason.empty() ? 1 : 0;
  return report;
}

Placement PlaceProduct(const CameraTrack& track,
                       const Eigen::Matrix3Xf& points_in_world,
                       const ProductBox& box,
                       const PlacementOptions& options) {
  options.Check();
  CheckInputs(track, box, "PlaceProduct");
  Placement result;
  result.scale =
      options.target_height_m ? *options.target_height_m / box.size_m.z() : 1.0;
  const Context ctx = internal::MakeContext(
      track, box, result.scale, options, options.max_scoring_frames);
  const ObstacleGrid obstacles =
      internal::MakeObstacles(points_in_world, ctx, options);
  // Spots farther than twice the distance at which the product is at the
  // smallest wanted size are never preferred: the grid stays where it helps.
  std::vector<double> focal;
  for (const internal::View& view : ctx.views)
    focal.push_back(view.intrinsics.fy);
  const double reach = internal::Median(&focal) * ctx.size_m.z() /
                       (0.5 * options.min_height_fraction * ctx.height);
  std::string prefix;
  Region region = internal::FloorRegion(ctx, reach);
  if (region.Empty()) region = internal::FloorRegion(ctx, 100.0 * reach);
  if (region.Empty()) {
    prefix =
        "no camera ray meets the floor; spots were sought around the "
        "cameras; ";
    for (const internal::View& view : ctx.views) {
      region.Extend(view.centre.head<2>() -
                    Eigen::Vector2d::Constant(kFallbackRadius));
      region.Extend(view.centre.head<2>() +
                    Eigen::Vector2d::Constant(kFallbackRadius));
    }
  }
  PlacementReport counts;
  const Score best = SearchSpots(ctx, obstacles, region, &counts);
  result.location_m = Eigen::Vector3d(best.spot.x(), best.spot.y(), 0.0);
  result.heading_rad = best.heading_rad;
  const std::string fallback = FallbackReason(best, options, ctx.size_m.z());
  result.report = EvaluatePlacement(track,
                                    points_in_world,
                                    box,
                                    result.location_m,
                                    result.heading_rad,
                                    result.scale,
                                    options);
  const double fraction = result.report.median_height_fraction;
  if (options.allow_scale && fraction > 0.0 &&
      fraction < options.min_height_fraction) {
    const double factor = std::min(
        options.max_scale, options.preferred_height_fraction / fraction);
    result.scale *= factor;
    result.report = EvaluatePlacement(track,
                                      points_in_world,
                                      box,
                                      result.location_m,
                                      result.heading_rad,
                                      result.scale,
                                      options);
    prefix += "scaled by " + std::to_string(factor) + " to be seen; ";
  }
  std::string reason = fallback.empty() ? result.report.reason : fallback;
  if (!reason.empty() || !prefix.empty()) reason = prefix + reason;
  result.report.reason = reason;
  result.report.candidates = counts.candidates;
  result.report.good_candidates = counts.good_candidates;
  return result;
}

nlohmann::ordered_json PlacementReportToJson(const PlacementReport& r) {
  return {{"frames", r.frames},
          {"fully_visible", r.fully_visible},
          {"partly_visible", r.partly_visible},
          {"out_of_frame", r.out_of_frame},
          {"fully_visible_fraction", r.FullyVisibleFraction()},
          {"height_px_min", r.height_px_min},
          {"height_px_median", r.height_px_median},
          {"height_px_max", r.height_px_max},
          {"median_height_fraction", r.median_height_fraction},
          {"obstacle_points", r.obstacle_points},
          {"obstacle_clusters", r.obstacle_clusters},
          {"candidates", r.candidates},
          {"good_candidates", r.good_candidates},
          {"reason", r.reason}};
}

nlohmann::ordered_json PlacementToJson(const Placement& placement,
                                       bool automatic) {
  const Eigen::Vector3d& at = placement.location_m;
  return {{"location", {at.x(), at.y(), at.z()}},
          {"heading_deg", placement.heading_rad * 180.0 / M_PI},
          {"scale", placement.scale},
          {"automatic", automatic},
          {"report", PlacementReportToJson(placement.report)},
          {"summary", DescribePlacement(placement)}};
}

std::string DescribePlacement(const Placement& placement) {
  const PlacementReport& r = placement.report;
  char text[512];
  std::snprintf(text,
                sizeof(text),
                "spot (%.3f, %.3f, 0) m, heading %.1f deg, scale %.3g; fully "
                "in frame %lld of %lld frames (%s), partly %lld, out %lld; "
                "height px min/median/max %.0f/%.0f/%.0f (%s of the frame)",
                placement.location_m.x(),
                placement.location_m.y(),
                placement.heading_rad * 180.0 / M_PI,
                placement.scale,
                static_cast<long long>(r.fully_visible),
                static_cast<long long>(r.frames),
                Percent(r.FullyVisibleFraction()).c_str(),
                static_cast<long long>(r.partly_visible),
                static_cast<long long>(r.out_of_frame),
                r.height_px_min,
                r.height_px_median,
                r.height_px_max,
                Percent(r.median_height_fraction).c_str());
  std::string line = text;
  if (!r.reason.empty()) line += "; " + r.reason;
  return line;
}

Placement PlaceOrEvaluate(const CameraTrack& track,
                          const Eigen::Matrix3Xf& points_in_world,
                          const Eigen::Vector3d& size_m,
                          PlacementOptions options,
                          const std::string& front,
                          const std::optional<Eigen::Vector3d>& location_m,
                          double heading_deg) {
  if (front == "widest") {
    options.front = ProductFront::kWidestFace;
  } else if (front != "gltf") {
    throw InputError("place_product: front '" + front +
                     "'; must be 'gltf' or 'widest'");
  }
  ProductBox box;
  box.size_m = size_m;
  if (!location_m) return PlaceProduct(track, points_in_world, box, options);
  options.Check();
  Placement placement;
  placement.location_m = *location_m;
  placement.heading_rad = heading_deg * M_PI / 180.0;
  placement.scale =
      options.target_height_m ? *options.target_height_m / size_m.z() : 1.0;
  placement.report = EvaluatePlacement(track,
                                       points_in_world,
                                       box,
                                       placement.location_m,
                                       placement.heading_rad,
                                       placement.scale,
                                       options);
  return placement;
}

}  // namespace vanelia
