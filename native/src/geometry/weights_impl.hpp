// Point weights of the weighted least-squares fits (FitPlane, EstimateSim3d):
// one check and normalisation for both.
#pragma once

#include "vanelia/core/error.hpp"

#include <cmath>
#include <optional>
#include <string>

#include <Eigen/Core>

namespace vanelia::internal {

// `weights` for `n` points (empty = all 1), normalised to sum 1. Throws
// InputError (naming `function`) for a wrong count or a negative weight;
// nullopt when a weight is not finite or fewer than 3 are positive (no fit).
inline std::optional<Eigen::VectorXd> NormalizedWeights(
    const char* function,
    const Eigen::VectorXd& weights,
    Eigen::Index n,
    const std::string& points) {
  if (weights.size() != 0 && weights.size() != n) {
    throw InputError(std::string(function) + ": weights has " +
                     std::to_string(weights.size()) +
                     " entries; must be empty or equal the " +
                     std::to_string(n) + " " + points);
  }
  if (!weights.allFinite()) return std::nullopt;
  if (weights.size() != 0 && (weights.array() < 0.0).any()) {
    Eigen::Index index = 0;
    const double min_weight = weights.minCoeff(&index);
    throw InputError(std::string(function) + ": weights[" +
                     std::to_string(index) +
                     "] = " + std::to_string(min_weight) + "; must be >= 0");
  }
  const Eigen::VectorXd w =
      weights.size() != 0 ? weights : Eigen::VectorXd::Ones(n);
  if ((w.array() > 0.0).count() < 3) return std::nullopt;
  const double total = w.sum();
  if (!(total > 0.0) || !std::isfinite(total)) return std::nullopt;
  return w / total;
}

}  // namespace vanelia::internal
