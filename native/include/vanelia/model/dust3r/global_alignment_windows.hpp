// DUSt3R's global alignment for long clips, in overlapping windows: the
// frames are cut into windows of `window` frames, consecutive windows share
// `overlap` frames; each window gets its own pairs (the scene graph inside
// the window) and its own PointCloudOptimizer (global_alignment.hpp), and is
// then registered into the first window's world by the similarity that maps
// its overlap frames' aligned points onto the previous window's (weighted
// Umeyama, geometry/umeyama.hpp, on the pixels confident in both). Memory is
// that of one window: the pairs and the optimiser of a window are dropped
// before the next one runs; only the overlap frames' points carry over.
//
// Upstream has no windowed mode (its PointCloudOptimizer holds every image);
// with window = 0 (or >= the frame count) this is exactly one
// PointCloudOptimizer over all frames, as upstream.
//
// Registration: p_in_world = s R p_in_window + t (world_from_window); a
// camera's world_from_cam becomes world_from_window * world_from_cam with
// its rotation kept orthonormal and its depth scaled by s.
#pragma once

#include "vanelia/geometry/sim3d.hpp"
#include "vanelia/model/dust3r/global_alignment.hpp"
#include "vanelia/model/dust3r/scene_graph.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace vanelia::model {

// Frames [begin, end) of the clip.
struct FrameRange {
  int64_t begin = 0;
  int64_t end = 0;

  int64_t size() const { return end - begin; }
};

// Windows over n frames: [0, window), then each next one starting `overlap`
// frames before the previous one ends; the last one is moved back to end at
// frame n with a full `window` frames (so it may share more than `overlap`).
// window = 0 or window >= n: one window [0, n). InputError on n < 2,
// window in [1, overlap] or overlap < 1 (when window > 0).
std::vector<FrameRange> PlanAlignmentWindows(int64_t n,
                                             int64_t window,
                                             int64_t overlap);

struct WindowedAlignmentOptions {
  GlobalAlignmentOptions align;  // each window's optimiser
  SceneGraphKind scene_graph = SceneGraphKind::kSwin;
  // swin/logwin window; oneref: the reference frame, as a clip index (the
  // window's first frame in a window that does not hold it).
  int64_t pair_window = 3;
  // Frames per window; 0 = every frame in one window (upstream). Bounds the
  // memory of the pairs and the optimiser.
  int64_t window = 0;
  // Frames shared by consecutive windows; their points register the next
  // window (>= 1; more frames = a steadier similarity).
  int64_t overlap = 4;
  // Pixels with confidence above it in both windows register a window
  // (DUSt3R confidence, 1 + exp(x)); all pixels when fewer than 100 pass.
  double registration_min_conf = 3.0;
  int64_t registration_stride = 2;  // every n-th pixel in x and y

  // InputError naming the field, its value and the rule.
  void Check() const;
};

// One window's result in the common world (the first window's).
struct AlignedWindow {
  FrameRange frames;        // the window's frames
  int64_t first_new = 0;    // frames [first_new, end) are not in the previous
  Sim3d world_from_window;  // identity for the first window
  torch::Tensor c2w;        // [M, 4, 4] f32, world_from_cam (rotation, t)
  torch::Tensor focals;     // [M] f32, pixels of the network image
  torch::Tensor pts3d;      // [M, H, W, 3] f32, world
  torch::Tensor conf;       // [M, H, W] f32, max over the window's edges
};

// The pairwise pointmaps of frames [frames.begin, frames.end) for `edges`,
// given in window-local indices (0 = frames.begin); the result keeps them.
using WindowPairsFunction = std::function<PairwisePointmaps(
    const FrameRange& frames,
    const std::vector<std::pair<int64_t, int64_t>>& edges)>;

// Called once per window, in order, as soon as it is registered.
using AlignedWindowSink = std::function<void(const AlignedWindow&)>;

// After every Adam step: (steps done, steps in all windows). Throwing (e.g.
// Cancelled from a ProgressReporter) stops the alignment.
using AlignStepFunction = std::function<void(int64_t done, int64_t total)>;

// The number of directed (symmetrised) edges the windows will run, for
// progress totals.
int64_t CountWindowEdges(int64_t n, const WindowedAlignmentOptions& options);

// Aligns n frames window by window (see the file comment). `pairs` runs the
// network, `sink` receives every registered window.
void AlignInWindows(int64_t n,
                    const WindowedAlignmentOptions& options,
                    const WindowPairsFunction& pairs,
                    const AlignedWindowSink& sink,
                    const AlignStepFunction& on_step = nullptr);

// world_from_window from the overlap frames' points: `ref_*` in the world
// (the previous window, registered), `new_*` in the new window; pixels with
// both confidences above `min_conf` (all pixels when fewer than 100), every
// `stride`-th pixel, weights log(conf) of the less confident side, one
// reweighting pass that drops residuals above 3 x their median.
// std::nullopt when the points are degenerate.
std::optional<Sim3d> RegisterWindow(const torch::Tensor& ref_pts,   // [K,H,W,3]
                                    const torch::Tensor& ref_conf,  // [K,H,W]
                                    const torch::Tensor& new_pts,   // [K,H,W,3]
                                    const torch::Tensor& new_conf,  // [K,H,W]
                                    double min_conf,
                                    int64_t stride);

}  // namespace vanelia::model
