// Exact nearest-neighbour distances in 3-D over a point set that grows in
// batches (MUSt3R's overlap keyframe rule asks, for each point of a new
// frame, how far the nearest point of the keyframes seen so far is).
//
// The set is kept as static kd-trees in a binary counter (J. L. Bentley and
// J. B. Saxe, "Decomposable searching problems I: static-to-dynamic
// transformation", J. Algorithms 1(4), 1980): Add() builds one tree from the
// batch and merges it with the trees that are not larger; a query takes the
// minimum over the O(log n) trees. Distances are computed the way
// scipy.spatial.KDTree reports them (coordinates as float64, the squared
// differences summed in x, y, z order, then sqrt), so float32 points give the
// same float64 distance as upstream's searcher.
#pragma once

#include <cstdint>
#include <vector>

#include <Eigen/Core>

namespace vanelia {

class NearestNeighbor3d {
 public:
  // Adds a batch of points (empty batches are fine). Non-finite coordinates
  // throw InputError naming the point.
  void Add(const std::vector<Eigen::Vector3f>& points);

  // Euclidean distance from `query` to the nearest stored point; +inf when
  // the set is empty.
  double Distance(const Eigen::Vector3f& query) const;

  int64_t Size() const;

 private:
  struct Tree {
    std::vector<Eigen::Vector3d> points;  // kd order (node = middle of range)
    std::vector<uint8_t> axis;            // split axis of the node at [i]
  };

  static Tree Build(std::vector<Eigen::Vector3d> points);
  static void BuildRange(Tree* tree, int64_t lo, int64_t hi);
  static void Search(const Tree& tree,
                     const Eigen::Vector3d& q,
                     int64_t lo,
                     int64_t hi,
                     double* best_sq);

  std::vector<Tree> trees_;  // sizes strictly decreasing
};

}  // namespace vanelia
