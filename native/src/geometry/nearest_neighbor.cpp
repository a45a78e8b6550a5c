// Exact 3-D nearest neighbours: kd-trees in a binary counter (see header).
#include "vanelia/geometry/nearest_neighbor.hpp"

#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

namespace vanelia {
namespace {

// Ranges of at most this many points are searched linearly.
constexpr int64_t kLeafSize = 8;

// scipy's sqeuclidean_distance_double for 3 dims: ((0 + dx^2) + dy^2) + dz^2.
double SquaredDistance(const Eigen::Vector3d& a, const Eigen::Vector3d& b) {
  const double dx = a.x() - b.x();
  const double dy = a.y() - b.y();
  const double dz = a.z() - b.z();
  return dx * dx + dy * dy + dz * dz;
}

}  // namespace

void NearestNeighbor3d::Add(const std::vector<Eigen::Vector3f>& points) {
  if (points.empty()) return;
  std::vector<Eigen::Vector3d> batch;
  batch.reserve(points.size());
  for (size_t i = 0; i < points.size(); ++i) {
    if (!points[i].allFinite()) {
      throw InputError("NearestNeighbor3d::Add: point " + std::to_string(i) +
                       " is not finite; every coordinate must be finite");
    }
    batch.push_back(points[i].cast<double>());
  }
  while (!trees_.empty() && trees_.back().points.size() <= batch.size()) {
    const std::vector<Eigen::Vector3d>& old = trees_.back().points;
    batch.insert(batch.end(), old.begin(), old.end());
    trees_.pop_back();
  }
  trees_.push_back(Build(std::move(batch)));
}

int64_t NearestNeighbor3d::Size() const {
  int64_t n = 0;
  for (const Tree& t : trees_) n += static_cast<int64_t>(t.points.size());
  return n;
}

NearestNeighbor3d::Tree NearestNeighbor3d::Build(
    std::vector<Eigen::Vector3d> points) {
  Tree tree;
  tree.points = std::move(points);
  tree.axis.assign(tree.points.size(), 0);
  BuildRange(&tree, 0, static_cast<int64_t>(tree.points.size()));
  return tree;
}

void NearestNeighbor3d::BuildRange(Tree* tree, int64_t lo, int64_t hi) {
  if (hi - lo <= kLeafSize) return;
  Eigen::Vector3d lower = tree->points[lo];
  Eigen::Vector3d upper = lower;
  for (int64_t i = lo + 1; i < hi; ++i) {
    lower = lower.cwiseMin(tree->points[i]);
    upper = upper.cwiseMax(tree->points[i]);
  }
  int axis = 0;
  (upper - lower).maxCoeff(&axis);
  const int64_t mid = lo + (hi - lo) / 2;
  auto begin = tree->points.begin();
  std::nth_element(begin + lo,
                   begin + mid,
                   begin + hi,
                   [axis](const Eigen::Vector3d& a, const Eigen::Vector3d& b) {
                     return a[axis] < b[axis];
                   });
  tree->axis[mid] = static_cast<uint8_t>(axis);
  BuildRange(tree, lo, mid);
  BuildRange(tree, mid + 1, hi);
}

void NearestNeighbor3d::Search(const Tree& tree,
                               const Eigen::Vector3d& q,
                               int64_t lo,
                               int64_t hi,
                               double* best_sq) {
  if (hi - lo <= kLeafSize) {
    for (int64_t i = lo; i < hi; ++i) {
      *best_sq = std::min(*best_sq, SquaredDistance(q, tree.points[i]));
    }
    return;
  }
  const int64_t mid = lo + (hi - lo) / 2;
  const Eigen::Vector3d& p = tree.points[mid];
  *best_sq = std::min(*best_sq, SquaredDistance(q, p));
  const int axis = tree.axis[mid];
  const double diff = q[axis] - p[axis];
  const bool left_first = diff < 0.0;
  if (left_first) {
    Search(tree, q, lo, mid, best_sq);
  } else {
    Search(tree, q, mid + 1, hi, best_sq);
  }
  if (diff * diff <= *best_sq) {
    if (left_first) {
      Search(tree, q, mid + 1, hi, best_sq);
    } else {
      Search(tree, q, lo, mid, best_sq);
    }
  }
}

double NearestNeighbor3d::Distance(const Eigen::Vector3f& query) const {
  double best_sq = std::numeric_limits<double>::infinity();
  const Eigen::Vector3d q = query.cast<double>();
  for (const Tree& tree : trees_) {
    Search(tree, q, 0, static_cast<int64_t>(tree.points.size()), &best_sq);
  }
  return std::sqrt(best_sq);
}

}  // namespace vanelia
