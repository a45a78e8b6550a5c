// RansacOptions validation and the adaptive trial count (see ransac.hpp).
#include "vanelia/geometry/ransac.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/option_check.hpp"

#include <cmath>
#include <limits>
#include <sstream>
#include <string>

namespace vanelia {
namespace {

template <typename T>
[[noreturn]] void ThrowBadOption(const char* field,
                                 T value,
                                 const std::string& rule) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  internal::ThrowBadOption(
      "RansacOptions", field, out.str(), "must be " + rule);
}

}  // namespace

void RansacOptions::Check() const {
  if (!(max_error > 0.0) || !std::isfinite(max_error)) {
    ThrowBadOption("max_error", max_error, "finite and > 0");
  }
  if (!(min_inlier_ratio >= 0.0 && min_inlier_ratio <= 1.0)) {
    ThrowBadOption("min_inlier_ratio", min_inlier_ratio, "in [0, 1]");
  }
  if (!(confidence > 0.0 && confidence < 1.0)) {
    ThrowBadOption("confidence", confidence, "in (0, 1)");
  }
  if (min_num_trials < 0) {
    ThrowBadOption("min_num_trials", min_num_trials, ">= 0");
  }
  if (max_num_trials < 1) {
    ThrowBadOption("max_num_trials", max_num_trials, ">= 1");
  }
  if (max_num_trials < min_num_trials) {
    ThrowBadOption(
        "max_num_trials",
        max_num_trials,
        ">= min_num_trials (" + std::to_string(min_num_trials) + ")");
  }
}

namespace internal {

int RequiredNumTrials(int num_inliers,
                      int num_data,
                      int sample_size,
                      double confidence) {
  constexpr int kMax = std::numeric_limits<int>::max();
  if (num_data <= 0 || num_inliers <= 0) return kMax;
  const double ratio = static_cast<double>(num_inliers) / num_data;
  const double p_good_sample = std::pow(ratio, sample_size);
  if (p_good_sample >= 1.0) return 1;
  const double p_bad_sample = 1.0 - p_good_sample;
  if (p_bad_sample >= 1.0) return kMax;
  const double n = std::log(1.0 - confidence) / std::log(p_bad_sample);
  if (!(n < static_cast<double>(kMax))) return kMax;
  return std::max(1, static_cast<int>(std::ceil(n)));
}

}  // namespace internal
}  // namespace vanelia
