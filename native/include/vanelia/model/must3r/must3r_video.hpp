// MUSt3R video mode: ports must3r/demo/inference.py must3r_inference_video
// driving must3r/engine/inference.py inference_video_multi_ar.
//
// Frames are cut into one batch of min(init_num_images, n) frames and then
// batches of batch_num_views; each batch is one decoder update call. Every
// frame of the first batch is a keyframe; a later frame is tested once, right
// after its call (rule `every`: id % keyframe_every == 0, upstream's default;
// rule `overlap`: upstream's SLAM-mode overlap score, overlap_keyframes.hpp),
// bounded by max_keyframes. A FIFO of the last local_context_size ids keeps
// non-keyframes in memory; popped non-keyframes leave it, and at the end of a
// pass only keyframes remain. Refinement passes rerun the batches on the
// keyframe memory (keyframes overwrite their tokens in place, except label 0).
// The encoder runs ahead of the decoder in large batches. Frames may have
// several shapes (portrait and landscape): batches are grouped by shape as
// upstream's inference_video_multi_ar does.
#pragma once

#include "vanelia/core/progress.hpp"
#include "vanelia/model/blocks/postprocess.hpp"
#include "vanelia/model/must3r/memory_state.hpp"
#include "vanelia/model/must3r/must3r.hpp"
#include "vanelia/model/must3r/overlap_keyframes.hpp"

#include <cstdint>
#include <functional>
#include <vector>

#include <torch/types.h>

namespace vanelia::model {

// How frames after the first batch become keyframes.
enum class KeyframeRule {
  kEvery,    // id % keyframe_every == 0 (upstream's default rule)
  kOverlap,  // upstream's SLAM mode: overlap score > threshold
};

struct Must3rVideoOptions {
  int init_num_images = 2;      // frames in the first (init) batch, >= 1
  int batch_num_views = 1;      // frames per later decoder call, >= 1
  int local_context_size = 25;  // frames kept in the working window, >= 0
  KeyframeRule keyframe_rule = KeyframeRule::kEvery;
  int keyframe_every = 3;  // rule kEvery: id % keyframe_every == 0
  // Rule kOverlap (upstream's demo "sequence: slam keyframes"; the demo runs
  // it with local_context_size = 0). Keyframes and the first batch's frames
  // feed the rule's point set; the rule runs once per new frame, never in
  // refinement passes nor once max_keyframes is reached.
  OverlapKeyframeOptions overlap;
  // Bound on keyframes (memory size): once reached, later frames are not
  // keyframes. Upstream has no bound; 300 is far above its demo's runs.
  int max_keyframes = 300;
  int num_refinements = 0;  // extra passes over the keyframe memory, >= 0
  // Keep the first pass's per-frame predictions in
  // Must3rVideoResult::first_pass (upstream's pointmaps of pass 0, before
  // the refinement passes render the frames again on the keyframe memory).
  bool keep_first_pass = false;
  int max_batch = 0;  // decoder images per chunk (upstream max_bs), 0 = all
  int encoder_batch = 16;  // images per encoder call, >= 1
  // Optional keyframe rule replacing keyframe_rule: (id, its prediction) ->
  // keyframe? Called once per frame after the first batch.
  std::function<bool(int, const PointmapPrediction&)> is_keyframe;
  // Optional: called before each clock read of Must3rVideoResult::timings
  // (a device synchronize, for a time split of asynchronous GPU work; it
  // stalls the pipeline, so time frames/s without it).
  std::function<void()> timing_sync;
  // Wait for the device after each decoder call (a tiny device-to-host copy
  // of the call's focals). Bounds how far the host runs ahead of the GPU;
  // measured faster on the H100 (see must3r_bench), harmless on the CPU.
  bool sync_each_call = true;

  // Throws InputError naming the field when a value is unusable.
  void Check() const;
};

// One decoder call of the loop (upstream trace; all token counts).
struct VideoCallRecord {
  int pass = 0;
  int batch = 0;
  int first_id = 0;
  int num_images = 0;
  int64_t nmem_before = 0;
  int64_t nmem_after_decoder = 0;
  int64_t nmem_after_removals = 0;  // last batch: after the end-of-pass removal
};

// Wall-clock split of one RunMust3rVideo call, in seconds (host clocks; see
// Must3rVideoOptions::timing_sync).
struct Must3rVideoTimings {
  double encoder_s = 0.0;      // all frames, batched ahead of the decoder
  double decoder_s = 0.0;      // decoder calls (blocks, memory, head)
  double postprocess_s = 0.0;  // pointmaps, focal, Procrustes c2w
  double bookkeeping_s = 0.0;  // keyframes, window, memory removals
};

struct Must3rVideoResult {
  // Per frame, in input order, from the last pass: pts3d [n, H, W, 3],
  // pts3d_local, conf [n, H, W], focal [n], c2w [n, 4, 4] (all float32).
  // With frames of several shapes only focal and c2w (see per_frame).
  PointmapPrediction frames;
  // The same per frame: pts3d [H_i, W_i, 3], ..., focal [], c2w [4, 4].
  std::vector<PointmapPrediction> per_frame;
  // With options.keep_first_pass: per_frame's layout from the first pass
  // (equal to per_frame when num_refinements is 0); empty otherwise.
  std::vector<PointmapPrediction> first_pass;
  MemoryState memory;          // final memory (keyframes only)
  std::vector<int> keyframes;  // sorted ids
  // Per frame: the score the overlap rule compared with its threshold; NaN
  // where it did not run (other rules, first batch, max_keyframes reached).
  std::vector<double> overlap_score;
  std::vector<int64_t> frame_label;  // memory label of each frame
  std::vector<int> mem_batches;
  std::vector<VideoCallRecord> trace;
  Must3rVideoTimings timings;
};

// mem_batches as the demo computes them.
std::vector<int> MemoryBatches(int num_frames,
                               int init_num_images,
                               int batch_num_views);

// images: [n, 3, H, W] float in [-1, 1], natural orientation, one shape, on
// the model's device. progress: one step per decoder call.
Must3rVideoResult RunMust3rVideo(Must3rModel& model,
                                 const torch::Tensor& images,
                                 const Must3rVideoOptions& options,
                                 const ProgressCallback& progress = {});

// Frames of several shapes, as upstream's inference_video_multi_ar: images[i]
// [3, H_i, W_i] (natural orientation; portrait frames too). A batch whose
// frames share a shape runs as above; a batch of several shapes is one
// Must3rDecoder::ForwardList call with one entry per shape, in (H, W) order
// (upstream's torch.unique), each cut in chunks of max_batch. Frame ids,
// labels and keyframes follow input order as upstream's do, while the new
// memory tokens follow entry order: when a batch lists a portrait frame
// before a landscape one, upstream (and so this port) files each frame's
// label on the other's tokens, and the init call's reference image (no
// image2_embed, the world frame) is the first frame of the first shape
// (tests/data/must3r/README.md, video_multi_ar). One shape: the call above.
Must3rVideoResult RunMust3rVideo(Must3rModel& model,
                                 const std::vector<torch::Tensor>& images,
                                 const Must3rVideoOptions& options,
                                 const ProgressCallback& progress = {});

// Upstream's render pass (must3r/engine/inference.py inference_multi_ar
// given a precomputed memory, as the demo renders the frames left out of
// memory): every image cross-attends to the whole memory (render=True) and
// the memory is left unchanged. images: [n, 3, H, W] in natural orientation,
// one shape, on the model's device; decoder calls of max_batch images
// (upstream max_bs; 0 = all in one call). Per image, in input order:
// pts3d [H, W, 3], pts3d_local, conf [H, W], focal [], c2w [4, 4].
std::vector<PointmapPrediction> RenderWithMemory(Must3rModel& model,
                                                 const torch::Tensor& images,
                                                 const MemoryState& memory,
                                                 int max_batch = 0);

}  // namespace vanelia::model
