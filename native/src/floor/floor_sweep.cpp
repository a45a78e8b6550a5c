#include "vanelia/floor/floor_sweep.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/option_check.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include <Eigen/Core>
#include <Eigen/Geometry>

namespace vanelia {

void FloorSweepOptions::Check() const {
  auto require =
      [](bool ok, const char* field, double value, const char* rule) {
        internal::RequireOption(ok, "FloorSweepOptions", field, value, rule);
      };
  require(range > 0.0 && range < 1.0, "range", range, "must be in (0, 1)");
  require(steps >= 5, "steps", steps, "must be >= 5");
  require(max_width >= 64, "max_width", max_width, "must be >= 64");
  require(fine_sigma_px > 0.0 && fine_sigma_px < coarse_sigma_px,
          "fine_sigma_px",
          fine_sigma_px,
          "must be > 0 and < coarse_sigma_px");
  require(max_distance > 0.0, "max_distance", max_distance, "must be > 0");
  require(min_correlation >= 0.0 && min_correlation < 1.0,
          "min_correlation",
          min_correlation,
          "must be in [0, 1)");
  require(min_peak >= 0.0, "min_peak", min_peak, "must be >= 0");
}

namespace {

// A float grey image, row-major.
struct Grey {
  int width = 0;
  int height = 0;
  std::vector<float> px;

  float At(int x, int y) const {
    return px[static_cast<size_t>(y) * width + x];
  }
};

// Mean of the channels, box-downscaled by `factor`.
Grey ToGrey(const Image& image, int factor) {
  Grey out;
  out.width = image.width / factor;
  out.height = image.height / factor;
  out.px.assign(static_cast<size_t>(out.width) * out.height, 0.0F);
  const float norm =
      1.0F / static_cast<float>(factor * factor * image.channels);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      float sum = 0.0F;
      for (int dy = 0; dy < factor; ++dy) {
        const uint8_t* row = image.Row(y * factor + dy);
        for (int dx = 0; dx < factor * image.channels; ++dx) {
          sum += row[x * factor * image.channels + dx];
        }
      }
      out.px[static_cast<size_t>(y) * out.width + x] = sum * norm;
    }
  }
  return out;
}

// Separable Gaussian blur, borders clamped.
Grey Blur(const Grey& in, double sigma) {
  const int radius = std::max(1, static_cast<int>(std::ceil(3.0 * sigma)));
  std::vector<float> kernel(2 * radius + 1);
  float total = 0.0F;
  for (int i = -radius; i <= radius; ++i) {
    kernel[i + radius] =
        static_cast<float>(std::exp(-0.5 * i * i / (sigma * sigma)));
    total += kernel[i + radius];
  }
  for (float& k : kernel) k /= total;
  Grey tmp = in;
  Grey out = in;
  for (int y = 0; y < in.height; ++y) {
    for (int x = 0; x < in.width; ++x) {
      float s = 0.0F;
      for (int i = -radius; i <= radius; ++i) {
        s += kernel[i + radius] * in.At(std::clamp(x + i, 0, in.width - 1), y);
      }
      tmp.px[static_cast<size_t>(y) * in.width + x] = s;
    }
  }
  for (int y = 0; y < in.height; ++y) {
    for (int x = 0; x < in.width; ++x) {
      float s = 0.0F;
      for (int i = -radius; i <= radius; ++i) {
        s +=
            kernel[i + radius] * tmp.At(x, std::clamp(y + i, 0, in.height - 1));
      }
      out.px[static_cast<size_t>(y) * in.width + x] = s;
    }
  }
  return out;
}

// Fine blur minus coarse blur: the floor's texture and shadow edges, without
// the render or sensor noise and without the slow shading.
Grey BandPass(const Grey& grey, double fine, double coarse) {
  Grey out = Blur(grey, fine);
  const Grey low = Blur(grey, coarse);
  for (size_t i = 0; i < out.px.size(); ++i) out.px[i] -= low.px[i];
  return out;
}

// Bilinear sample; false outside the image.
bool Sample(const Grey& g, double x, double y, float* value) {
  if (!(x >= 0.0 && y >= 0.0 && x <= g.width - 1.0 && y <= g.height - 1.0)) {
    return false;
  }
  const int x0 = std::min(static_cast<int>(x), g.width - 2);
  const int y0 = std::min(static_cast<int>(y), g.height - 2);
  const auto fx = static_cast<float>(x - x0);
  const auto fy = static_cast<float>(y - y0);
  const float top = g.At(x0, y0) * (1 - fx) + g.At(x0 + 1, y0) * fx;
  const float bottom = g.At(x0, y0 + 1) * (1 - fx) + g.At(x0 + 1, y0 + 1) * fx;
  *value = top * (1 - fy) + bottom * fy;
  return true;
}

// One view at the sweep's size: its band-passed image and camera.
struct SweepView {
  Grey band;
  Eigen::Matrix3d rotation;  // cam_from_world
  Eigen::Vector3d translation;
  double fx = 0.0, fy = 0.0, cx = 0.0, cy = 0.0;
};

const TrackedFrame* FindFrame(const CameraTrack& track, int64_t index) {
  for (const TrackedFrame& f : track.frames) {
    if (f.index == index) return &f;
  }
  return nullptr;
}

// Zero-mean normalised cross-correlation of the reference values and the
// view sampled at the floor points of height offset `offset`.
double Correlation(const std::vector<Eigen::Vector3d>& dirs,
                   const std::vector<float>& ref,
                   const Eigen::Vector3d& centre,
                   const Eigen::Vector3d& normal,
                   double offset,
                   double max_t,
                   const SweepView& view) {
  const double base = normal.dot(centre) + offset;
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  size_t n = 0;
  for (size_t i = 0; i < dirs.size(); ++i) {
    const double den = normal.dot(dirs[i]);
    if (den >= 0.0) continue;
    const double t = -base / den;
    if (t <= 0.0 || t > max_t) continue;
    const Eigen::Vector3d x =
        view.rotation * (centre + t * dirs[i]) + view.translation;
    if (x.z() <= 0.0) continue;
    float b = 0.0F;
    if (!Sample(view.band,
                view.fx * x.x() / x.z() + view.cx,
                view.fy * x.y() / x.z() + view.cy,
                &b)) {
      continue;
    }
    const double a = ref[i];
    sa += a;
    sb += b;
    saa += a * a;
    sbb += static_cast<double>(b) * b;
    sab += a * b;
    ++n;
  }
  if (n < 100) return std::numeric_limits<double>::quiet_NaN();
  const double m = static_cast<double>(n);
  const double va = saa - sa * sa / m;
  const double vb = sbb - sb * sb / m;
  if (!(va > 0.0 && vb > 0.0)) return std::numeric_limits<double>::quiet_NaN();
  return (sab - sa * sb / m) / std::sqrt(va * vb);
}

// The views of `track`'s frames in `views` (of the track's size), as
// band-passed grey images at most options.max_width wide with their
// cameras scaled to match.
std::vector<SweepView> SweepViews(const CameraTrack& track,
                                  const std::vector<FloorView>& views,
                                  const FloorSweepOptions& options) {
  const int factor =
      std::max(1, (track.width + options.max_width - 1) / options.max_width);
  const double px_scale = static_cast<double>(track.width) / factor / 640.0;
  const double fine = std::max(0.5, options.fine_sigma_px * px_scale);
  const double coarse =
      std::max(2.0 * fine, options.coarse_sigma_px * px_scale);
  std::vector<SweepView> swept;
  for (const FloorView& v : views) {
    const TrackedFrame* frame = FindFrame(track, v.index);
    if (frame == nullptr || v.image.width != track.width ||
        v.image.height != track.height || v.image.Empty()) {
      continue;
    }
    SweepView s;
    s.band = BandPass(ToGrey(v.image, factor), fine, coarse);
    s.rotation = frame->cam_from_world.rotation.toRotationMatrix();
    s.translation = frame->cam_from_world.translation;
    s.fx = frame->intrinsics.fx / factor;
    s.fy = frame->intrinsics.fy / factor;
    s.cx = (frame->intrinsics.cx + 0.5) / factor - 0.5;
    s.cy = (frame->intrinsics.cy + 0.5) / factor - 0.5;
    swept.push_back(std::move(s));
  }
  return swept;
}

}  // namespace

std::vector<int64_t> FloorSweepFrames(const CameraTrack& track, int count) {
  std::vector<int64_t> out;
  const auto n = static_cast<int64_t>(track.frames.size());
  if (n == 0 || count < 1) return out;
  for (int k = 0; k < count; ++k) {
    const int64_t i = count == 1 ? 0 : k * (n - 1) / (count - 1);
    const int64_t index = track.frames[static_cast<size_t>(i)].index;
    if (out.empty() || out.back() != index) out.push_back(index);
  }
  return out;
}

std::optional<FloorSweepResult> SweepFloorHeight(
    const CameraTrack& track,
    const Plane3d& plane,
    const std::vector<FloorView>& views,
    const FloorSweepOptions& options) {
  options.Check();
  if (views.size() < 2 || track.width <= 0) return std::nullopt;
  const std::vector<SweepView> swept = SweepViews(track, views, options);
  if (swept.size() < 2) return std::nullopt;
  // The reference: rays of the first view's pixels, in the world.
  const SweepView& ref = swept.front();
  const Eigen::Vector3d centre = -ref.rotation.transpose() * ref.translation;
  const double height = plane.SignedDistance(centre);
  if (!(height > 0.0)) return std::nullopt;
  std::vector<Eigen::Vector3d> dirs;
  std::vector<float> values;
  for (int y = 0; y < ref.band.height; ++y) {
    for (int x = 0; x < ref.band.width; ++x) {
      const Eigen::Vector3d d =
          ref.rotation.transpose() *
          Eigen::Vector3d((x - ref.cx) / ref.fx, (y - ref.cy) / ref.fy, 1.0);
      if (plane.normal.dot(d) >= 0.0) continue;  // at or above the horizon
      dirs.push_back(d);
      values.push_back(ref.band.At(x, y));
    }
  }
  // A ray's parameter t is its depth (z = 1 in the camera).
  const double max_t = options.max_distance * height;
  std::vector<double> score(options.steps, 0.0);
  std::vector<int> count(options.steps, 0);
  const double base_offset = plane.offset;
  for (int k = 0; k < options.steps; ++k) {
    const double h = height * (1.0 - options.range +
                               2.0 * options.range * k / (options.steps - 1));
    const double offset = base_offset + (h - height);
    for (size_t v = 1; v < swept.size(); ++v) {
      const double c = Correlation(
          dirs, values, centre, plane.normal, offset, max_t, swept[v]);
      if (std::isfinite(c)) {
        score[k] += c;
        ++count[k];
      }
    }
  }
  const int views_used = *std::min_element(count.begin(), count.end());
  if (views_used < 1) return std::nullopt;
  for (int k = 0; k < options.steps; ++k) score[k] /= count[k];
  const int best = static_cast<int>(
      std::max_element(score.begin(), score.end()) - score.begin());
  FloorSweepResult result;
  result.correlation = score[best];
  result.peak = score[best] - std::min(score.front(), score.back());
  result.views = views_used;
  if (best == 0 || best == options.steps - 1 ||
      result.correlation < options.min_correlation ||
      result.peak < options.min_peak) {
    return std::nullopt;
  }
  // Parabola through the best step and its neighbours.
  const double a = score[best - 1];
  const double b = score[best];
  const double c = score[best + 1];
  const double curvature = a - 2.0 * b + c;
  const double shift =
      curvature < 0.0 ? std::clamp(0.5 * (a - c) / curvature, -0.5, 0.5) : 0.0;
  const double h =
      height * (1.0 - options.range +
                2.0 * options.range * (best + shift) / (options.steps - 1));
  result.plane = plane;
  result.plane.offset = base_offset + (h - height);
  return result;
}

}  // namespace vanelia
