// Dust3rTracker: DUSt3R pairs + global alignment (vanelia/model) as a
// Tracker. Follows upstream's demo (dust3r/demo.py get_reconstructed_scene):
// load_images, make_pairs(symmetrize=True), inference, global_aligner
// (PointCloudOptimizer) with init 'mst' and compute_global_alignment, run
// per alignment window (global_alignment_windows.hpp; one window = upstream);
// the network's encoder runs once per frame and its output serves every
// pair of that frame. Progress: "encode" (frames), "pairs" and "align"
// (Adam steps of all windows); a cancel is honoured after any encoder call,
// decoder batch or Adam step. Intrinsics come back in source pixels through the
// real resize and crop (dust3r_preprocess.hpp); poses are the inverse of the
// aligned c2w (OpenCV camera axes, world = the alignment's).
#include "vanelia/track/network/dust3r_tracker.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/model/blocks/preprocess.hpp"
#include "vanelia/model/dust3r/dust3r.hpp"
#include "vanelia/model/dust3r/dust3r_preprocess.hpp"
#include "vanelia/model/dust3r/global_alignment.hpp"
#include "vanelia/model/dust3r/global_alignment_windows.hpp"
#include "vanelia/model/dust3r/scene_graph.hpp"
#include "vanelia/trackfile/conventions.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <utility>
#include <vector>

#include <Eigen/Geometry>
#include <torch/torch.h>

#include "network_tracker_impl.hpp"

namespace vanelia {

struct Dust3rTracker::State {
  model::Dust3rModel model;
  torch::Device device{torch::kCPU};
};

void Dust3rTrackerOptions::Check() const {
  common.Check();
  auto fail = [](const std::string& flag,
                 const std::string& value,
                 const std::string& rule) {
    throw InputError(flag + " " + value + ": " + rule);
  };
  if (weights.empty()) {
    throw InputError(
        "--weights: none given; the dust3r tracker needs a DUSt3R "
        "checkpoint (e.g. DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth)");
  }
  if (image_size != 224 && image_size != 512 && image_size != 0) {
    fail("--image-size",
         std::to_string(image_size),
         "must be 224, 512 or 0 (the weights' own)");
  }
  if (device != "auto" && device != "cpu" && device != "cuda") {
    fail("--device", "'" + device + "'", "must be auto, cpu or cuda");
  }
  if (dtype != "fp32") {
    fail("--dtype", "'" + dtype + "'", "the dust3r tracker runs fp32 only");
  }
  model::SceneGraphFromName(scene_graph, "--scene-graph");
  if (pair_window < (scene_graph == "oneref" ? 0 : 1)) {
    fail("--pair-window",
         std::to_string(pair_window),
         scene_graph == "oneref" ? "must be >= 0" : "must be >= 1");
  }
  if (pair_batch < 1)
    fail("pair_batch", std::to_string(pair_batch), "must be >= 1");
  if (align_iterations < 0) {
    fail(
        "--align-iterations", std::to_string(align_iterations), "must be >= 0");
  }
  if (align_window < 0 || align_window == 1) {
    fail("--align-window",
         std::to_string(align_window),
         "must be 0 (the whole clip) or >= 2");
  }
  if (align_window > 0 &&
      (align_overlap < 1 || align_overlap >= align_window)) {
    fail("--align-overlap",
         std::to_string(align_overlap),
         "must be in [1, --align-window - 1] = [1, " +
             std::to_string(align_window - 1) + "]");
  }
  if (!(align_lr > 0) || !std::isfinite(align_lr)) {
    std::ostringstream v;
    v << align_lr;
    fail("align_lr", v.str(), "must be finite and > 0");
  }
  if (align_schedule != "cosine" && align_schedule != "linear") {
    fail("align_schedule",
         "'" + align_schedule + "'",
         "must be cosine or linear");
  }
  if (!(min_confidence >= 1.0)) {
    fail("min_confidence",
         std::to_string(min_confidence),
         "must be >= 1 (DUSt3R confidence is 1 + exp(x))");
  }
  if (point_stride < 1)
    fail("point_stride", std::to_string(point_stride), "must be >= 1");
  if (max_points < 0)
    fail("max_points", std::to_string(max_points), "must be >= 0");
}

Dust3rTracker::Dust3rTracker(Dust3rTrackerOptions options)
    : options_(std::move(options)) {
  options_.Check();
  auto state = std::make_unique<State>();
  if (options_.device == "cuda" && !torch::cuda::is_available()) {
    throw InputError(
        "--device cuda: no CUDA GPU is available (use --device cpu or auto)");
  }
  if (options_.device != "cpu" && torch::cuda::is_available()) {
    state->device = torch::Device(torch::kCUDA);
  }
  state->model = model::LoadDust3rModel(options_.weights);
  const int resolution = state->model.config.resolution;
  if (options_.image_size == 0) options_.image_size = resolution;
  if (options_.image_size != resolution) {
    throw ModelError("--image-size " + std::to_string(options_.image_size) +
                     ": the weights '" + options_.weights +
                     "' are for image size " + std::to_string(resolution) +
                     "; give --image-size " + std::to_string(resolution) +
                     " or 0 (the weights' own)");
  }
  state->model.To(state->device);
  state_ = std::move(state);
}

Dust3rTracker::~Dust3rTracker() = default;

namespace {

struct NetworkInput {
  std::vector<Frame> frames;  // index and time (images dropped)
  // Per frame the network's image, [h, w, 3] uint8 (normalised per encoder
  // call: a quarter of the float memory for long clips).
  std::vector<torch::Tensor> images;
  model::Dust3rResizePlan plan;
};

NetworkInput ReadFrames(const FrameFeed& feed,
                        const FrameFeedInfo& info,
                        const ProgressCallback& progress,
                        int image_size,
                        int patch_size) {
  NetworkInput input;
  ProgressReporter decode("decode", info.expected_frames, progress);
  Frame frame;
  while (feed(&frame)) {
    if (input.images.empty()) {
      input.plan = model::PlanDust3rResize(
          frame.rgb.width, frame.rgb.height, image_size, false, patch_size);
    } else if (frame.rgb.width != input.plan.source_width ||
               frame.rgb.height != input.plan.source_height) {
      throw InputError("Dust3rTracker: frame " + std::to_string(frame.index) +
                       " is " + std::to_string(frame.rgb.width) + "x" +
                       std::to_string(frame.rgb.height) +
                       "; all frames must be " +
                       std::to_string(input.plan.source_width) + "x" +
                       std::to_string(input.plan.source_height));
    }
    input.images.push_back(model::ApplyDust3rResize(
        network_internal::ImageToTensor(frame.rgb, "Dust3rTracker"),
        input.plan));
    frame.rgb = Image();
    input.frames.push_back(frame);
    decode.Update(static_cast<int64_t>(input.frames.size()));
  }
  decode.Finish();
  if (input.frames.size() < 2) {
    throw InputError("Dust3rTracker: " + std::to_string(input.frames.size()) +
                     " frames; needs at least 2");
  }
  return input;
}

// Encoder outputs of the frames of the current window, each frame encoded
// once (batches of 8) and reused by all its pairs; frames before the window
// are dropped (windows only move forward).
class EncoderCache {
 public:
  EncoderCache(model::Dust3rModel& net,
               const std::vector<torch::Tensor>& images,
               torch::Device device,
               const ProgressCallback& progress)
      : net_(net),
        images_(images),
        device_(device),
        report_("encode", static_cast<int64_t>(images.size()), progress) {}

  // Encodes the frames of `frames` not encoded yet; forgets earlier ones.
  void Prepare(const model::FrameRange& frames) {
    while (!tokens_.empty() && first_ < frames.begin) {
      tokens_.erase(tokens_.begin());
      positions_.erase(positions_.begin());
      ++first_;
    }
    if (tokens_.empty()) first_ = frames.begin;
    for (int64_t s = first_ + static_cast<int64_t>(tokens_.size());
         s < frames.end;
         s += 8) {
      const int64_t e = std::min(frames.end, s + 8);
      std::vector<torch::Tensor> chunk;
      for (int64_t k = s; k < e; ++k) {
        chunk.push_back(model::NormalizeImage(images_[k]));
      }
      const model::EncoderOutput out =
          net_.Encode(torch::stack(chunk).to(device_));
      for (int64_t k = 0; k < e - s; ++k) {
        tokens_.push_back(out.tokens.narrow(0, k, 1));
        positions_.push_back(out.positions.narrow(0, k, 1));
      }
      encoded_ += e - s;
      report_.Update(encoded_);  // throws Cancelled when told to stop
    }
    if (encoded_ == static_cast<int64_t>(images_.size())) report_.Finish();
  }

  const torch::Tensor& tokens(int64_t frame) const {
    return tokens_[frame - first_];
  }

  const torch::Tensor& positions(int64_t frame) const {
    return positions_[frame - first_];
  }

 private:
  model::Dust3rModel& net_;
  const std::vector<torch::Tensor>& images_;
  torch::Device device_;
  ProgressReporter report_;
  std::vector<torch::Tensor> tokens_, positions_;  // frames first_, ...
  int64_t first_ = 0;
  int64_t encoded_ = 0;
};

// The pairs of one window (window-local edges), decoded in batches of
// options.pair_batch; `decode` counts them over all windows.
model::PairwisePointmaps RunPairs(
    model::Dust3rModel& net,
    EncoderCache& cache,
    const model::FrameRange& frames,
    const std::vector<std::pair<int64_t, int64_t>>& edges,
    int64_t h,
    int64_t w,
    int64_t pair_batch,
    int64_t* pairs_done,
    ProgressReporter& decode) {
  cache.Prepare(frames);
  model::PairwisePointmaps pairs;
  pairs.edges = edges;
  const int64_t count = static_cast<int64_t>(edges.size());
  std::vector<torch::Tensor> pi, pj, ci, cj;
  for (int64_t s = 0; s < count; s += pair_batch) {
    const int64_t e = std::min(count, s + pair_batch);
    std::vector<torch::Tensor> t1, p1, t2, p2;
    for (int64_t k = s; k < e; ++k) {
      const int64_t i = frames.begin + edges[k].first;
      const int64_t j = frames.begin + edges[k].second;
      t1.push_back(cache.tokens(i));
      p1.push_back(cache.positions(i));
      t2.push_back(cache.tokens(j));
      p2.push_back(cache.positions(j));
    }
    const model::Dust3rPairOutput out =
        net.Decode({torch::cat(t1), torch::cat(p1)},
                   h,
                   w,
                   {torch::cat(t2), torch::cat(p2)},
                   h,
                   w);
    pi.push_back(out.view1.pts3d);
    ci.push_back(out.view1.conf);
    pj.push_back(out.view2.pts3d);
    cj.push_back(out.view2.conf);
    *pairs_done += e - s;
    decode.Update(*pairs_done);  // throws Cancelled when told to stop
  }
  pairs.pts_i = torch::cat(pi);
  pairs.pts_j = torch::cat(pj);
  pairs.conf_i = torch::cat(ci);
  pairs.conf_j = torch::cat(cj);
  return pairs;
}

// Upstream's PointCloudOptimizer settings, in windows of
// options.align_window frames (0 = all at once).
model::WindowedAlignmentOptions AlignOptions(
    const Dust3rTrackerOptions& options, const model::Dust3rResizePlan& plan) {
  model::WindowedAlignmentOptions wa;
  model::GlobalAlignmentOptions& ga = wa.align;
  ga.iterations = options.align_iterations;
  ga.lr = options.align_lr;
  ga.schedule = options.align_schedule == "linear" ? model::LrSchedule::kLinear
                                                   : model::LrSchedule::kCosine;
  ga.shared_focal = !options.common.per_frame_focal;
  if (options.common.focal_px) {
    // Source pixels -> network pixels of the resized image.
    ga.fixed_focal_px = *options.common.focal_px * plan.resized_width /
                        static_cast<double>(plan.source_width);
  }
  wa.scene_graph =
      model::SceneGraphFromName(options.scene_graph, "--scene-graph");
  wa.pair_window = options.pair_window;
  wa.window = options.align_window;
  wa.overlap = options.align_overlap;
  wa.registration_min_conf = options.min_confidence;
  return wa;
}

// Points above the confidence on a pixel grid, gathered window by window,
// then a bounded deterministic subsample (every k-th).
class PointCollector {
 public:
  explicit PointCollector(const Dust3rTrackerOptions& options)
      : options_(options) {}

  // pts3d [H, W, 3] world, conf [H, W], image [H, W, 3] uint8.
  void Add(const torch::Tensor& pts3d,
           const torch::Tensor& conf,
           const torch::Tensor& image,
           int64_t frame_index) {
    const int64_t s = options_.point_stride;
    const torch::Tensor p = pts3d.slice(0, 0, {}, s)
                                .slice(1, 0, {}, s)
                                .reshape({-1, 3})
                                .to(torch::kCPU)
                                .contiguous();
    const torch::Tensor c = conf.slice(0, 0, {}, s)
                                .slice(1, 0, {}, s)
                                .reshape({-1})
                                .to(torch::kCPU)
                                .contiguous();
    const torch::Tensor col = image.slice(0, 0, {}, s)
                                  .slice(1, 0, {}, s)
                                  .reshape({-1, 3})
                                  .contiguous();
    const float* pp = p.data_ptr<float>();
    const float* cp = c.data_ptr<float>();
    const uint8_t* rp = col.data_ptr<uint8_t>();
    for (int64_t i = 0; i < c.size(0); ++i) {
      if (!(cp[i] > options_.min_confidence) || !std::isfinite(pp[3 * i]) ||
          !std::isfinite(pp[3 * i + 1]) || !std::isfinite(pp[3 * i + 2])) {
        continue;
      }
      xyz_.insert(xyz_.end(), pp + 3 * i, pp + 3 * i + 3);
      rgb_.insert(rgb_.end(), rp + 3 * i, rp + 3 * i + 3);
      cf_.push_back((cp[i] - 1.0f) / cp[i]);
      index_.push_back(frame_index);
    }
  }

  PointCloud Finish() const {
    const int64_t total = static_cast<int64_t>(cf_.size());
    const int64_t mp = options_.max_points;
    const int64_t step = mp > 0 && total > mp ? (total + mp - 1) / mp : 1;
    const int64_t kept = mp == 0 ? 0 : (total + step - 1) / step;
    PointCloud cloud;
    cloud.xyz.resize(3, kept);
    cloud.rgb.resize(3, kept);
    cloud.confidence.resize(kept);
    cloud.frame_index.resize(kept);
    for (int64_t k = 0; k < kept; ++k) {
      const int64_t i = k * step;
      for (int d = 0; d < 3; ++d) {
        cloud.xyz(d, k) = xyz_[3 * i + d];
        cloud.rgb(d, k) = rgb_[3 * i + d];
      }
      cloud.confidence(k) = cf_[i];
      cloud.frame_index[k] = index_[i];
    }
    return cloud;
  }

 private:
  const Dust3rTrackerOptions& options_;
  std::vector<float> xyz_, cf_;
  std::vector<uint8_t> rgb_;
  std::vector<int64_t> index_;
};

// The frames a window adds to the track (those not in the window before),
// or their indices in `unusable` when the focal is out of bounds.
void AddWindowFrames(const model::AlignedWindow& window,
                     const NetworkInput& input,
                     TrackResult* out,
                     std::vector<double>* used,
                     std::vector<int64_t>* unusable,
                     PointCollector* points,
                     DepthMaps* depth) {
  const model::Dust3rResizePlan& plan = input.plan;
  const double side = std::max(plan.source_width, plan.source_height);
  const torch::Tensor focals = window.focals.to(torch::kCPU);
  for (int64_t f = window.first_new; f < window.frames.end; ++f) {
    const int64_t k = f - window.frames.begin;
    TrackedFrame tf;
    tf.index = input.frames[f].index;
    tf.timestamp_s = input.frames[f].timestamp_s;
    tf.intrinsics =
        model::Dust3rSourceIntrinsics(focals[k].item<double>(), plan);
    if (!std::isfinite(tf.intrinsics.fx) || tf.intrinsics.fx < 0.04 * side ||
        tf.intrinsics.fx > 60.0 * side) {
      unusable->push_back(tf.index);  // left out and listed, never invented
      continue;
    }
    used->push_back(tf.intrinsics.fx);
    tf.cam_from_world = network_internal::CamFromWorld(window.c2w[k]);
    const double mean_conf = window.conf[k].mean().item<double>();
    tf.confidence = (mean_conf - 1.0) / mean_conf;
    out->track.frames.push_back(tf);
    points->Add(window.pts3d[k], window.conf[k], input.images[f], tf.index);
    network_internal::AppendDepth(window.pts3d[k],
                                  window.conf[k],
                                  window.c2w[k],
                                  focals[k].item<double>(),
                                  tf.index,
                                  depth);
  }
}

}  // namespace

TrackResult Dust3rTracker::Track(const FrameFeed& feed,
                                 const FrameFeedInfo& info,
                                 const ProgressCallback& progress) {
  torch::NoGradGuard no_grad;
  const NetworkInput input =
      ReadFrames(feed,
                 info,
                 progress,
                 options_.image_size,
                 state_->model.config.encoder.patch_size);
  const model::Dust3rResizePlan& plan = input.plan;
  const int64_t n = static_cast<int64_t>(input.frames.size());
  TrackResult out;
  out.track.width = plan.source_width;
  out.track.height = plan.source_height;
  out.track.fps = info.fps;
  std::vector<double> used;
  std::vector<int64_t> unusable;
  PointCollector points(options_);
  auto depth = std::make_shared<DepthMaps>();
  try {
    const model::WindowedAlignmentOptions wa = AlignOptions(options_, plan);
    EncoderCache cache(state_->model, input.images, state_->device, progress);
    ProgressReporter decode("pairs", model::CountWindowEdges(n, wa), progress);
    int64_t pairs_done = 0;
    ProgressReporter align(
        "align",
        static_cast<int64_t>(
            model::PlanAlignmentWindows(n, wa.window, wa.overlap).size()) *
            wa.align.iterations,
        progress);
    model::AlignInWindows(
        n,
        wa,
        [&](const model::FrameRange& frames,
            const std::vector<std::pair<int64_t, int64_t>>& edges) {
          return RunPairs(state_->model,
                          cache,
                          frames,
                          edges,
                          input.images[0].size(0),
                          input.images[0].size(1),
                          options_.pair_batch,
                          &pairs_done,
                          decode);
        },
        [&](const model::AlignedWindow& window) {
          AddWindowFrames(
              window, input, &out, &used, &unusable, &points, depth.get());
        },
        [&align](int64_t done, int64_t) {
          align.Update(done);  // throws Cancelled when told to stop
        });
    decode.Finish();
    align.Finish();
  } catch (const c10::Error& e) {
    throw ModelError(std::string("DUSt3R failed: ") +
                     e.what_without_backtrace());
  }
  if (used.empty()) {
    throw InputError("DUSt3R gave no usable focal length for any of the " +
                     std::to_string(n) +
                     " frames; give the focal with --focal-px");
  }
  if (!unusable.empty()) {
    out.summary.warnings.push_back(
        std::to_string(unusable.size()) + " of " + std::to_string(n) +
        " frames left out: DUSt3R gave no usable focal length (first: frame " +
        std::to_string(unusable.front()) + ")");
  }
  out.points = points.Finish();
  out.depth = std::move(depth);
  out.summary.registered = static_cast<int64_t>(out.track.frames.size());
  out.summary.total = n;
  std::sort(used.begin(), used.end());
  out.summary.focal_px = used[used.size() / 2];
  return out;
}

}  // namespace vanelia
