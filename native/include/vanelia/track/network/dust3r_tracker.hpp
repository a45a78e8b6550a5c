// The DUSt3R tracker: frames in, a CameraTrack (intrinsics in source pixels,
// cam_from_world in OpenCV camera axes), a dense PointCloud (filtered by
// confidence, subsampled to a bounded count) and a TrackSummary out. It runs
// the pairwise network of vanelia/model on a bounded scene graph (every
// frame encoded once, its encoder output reused by all its pairs), then
// upstream's global alignment (PointCloudOptimizer, spanning-tree init),
// in overlapping windows registered into one world for long clips
// (model/dust3r/global_alignment_windows.hpp), so memory stays bounded.
// No LibTorch type appears here.
#pragma once

#include "vanelia/track/tracker.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace vanelia {

struct Dust3rTrackerOptions {
  TrackerOptions common;  // a known focal_px is fixed in the alignment
  std::string weights;    // DUSt3R checkpoint (.pth), required
  // Network resolution: 224 or 512 (must match the weights), or 0 = the
  // weights' own training size.
  int image_size = 512;
  std::string device = "auto";  // "auto" (CUDA if present), "cpu", "cuda"
  std::string dtype = "fp32";   // only fp32 (upstream's heads are float32)
  // Pairs: "swin" (non-cyclic sliding window), "logwin" (i +- 2^k) or
  // "oneref" (every frame with frame pair_window).
  std::string scene_graph = "swin";
  int pair_window = 3;  // swin/logwin window, oneref's reference frame
  int pair_batch = 8;   // pairs per decoder call
  // Global alignment (upstream compute_global_alignment).
  int align_iterations = 300;             // Adam steps
  double align_lr = 0.01;                 // initial learning rate
  std::string align_schedule = "cosine";  // "cosine" or "linear"
  // Frames per alignment window (pairs and optimiser of one window in
  // memory at a time); 0 = the whole clip at once, as upstream. 64 frames
  // of 512x288 pairs on swin-3 hold about 2 GB.
  int align_window = 64;
  // Frames shared by consecutive windows, whose points register the next
  // window into the first one's world; in [1, align_window - 1].
  int align_overlap = 8;
  double min_confidence = 3.0;  // DUSt3R conf (1 + exp) for kept points
  int point_stride = 4;         // keep every n-th pixel in x and y
  int64_t max_points = 200000;  // bound on the returned point count

  // Throws InputError naming the option, its value and the rule.
  void Check() const;
};

class Dust3rTracker : public Tracker {
 public:
  // Loads the weights: ModelError when they are not a usable DUSt3R
  // checkpoint (a MUSt3R one included) or are for another --image-size.
  explicit Dust3rTracker(Dust3rTrackerOptions options);
  ~Dust3rTracker() override;
  Dust3rTracker(const Dust3rTracker&) = delete;
  Dust3rTracker& operator=(const Dust3rTracker&) = delete;

  std::string Name() const override { return "dust3r"; }

  using Tracker::Track;

  TrackResult Track(const FrameFeed& feed,
                    const FrameFeedInfo& info,
                    const ProgressCallback& progress) override;

 private:
  struct State;
  Dust3rTrackerOptions options_;
  std::unique_ptr<State> state_;  // the loaded network
};

}  // namespace vanelia
