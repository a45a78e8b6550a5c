// Upstream's overlap keyframe rule (its SLAM mode): ports
// must3r/demo/inference.py slam_is_keyframe and slam_update_scene_state with
// must3r/slam/model.py get_overlap_score (mode "nn-norm") and
// must3r/slam/nns.py QuandrantSearcher ("kdtree-scipy-quadrant_x2"), as the
// demo's "sequence: slam keyframes" mode plugs them into the video loop.
//
// The rule keeps the points of every keyframe: pts3d of the pixels on a grid
// of stride `subsample` whose conf > min_conf, each filed under the quadrant
// of its direction from the keyframe's camera centre (c2w translation). The
// sphere of directions is cut into 2 N^2 cells: theta = acos(z)/pi and
// phi = atan2(y, x)/pi quantised by N (float32 as upstream's numpy).
// A new frame's score: for each of its grid points with conf > min_conf, the
// distance to the nearest keyframe point in the same quadrant (seen from the
// new frame's camera centre; +inf, then DBL_MAX, for an empty quadrant),
// divided by the point's depth (pts3d_local z + 1e-9), and the `percentile`
// of those (numpy's linear method); 0 when no point passes the confidence
// test. The frame is a keyframe when score > threshold: far from what memory
// holds, so it adds new content. With real weights the scores are small
// (upstream's default threshold is 0.05).
#pragma once

#include "vanelia/geometry/nearest_neighbor.hpp"
#include "vanelia/model/blocks/postprocess.hpp"

#include <vector>

namespace vanelia::model {

// Upstream's defaults: the demo's vidslam mode and get_reconstruction.py
// (subsample 2, min_conf_keyframe 1.5, keyframe_overlap_thr 0.05,
// overlap_percentile 85; searcher kdtree-scipy-quadrant_x2).
struct OverlapKeyframeOptions {
  int subsample = 2;         // pixel stride of the scored grid, >= 1
  double min_conf = 1.5;     // points need conf > min_conf (conf >= 1)
  double threshold = 0.05;   // keyframe when score > threshold, >= 0
  double percentile = 85.0;  // of the depth-normalised distances, [0, 100]
  int quadrant_divider = 2;  // direction cells: 2 N^2, >= 1

  // Throws InputError naming the field, its value and the rule.
  void Check() const;
};

class OverlapKeyframeRule {
 public:
  explicit OverlapKeyframeRule(OverlapKeyframeOptions options);

  // One frame's prediction: pts3d, pts3d_local [H, W, 3], conf [H, W],
  // c2w [4, 4] (f32, any device). NaN when the distances hold a NaN
  // (upstream asserts there).
  double Score(const PointmapPrediction& frame) const;

  // Keyframe when score > threshold (a NaN score is not a keyframe).
  bool IsKeyframe(double score) const { return score > options_.threshold; }

  // Files a keyframe's grid points (slam_update_scene_state).
  void AddKeyframe(const PointmapPrediction& frame);

  const OverlapKeyframeOptions& options() const { return options_; }

 private:
  struct Grid;
  Grid Sample(const PointmapPrediction& frame) const;
  int Quadrant(const Eigen::Vector3f& point,
               const Eigen::Vector3f& center) const;

  OverlapKeyframeOptions options_;
  std::vector<NearestNeighbor3d> quadrants_;
};

// numpy.percentile(values, q) with the default "linear" method, in float64
// (NaN if any value is NaN); `values` is reordered. Empty: InputError.
double PercentileLinear(std::vector<double>* values, double q);

}  // namespace vanelia::model
