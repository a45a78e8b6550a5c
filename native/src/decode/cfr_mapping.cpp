// VFR detection and the mapping of a variable-rate clip to constant frames
// (the policy is documented in vanelia/decode/video_reader.hpp).
#include "vanelia/core/check.hpp"
#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "frame_source.hpp"

namespace vanelia::internal {

Rational Reduce(Rational value) {
  if (value.den < 0) {
    value.num = -value.num;
    value.den = -value.den;
  }
  const int64_t divisor = std::gcd(value.num, value.den);
  if (divisor > 1) {
    value.num /= divisor;
    value.den /= divisor;
  }
  return value;
}

namespace {

int64_t MedianDelta(const std::vector<int64_t>& pts) {
  std::vector<int64_t> deltas;
  deltas.reserve(pts.size());
  for (size_t i = 1; i < pts.size(); ++i) deltas.push_back(pts[i] - pts[i - 1]);
  if (deltas.empty()) return 0;
  std::nth_element(
      deltas.begin(), deltas.begin() + deltas.size() / 2, deltas.end());
  return deltas[deltas.size() / 2];
}

bool DetectVfr(const std::vector<int64_t>& pts, int64_t median) {
  if (pts.size() < 3 || median <= 0) return false;
  const double tolerance = std::max(1.0, 0.02 * static_cast<double>(median));
  for (size_t i = 1; i < pts.size(); ++i) {
    const double deviation =
        std::abs(static_cast<double>(pts[i] - pts[i - 1] - median));
    if (deviation > tolerance) return true;
  }
  return false;
}

bool Valid(Rational r) {
  return r.num > 0 && r.den > 0;
}

// Whether `fps` agrees with a frame duration of `ticks` time-base units
// within 2 %.
bool Agrees(Rational fps, int64_t ticks, Rational time_base) {
  if (!Valid(fps) || ticks <= 0) return false;
  const double frame_s = fps.den / static_cast<double>(fps.num);
  const double delta_s = ticks * time_base.ToDouble();
  return std::abs(frame_s - delta_s) <= 0.02 * delta_s;
}

// The standard rate nearest to `rate` if it is within 1 %, else `rate`.
Rational SnapToStandardRate(Rational rate) {
  static const Rational kStandard[] = {{24000, 1001},
                                       {24, 1},
                                       {25, 1},
                                       {30000, 1001},
                                       {30, 1},
                                       {48, 1},
                                       {50, 1},
                                       {60000, 1001},
                                       {60, 1},
                                       {90, 1},
                                       {120, 1},
                                       {240, 1}};
  Rational best = rate;
  double best_error = 0.01;
  for (const Rational& standard : kStandard) {
    const double error = std::abs(rate.ToDouble() / standard.ToDouble() - 1.0);
    if (error <= best_error) {
      best = standard;
      best_error = error;
    }
  }
  return best;
}

}  // namespace

std::vector<int64_t> NearestFrames(const std::vector<double>& times,
                                   Rational fps,
                                   int64_t outputs) {
  VANELIA_CHECK(!times.empty());
  VANELIA_CHECK(Valid(fps));
  const int64_t n = static_cast<int64_t>(times.size());
  std::vector<int64_t> nearest(std::max<int64_t>(outputs, 0));
  for (int64_t k = 0; k < outputs; ++k) {
    const double t = static_cast<double>(k) * fps.den / fps.num;
    const auto upper = std::lower_bound(times.begin(), times.end(), t);
    int64_t s = upper - times.begin();
    if (s >= n) {
      s = n - 1;
    } else if (s > 0 && t - times[s - 1] <= times[s] - t) {
      s = s - 1;
    }
    nearest[k] = s;
  }
  return nearest;
}

CfrMappingResult BuildCfrMapping(const std::vector<int64_t>& sorted_pts,
                                 Rational time_base,
                                 Rational fps_hint,
                                 int64_t last_duration) {
  VANELIA_CHECK(!sorted_pts.empty());
  VANELIA_CHECK(Valid(time_base));
  CfrMappingResult result;
  const int64_t n = static_cast<int64_t>(sorted_pts.size());
  const int64_t median = MedianDelta(sorted_pts);
  result.is_vfr = DetectVfr(sorted_pts, median);

  // Frame rate: the container's when it agrees with the timestamps, else one
  // derived from them; for VFR the (snapped) average rate.
  const int64_t span_ticks = sorted_pts.back() - sorted_pts.front() +
                             (last_duration > 0 ? last_duration : median);
  Rational average{0, 1};
  if (result.is_vfr) {
    average =
        Reduce({(n - 1) * time_base.den,
                (sorted_pts.back() - sorted_pts.front()) * time_base.num});
    result.fps = SnapToStandardRate(average);
  } else if (Agrees(fps_hint, median, time_base) || median <= 0) {
    result.fps = Valid(fps_hint) ? Reduce(fps_hint) : Rational{24, 1};
  } else {
    result.fps = Reduce({time_base.den, median * time_base.num});
  }
  result.duration_s =
      span_ticks > 0 ? span_ticks * time_base.ToDouble()
                     : static_cast<double>(n) * result.fps.den / result.fps.num;

  std::vector<double> times(sorted_pts.size());
  for (int64_t i = 0; i < n; ++i) {
    times[i] = (sorted_pts[i] - sorted_pts.front()) * time_base.ToDouble();
  }

  result.report.source_frames = n;
  result.report.time_base = time_base;
  if (!result.is_vfr) {
    result.mapping.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      result.mapping[i] = {i, i, sorted_pts[i], times[i], times[i]};
    }
    result.report.output_frames = n;
    return result;
  }

  // Output frame k at k / fps shows the nearest source frame (ties: earlier).
  // n frames at the average rate last n / average seconds; at the (snapped)
  // output rate that is this many frames.
  const int64_t outputs = std::max<int64_t>(
      1,
      std::llround(static_cast<double>(n) * result.fps.ToDouble() /
                   average.ToDouble()));
  result.duration_s =
      static_cast<double>(outputs) * result.fps.den / result.fps.num;
  result.mapping.resize(outputs);
  std::vector<bool> used(n, false);
  const std::vector<int64_t> nearest =
      NearestFrames(times, result.fps, outputs);
  for (int64_t k = 0; k < outputs; ++k) {
    const double t = static_cast<double>(k) * result.fps.den / result.fps.num;
    const int64_t s = nearest[k];
    result.mapping[k] = {k, s, sorted_pts[s], times[s], t};
    if (k > 0 && result.mapping[k - 1].source_index == s) {
      ++result.report.duplicated;
    }
    used[s] = true;
  }
  result.report.output_frames = outputs;
  result.report.dropped = std::count(used.begin(), used.end(), false);
  return result;
}

}  // namespace vanelia::internal
