// Must3rTracker: the MUSt3R video mode (vanelia/model) as a Tracker.
// Intrinsics come back in source pixels through the real crop and scale
// (model/preprocess.hpp SourceIntrinsics); poses are the inverse of
// postprocess's c2w (OpenCV camera axes, world = first frame's camera).
#include "vanelia/track/network/must3r_tracker.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/model/blocks/preprocess.hpp"
#include "vanelia/model/checkpoint/model_config.hpp"
#include "vanelia/model/must3r/must3r.hpp"
#include "vanelia/model/must3r/must3r_video.hpp"
#include "vanelia/trackfile/conventions.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <vector>

#include <Eigen/Geometry>
#include <torch/torch.h>

#include "network_tracker_impl.hpp"

namespace vanelia {

struct Must3rTracker::State {
  model::Must3rModel model;
  torch::Device device{torch::kCPU};
};

// The option a field is given by: the CLI's flag (the Python keyword is the
// field's name), or the field's name for those only the API sets.
std::string Must3rOptionName(const std::string& field) {
  static const char* const kApiOnly[] = {
      "refinements", "point_stride", "max_points", "min_confidence"};
  for (const char* api_only : kApiOnly) {
    if (field == api_only) return "MUSt3R option " + field;
  }
  std::string flag = "--" + field;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

void Must3rTrackerOptions::Check() const {
  common.Check();
  auto fail =
      [](const char* field, const std::string& value, const std::string& rule) {
        throw InputError(Must3rOptionName(field) + " " + value + ": " + rule);
      };
  auto at_least = [&fail](const char* field, int64_t v, int64_t lo) {
    if (v < lo)
      fail(field, std::to_string(v), "must be >= " + std::to_string(lo));
  };
  auto number = [](double v) {
    std::ostringstream text;
    text << v;
    return text.str();
  };
  if (weights.empty()) {
    throw InputError(
        "--weights: none given; the must3r tracker needs a MUSt3R "
        "checkpoint (MUSt3R_512.pth or MUSt3R_224_cvpr.pth)");
  }
  if (custom_buckets.empty() && image_size != 224 && image_size != 512 &&
      image_size != 0) {
    fail("image_size",
         std::to_string(image_size),
         "must be 224, 512 or 0 (the weights' own)");
  }
  if (!custom_buckets.empty() && image_size == 0) {
    fail("image_size",
         "0",
         "custom buckets need the weights' training resolution");
  }
  if (device != "auto" && device != "cpu" && device != "cuda") {
    fail("device", "'" + device + "'", "must be auto, cpu or cuda");
  }
  if (dtype != "fp32" && dtype != "bf16" && dtype != "fp16") {
    fail("dtype", "'" + dtype + "'", "must be fp32, bf16 or fp16");
  }
  at_least("local_context", local_context, 0);
  at_least("max_keyframes", max_keyframes, 1);
  at_least("keyframe_every", keyframe_every, 1);
  if (keyframe_rule != "every" && keyframe_rule != "overlap") {
    fail(
        "keyframe_rule", "'" + keyframe_rule + "'", "must be every or overlap");
  }
  if (!(overlap_threshold >= 0.0) || !std::isfinite(overlap_threshold)) {
    fail("overlap_threshold",
         number(overlap_threshold),
         "must be finite and >= 0");
  }
  if (!(overlap_percentile >= 0.0 && overlap_percentile <= 100.0)) {
    fail("overlap_percentile",
         number(overlap_percentile),
         "must be in [0, 100]");
  }
  at_least("overlap_subsample", overlap_subsample, 1);
  if (!std::isfinite(overlap_min_conf)) {
    fail("overlap_min_conf", number(overlap_min_conf), "must be finite");
  }
  at_least("init_frames", init_frames, 1);
  at_least("batch_frames", batch_frames, 1);
  at_least("refinements", refinements, 0);
  at_least("point_stride", point_stride, 1);
  at_least("max_points", max_points, 0);
  if (!(min_confidence >= 1.0)) {
    fail("min_confidence",
         number(min_confidence),
         "must be >= 1 (MUSt3R confidence is 1 + exp(x))");
  }
}

Must3rTracker::Must3rTracker(Must3rTrackerOptions options)
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
  if (options_.dtype != "fp32" && !state->device.is_cuda()) {
    throw InputError("--dtype " + options_.dtype +
                     ": needs a CUDA GPU (use --dtype fp32 on the CPU)");
  }
  state->model = model::LoadMust3rModel(options_.weights);
  if (options_.image_size == 0) UseWeightsResolution(state->model.config);
  CheckWeightsResolution(state->model.config);
  const torch::Dtype dtype = options_.dtype == "bf16"   ? torch::kBFloat16
                             : options_.dtype == "fp16" ? torch::kFloat16
                                                        : torch::kFloat32;
  state->model.To(state->device, dtype);
  state_ = std::move(state);
}

Must3rTracker::~Must3rTracker() = default;

bool Must3rCudaAvailable() {
  return torch::cuda::is_available();
}

void Must3rTracker::CheckWeightsResolution(const ModelConfig& config) const {
  if (options_.image_size == config.resolution) return;
  // The option accepts 224, 512 and 0: advise 0 (the weights' own) for the
  // odd sizes of test or fine-tuned checkpoints.
  const bool listed = config.resolution == 224 || config.resolution == 512;
  throw ModelError("--image-size " + std::to_string(options_.image_size) +
                   ": the weights '" + options_.weights +
                   "' are for image size " + std::to_string(config.resolution) +
                   "; give --image-size " +
                   (listed ? std::to_string(config.resolution) + " or 0"
                           : std::string("0")) +
                   " (the weights' own)");
}

void Must3rTracker::UseWeightsResolution(const ModelConfig& config) {
  options_.image_size = config.resolution;
  try {
    model::BucketsForSize(config.resolution);
  } catch (const InputError&) {
    // No upstream list for this resolution: the training shape is the one
    // bucket (landscape width = long side).
    const int h = config.decoder.img_size_h;
    const int w = config.decoder.img_size_w;
    const int long_side = std::max(h, w);
    const int short_side = std::min(h, w);
    options_.custom_buckets = {
        {static_cast<double>(long_side) / short_side, long_side, short_side}};
  }
}

std::vector<model::AspectBucket> Must3rTracker::Buckets() const {
  if (options_.custom_buckets.empty()) {
    return model::BucketsForSize(options_.image_size);
  }
  std::vector<model::AspectBucket> out;
  for (const auto& b : options_.custom_buckets) {
    out.push_back({b.ratio, b.width, b.height});
  }
  return out;
}

namespace {

// A focal length (source pixels) of a real lens: a field of view between
// about 1 and 170 degrees across the larger image side.
bool UsableFocal(double focal_px, const model::ResizePlan& plan) {
  const double side = std::max(plan.source_width, plan.source_height) * 1.0;
  return std::isfinite(focal_px) && focal_px >= 0.04 * side &&
         focal_px <= 60.0 * side;
}

// Dense points of one frame: world xyz where conf > threshold on a grid.
void CollectPoints(const torch::Tensor& pts3d,  // [H, W, 3]
                   const torch::Tensor& conf,   // [H, W]
                   const torch::Tensor& image,  // [3, H, W] in [-1, 1]
                   const Must3rTrackerOptions& options,
                   int64_t frame_index,
                   std::vector<float>* xyz,
                   std::vector<uint8_t>* rgb,
                   std::vector<float>* confidence,
                   std::vector<int64_t>* frames) {
  const int64_t s = options.point_stride;
  const torch::Tensor p = pts3d.slice(0, 0, pts3d.size(0), s)
                              .slice(1, 0, pts3d.size(1), s)
                              .reshape({-1, 3})
                              .contiguous();
  const torch::Tensor c = conf.slice(0, 0, conf.size(0), s)
                              .slice(1, 0, conf.size(1), s)
                              .reshape({-1})
                              .contiguous();
  const torch::Tensor col = ((image.slice(1, 0, image.size(1), s)
                                      .slice(2, 0, image.size(2), s)
                                      .reshape({3, -1})
                                      .t() *
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
    if (!(cp[i] > options.min_confidence)) continue;
    if (!std::isfinite(pp[3 * i]) || !std::isfinite(pp[3 * i + 1]) ||
        !std::isfinite(pp[3 * i + 2])) {
      continue;
    }
    xyz->insert(xyz->end(), pp + 3 * i, pp + 3 * i + 3);
    rgb->insert(rgb->end(), rp + 3 * i, rp + 3 * i + 3);
    confidence->push_back((cp[i] - 1.0f) / cp[i]);
    frames->push_back(frame_index);
  }
}

// The frames of a feed as the network sees them.
struct NetworkInput {
  std::vector<Frame> frames;          // index and time (images dropped)
  std::vector<torch::Tensor> images;  // per frame [3, h, w] in [-1, 1]
  model::ResizePlan plan;             // source pixels -> network pixels
};

// Pulls every frame of `feed` (reported, and cancellable, as the "decode"
// stage) and preprocesses it for the network's `buckets`. Throws InputError
// when a frame's size differs from the first one's or there are < 2 frames.
NetworkInput ReadFrames(const FrameFeed& feed,
                        const FrameFeedInfo& info,
                        const ProgressCallback& progress,
                        const std::vector<model::AspectBucket>& buckets) {
  NetworkInput input;
  std::vector<Frame>& frames = input.frames;
  std::vector<torch::Tensor>& images = input.images;
  model::ResizePlan& plan = input.plan;
  // Decoding and preprocessing report (and can cancel) as their own stage.
  ProgressReporter decode("decode", info.expected_frames, progress);
  Frame frame;
  while (feed(&frame)) {
    if (images.empty()) {
      plan = model::PlanResize(frame.rgb.width, frame.rgb.height, buckets);
    } else if (frame.rgb.width != plan.source_width ||
               frame.rgb.height != plan.source_height) {
      // The network would take it (model::RunMust3rVideo groups frames by
      // shape, as upstream), but a track has one image size.
      throw InputError(
          "Must3rTracker: frame " + std::to_string(frame.index) + " is " +
          std::to_string(frame.rgb.width) + "x" +
          std::to_string(frame.rgb.height) + "; all frames must be " +
          std::to_string(plan.source_width) + "x" +
          std::to_string(plan.source_height) + " (a track has one image size)");
    }
    images.push_back(model::ApplyResizePlan(
        model::NormalizeImage(
            network_internal::ImageToTensor(frame.rgb, "Must3rTracker")),
        plan));
    frame.rgb = Image();  // the network image is all we keep
    frames.push_back(frame);
    decode.Update(static_cast<int64_t>(frames.size()));
  }
  decode.Finish();
  if (frames.size() < 2) {
    throw InputError("Must3rTracker: " + std::to_string(frames.size()) +
                     " frames; needs at least 2");
  }
  return input;
}

// The video-mode options the tracker's options ask for.
model::Must3rVideoOptions VideoOptions(const Must3rTrackerOptions& options) {
  model::Must3rVideoOptions video;
  video.init_num_images = options.init_frames;
  video.batch_num_views = options.batch_frames;
  video.local_context_size = options.local_context;
  video.keyframe_every = options.keyframe_every;
  if (options.keyframe_rule == "overlap") {
    video.keyframe_rule = model::KeyframeRule::kOverlap;
    video.overlap.threshold = options.overlap_threshold;
    video.overlap.percentile = options.overlap_percentile;
    video.overlap.subsample = options.overlap_subsample;
    video.overlap.min_conf = options.overlap_min_conf;
  }
  video.max_keyframes = options.max_keyframes;
  video.num_refinements = options.refinements;
  return video;
}

// Runs the video mode on batch: [n, 3, h, w]; a LibTorch failure becomes a
// ModelError (with advice when the GPU ran out of memory).
model::Must3rVideoResult RunVideo(model::Must3rModel& model,
                                  const torch::Tensor& batch,
                                  const model::Must3rVideoOptions& video,
                                  const ProgressCallback& progress,
                                  size_t num_frames,
                                  int image_size) {
  try {
    return model::RunMust3rVideo(model, batch, video, progress);
  } catch (const c10::Error& e) {
    const std::string what = e.what();
    if (what.find("out of memory") != std::string::npos) {
      throw ModelError("MUSt3R ran out of GPU memory on " +
                       std::to_string(num_frames) + " frames at image size " +
                       std::to_string(image_size) +
                       "; try --image-size 224, a smaller --max-keyframes or "
                       "--local-context, or --device cpu");
    }
    throw ModelError(std::string("MUSt3R inference failed: ") +
                     e.what_without_backtrace());
  }
}

// cam_from_world of one frame's c2w: [4, 4] f64 (world_from_cam, its
// rotation projected onto SO(3)).
// The kept points of all frames, before subsampling.
struct DensePoints {
  std::vector<float> xyz;         // x, y, z per point
  std::vector<uint8_t> rgb;       // r, g, b per point
  std::vector<float> confidence;  // per point
  std::vector<int64_t> frames;    // per point
};

// A bounded, deterministic subsample of `points` (every k-th point, at most
// max_points; none when max_points is 0).
PointCloud SubsamplePoints(const DensePoints& points, int64_t max_points) {
  PointCloud cloud;
  const int64_t total = static_cast<int64_t>(points.confidence.size());
  const int64_t step = max_points > 0 && total > max_points
                           ? (total + max_points - 1) / max_points
                           : 1;
  const int64_t kept = max_points == 0 ? 0 : (total + step - 1) / step;
  cloud.xyz.resize(3, kept);
  cloud.rgb.resize(3, kept);
  cloud.confidence.resize(kept);
  cloud.frame_index.resize(kept);
  for (int64_t k = 0; k < kept; ++k) {
    const int64_t i = k * step;
    for (int d = 0; d < 3; ++d) {
      cloud.xyz(d, k) = points.xyz[3 * i + d];
      cloud.rgb(d, k) = points.rgb[3 * i + d];
    }
    cloud.confidence(k) = points.confidence[i];
    cloud.frame_index[k] = points.frames[i];
  }
  return cloud;
}

// The warning for the frames left out without a usable focal (the first 10
// listed) out of num_frames.
std::string UnusableFocalWarning(const std::vector<int64_t>& unusable,
                                 size_t num_frames) {
  std::string list;
  for (size_t k = 0; k < unusable.size() && k < 10; ++k) {
    list += (k == 0 ? "" : ", ") + std::to_string(unusable[k]);
  }
  if (unusable.size() > 10) list += ", ...";
  return std::to_string(unusable.size()) + " of " + std::to_string(num_frames) +
         " frames left out: MUSt3R gave no usable focal length (frames " +
         list + ")";
}

// Fills out's summary from the usable focals (source pixels) and the frames
// left out without one, of num_frames; throws InputError when no frame has
// a usable focal.
void FillSummary(std::vector<double> focals,
                 const std::vector<int64_t>& unusable,
                 size_t num_frames,
                 TrackResult* out) {
  if (focals.empty()) {
    throw InputError("MUSt3R gave no usable focal length for any of the " +
                     std::to_string(num_frames) +
                     " frames (untrained weights, or footage it cannot "
                     "read); give the focal with --focal-px");
  }
  if (!unusable.empty()) {
    out->summary.warnings.push_back(UnusableFocalWarning(unusable, num_frames));
  }
  out->summary.registered = static_cast<int64_t>(out->track.frames.size());
  out->summary.total = static_cast<int64_t>(num_frames);
  std::sort(focals.begin(), focals.end());
  out->summary.focal_px = focals[focals.size() / 2];
}

}  // namespace

TrackResult Must3rTracker::Track(const FrameFeed& feed,
                                 const FrameFeedInfo& info,
                                 const ProgressCallback& progress) {
  torch::NoGradGuard no_grad;
  const NetworkInput input = ReadFrames(feed, info, progress, Buckets());
  const std::vector<Frame>& frames = input.frames;
  const std::vector<torch::Tensor>& images = input.images;
  const model::ResizePlan& plan = input.plan;
  const model::Must3rVideoOptions video = VideoOptions(options_);
  const torch::Tensor batch = torch::stack(images).to(state_->device);
  const model::Must3rVideoResult result = RunVideo(state_->model,
                                                   batch,
                                                   video,
                                                   progress,
                                                   frames.size(),
                                                   options_.image_size);

  TrackResult out;
  out.track.width = plan.source_width;
  out.track.height = plan.source_height;
  out.track.fps = info.fps;
  const torch::Tensor focal =
      result.frames.focal.to(torch::kCPU).to(torch::kFloat64);
  const torch::Tensor c2w =
      result.frames.c2w.to(torch::kCPU).to(torch::kFloat64);
  const torch::Tensor conf = result.frames.conf.to(torch::kCPU);
  const torch::Tensor pts3d = result.frames.pts3d.to(torch::kCPU);
  DensePoints points;
  auto depth = std::make_shared<DepthMaps>();
  std::vector<double> focals;
  std::vector<int64_t> unusable;  // frames without a usable focal
  for (size_t i = 0; i < frames.size(); ++i) {
    TrackedFrame tf;
    tf.index = frames[i].index;
    tf.timestamp_s = frames[i].timestamp_s;
    const double f = options_.common.focal_px.has_value()
                         ? *options_.common.focal_px / plan.ScaleX()
                         : focal[static_cast<int64_t>(i)].item<double>();
    tf.intrinsics = model::SourceIntrinsics(f, plan);
    if (!UsableFocal(tf.intrinsics.fx, plan)) {
      // No usable focal (the network's pointmap gives none, or one outside
      // any real lens): the frame is left out and reported, never given an
      // invented focal.
      unusable.push_back(frames[i].index);
      continue;
    }
    focals.push_back(tf.intrinsics.fx);
    tf.cam_from_world =
        network_internal::CamFromWorld(c2w[static_cast<int64_t>(i)]);
    const double mean_conf =
        conf[static_cast<int64_t>(i)].mean().item<double>();
    tf.confidence = (mean_conf - 1.0) / mean_conf;
    out.track.frames.push_back(tf);
    network_internal::AppendDepth(pts3d[static_cast<int64_t>(i)],
                                  conf[static_cast<int64_t>(i)],
                                  c2w[static_cast<int64_t>(i)],
                                  f,
                                  frames[i].index,
                                  depth.get());
    CollectPoints(pts3d[static_cast<int64_t>(i)],
                  conf[static_cast<int64_t>(i)],
                  images[i],
                  options_,
                  frames[i].index,
                  &points.xyz,
                  &points.rgb,
                  &points.confidence,
                  &points.frames);
  }
  out.points = SubsamplePoints(points, options_.max_points);
  FillSummary(std::move(focals), unusable, frames.size(), &out);
  out.depth = std::move(depth);
  return out;
}

}  // namespace vanelia
