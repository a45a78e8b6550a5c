// The plate's shutter from its motion blur (shutter_estimate.hpp).
#include "vanelia/floor/shutter_estimate.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/option_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Geometry>

namespace vanelia {
namespace {

void Require(bool ok,
             const std::string& field,
             double value,
             const std::string& rule) {
  if (!ok)
    internal::ThrowBadOption(
        "ShutterEstimateOptions", field, value, "must be " + rule);
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  return values[mid];
}

// A camera scaled to a frame of width x height: K, R, centre.
struct View {
  Eigen::Matrix3d k;
  Eigen::Matrix3d r;  // cam_from_world rotation
  Eigen::Vector3d t;  // cam_from_world translation
  Eigen::Vector3d centre;
};

View ViewOf(const CameraTrack& track, size_t position, int width, int height) {
  const TrackedFrame& f = track.frames[position];
  const int w = f.intrinsics.width > 0 ? f.intrinsics.width : track.width;
  const int h = f.intrinsics.height > 0 ? f.intrinsics.height : track.height;
  // Pixel centres at integers: scale about (-0.5, -0.5).
  const double sx = static_cast<double>(width) / w;
  const double sy = static_cast<double>(height) / h;
  View v;
  v.k = Eigen::Matrix3d::Identity();
  v.k(0, 0) = f.intrinsics.fx * sx;
  v.k(1, 1) = f.intrinsics.fy * sy;
  v.k(0, 2) = (f.intrinsics.cx + 0.5) * sx - 0.5;
  v.k(1, 2) = (f.intrinsics.cy + 0.5) * sy - 0.5;
  v.r = f.cam_from_world.rotation.toRotationMatrix();
  v.t = f.cam_from_world.translation;
  v.centre = -v.r.transpose() * v.t;
  return v;
}

// The pixel of world point x in `view`; false behind the camera.
bool Project(const View& view, const Eigen::Vector3d& x, Eigen::Vector2d* px) {
  const Eigen::Vector3d c = view.r * x + view.t;
  if (c.z() <= 1e-9) return false;
  const Eigen::Vector3d p = view.k * c;
  *px = p.head<2>() / p.z();
  return true;
}

// Luma of an RGB (or grey) image as floats, 0..255.
struct Luma {
  int width = 0;
  int height = 0;
  std::vector<float> v;

  float At(int x, int y) const { return v[static_cast<size_t>(y) * width + x]; }

  // Bilinear; the caller keeps (x, y) inside [0, w-1] x [0, h-1].
  float Sample(double x, double y) const {
    const int x0 = std::clamp(static_cast<int>(std::floor(x)), 0, width - 2);
    const int y0 = std::clamp(static_cast<int>(std::floor(y)), 0, height - 2);
    const float fx = static_cast<float>(x - x0),
                fy = static_cast<float>(y - y0);
    const float a = At(x0, y0), b = At(x0 + 1, y0);
    const float c = At(x0, y0 + 1), d = At(x0 + 1, y0 + 1);
    return (a + (b - a) * fx) * (1.0f - fy) + (c + (d - c) * fx) * fy;
  }
};

Luma LumaOf(const Image& image) {
  Luma l;
  l.width = image.width;
  l.height = image.height;
  l.v.resize(static_cast<size_t>(l.width) * l.height);
  for (int y = 0; y < l.height; ++y) {
    for (int x = 0; x < l.width; ++x) {
      float value = image.At(x, y, 0);
      if (image.channels >= 3) {
        value = 0.299f * image.At(x, y, 0) + 0.587f * image.At(x, y, 1) +
                0.114f * image.At(x, y, 2);
      }
      l.v[static_cast<size_t>(y) * l.width + x] = value;
    }
  }
  return l;
}

// One edge: the variance of its profile's derivative lobe along the normal
// (pixels^2) and the motion across it (pixels per frame).
struct EdgeSample {
  double variance = 0.0;
  double motion = 0.0;
};

constexpr double kProfileStep = 0.5;  // pixels between profile samples
constexpr int kTangentLines = 15;     // lines averaged along the edge

// The ramp that fits a profile best: a + step * clamp((t - centre) / width
// + 1/2, 0, 1), t in pixels from the profile's middle.
struct Ramp {
  double centre = 0.0;
  double width = 0.0;  // pixels
  double step = 0.0;   // code values
  double rms = 0.0;    // residual, code values
};

// Least squares over a grid of centres (+-3 px, half-pixel steps) and widths
// (1/4 px, then 1 px steps up to max_width, refined to 1/4 px); the level
// and step are solved in closed form at each.
Ramp FitRamp(const std::vector<double>& profile, double max_width) {
  const int n = static_cast<int>(profile.size());
  double mean_p = 0.0;
  for (double v : profile) mean_p += v / n;
  double var_p = 0.0;
  for (double v : profile) var_p += (v - mean_p) * (v - mean_p);
  std::vector<double> r(n);
  Ramp best;
  double best_sse = var_p + 1.0;
  auto trial = [&](double centre, double width) {
    double mean_r = 0.0;
    for (int k = 0; k < n; ++k) {
      const int offset = k - n / 2;  // samples from the profile's centre
      const double t = offset * kProfileStep;
      r[k] = std::clamp((t - centre) / width + 0.5, 0.0, 1.0);
      mean_r += r[k] / n;
    }
    double cov = 0.0, var_r = 0.0;
    for (int k = 0; k < n; ++k) {
      cov += (r[k] - mean_r) * (profile[k] - mean_p);
      var_r += (r[k] - mean_r) * (r[k] - mean_r);
    }
    if (var_r <= 1e-12) return;
    const double sse = var_p - cov * cov / var_r;
    if (sse < best_sse) {
      best_sse = sse;
      best.centre = centre;
      best.width = width;
      best.step = cov / var_r;
    }
  };
  for (double c = -3.0; c <= 3.0; c += 0.5) {
    trial(c, 0.25);
    for (double w = 1.0; w <= max_width; w += 1.0) trial(c, w);
  }
  const Ramp coarse = best;
  for (double c = coarse.centre - 0.5; c <= coarse.centre + 0.5; c += 0.25) {
    for (double w = std::max(0.25, coarse.width - 1.0); w <= coarse.width + 1.0;
         w += 0.25) {
      trial(c, w);
    }
  }
  best.rms = std::sqrt(std::max(0.0, best_sse) / n);
  return best;
}

// A box blur of radius 2, twice (about a Gaussian of 2 px): the gradient's
// direction and the candidates come from it, not from the noise.
std::vector<float> Smoothed(const Luma& luma) {
  const int w = luma.width, h = luma.height;
  std::vector<float> a = luma.v, b(a.size());
  for (int pass = 0; pass < 2; ++pass) {
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        float sum = 0.0f;
        for (int d = -2; d <= 2; ++d) {
          sum += a[static_cast<size_t>(y) * w + std::clamp(x + d, 0, w - 1)];
        }
        b[static_cast<size_t>(y) * w + x] = sum / 5.0f;
      }
    }
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        float sum = 0.0f;
        for (int d = -2; d <= 2; ++d) {
          sum += b[static_cast<size_t>(std::clamp(y + d, 0, h - 1)) * w + x];
        }
        a[static_cast<size_t>(y) * w + x] = sum / 5.0f;
      }
    }
  }
  return a;
}

// The edges of one frame with the motion across them; EdgeSample::variance
// holds the fitted ramp's width squared.
void MeasureFrame(const Image& image,
                  const MotionField& motion,
                  const ShutterEstimateOptions& options,
                  std::vector<EdgeSample>* sharp,
                  std::vector<EdgeSample>* blurred) {
  const Luma luma = LumaOf(image);
  const int w = luma.width, h = luma.height;
  const double radius = 0.5 * options.max_blur_px + 6.0;
  const int half = static_cast<int>(std::ceil(radius / kProfileStep));
  const int border = static_cast<int>(std::ceil(radius)) + kTangentLines;
  if (w <= 2 * border + 2 || h <= 2 * border + 2) return;
  const std::vector<float> smooth = Smoothed(luma);
  auto s = [&](int x, int y) { return smooth[static_cast<size_t>(y) * w + x]; };
  auto gradient = [&](int x, int y) {
    return Eigen::Vector2d(0.5 * (s(x + 1, y) - s(x - 1, y)),
                           0.5 * (s(x, y + 1) - s(x, y - 1)));
  };
  // The weakest gradient of a blurred edge worth a look: its contrast
  // spread over the longest blur.
  const double min_gradient =
      std::max(0.5, 0.5 * options.min_contrast / options.max_blur_px);
  std::vector<double> profile(2 * half + 1);
  for (int y = border; y < h - border; y += 2) {
    for (int x = border; x < w - border; x += 2) {
      const Eigen::Vector2d g = gradient(x, y);
      const double magnitude = g.norm();
      if (magnitude < min_gradient) continue;
      const Eigen::Vector2d n = g / magnitude;
      // A local maximum across the edge.
      const int sx = static_cast<int>(std::lround(n.x()));
      const int sy = static_cast<int>(std::lround(n.y()));
      if (gradient(x + sx, y + sy).norm() > magnitude ||
          gradient(x - sx, y - sy).norm() > magnitude) {
        continue;
      }
      const Eigen::Vector2d v = motion.At(x, y).cast<double>();
      const double across = std::abs(n.dot(v));
      const bool is_sharp = across <= options.static_motion_px;
      if (!is_sharp && across < options.min_motion_px) continue;
      const Eigen::Vector2d tangent(-n.y(), n.x());
      for (int k = -half; k <= half; ++k) {
        double sum = 0.0;
        for (int l = -(kTangentLines / 2); l <= kTangentLines / 2; ++l) {
          const Eigen::Vector2d p = Eigen::Vector2d(x, y) +
                                    k * kProfileStep * n +
                                    static_cast<double>(l) * tangent;
          sum += luma.Sample(p.x(), p.y());
        }
        profile[k + half] = sum / kTangentLines;
      }
      const Ramp ramp = FitRamp(profile, options.max_blur_px + 4.0);
      // An isolated step: strong, and the ramp explains the profile.
      if (std::abs(ramp.step) < options.min_contrast ||
          ramp.rms > 0.15 * std::abs(ramp.step)) {
        continue;
      }
      EdgeSample edge;
      edge.motion = across;
      edge.variance = ramp.width * ramp.width;
      (is_sharp ? sharp : blurred)->push_back(edge);
    }
  }
}

double MedianMotion(const MotionField& field) {
  std::vector<double> speeds;
  speeds.reserve(field.px_per_frame.size());
  for (const Eigen::Vector2f& v : field.px_per_frame) {
    speeds.push_back(v.cast<double>().norm());
  }
  return Median(speeds);
}

}  // namespace

void ShutterEstimateOptions::Check() const {
  Require(default_shutter > 0.0 && default_shutter <= 1.0,
          "default_shutter",
          default_shutter,
          "in (0, 1] frames");
  Require(min_motion_px > 0.0, "min_motion_px", min_motion_px, "> 0");
  Require(static_motion_px >= 0.0 && static_motion_px < min_motion_px,
          "static_motion_px",
          static_motion_px,
          ">= 0 and < min_motion_px");
  Require(max_blur_px > 0.0 && max_blur_px <= 256.0,
          "max_blur_px",
          max_blur_px,
          "in (0, 256] pixels");
  Require(min_contrast > 0.0, "min_contrast", min_contrast, "> 0");
  Require(min_edges >= 1, "min_edges", min_edges, ">= 1");
  Require(min_sharp_edges >= 1, "min_sharp_edges", min_sharp_edges, ">= 1");
  Require(sharp_sigma_px > 0.0, "sharp_sigma_px", sharp_sigma_px, "> 0");
  Require(edge_percentile > 0.0 && edge_percentile <= 50.0,
          "edge_percentile",
          edge_percentile,
          "in (0, 50]");
  Require(max_frames >= 1, "max_frames", max_frames, ">= 1");
}

Eigen::Vector2f MotionField::At(double x, double y) const {
  if (px_per_frame.empty()) return Eigen::Vector2f::Zero();
  const int i = std::clamp(static_cast<int>(x) / step, 0, cols - 1);
  const int j = std::clamp(static_cast<int>(y) / step, 0, rows - 1);
  return px_per_frame[static_cast<size_t>(j) * cols + i];
}

MotionField MotionField::Uniform(int width,
                                 int height,
                                 const Eigen::Vector2f& v,
                                 int step) {
  MotionField field;
  field.width = width;
  field.height = height;
  field.step = step;
  field.cols = (width + step - 1) / step;
  field.rows = (height + step - 1) / step;
  field.px_per_frame.assign(static_cast<size_t>(field.cols) * field.rows, v);
  return field;
}

MotionField ImageMotion(const CameraTrack& track,
                        size_t position,
                        int width,
                        int height,
                        int step,
                        double max_distance_m) {
  const size_t n = track.frames.size();
  if (n < 2 || position >= n) {
    throw InputError("ImageMotion: position " + std::to_string(position) +
                     " of a track of " + std::to_string(n) +
                     " frames; need two frames or more and a position in "
                     "range");
  }
  if (width < 1 || height < 1 || step < 1 || !(max_distance_m > 0.0)) {
    throw InputError("ImageMotion: size " + std::to_string(width) + "x" +
                     std::to_string(height) + ", step " + std::to_string(step) +
                     "; must be positive");
  }
  // Neighbours: one frame each side (one-sided at the ends).
  const size_t before = position > 0 ? position - 1 : position;
  const size_t after = position + 1 < n ? position + 1 : position;
  const double frames = static_cast<double>(track.frames[after].index -
                                            track.frames[before].index);
  MotionField field =
      MotionField::Uniform(width, height, Eigen::Vector2f::Zero(), step);
  if (frames <= 0.0) return field;
  const View view = ViewOf(track, position, width, height);
  const View a = ViewOf(track, before, width, height);
  const View b = ViewOf(track, after, width, height);
  const Eigen::Matrix3d ray_from_px = view.r.transpose() * view.k.inverse();
  for (int j = 0; j < field.rows; ++j) {
    for (int i = 0; i < field.cols; ++i) {
      const double x = std::min(width - 1.0, (i + 0.5) * step);
      const double y = std::min(height - 1.0, (j + 0.5) * step);
      const Eigen::Vector3d ray =
          (ray_from_px * Eigen::Vector3d(x, y, 1.0)).normalized();
      double depth = max_distance_m;
      if (ray.z() < -1e-9 && view.centre.z() > 0.0) {
        depth = std::min(depth, -view.centre.z() / ray.z());
      }
      const Eigen::Vector3d point = view.centre + depth * ray;
      Eigen::Vector2d pa, pb;
      if (!Project(a, point, &pa) || !Project(b, point, &pb)) continue;
      field.px_per_frame[static_cast<size_t>(j) * field.cols + i] =
          ((pb - pa) / frames).cast<float>();
    }
  }
  return field;
}

ShutterEstimate EstimateShutterFromMotion(
    const std::vector<Image>& frames,
    const std::vector<MotionField>& motion,
    const ShutterEstimateOptions& options) {
  options.Check();
  if (frames.size() != motion.size()) {
    throw InputError(
        "EstimateShutterFromMotion: " + std::to_string(frames.size()) +
        " frames and " + std::to_string(motion.size()) +
        " motion fields; must be as many");
  }
  ShutterEstimate e;
  e.shutter_frames = options.default_shutter;
  std::vector<EdgeSample> sharp, blurred;
  for (size_t f = 0; f < frames.size(); ++f) {
    const Image& image = frames[f];
    if (image.Empty()) continue;
    if (motion[f].width != image.width || motion[f].height != image.height) {
      throw InputError(
          "EstimateShutterFromMotion: frame " + std::to_string(f) + " is " +
          std::to_string(image.width) + "x" + std::to_string(image.height) +
          ", its motion field " + std::to_string(motion[f].width) + "x" +
          std::to_string(motion[f].height) + "; must be the same size");
    }
    ++e.frames_used;
    MeasureFrame(image, motion[f], options, &sharp, &blurred);
  }
  e.blurred_edges = static_cast<int64_t>(blurred.size());
  e.sharp_edges = static_cast<int64_t>(sharp.size());
  if (e.frames_used == 0) {
    char text[96];
    std::snprintf(text,
                  sizeof(text),
                  "no frame moves %g px per frame or more",
                  options.min_motion_px);
    e.reason = text;
    return e;
  }
  if (e.blurred_edges < options.min_edges) {
    e.reason = "too few strong edges across the motion (" +
               std::to_string(e.blurred_edges) + " of " +
               std::to_string(options.min_edges) + ")";
    return e;
  }
  // Ramp widths: a Gaussian edge of spread sigma fits a ramp about 2.5
  // sigma wide; a ramp's width adds to a box's as the square root of the sum
  // of squares (their variances, width^2 / 12, add).
  double sharp_variance =
      6.25 * options.sharp_sigma_px * options.sharp_sigma_px;
  if (e.sharp_edges >= options.min_sharp_edges) {
    std::vector<double> v;
    v.reserve(sharp.size());
    for (const EdgeSample& s : sharp) v.push_back(s.variance);
    sharp_variance = Median(v);
  }
  e.sharp_sigma_px = std::sqrt(sharp_variance) / 2.5;
  std::vector<double> shutters, speeds;
  for (const EdgeSample& s : blurred) {
    const double excess = std::max(0.0, s.variance - sharp_variance);
    shutters.push_back(std::sqrt(excess) / s.motion);
    speeds.push_back(s.motion);
  }
  e.measured = true;
  const size_t at = static_cast<size_t>(
      std::lround(options.edge_percentile / 100.0 *
                  static_cast<double>(shutters.size() - 1)));
  std::nth_element(shutters.begin(), shutters.begin() + at, shutters.end());
  e.shutter_frames = std::clamp(shutters[at], 0.0, 1.0);
  e.median_motion_px = Median(speeds);
  e.blur_length_px = e.shutter_frames * e.median_motion_px;
  return e;
}

std::vector<size_t> FastFramePositions(const CameraTrack& track,
                                       const ShutterEstimateOptions& options) {
  options.Check();
  std::vector<std::pair<double, size_t>> speeds;
  if (track.frames.size() < 2 || track.width < 1 || track.height < 1) {
    return {};
  }
  const int step = std::max(1, std::max(track.width, track.height) / 8);
  for (size_t p = 0; p < track.frames.size(); ++p) {
    const double speed =
        MedianMotion(ImageMotion(track, p, track.width, track.height, step));
    if (speed >= options.min_motion_px) speeds.emplace_back(-speed, p);
  }
  std::sort(speeds.begin(), speeds.end());
  std::vector<size_t> out;
  for (const auto& s : speeds) {
    if (static_cast<int>(out.size()) >= options.max_frames) break;
    out.push_back(s.second);
  }
  return out;
}

ShutterEstimate EstimateShutter(const CameraTrack& track,
                                const std::vector<Frame>& frames,
                                const ShutterEstimateOptions& options) {
  options.Check();
  std::map<int64_t, size_t> position_of;
  for (size_t p = 0; p < track.frames.size(); ++p) {
    position_of[track.frames[p].index] = p;
  }
  std::vector<std::pair<double, size_t>> fast;  // (-speed, frames[i])
  std::vector<MotionField> fields(frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto found = position_of.find(frames[i].index);
    if (found == position_of.end() || frames[i].rgb.Empty() ||
        track.frames.size() < 2) {
      continue;
    }
    fields[i] = ImageMotion(
        track, found->second, frames[i].rgb.width, frames[i].rgb.height);
    const double speed = MedianMotion(fields[i]);
    if (speed >= options.min_motion_px) fast.emplace_back(-speed, i);
  }
  std::sort(fast.begin(), fast.end());
  std::vector<Image> images;
  std::vector<MotionField> motion;
  for (const auto& f : fast) {
    if (static_cast<int>(images.size()) >= options.max_frames) break;
    images.push_back(frames[f.second].rgb);
    motion.push_back(std::move(fields[f.second]));
  }
  return EstimateShutterFromMotion(images, motion, options);
}

std::string DescribeShutter(const ShutterEstimate& e) {
  char text[256];
  if (!e.measured) {
    std::snprintf(text,
                  sizeof(text),
                  "shutter %.2g frame (%.0f deg, not measured: %s)",
                  e.shutter_frames,
                  360.0 * e.shutter_frames,
                  e.reason.c_str());
  } else {
    std::snprintf(text,
                  sizeof(text),
                  "shutter %.2f frame (%.0f deg) from %lld edges on %lld "
                  "frames (blur %.1f px at %.1f px/frame; sharp edge "
                  "%.2f px)",
                  e.shutter_frames,
                  360.0 * e.shutter_frames,
                  static_cast<long long>(e.blurred_edges),
                  static_cast<long long>(e.frames_used),
                  e.blur_length_px,
                  e.median_motion_px,
                  e.sharp_sigma_px);
  }
  return text;
}

}  // namespace vanelia
