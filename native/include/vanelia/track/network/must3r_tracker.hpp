// The MUSt3R tracker: frames in, a CameraTrack (intrinsics in source pixels,
// cam_from_world in OpenCV camera axes), a dense PointCloud (filtered by
// confidence, subsampled to a bounded count) and a TrackSummary out. It wraps
// the LibTorch port in vanelia/model (video mode, as upstream's
// must3r_inference_video); no LibTorch type appears here.
#pragma once

#include "vanelia/track/tracker.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vanelia {
namespace model {
struct AspectBucket;
}  // namespace model
struct ModelConfig;

// The working window when none is asked for: 25 (upstream's default), or 0
// with keyframe_rule "overlap" (upstream's SLAM mode has none).
inline int DefaultLocalContext(const std::string& keyframe_rule) {
  return keyframe_rule == "overlap" ? 0 : 25;
}

struct Must3rTrackerOptions {
  TrackerOptions common;  // a known focal_px replaces the estimated one
  std::string weights;    // MUSt3R checkpoint (.pth), required
  // Network resolution: 224 or 512, and it must match the weights; or 0 =
  // the weights' own (their upstream aspect buckets, or for a resolution
  // without such a list their training img_size as the one bucket).
  int image_size = 512;
  std::string device = "auto";  // "auto" (CUDA if present), "cpu", "cuda"
  // Decoder precision: "fp32", "bf16" or "fp16" (upstream's autocast policy:
  // encoder and head stay float32). Half precision needs CUDA.
  std::string dtype = "fp32";
  // Frames in the working window; front ends that let the user leave it
  // unset take DefaultLocalContext(keyframe_rule).
  int local_context = 25;
  int max_keyframes = 300;  // memory bound (keyframes)
  // "every": a keyframe every keyframe_every-th frame (upstream's default);
  // "overlap": upstream's SLAM-mode rule, a keyframe when the overlap score
  // (percentile of the frame's nearest-keyframe-point distances over depth)
  // exceeds overlap_threshold (see vanelia/model/must3r/overlap_keyframes.hpp).
  std::string keyframe_rule = "every";
  int keyframe_every = 3;            // rule "every"
  double overlap_threshold = 0.05;   // rule "overlap": score > this
  double overlap_percentile = 85.0;  // of the distances, [0, 100]
  int overlap_subsample = 2;         // pixel stride of the scored grid
  double overlap_min_conf = 1.5;     // points need conf > this
  int init_frames = 8;               // frames of the first decoder call
  int batch_frames = 4;              // frames per later decoder call
  int refinements = 0;               // extra passes over the keyframe memory
  double min_confidence = 3.0;       // MUSt3R conf (1 + exp) for kept points
  int point_stride = 4;              // keep every n-th pixel in x and y
  int64_t max_points = 200000;       // bound on the returned point count

  // Explicit aspect buckets (ratio, landscape width, height) instead of
  // those of image_size: for unusual weights and the tiny test checkpoints.
  // image_size must then equal the weights' training resolution.
  struct Bucket {
    double ratio = 1.0;
    int width = 0;
    int height = 0;
  };

  std::vector<Bucket> custom_buckets;

  // Throws InputError naming the field, its value and the rule.
  void Check() const;
};

// True when LibTorch sees a CUDA GPU (device "auto" then runs there).
bool Must3rCudaAvailable();

class Must3rTracker : public Tracker {
 public:
  explicit Must3rTracker(Must3rTrackerOptions options);
  ~Must3rTracker() override;
  Must3rTracker(const Must3rTracker&) = delete;
  Must3rTracker& operator=(const Must3rTracker&) = delete;

  std::string Name() const override { return "must3r"; }

  using Tracker::Track;

  TrackResult Track(const FrameFeed& feed,
                    const FrameFeedInfo& info,
                    const ProgressCallback& progress) override;

 private:
  struct State;
  std::vector<model::AspectBucket> Buckets() const;
  // image_size 0: takes the resolution (and buckets) of the loaded weights.
  void UseWeightsResolution(const ModelConfig& config);
  // Throws ModelError naming --image-size when the weights are for another.
  void CheckWeightsResolution(const ModelConfig& config) const;
  Must3rTrackerOptions options_;
  std::unique_ptr<State> state_;  // the loaded network
};

}  // namespace vanelia
