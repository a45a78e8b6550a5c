// MUSt3R video mode. Ports must3r/demo/inference.py must3r_inference_video
// (mem_batches) and must3r/engine/inference.py inference_video_multi_ar.
#include "vanelia/model/must3r_video.hpp"

#include "vanelia/core/check.hpp"
#include "vanelia/core/error.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <limits>
#include <optional>
#include <set>
#include <string>

#include <torch/torch.h>

namespace vanelia::model {

void Must3rVideoOptions::Check() const {
  auto at_least = [](const char* name, int v, int lo) {
    if (v < lo) {
      throw InputError(std::string("Must3rVideoOptions::") + name + " = " +
                       std::to_string(v) +
                       "; must be >= " + std::to_string(lo));
    }
  };
  at_least("init_num_images", init_num_images, 1);
  at_least("batch_num_views", batch_num_views, 1);
  at_least("local_context_size", local_context_size, 0);
  at_least("keyframe_every", keyframe_every, 1);
  at_least("max_keyframes", max_keyframes, 1);
  at_least("num_refinements", num_refinements, 0);
  at_least("max_batch", max_batch, 0);
  at_least("encoder_batch", encoder_batch, 1);
  if (keyframe_rule == KeyframeRule::kOverlap) overlap.Check();
}

std::vector<int> MemoryBatches(int num_frames,
                               int init_num_images,
                               int batch_num_views) {
  std::vector<int> batches;
  if (num_frames <= 0) return batches;
  batches.push_back(std::min(init_num_images, num_frames));
  int sum = batches.back();
  while (sum != num_frames) {
    batches.push_back(std::min(batch_num_views, num_frames - sum));
    sum += batches.back();
  }
  return batches;
}

namespace {

struct FrameSlot {
  torch::Tensor pts3d, pts3d_local, conf, focal, c2w;
};

// Sets the TF32 flags for its lifetime, restores them after.
class Tf32Scope {
 public:
  explicit Tf32Scope(bool allow) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    cublas_ = at::globalContext().allowTF32CuBLAS();
    cudnn_ = at::globalContext().allowTF32CuDNN();
    at::globalContext().setAllowTF32CuBLAS(allow);
    at::globalContext().setAllowTF32CuDNN(allow);
#pragma GCC diagnostic pop
  }

  ~Tf32Scope() {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    at::globalContext().setAllowTF32CuBLAS(cublas_);
    at::globalContext().setAllowTF32CuDNN(cudnn_);
#pragma GCC diagnostic pop
  }

  Tf32Scope(const Tf32Scope&) = delete;
  Tf32Scope& operator=(const Tf32Scope&) = delete;

 private:
  bool cublas_ = false;
  bool cudnn_ = false;
};

// Encoder outputs of all frames, in chunks of `batch` images.
EncoderOutput EncodeAll(Must3rModel& model,
                        const torch::Tensor& images,
                        int batch) {
  std::optional<Tf32Scope> tf32;
  if (model.encoder_tf32) tf32.emplace(true);
  std::vector<torch::Tensor> tokens;
  std::vector<torch::Tensor> positions;
  for (int64_t s = 0; s < images.size(0); s += batch) {
    const int64_t e = std::min<int64_t>(images.size(0), s + batch);
    EncoderOutput out = model.encoder->Encode(images.narrow(0, s, e - s));
    tokens.push_back(out.tokens);
    positions.push_back(out.positions);
  }
  return {torch::cat(tokens, 0), torch::cat(positions, 0)};
}

}  // namespace

Must3rVideoResult RunMust3rVideo(Must3rModel& model,
                                 const torch::Tensor& images,
                                 const Must3rVideoOptions& options,
                                 const ProgressCallback& progress) {
  options.Check();
  if (images.dim() != 4 || images.size(1) != 3 || images.size(0) < 1) {
    throw InputError("RunMust3rVideo: images must be [n >= 1, 3, H, W]");
  }
  torch::NoGradGuard no_grad;
  const int n = static_cast<int>(images.size(0));
  const int64_t height = images.size(2);
  const int64_t width = images.size(3);
  Must3rVideoResult result;
  using Clock = std::chrono::steady_clock;
  auto now = [&options] {
    if (options.timing_sync) options.timing_sync();
    return Clock::now();
  };
  auto seconds = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  Clock::time_point t0 = now();
  const EncoderOutput enc = EncodeAll(model, images, options.encoder_batch);
  Clock::time_point t1 = now();
  result.timings.encoder_s = seconds(t0, t1);

  result.mem_batches =
      MemoryBatches(n, options.init_num_images, options.batch_num_views);
  std::vector<int> starts{0};
  for (int b : result.mem_batches) starts.push_back(starts.back() + b);
  const int num_batches = static_cast<int>(result.mem_batches.size());

  std::optional<MemoryState> mem;
  std::vector<int64_t> label(n, -1);
  int num_seen = 0;
  std::set<int> keyframes;
  std::vector<FrameSlot> slots(n);
  result.overlap_score.assign(n, std::numeric_limits<double>::quiet_NaN());
  std::optional<OverlapKeyframeRule> overlap_rule;
  if (options.keyframe_rule == KeyframeRule::kOverlap && !options.is_keyframe) {
    overlap_rule.emplace(options.overlap);
  }
  ProgressReporter reporter(
      "must3r",
      static_cast<int64_t>(num_batches) * (options.num_refinements + 1),
      progress);
  int64_t calls = 0;

  for (int pass = 0; pass <= options.num_refinements; ++pass) {
    std::deque<int> window;
    for (int bi = 0; bi < num_batches; ++bi) {
      const int s = starts[bi];
      const int count = result.mem_batches[bi];
      VideoCallRecord record;
      record.pass = pass;
      record.batch = bi;
      record.first_id = s;
      record.num_images = count;
      record.nmem_before = mem ? mem->NumTokens() : 0;
      const int64_t label_base = mem ? mem->num_images : 0;
      DecoderOutput out =
          model.decoder->forward(enc.tokens.narrow(0, s, count).unsqueeze(0),
                                 enc.positions.narrow(0, s, count).unsqueeze(0),
                                 height,
                                 width,
                                 mem ? &*mem : nullptr,
                                 /*render=*/false,
                                 nullptr,
                                 options.max_batch);
      Clock::time_point t2 = now();
      result.timings.decoder_s += seconds(t1, t2);
      const PointmapPrediction pred = Postprocess(out.head[0], true);
      if (options.sync_each_call) (void)pred.focal.to(torch::kCPU);
      t1 = now();
      result.timings.postprocess_s += seconds(t2, t1);
      mem = std::move(out.memory);
      record.nmem_after_decoder = mem->NumTokens();
      for (int j = 0; j < count; ++j) {
        FrameSlot& slot = slots[s + j];
        slot.pts3d = pred.pts3d[j];
        slot.pts3d_local = pred.pts3d_local[j];
        slot.conf = pred.conf[j];
        slot.focal = pred.focal[j];
        slot.c2w = pred.c2w[j];
      }
      const bool first_batch_ever = num_seen == 0;
      auto frame_of = [&pred](int j) {
        PointmapPrediction one;
        one.pts3d = pred.pts3d[j];
        one.pts3d_local = pred.pts3d_local[j];
        one.conf = pred.conf[j];
        one.focal = pred.focal[j];
        one.c2w = pred.c2w[j];
        return one;
      };
      for (int j = 0; j < count; ++j) {
        const int id = s + j;
        const int64_t new_label = label_base + j;
        window.push_back(id);
        if (first_batch_ever) {
          label[id] = new_label;
          keyframes.insert(id);
          if (overlap_rule) overlap_rule->AddKeyframe(frame_of(j));
          continue;
        }
        const bool seen = label[id] >= 0;
        bool is_keyframe;
        if (seen) {
          is_keyframe = keyframes.count(id) > 0;
        } else if (static_cast<int>(keyframes.size()) >=
                   options.max_keyframes) {
          is_keyframe = false;
        } else if (options.is_keyframe) {
          is_keyframe = options.is_keyframe(id, frame_of(j));
        } else if (overlap_rule) {
          result.overlap_score[id] = overlap_rule->Score(frame_of(j));
          is_keyframe = overlap_rule->IsKeyframe(result.overlap_score[id]);
        } else {
          is_keyframe = id % options.keyframe_every == 0;
        }
        if (is_keyframe && seen) {
          if (label[id] != 0) mem->OverwriteLabel(label[id], new_label);
          mem->RemoveLabel(new_label);
        } else if (seen) {
          mem->Relabel(new_label, label[id]);
        } else {
          label[id] = new_label;
          if (is_keyframe) {
            keyframes.insert(id);
            if (overlap_rule) overlap_rule->AddKeyframe(frame_of(j));
          }
        }
      }
      num_seen = static_cast<int>(std::count_if(
          label.begin(), label.end(), [](int64_t v) { return v >= 0; }));
      while (static_cast<int>(window.size()) > options.local_context_size) {
        const int id = window.front();
        window.pop_front();
        if (keyframes.count(id) == 0) mem->RemoveLabel(label[id]);
      }
      mem->num_images = num_seen;
      if (bi + 1 == num_batches) {
        while (!window.empty()) {
          const int id = window.front();
          window.pop_front();
          if (keyframes.count(id) == 0) mem->RemoveLabel(label[id]);
        }
      }
      record.nmem_after_removals = mem->NumTokens();
      result.trace.push_back(record);
      t2 = now();
      result.timings.bookkeeping_s += seconds(t1, t2);
      t1 = t2;
      reporter.Update(++calls);
    }
  }
  reporter.Finish();

  std::vector<torch::Tensor> pts3d, pts3d_local, conf, focal, c2w;
  for (const FrameSlot& slot : slots) {
    pts3d.push_back(slot.pts3d);
    pts3d_local.push_back(slot.pts3d_local);
    conf.push_back(slot.conf);
    focal.push_back(slot.focal);
    c2w.push_back(slot.c2w);
  }
  result.frames.pts3d = torch::stack(pts3d);
  result.frames.pts3d_local = torch::stack(pts3d_local);
  result.frames.conf = torch::stack(conf);
  result.frames.focal = torch::stack(focal);
  result.frames.c2w = torch::stack(c2w);
  result.memory = std::move(*mem);
  result.keyframes.assign(keyframes.begin(), keyframes.end());
  result.frame_label = label;
  return result;
}

}  // namespace vanelia::model
