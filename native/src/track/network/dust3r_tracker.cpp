// Dust3rTracker: DUSt3R pairs + global alignment (vanelia/model) as a
// Tracker. Follows upstream's demo (dust3r/demo.py get_reconstructed_scene):
// load_images, make_pairs(symmetrize=True), inference, global_aligner
// (PointCloudOptimizer) with init 'mst' and compute_global_alignment; the
// network's encoder runs once per frame and its output serves every pair of
// that frame. Intrinsics come back in source pixels through the real resize
// and crop (dust3r_preprocess.hpp); poses are the inverse of the aligned
// c2w (OpenCV camera axes, world = the alignment's).
#include "vanelia/track/network/dust3r_tracker.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/model/blocks/preprocess.hpp"
#include "vanelia/model/dust3r/dust3r.hpp"
#include "vanelia/model/dust3r/dust3r_preprocess.hpp"
#include "vanelia/model/dust3r/global_alignment.hpp"
#include "vanelia/model/dust3r/scene_graph.hpp"
#include "vanelia/trackfile/conventions.hpp"

#include <algorithm>
#include <cmath>
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
  std::vector<Frame> frames;          // index and time (images dropped)
  std::vector<torch::Tensor> images;  // per frame [3, h, w] in [-1, 1]
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
    input.images.push_back(model::NormalizeImage(model::ApplyDust3rResize(
        network_internal::ImageToTensor(frame.rgb, "Dust3rTracker"),
        input.plan)));
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

// Every frame encoded once (batches of 8), then the pairs decoded in
// batches that reuse those encoder outputs.
model::PairwisePointmaps RunPairs(model::Dust3rModel& net,
                                  const std::vector<torch::Tensor>& images,
                                  const Dust3rTrackerOptions& options,
                                  torch::Device device,
                                  const ProgressCallback& progress) {
  const int64_t n = static_cast<int64_t>(images.size());
  const int64_t h = images[0].size(1);
  const int64_t w = images[0].size(2);
  std::vector<torch::Tensor> tokens;
  std::vector<torch::Tensor> positions;
  ProgressReporter encode("encode", n, progress);
  for (int64_t s = 0; s < n; s += 8) {
    const int64_t e = std::min(n, s + 8);
    const std::vector<torch::Tensor> chunk(images.begin() + s,
                                           images.begin() + e);
    const model::EncoderOutput out = net.Encode(torch::stack(chunk).to(device));
    for (int64_t k = 0; k < e - s; ++k) {
      tokens.push_back(out.tokens.narrow(0, k, 1));
      positions.push_back(out.positions.narrow(0, k, 1));
    }
    encode.Update(e);
  }
  encode.Finish();
  model::PairwisePointmaps pairs;
  pairs.edges = model::Symmetrize(model::MakePairs(
      n,
      model::SceneGraphFromName(options.scene_graph, "--scene-graph"),
      options.pair_window));
  const int64_t count = static_cast<int64_t>(pairs.edges.size());
  std::vector<torch::Tensor> pi, pj, ci, cj;
  ProgressReporter decode("pairs", count, progress);
  for (int64_t s = 0; s < count; s += options.pair_batch) {
    const int64_t e = std::min(count, s + options.pair_batch);
    std::vector<torch::Tensor> t1, p1, t2, p2;
    for (int64_t k = s; k < e; ++k) {
      const auto [i, j] = pairs.edges[k];
      t1.push_back(tokens[i]);
      p1.push_back(positions[i]);
      t2.push_back(tokens[j]);
      p2.push_back(positions[j]);
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
    decode.Update(e);
  }
  decode.Finish();
  pairs.pts_i = torch::cat(pi);
  pairs.pts_j = torch::cat(pj);
  pairs.conf_i = torch::cat(ci);
  pairs.conf_j = torch::cat(cj);
  return pairs;
}

// The aligned scene: PointCloudOptimizer, init 'mst', Adam.
model::AlignmentState Align(const model::PairwisePointmaps& pairs,
                            const Dust3rTrackerOptions& options,
                            const model::Dust3rResizePlan& plan,
                            const ProgressCallback& progress,
                            torch::Tensor* image_conf) {
  model::GlobalAlignmentOptions ga;
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
  model::PointCloudOptimizer opt(pairs, ga);
  opt.InitMst();
  ProgressReporter align("align", ga.iterations, progress);
  opt.Optimize([&align](int k, double) {
    align.Update(k + 1);  // throws Cancelled when the callback says stop
    return true;
  });
  align.Finish();
  *image_conf = opt.image_confidence();
  return opt.State();
}

// Points of all frames above the confidence on a pixel grid, then a bounded
// deterministic subsample (every k-th).
PointCloud CollectPoints(const torch::Tensor& pts3d,  // [N, H, W, 3]
                         const torch::Tensor& conf,   // [N, H, W]
                         const std::vector<torch::Tensor>& images,
                         const std::vector<Frame>& frames,
                         const Dust3rTrackerOptions& options) {
  const int64_t s = options.point_stride;
  std::vector<float> xyz, cf;
  std::vector<uint8_t> rgb;
  std::vector<int64_t> index;
  for (size_t f = 0; f < frames.size(); ++f) {
    const int64_t fi = static_cast<int64_t>(f);
    const torch::Tensor p = pts3d[fi]
                                .slice(0, 0, {}, s)
                                .slice(1, 0, {}, s)
                                .reshape({-1, 3})
                                .to(torch::kCPU)
                                .contiguous();
    const torch::Tensor c = conf[fi]
                                .slice(0, 0, {}, s)
                                .slice(1, 0, {}, s)
                                .reshape({-1})
                                .to(torch::kCPU)
                                .contiguous();
    const torch::Tensor col =
        ((images[f].slice(1, 0, {}, s).slice(2, 0, {}, s).reshape({3, -1}).t() *
              0.5 +
          0.5) *
         255.0)
            .round()
            .clamp(0, 255)
            .to(torch::kUInt8)
            .contiguous();
    const float* pp = p.data_ptr<float>();
    const float* cp = c.data_ptr<float>();
    const uint8_t* rp = col.data_ptr<uint8_t>();
    for (int64_t i = 0; i < c.size(0); ++i) {
      if (!(cp[i] > options.min_confidence) || !std::isfinite(pp[3 * i]) ||
          !std::isfinite(pp[3 * i + 1]) || !std::isfinite(pp[3 * i + 2])) {
        continue;
      }
      xyz.insert(xyz.end(), pp + 3 * i, pp + 3 * i + 3);
      rgb.insert(rgb.end(), rp + 3 * i, rp + 3 * i + 3);
      cf.push_back((cp[i] - 1.0f) / cp[i]);
      index.push_back(frames[f].index);
    }
  }
  const int64_t total = static_cast<int64_t>(cf.size());
  const int64_t mp = options.max_points;
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
      cloud.xyz(d, k) = xyz[3 * i + d];
      cloud.rgb(d, k) = rgb[3 * i + d];
    }
    cloud.confidence(k) = cf[i];
    cloud.frame_index[k] = index[i];
  }
  return cloud;
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
  model::AlignmentState aligned;
  torch::Tensor conf;
  try {
    const model::PairwisePointmaps pairs = RunPairs(
        state_->model, input.images, options_, state_->device, progress);
    aligned = Align(pairs, options_, plan, progress, &conf);
  } catch (const c10::Error& e) {
    throw ModelError(std::string("DUSt3R failed: ") +
                     e.what_without_backtrace());
  }
  TrackResult out;
  out.track.width = plan.source_width;
  out.track.height = plan.source_height;
  out.track.fps = info.fps;
  const torch::Tensor focals = aligned.focals.to(torch::kCPU);
  std::vector<double> used;
  std::vector<int64_t> unusable;
  const double side = std::max(plan.source_width, plan.source_height);
  for (size_t i = 0; i < input.frames.size(); ++i) {
    const int64_t k = static_cast<int64_t>(i);
    TrackedFrame tf;
    tf.index = input.frames[i].index;
    tf.timestamp_s = input.frames[i].timestamp_s;
    tf.intrinsics =
        model::Dust3rSourceIntrinsics(focals[k].item<double>(), plan);
    if (!std::isfinite(tf.intrinsics.fx) || tf.intrinsics.fx < 0.04 * side ||
        tf.intrinsics.fx > 60.0 * side) {
      unusable.push_back(tf.index);  // left out and listed, never invented
      continue;
    }
    used.push_back(tf.intrinsics.fx);
    tf.cam_from_world = network_internal::CamFromWorld(aligned.c2w[k]);
    const double mean_conf = conf[k].mean().item<double>();
    tf.confidence = (mean_conf - 1.0) / mean_conf;
    out.track.frames.push_back(tf);
  }
  if (used.empty()) {
    throw InputError("DUSt3R gave no usable focal length for any of the " +
                     std::to_string(input.frames.size()) +
                     " frames; give the focal with --focal-px");
  }
  if (!unusable.empty()) {
    out.summary.warnings.push_back(
        std::to_string(unusable.size()) + " of " +
        std::to_string(input.frames.size()) +
        " frames left out: DUSt3R gave no usable focal length (first: frame " +
        std::to_string(unusable.front()) + ")");
  }
  out.points =
      CollectPoints(aligned.pts3d, conf, input.images, input.frames, options_);
  out.summary.registered = static_cast<int64_t>(out.track.frames.size());
  out.summary.total = static_cast<int64_t>(input.frames.size());
  std::sort(used.begin(), used.end());
  out.summary.focal_px = used[used.size() / 2];
  return out;
}

}  // namespace vanelia
