// A generic RANSAC (Fischler & Bolles 1981) with an adaptive number of
// trials, after COLMAP's src/colmap/optim/ransac.h (RANSAC<Estimator>).
//
// An estimator is any type with
//   using Sample = ...;                       // one datum
//   using Model = ...;                        // default-constructible
//   static constexpr int kMinNumSamples = k;  // minimal sample size, >= 1
//   std::vector<Model> Estimate(const std::vector<Sample>& samples) const;
//       // models through exactly k samples; empty when degenerate
//   void Residuals(const Model& model, const std::vector<Sample>& data,
//                  std::vector<double>* residuals) const;
//       // one residual per datum, in the unit of RansacOptions::max_error
// and optionally
//   std::optional<Model> Refine(const std::vector<Sample>& inliers) const;
//       // a least-squares model from all inliers (local optimisation)
//
// Inliers are data with a finite residual <= max_error. The best model has
// the most inliers; ties go to the smaller sum of squared inlier residuals.
// After each improvement the number of trials still needed is
//   n = log(1 - confidence) / log(1 - inlier_ratio^k).
// With the same data, estimator and random_seed the report is identical.
// Failing to find a model is an expected outcome (success = false), never
// an exception; only RansacOptions::Check() throws (InputError).
#pragma once

#include "vanelia/core/check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

namespace vanelia {

struct RansacOptions {
  // Largest residual of an inlier, in the estimator's residual unit (pixels
  // for reprojection, metres for point-to-plane distance). Must be > 0.
  double max_error = 1.0;
  // Fraction of the data, in [0, 1], that must be inliers for success.
  double min_inlier_ratio = 0.1;
  // Probability, in (0, 1), of having drawn at least one all-inlier sample
  // before stopping early; 0.999 costs ~1e3 trials at 30% inliers, k = 3.
  double confidence = 0.999;
  // Trials run even when the adaptive count says fewer suffice (>= 0).
  int min_num_trials = 0;
  // Hard cap on trials (>= 1 and >= min_num_trials): bounds the runtime
  // when the inlier ratio is low.
  int max_num_trials = 10000;
  // Seed of the sampler (std::mt19937_64): fixed seed, fixed result.
  std::uint64_t random_seed = 0;

  // Throws InputError naming the first field that breaks its rule.
  void Check() const;
};

template <typename Model>
struct RansacReport {
  bool success = false;
  // The best model found, valid when success; when !success it is the best
  // candidate (if any trial produced one) for diagnostics only.
  Model model{};
  int num_inliers = 0;
  // One entry per datum: 1 when it is an inlier of `model`, else 0.
  std::vector<char> inlier_mask;
  int num_trials = 0;
};

namespace internal {

// Trials needed to draw one all-inlier sample of `sample_size` with the
// given confidence when num_inliers of num_data are inliers (saturates at
// INT_MAX; 0 inliers gives INT_MAX).
int RequiredNumTrials(int num_inliers,
                      int num_data,
                      int sample_size,
                      double confidence);

template <typename E, typename = void>
struct HasRefine : std::false_type {};

template <typename E>
struct HasRefine<E,
                 std::void_t<decltype(std::declval<const E&>().Refine(
                     std::declval<const std::vector<typename E::Sample>&>()))>>
    : std::true_type {};

// Number of inliers and their summed squared residual.
inline std::pair<int, double> ScoreResiduals(
    const std::vector<double>& residuals, double max_error) {
  int count = 0;
  double cost = 0.0;
  for (const double r : residuals) {
    if (std::isfinite(r) && r <= max_error) {
      ++count;
      cost += r * r;
    }
  }
  return {count, cost};
}

}  // namespace internal

template <typename Estimator>
RansacReport<typename Estimator::Model> Ransac(
    const RansacOptions& options,
    const Estimator& estimator,
    const std::vector<typename Estimator::Sample>& data) {
  using Model = typename Estimator::Model;
  using Sample = typename Estimator::Sample;
  constexpr int kSampleSize = Estimator::kMinNumSamples;
  static_assert(kSampleSize >= 1, "kMinNumSamples must be >= 1");
  options.Check();

  RansacReport<Model> report;
  const int num_data = static_cast<int>(data.size());
  report.inlier_mask.assign(data.size(), 0);
  if (num_data < kSampleSize) return report;

  std::mt19937_64 rng(options.random_seed);
  std::vector<int> indices(data.size());
  std::iota(indices.begin(), indices.end(), 0);
  std::vector<Sample> sample(kSampleSize);
  std::vector<double> residuals;

  bool have_model = false;
  Model best_model{};
  int best_count = 0;
  double best_cost = std::numeric_limits<double>::infinity();
  int needed = options.max_num_trials;
  int trial = 0;
  for (; trial < options.max_num_trials; ++trial) {
    if (trial >= options.min_num_trials && trial >= needed) break;
    // Partial Fisher-Yates: the first kSampleSize indices are the sample.
    for (int i = 0; i < kSampleSize; ++i) {
      std::uniform_int_distribution<int> pick(i, num_data - 1);
      std::swap(indices[i], indices[pick(rng)]);
      sample[i] = data[indices[i]];
    }
    for (const Model& model : estimator.Estimate(sample)) {
      estimator.Residuals(model, data, &residuals);
      VANELIA_CHECK_EQ(residuals.size(), data.size());
      const auto [count, cost] =
          internal::ScoreResiduals(residuals, options.max_error);
      if (count > best_count || (count == best_count && cost < best_cost)) {
        have_model = true;
        best_model = model;
        best_count = count;
        best_cost = cost;
        needed = internal::RequiredNumTrials(
            count, num_data, kSampleSize, options.confidence);
      }
    }
  }
  report.num_trials = trial;
  if (!have_model) return report;

  if constexpr (internal::HasRefine<Estimator>::value) {
    // Local optimisation: refit on the inliers while that does not lose any.
    for (int round = 0; round < 3; ++round) {
      estimator.Residuals(best_model, data, &residuals);
      std::vector<Sample> inliers;
      inliers.reserve(static_cast<size_t>(best_count));
      for (size_t i = 0; i < data.size(); ++i) {
        if (std::isfinite(residuals[i]) && residuals[i] <= options.max_error) {
          inliers.push_back(data[i]);
        }
      }
      const std::optional<Model> refined = estimator.Refine(inliers);
      if (!refined) break;
      estimator.Residuals(*refined, data, &residuals);
      const auto [count, cost] =
          internal::ScoreResiduals(residuals, options.max_error);
      if (count < best_count || (count == best_count && cost >= best_cost)) {
        break;
      }
      best_model = *refined;
      best_count = count;
      best_cost = cost;
    }
  }

  estimator.Residuals(best_model, data, &residuals);
  for (size_t i = 0; i < data.size(); ++i) {
    report.inlier_mask[i] =
        std::isfinite(residuals[i]) && residuals[i] <= options.max_error ? 1
                                                                         : 0;
  }
  report.model = best_model;
  report.num_inliers = best_count;
  const double min_inliers =
      std::max<double>(kSampleSize, options.min_inlier_ratio * num_data);
  report.success = best_count >= min_inliers;
  return report;
}

}  // namespace vanelia
