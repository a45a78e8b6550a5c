// The key light from the footage's cast shadows (light_estimate.hpp).
#include "vanelia/floor/light_estimate.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/option_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "light_estimate_impl.hpp"

namespace vanelia {
namespace {

using internal::FloorMap;
using internal::SampledView;
using internal::ShadowCaster;

constexpr double kDeg = M_PI / 180.0;
constexpr double kCoarseStepDeg = 2.0;  // grid search
constexpr double kFineStepDeg = 0.5;    // refinement around the best
constexpr int kMinFloorCells = 50;
constexpr int kMinShadowCells = 10;

void Require(bool ok,
             const std::string& field,
             double value,
             const std::string& rule) {
  if (!ok)
    internal::ThrowBadOption(
        "LightEstimateOptions", field, value, "must be " + rule);
}

struct Fit {
  double correlation = -2.0;
  double azimuth_deg = 0.0;
  double elevation_deg = 90.0;
};

// Pearson correlation of each direction's shadow mask with the darkness.
class ShadowFitter {
 public:
  ShadowFitter(const FloorMap& map,
               const std::vector<ShadowCaster>& casters,
               double max_length_m)
      : map_(map),
        casters_(casters),
        max_length_m_(max_length_m),
        stamps_(map.valid.size(), -1) {
    for (size_t i = 0; i < map.valid.size(); ++i) {
      if (!map.valid[i]) continue;
      ++n_;
      sum_ += map.darkness[i];
      sum_sq_ += static_cast<double>(map.darkness[i]) * map.darkness[i];
    }
  }

  int64_t FloorCells() const { return n_; }

  // The shadow cells of a direction (azimuth: where the light comes from).
  const std::vector<int>& Cells(double azimuth_deg, double elevation_deg) {
    cells_.clear();
    const Eigen::Vector2d away(-std::cos(azimuth_deg * kDeg),
                               -std::sin(azimuth_deg * kDeg));
    internal::RasteriseShadows(map_,
                               casters_,
                               away,
                               elevation_deg * kDeg,
                               max_length_m_,
                               ++stamp_,
                               &stamps_,
                               &cells_);
    return cells_;
  }

  double Correlation(double azimuth_deg, double elevation_deg) {
    const std::vector<int>& cells = Cells(azimuth_deg, elevation_deg);
    const double m = static_cast<double>(cells.size());
    const double n = static_cast<double>(n_);
    if (m < 1 || m >= n) return -1.0;
    double inside = 0.0;
    for (const int i : cells) inside += map_.darkness[i];
    const double var_d = sum_sq_ - sum_ * sum_ / n;
    const double var_m = m * (1.0 - m / n);
    if (var_d <= 1e-12) return 0.0;
    return (inside - m * sum_ / n) / std::sqrt(var_d * var_m);
  }

  Fit Search(const LightEstimateOptions& o) {
    Fit best;
    auto grid = [&](double az_lo,
                    double az_hi,
                    double el_lo,
                    double el_hi,
                    double step) {
      for (double az = az_lo; az < az_hi + 1e-9; az += step) {
        for (double el = std::max(el_lo, o.min_elevation_deg);
             el <= std::min(el_hi, o.max_elevation_deg) + 1e-9;
             el += step) {
          const double c = Correlation(az, el);
          if (c > best.correlation) best = {c, az, el};
        }
      }
    };
    grid(-180.0,
         180.0 - kCoarseStepDeg,
         o.min_elevation_deg,
         o.max_elevation_deg,
         kCoarseStepDeg);
    const Fit coarse = best;
    grid(coarse.azimuth_deg - kCoarseStepDeg,
         coarse.azimuth_deg + kCoarseStepDeg,
         coarse.elevation_deg - kCoarseStepDeg,
         coarse.elevation_deg + kCoarseStepDeg,
         kFineStepDeg);
    best.azimuth_deg = std::remainder(best.azimuth_deg, 360.0);
    return best;
  }

 private:
  const FloorMap& map_;
  const std::vector<ShadowCaster>& casters_;
  double max_length_m_;
  std::vector<int> stamps_;
  std::vector<int> cells_;
  int stamp_ = 0;
  int64_t n_ = 0;
  double sum_ = 0.0;
  double sum_sq_ = 0.0;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

// Median linear RGB of the listed cells.
Eigen::Vector3d MedianRgb(const FloorMap& map, const std::vector<int>& cells) {
  Eigen::Vector3d out;
  for (int c = 0; c < 3; ++c) {
    std::vector<double> v;
    v.reserve(cells.size());
    for (const int i : cells) v.push_back(map.rgb[i][c]);
    out[c] = Median(v);
  }
  return out;
}

double LuminanceOf(const Eigen::Vector3d& rgb) {
  return 0.2126 * rgb.x() + 0.7152 * rgb.y() + 0.0722 * rgb.z();
}

LightEstimate Unsupported(LightEstimate e, const std::string& reason) {
  e.supported = false;
  e.azimuth_deg = 0.0;
  e.elevation_deg = 90.0;
  e.direction = Eigen::Vector3d(0.0, 0.0, -1.0);
  e.confidence = 0.0;
  e.ambient_fraction = 1.0;
  e.key_to_ambient = 0.0;
  e.ambient_rgb = Eigen::Vector3d::Ones();
  // No shadow to split the floor's light: all of it is the sky's.
  e.sun_rgb = Eigen::Vector3d::Zero();
  e.sky_rgb = Eigen::Vector3d::Zero();
  if (e.floor_albedo > 0 && e.lit_floor_rgb.maxCoeff() > 0) {
    e.sky_rgb = e.lit_floor_rgb / e.floor_albedo;
  }
  e.reason = reason;
  return e;
}

}  // namespace

void LightEstimateOptions::Check() const {
  Require(max_frames >= 1, "max_frames", max_frames, ">= 1");
  Require(cell_m > 0 && std::isfinite(cell_m), "cell_m", cell_m, "> 0");
  Require(floor_clearance_m > 0, "floor_clearance_m", floor_clearance_m, "> 0");
  Require(object_min_height_m > floor_clearance_m,
          "object_min_height_m",
          object_min_height_m,
          "> floor_clearance_m");
  Require(object_cluster_m > 0, "object_cluster_m", object_cluster_m, "> 0");
  Require(
      min_object_points >= 3, "min_object_points", min_object_points, ">= 3");
  Require(
      max_object_width_m > 0, "max_object_width_m", max_object_width_m, "> 0");
  Require(max_shadow_length_m > 0,
          "max_shadow_length_m",
          max_shadow_length_m,
          "> 0");
  Require(min_elevation_deg > 0 && min_elevation_deg < max_elevation_deg,
          "min_elevation_deg",
          min_elevation_deg,
          "in (0, max_elevation_deg)");
  Require(
      max_elevation_deg < 90, "max_elevation_deg", max_elevation_deg, "< 90");
  Require(object_margin_m >= 0, "object_margin_m", object_margin_m, ">= 0");
  Require(lit_percentile > 0 && lit_percentile < 100,
          "lit_percentile",
          lit_percentile,
          "in (0, 100)");
  Require(lit_block_m > 0, "lit_block_m", lit_block_m, "> 0");
  Require(min_view_elevation_deg >= 0 && min_view_elevation_deg < 90,
          "min_view_elevation_deg",
          min_view_elevation_deg,
          "in [0, 90)");
  Require(max_view_spread >= 0, "max_view_spread", max_view_spread, ">= 0");
  Require(min_correlation >= 0 && min_correlation <= 1,
          "min_correlation",
          min_correlation,
          "in [0, 1]");
  Require(max_ambient_fraction >= 0 && max_ambient_fraction <= 1,
          "max_ambient_fraction",
          max_ambient_fraction,
          "in [0, 1]");
  Require(floor_albedo > 0 && floor_albedo <= 1,
          "floor_albedo",
          floor_albedo,
          "in (0, 1]");
}

Eigen::Vector3d SunTravelDirection(double azimuth_deg, double elevation_deg) {
  const double az = azimuth_deg * kDeg, el = elevation_deg * kDeg;
  return -Eigen::Vector3d(
      std::cos(el) * std::cos(az), std::cos(el) * std::sin(az), std::sin(el));
}

LightEstimate EstimateLight(const CameraTrack& track,
                            const Eigen::Matrix3Xf& points_in_world,
                            const std::vector<Frame>& frames,
                            const LightEstimateOptions& options) {
  options.Check();
  if (track.frames.empty() || track.width <= 0 || track.height <= 0) {
    throw InputError(
        "EstimateLight: track has " + std::to_string(track.frames.size()) +
        " frames and size " + std::to_string(track.width) + "x" +
        std::to_string(track.height) + "; must have frames and a size");
  }
  const std::vector<SampledView> views = internal::SampleViews(
      track, frames, static_cast<size_t>(options.max_frames), "EstimateLight");
  LightEstimate e;
  e.frames_used = static_cast<int64_t>(views.size());
  const std::vector<ShadowCaster> casters =
      internal::FindShadowCasters(points_in_world, options, &e.objects);
  if (casters.empty()) {
    return Unsupported(e, "no object stands on the floor to cast a shadow");
  }
  const FloorMap map = internal::BuildFloorMap(casters, views, options);
  ShadowFitter fitter(map, casters, options.max_shadow_length_m);
  e.floor_cells = fitter.FloorCells();
  if (e.floor_cells < kMinFloorCells) {
    return Unsupported(e, "the frames see too little floor around objects");
  }
  const Fit fit = fitter.Search(options);
  const std::vector<int> shadow =
      fitter.Cells(fit.azimuth_deg, fit.elevation_deg);
  std::vector<int> lit;
  std::vector<uint8_t> in_shadow(map.valid.size(), 0);
  for (const int i : shadow) in_shadow[i] = 1;
  for (size_t i = 0; i < map.valid.size(); ++i) {
    if (map.valid[i] && !in_shadow[i]) lit.push_back(static_cast<int>(i));
  }
  e.shadow_cells = static_cast<int64_t>(shadow.size());
  e.shadow_floor_rgb = MedianRgb(map, shadow);
  e.lit_floor_rgb = MedianRgb(map, lit);
  e.floor_albedo = options.floor_albedo;
  const double lit_lum = LuminanceOf(e.lit_floor_rgb);
  const double ratio =
      lit_lum > 1e-6 ? LuminanceOf(e.shadow_floor_rgb) / lit_lum : 1.0;
  e.azimuth_deg = fit.azimuth_deg;
  e.elevation_deg = fit.elevation_deg;
  e.direction = SunTravelDirection(fit.azimuth_deg, fit.elevation_deg);
  char why[160];
  if (e.shadow_cells < kMinShadowCells) {
    return Unsupported(e, "no shadow is large enough to measure");
  }
  if (fit.correlation < options.min_correlation) {
    std::snprintf(why,
                  sizeof(why),
                  "no shadow shape matches (best correlation %.2f < %.2f)",
                  fit.correlation,
                  options.min_correlation);
    return Unsupported(e, why);
  }
  if (ratio > options.max_ambient_fraction) {
    std::snprintf(why,
                  sizeof(why),
                  "shadows too faint (shadow/lit %.2f > %.2f): soft or "
                  "overcast light",
                  ratio,
                  options.max_ambient_fraction);
    return Unsupported(e, why);
  }
  e.supported = true;
  e.confidence = std::clamp(fit.correlation, 0.0, 1.0);
  e.ambient_fraction = std::clamp(ratio, 0.0, 1.0);
  e.key_to_ambient = ratio > 1e-6 ? 1.0 / ratio - 1.0 : 100.0;
  Eigen::Vector3d ambient = e.shadow_floor_rgb.cwiseQuotient(
      e.lit_floor_rgb.cwiseMax(Eigen::Vector3d::Constant(1e-6)));
  e.ambient_rgb = Eigen::Vector3d::Ones();
  if (ambient.maxCoeff() > 1e-9) e.ambient_rgb = ambient / ambient.maxCoeff();
  // The plate's light in its own units: the floor's colours over its albedo.
  e.sky_rgb = e.shadow_floor_rgb / e.floor_albedo;
  e.sun_rgb =
      (e.lit_floor_rgb - e.shadow_floor_rgb).cwiseMax(0.0) / e.floor_albedo;
  return e;
}

namespace {

// "; plate light: sun (r, g, b), sky (r, g, b) at floor albedo A", or
// nothing when the floor was not measured.
std::string DescribePlateLight(const LightEstimate& e) {
  if (e.floor_albedo <= 0) return "";
  char buffer[160];
  std::snprintf(buffer,
                sizeof(buffer),
                "; plate light: sun (%.3f, %.3f, %.3f), sky (%.3f, %.3f, %.3f) "
                "at floor albedo %.2f",
                e.sun_rgb.x(),
                e.sun_rgb.y(),
                e.sun_rgb.z(),
                e.sky_rgb.x(),
                e.sky_rgb.y(),
                e.sky_rgb.z(),
                e.floor_albedo);
  return buffer;
}

}  // namespace

std::string DescribeLight(const LightEstimate& e) {
  char buffer[320];
  if (!e.supported) {
    std::snprintf(buffer,
                  sizeof(buffer),
                  "unsupported: %s; soft top-down light (%lld objects, "
                  "%lld frames)",
                  e.reason.c_str(),
                  static_cast<long long>(e.objects),
                  static_cast<long long>(e.frames_used));
    return std::string(buffer) + DescribePlateLight(e);
  }
  std::snprintf(buffer,
                sizeof(buffer),
                "sun from azimuth %.1f deg, elevation %.1f deg (confidence "
                "%.2f), ambient %.2f of the floor light, ambient colour "
                "(%.2f, %.2f, %.2f); %lld objects, %lld/%lld floor cells in "
                "shadow",
                e.azimuth_deg,
                e.elevation_deg,
                e.confidence,
                e.ambient_fraction,
                e.ambient_rgb.x(),
                e.ambient_rgb.y(),
                e.ambient_rgb.z(),
                static_cast<long long>(e.objects),
                static_cast<long long>(e.shadow_cells),
                static_cast<long long>(e.floor_cells));
  return std::string(buffer) + DescribePlateLight(e);
}

}  // namespace vanelia
