// The environment from the footage (environment_map.hpp).
#include "vanelia/floor/environment_map.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "light_estimate_impl.hpp"

namespace vanelia {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;
// A texel whose frames' weights add up to this is fully seen (one frame
// well inside its image at a moderate parallax); less is blended with the
// filled neighbourhood.
constexpr double kFullWeight = 0.25;

void Require(bool ok,
             const std::string& field,
             double value,
             const std::string& rule) {
  if (!ok) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%g", value);
    throw InputError("EnvironmentMapOptions::" + field + " = " + buffer +
                     "; must be " + rule);
  }
}

// One frame ready to sample (light_estimate_impl.hpp) with the width of
// its border ramp.
struct View : internal::SampledView {
  double ramp_px = 1.0;
};

std::vector<View> SampleViews(const CameraTrack& track,
                              const std::vector<Frame>& frames,
                              const EnvironmentMapOptions& options) {
  std::vector<View> views;
  for (const internal::SampledView& sampled :
       internal::SampleViews(track,
                             frames,
                             static_cast<size_t>(options.max_frames),
                             "BuildEnvironmentMap")) {
    View view;
    static_cast<internal::SampledView&>(view) = sampled;
    view.ramp_px =
        std::max(1.0,
                 options.border_fraction *
                     std::min(sampled.image->width, sampled.image->height));
    views.push_back(view);
  }
  return views;
}

// Bilinear linear RGB at (u, v) inside [0, w - 1] x [0, h - 1].
Eigen::Vector3f SampleLinear(const Image& image, double u, double v) {
  const auto& lut = internal::LinearFromSrgb();
  const int x0 = std::min(static_cast<int>(u), image.width - 2);
  const int y0 = std::min(static_cast<int>(v), image.height - 2);
  const float fx = static_cast<float>(u - x0);
  const float fy = static_cast<float>(v - y0);
  Eigen::Vector3f out;
  for (int c = 0; c < 3; ++c) {
    const int ch = image.channels >= 3 ? c : 0;
    const float a = lut[image.At(x0, y0, ch)];
    const float b = lut[image.At(x0 + 1, y0, ch)];
    const float d = lut[image.At(x0, y0 + 1, ch)];
    const float e = lut[image.At(x0 + 1, y0 + 1, ch)];
    out[c] = (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy;
  }
  return out;
}

double SmoothStep(double t) {
  t = std::clamp(t, 0.0, 1.0);
  return t * t * (3.0 - 2.0 * t);
}

// One level of the pull-push pyramid: colour and its weight (0..1).
struct Level {
  int w = 0;
  int h = 0;
  std::vector<Eigen::Vector3f> c;
  std::vector<float> a;
};

// Bilinear colour of `level` at texel coordinates (x, y) (centres at
// integers), wrapping in x (azimuth) and clamping in y.
Eigen::Vector3f SampleLevel(const Level& level, double x, double y) {
  y = std::clamp(y, 0.0, static_cast<double>(level.h - 1));
  const int y0 = static_cast<int>(std::floor(y));
  const int y1 = std::min(y0 + 1, level.h - 1);
  const int xf = static_cast<int>(std::floor(x));
  const float fx = static_cast<float>(x - xf);
  const float fy = static_cast<float>(y - y0);
  const int x0 = ((xf % level.w) + level.w) % level.w;
  const int x1 = (x0 + 1) % level.w;
  auto at = [&](int xx, int yy) { return level.c[yy * level.w + xx]; };
  return (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) +
         (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
}

// Fills the texels of weight < 1 from the coarser levels (pull-push).
void PullPush(Level* base, const Eigen::Vector3f& fallback) {
  std::vector<Level> levels;
  levels.push_back(std::move(*base));
  while (levels.back().w > 1 || levels.back().h > 1) {
    const Level& fine = levels.back();
    Level coarse;
    coarse.w = (fine.w + 1) / 2;
    coarse.h = (fine.h + 1) / 2;
    coarse.c.assign(static_cast<size_t>(coarse.w) * coarse.h,
                    Eigen::Vector3f::Zero());
    coarse.a.assign(coarse.c.size(), 0.0f);
    for (int y = 0; y < coarse.h; ++y) {
      for (int x = 0; x < coarse.w; ++x) {
        Eigen::Vector3f sum = Eigen::Vector3f::Zero();
        float weight = 0.0f;
        for (int dy = 0; dy < 2; ++dy) {
          for (int dx = 0; dx < 2; ++dx) {
            const int fx = 2 * x + dx, fy = 2 * y + dy;
            if (fx >= fine.w || fy >= fine.h) continue;
            const size_t i = static_cast<size_t>(fy) * fine.w + fx;
            sum += fine.a[i] * fine.c[i];
            weight += fine.a[i];
          }
        }
        const size_t o = static_cast<size_t>(y) * coarse.w + x;
        if (weight > 0.0f) coarse.c[o] = sum / weight;
        coarse.a[o] = std::min(1.0f, weight);
      }
    }
    levels.push_back(std::move(coarse));
  }
  Level& top = levels.back();
  if (top.a[0] <= 0.0f) top.c[0] = fallback;
  top.a[0] = 1.0f;
  for (size_t l = levels.size() - 1; l-- > 0;) {
    Level& fine = levels[l];
    const Level& coarse = levels[l + 1];
    const double sx = static_cast<double>(coarse.w) / fine.w;
    const double sy = static_cast<double>(coarse.h) / fine.h;
    for (int y = 0; y < fine.h; ++y) {
      for (int x = 0; x < fine.w; ++x) {
        const size_t i = static_cast<size_t>(y) * fine.w + x;
        const float a = fine.a[i];
        if (a >= 1.0f) continue;
        const Eigen::Vector3f blur =
            SampleLevel(coarse, (x + 0.5) * sx - 0.5, (y + 0.5) * sy - 0.5);
        fine.c[i] = a * fine.c[i] + (1.0f - a) * blur;
        fine.a[i] = 1.0f;
      }
    }
  }
  *base = std::move(levels.front());
}

float Median(std::vector<float> values) {
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  return values[mid];
}

// The colour the views give direction `d` looking at `p` (on the floor or
// on the sphere): their weighted mean in `colour`; returns the weight sum.
double SampleTexel(const std::vector<View>& views,
                   const Eigen::Vector3d& d,
                   const Eigen::Vector3d& p,
                   bool on_floor,
                   double max_parallax_rad,
                   Eigen::Vector3f* colour) {
  const Eigen::Vector4d ph(p.x(), p.y(), p.z(), 1.0);
  const double cos_max = std::cos(max_parallax_rad);
  Eigen::Vector3f sum = Eigen::Vector3f::Zero();
  double weight = 0.0;
  for (const View& view : views) {
    const Eigen::Vector3d q = view.projection * ph;
    if (q.z() <= 1e-9) continue;
    const double u = q.x() / q.z(), v = q.y() / q.z();
    const int w = view.image->width, h = view.image->height;
    if (!(u >= 0.0 && v >= 0.0 && u <= w - 1 && v <= h - 1)) continue;
    const double border = std::min({u, w - 1 - u, v, h - 1 - v});
    double wt = SmoothStep(border / view.ramp_px);
    if (!on_floor) {
      // Parallax: the camera's ray to p against the map's direction.
      const double c = (p - view.centre).normalized().dot(d);
      if (c <= cos_max) continue;
      wt *= 1.0 - std::acos(std::min(1.0, c)) / max_parallax_rad;
    } else if (view.centre.z() <= 0.0) {
      continue;  // under the floor
    }
    if (wt <= 0.0) continue;
    sum += static_cast<float>(wt) * SampleLinear(*view.image, u, v);
    weight += wt;
  }
  if (weight > 0.0) *colour = sum / static_cast<float>(weight);
  return weight;
}

// Every texel of the map centred at `o` sampled from the views (colour and
// how much it was seen, 0..1); `on_floor` marks those looking at the floor.
Level SampleTexels(const std::vector<View>& views,
                   const Eigen::Vector3d& o,
                   const EnvironmentMapOptions& options,
                   std::vector<uint8_t>* on_floor) {
  Level base;
  base.w = options.width;
  base.h = options.width / 2;
  const size_t texels = static_cast<size_t>(base.w) * base.h;
  base.c.assign(texels, Eigen::Vector3f::Zero());
  base.a.assign(texels, 0.0f);
  on_floor->assign(texels, 0);
  for (int y = 0; y < base.h; ++y) {
    for (int x = 0; x < base.w; ++x) {
      const size_t i = static_cast<size_t>(y) * base.w + x;
      const Eigen::Vector3d d = EnvironmentDirection(base.w, base.h, x, y);
      double t = options.radius_m;
      if (d.z() < 0.0 && o.z() > 0.0 && o.z() / -d.z() <= options.radius_m) {
        t = o.z() / -d.z();
        (*on_floor)[i] = 1;
      }
      const double weight = SampleTexel(views,
                                        d,
                                        o + t * d,
                                        (*on_floor)[i] != 0,
                                        options.max_parallax_deg * kDeg,
                                        &base.c[i]);
      base.a[i] = static_cast<float>(std::min(1.0, weight / kFullWeight));
    }
  }
  return base;
}

// The median colour of the well seen floor texels; none when there are none.
std::optional<Eigen::Vector3d> FloorColour(
    const Level& base, const std::vector<uint8_t>& on_floor) {
  std::array<std::vector<float>, 3> values;
  for (size_t i = 0; i < base.c.size(); ++i) {
    if (on_floor[i] && base.a[i] >= 0.5f) {
      for (int c = 0; c < 3; ++c) values[c].push_back(base.c[i][c]);
    }
  }
  if (values[0].empty()) return std::nullopt;
  return Eigen::Vector3d(
      Median(values[0]), Median(values[1]), Median(values[2]));
}

// The solid-angle shares seen into `map` (and its `seen`), then the unseen
// part of every texel below the horizon filled with `floor`.
void ShareSeen(const Eigen::Vector3f& floor, Level* base, EnvironmentMap* map) {
  map->seen = base->a;
  double all = 0, all_seen = 0, up = 0, up_seen = 0, down = 0, down_seen = 0;
  for (int y = 0; y < base->h; ++y) {
    const double elevation = (0.5 - (y + 0.5) / base->h) * kPi;
    const double solid = std::cos(elevation);
    for (int x = 0; x < base->w; ++x) {
      const size_t i = static_cast<size_t>(y) * base->w + x;
      const float a = base->a[i];
      all += solid;
      all_seen += solid * a;
      (elevation > 0 ? up : down) += solid;
      (elevation > 0 ? up_seen : down_seen) += solid * a;
      if (elevation < 0.0 && a < 1.0f) {
        base->c[i] = a * base->c[i] + (1.0f - a) * floor;
        base->a[i] = 1.0f;
      }
    }
  }
  map->seen_fraction = all_seen / all;
  map->seen_above = up_seen / up;
  map->seen_below = down_seen / down;
}

}  // namespace

void EnvironmentMapOptions::Check() const {
  Require(width >= 16 && width <= 8192 && width % 2 == 0,
          "width",
          width,
          "even, 16 to 8192");
  Require(max_frames >= 1, "max_frames", max_frames, ">= 1");
  Require(std::isfinite(centre_height_m) && centre_height_m >= 0.0,
          "centre_height_m",
          centre_height_m,
          ">= 0");
  Require(
      std::isfinite(radius_m) && radius_m > 0.0, "radius_m", radius_m, "> 0");
  Require(border_fraction > 0.0 && border_fraction <= 0.5,
          "border_fraction",
          border_fraction,
          "in (0, 0.5]");
  Require(max_parallax_deg > 0.0 && max_parallax_deg <= 90.0,
          "max_parallax_deg",
          max_parallax_deg,
          "in (0, 90]");
}

Eigen::Vector3d EnvironmentDirection(int width, int height, int x, int y) {
  const double azimuth = (0.5 - (x + 0.5) / width) * 2.0 * kPi;
  const double elevation = (0.5 - (y + 0.5) / height) * kPi;
  return {std::cos(elevation) * std::cos(azimuth),
          std::cos(elevation) * std::sin(azimuth),
          std::sin(elevation)};
}

EnvironmentMap BuildEnvironmentMap(const CameraTrack& track,
                                   const std::vector<Frame>& frames,
                                   const Eigen::Vector3d& spot_m,
                                   const EnvironmentMapOptions& options) {
  options.Check();
  if (track.frames.empty()) {
    throw InputError("BuildEnvironmentMap: the track has no frames");
  }
  if (track.width <= 0 || track.height <= 0) {
    throw InputError("BuildEnvironmentMap: the track's size " +
                     std::to_string(track.width) + "x" +
                     std::to_string(track.height) + " must be positive");
  }
  if (!spot_m.allFinite()) {
    throw InputError("BuildEnvironmentMap: the spot is not a finite point");
  }
  const std::vector<View> views = SampleViews(track, frames, options);
  EnvironmentMap map;
  map.width = options.width;
  map.height = options.width / 2;
  map.frames_used = static_cast<int64_t>(views.size());
  map.centre_m = spot_m + Eigen::Vector3d(0.0, 0.0, options.centre_height_m);
  std::vector<uint8_t> on_floor;
  Level base = SampleTexels(views, map.centre_m, options, &on_floor);
  if (const auto floor = FloorColour(base, on_floor)) map.floor_rgb = *floor;
  const Eigen::Vector3f floor = map.floor_rgb.cast<float>();
  ShareSeen(floor, &base, &map);
  PullPush(&base, floor);
  const size_t texels = base.c.size();
  map.rgb.resize(texels * 3);
  for (size_t i = 0; i < texels; ++i) {
    for (int c = 0; c < 3; ++c) map.rgb[3 * i + c] = base.c[i][c];
  }
  return map;
}

void WriteEnvironmentHdr(const EnvironmentMap& map,
                         const std::string& path,
                         bool overwrite) {
  if (map.width <= 0 || map.height <= 0 ||
      map.rgb.size() != static_cast<size_t>(map.width) * map.height * 3) {
    throw InputError("WriteEnvironmentHdr '" + path +
                     "': the map has no pixels");
  }
  std::string out = "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y " +
                    std::to_string(map.height) + " +X " +
                    std::to_string(map.width) + "\n";
  out.reserve(out.size() + map.rgb.size() / 3 * 4);
  for (size_t i = 0; i < map.rgb.size(); i += 3) {
    const float r = std::max(0.0f, map.rgb[i]);
    const float g = std::max(0.0f, map.rgb[i + 1]);
    const float b = std::max(0.0f, map.rgb[i + 2]);
    const float m = std::max({r, g, b});
    if (!(m >= 1e-32f) || !std::isfinite(m)) {
      out.append(4, '\0');
      continue;
    }
    int exponent = 0;
    const float scale = std::frexp(m, &exponent) * 256.0f / m;
    out.push_back(static_cast<char>(static_cast<uint8_t>(r * scale)));
    out.push_back(static_cast<char>(static_cast<uint8_t>(g * scale)));
    out.push_back(static_cast<char>(static_cast<uint8_t>(b * scale)));
    out.push_back(static_cast<char>(static_cast<uint8_t>(exponent + 128)));
  }
  WriteFileAtomic(path, out, overwrite);
}

std::string DescribeEnvironment(const EnvironmentMap& map) {
  char buffer[256];
  std::snprintf(buffer,
                sizeof(buffer),
                "%dx%d, %.0f%% of the sphere seen (%.0f%% above, %.0f%% below "
                "the horizon) from %lld frames, floor (%.3f, %.3f, %.3f)",
                map.width,
                map.height,
                100.0 * map.seen_fraction,
                100.0 * map.seen_above,
                100.0 * map.seen_below,
                static_cast<long long>(map.frames_used),
                map.floor_rgb.x(),
                map.floor_rgb.y(),
                map.floor_rgb.z());
  return buffer;
}

}  // namespace vanelia
