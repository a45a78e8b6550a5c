// MUSt3R video mode. Ports must3r/demo/inference.py must3r_inference_video
// (mem_batches) and must3r/engine/inference.py inference_video_multi_ar.
#include "vanelia/model/must3r/must3r_video.hpp"

#include "vanelia/core/check.hpp"
#include "vanelia/core/error.hpp"
#include "vanelia/core/option_check.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>

#include <torch/torch.h>

namespace vanelia::model {

void Must3rVideoOptions::Check() const {
  auto at_least = [](const char* name, int v, int lo) {
    if (v < lo) {
      internal::ThrowBadOption(
          "Must3rVideoOptions", name, v, "must be >= " + std::to_string(lo));
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

// Encoder outputs of the frames: stacked when all share a shape, else per
// frame.
struct EncodedFrames {
  bool uniform = true;
  EncoderOutput stacked;              // tokens [n, N, D], positions [n, N, 2]
  std::vector<torch::Tensor> tokens;  // per frame [N_i, D] (mixed)
  std::vector<torch::Tensor> positions;  // per frame [N_i, 2] (mixed)
  std::vector<std::pair<int64_t, int64_t>> shapes;  // (H, W) per frame
};

// One image of a prediction of several: [H, W, 3] maps, focal [], c2w [4, 4].
PointmapPrediction Slice(const PointmapPrediction& p, int64_t j) {
  PointmapPrediction one;
  one.pts3d = p.pts3d[j];
  one.pts3d_local = p.pts3d_local[j];
  one.conf = p.conf[j];
  one.focal = p.focal[j];
  one.c2w = p.c2w[j];
  return one;
}

struct BatchOutput {
  MemoryState memory;
  std::vector<PointmapPrediction> frames;  // per frame of the batch
};

// One decoder update call on frames [s, s + count): upstream's stack_views +
// inference_multi_ar_batch. One shape: the tensor path. Several: one
// ForwardList entry per shape, sorted by (H, W) as torch.unique sorts rows,
// each cut in chunks of max_batch.
BatchOutput DecodeBatch(Must3rModel& model,
                        const EncodedFrames& enc,
                        int s,
                        int count,
                        const MemoryState* mem,
                        int64_t max_batch) {
  BatchOutput out;
  std::map<std::pair<int64_t, int64_t>, std::vector<int>> groups;
  for (int j = 0; j < count; ++j) groups[enc.shapes[s + j]].push_back(j);
  if (groups.size() == 1) {
    torch::Tensor tokens;
    torch::Tensor positions;
    if (enc.uniform) {
      tokens = enc.stacked.tokens.narrow(0, s, count);
      positions = enc.stacked.positions.narrow(0, s, count);
    } else {
      tokens = torch::stack(std::vector<torch::Tensor>(
          enc.tokens.begin() + s, enc.tokens.begin() + s + count));
      positions = torch::stack(std::vector<torch::Tensor>(
          enc.positions.begin() + s, enc.positions.begin() + s + count));
    }
    const auto [height, width] = enc.shapes[s];
    DecoderOutput d = model.decoder->forward(tokens.unsqueeze(0),
                                             positions.unsqueeze(0),
                                             height,
                                             width,
                                             mem,
                                             /*render=*/false,
                                             nullptr,
                                             max_batch);
    const PointmapPrediction pred = Postprocess(d.head[0], true);
    for (int j = 0; j < count; ++j) out.frames.push_back(Slice(pred, j));
    out.memory = std::move(d.memory);
    return out;
  }
  std::vector<DecoderEntry> entries;
  std::vector<std::vector<int>> members;  // frames of each entry
  for (const auto& [shape, js] : groups) {
    const size_t step =
        max_batch > 0 ? static_cast<size_t>(max_batch) : js.size();
    for (size_t a = 0; a < js.size(); a += step) {
      const std::vector<int> chunk(js.begin() + a,
                                   js.begin() + std::min(js.size(), a + step));
      std::vector<torch::Tensor> t;
      std::vector<torch::Tensor> p;
      for (int j : chunk) {
        t.push_back(enc.tokens[s + j]);
        p.push_back(enc.positions[s + j]);
      }
      entries.push_back({torch::stack(t).unsqueeze(0),
                         torch::stack(p).unsqueeze(0),
                         shape.first,
                         shape.second});
      members.push_back(chunk);
    }
  }
  DecoderListOutput d = model.decoder->ForwardList(entries, mem, false);
  out.frames.resize(count);
  for (size_t e = 0; e < entries.size(); ++e) {
    const PointmapPrediction pred = Postprocess(d.heads[e][0], true);
    for (size_t k = 0; k < members[e].size(); ++k) {
      out.frames[members[e][k]] = Slice(pred, static_cast<int64_t>(k));
    }
  }
  out.memory = std::move(d.memory);
  return out;
}

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

using Clock = std::chrono::steady_clock;

// A clock read for Must3rVideoResult::timings, after options.timing_sync.
Clock::time_point Now(const Must3rVideoOptions& options) {
  if (options.timing_sync) options.timing_sync();
  return Clock::now();
}

// The loop, on encoded frames. t1: when encoding ended.
Must3rVideoResult RunLoop(Must3rModel& model,
                          const EncodedFrames& enc,
                          const Must3rVideoOptions& options,
                          const ProgressCallback& progress,
                          Must3rVideoResult result,
                          Clock::time_point t1);

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
  Must3rVideoResult result;
  const Clock::time_point t0 = Now(options);
  EncodedFrames enc;
  enc.stacked = EncodeAll(model, images, options.encoder_batch);
  enc.shapes.assign(images.size(0), {images.size(2), images.size(3)});
  const Clock::time_point t1 = Now(options);
  result.timings.encoder_s = std::chrono::duration<double>(t1 - t0).count();
  return RunLoop(model, enc, options, progress, std::move(result), t1);
}

Must3rVideoResult RunMust3rVideo(Must3rModel& model,
                                 const std::vector<torch::Tensor>& images,
                                 const Must3rVideoOptions& options,
                                 const ProgressCallback& progress) {
  options.Check();
  if (images.empty()) {
    throw InputError("RunMust3rVideo: no images; needs >= 1");
  }
  std::map<std::pair<int64_t, int64_t>, std::vector<int>> groups;
  for (size_t i = 0; i < images.size(); ++i) {
    const torch::Tensor& im = images[i];
    if (im.dim() != 3 || im.size(0) != 3) {
      throw InputError("RunMust3rVideo: image " + std::to_string(i) +
                       " must be [3, H, W]");
    }
    groups[{im.size(1), im.size(2)}].push_back(static_cast<int>(i));
  }
  if (groups.size() == 1) {
    return RunMust3rVideo(model, torch::stack(images), options, progress);
  }
  torch::NoGradGuard no_grad;
  Must3rVideoResult result;
  const Clock::time_point t0 = Now(options);
  // Upstream's encoder_multi_ar: each shape encoded in its own batches.
  EncodedFrames enc;
  enc.uniform = false;
  enc.tokens.resize(images.size());
  enc.positions.resize(images.size());
  enc.shapes.resize(images.size());
  for (const auto& [shape, ids] : groups) {
    std::vector<torch::Tensor> group;
    for (int i : ids) group.push_back(images[i]);
    const EncoderOutput out =
        EncodeAll(model, torch::stack(group), options.encoder_batch);
    for (size_t k = 0; k < ids.size(); ++k) {
      enc.tokens[ids[k]] = out.tokens[static_cast<int64_t>(k)];
      enc.positions[ids[k]] = out.positions[static_cast<int64_t>(k)];
      enc.shapes[ids[k]] = shape;
    }
  }
  const Clock::time_point t1 = Now(options);
  result.timings.encoder_s = std::chrono::duration<double>(t1 - t0).count();
  return RunLoop(model, enc, options, progress, std::move(result), t1);
}

std::vector<PointmapPrediction> RenderWithMemory(Must3rModel& model,
                                                 const torch::Tensor& images,
                                                 const MemoryState& memory,
                                                 int max_batch) {
  if (images.dim() != 4 || images.size(1) != 3 || images.size(0) < 1) {
    throw InputError("RenderWithMemory: images must be [n >= 1, 3, H, W]");
  }
  if (max_batch < 0) {
    throw InputError("RenderWithMemory: max_batch = " +
                     std::to_string(max_batch) + "; must be >= 0");
  }
  if (memory.NumTokens() == 0) {
    throw InputError("RenderWithMemory: the memory is empty; needs >= 1 token");
  }
  torch::NoGradGuard no_grad;
  const int64_t n = images.size(0);
  const EncoderOutput enc = EncodeAll(model, images, 16);
  const int64_t step = max_batch > 0 ? max_batch : n;
  std::vector<PointmapPrediction> out;
  for (int64_t s = 0; s < n; s += step) {
    const int64_t count = std::min(step, n - s);
    const DecoderOutput d =
        model.decoder->forward(enc.tokens.narrow(0, s, count).unsqueeze(0),
                               enc.positions.narrow(0, s, count).unsqueeze(0),
                               images.size(2),
                               images.size(3),
                               &memory,
                               /*render=*/true);
    const PointmapPrediction pred = Postprocess(d.head[0], true);
    for (int64_t j = 0; j < count; ++j) out.push_back(Slice(pred, j));
  }
  return out;
}

namespace {

// What the video loop carries from one decoder call to the next.
struct LoopState {
  std::optional<MemoryState> mem;
  std::vector<int64_t> label;  // per frame: its memory label, -1 unseen
  int num_seen = 0;            // frames with a label
  std::set<int> keyframes;     // ids
  std::vector<PointmapPrediction> slots;  // per frame: the latest prediction
  std::optional<OverlapKeyframeRule> overlap_rule;
};

// The loop's state before the first call over n frames (with the overlap
// rule when it decides the keyframes).
LoopState StartLoop(int n,
                    const Must3rVideoOptions& options,
                    std::vector<double>* overlap_score) {
  LoopState state;
  state.label.assign(n, -1);
  state.slots.resize(n);
  overlap_score->assign(n, std::numeric_limits<double>::quiet_NaN());
  if (options.keyframe_rule == KeyframeRule::kOverlap && !options.is_keyframe) {
    state.overlap_rule.emplace(options.overlap);
  }
  return state;
}

// Labels the frames [s, s + count) of one call, whose predictions are `pred`
// and whose new tokens are labelled label_base + j, and pushes them on the
// window: a frame seen before takes its old label back (a keyframe's tokens
// overwrite its old ones); a new frame keeps its label and may become a
// keyframe (all frames of the first call do).
void AssignLabels(const std::vector<PointmapPrediction>& pred,
                  int s,
                  int count,
                  int64_t label_base,
                  const Must3rVideoOptions& options,
                  LoopState* state,
                  std::deque<int>* window,
                  std::vector<double>* overlap_score) {
  std::optional<MemoryState>& mem = state->mem;
  std::vector<int64_t>& label = state->label;
  std::set<int>& keyframes = state->keyframes;
  std::optional<OverlapKeyframeRule>& overlap_rule = state->overlap_rule;
  const bool first_batch_ever = state->num_seen == 0;
  auto frame_of = [&pred](int j) -> const PointmapPrediction& {
    return pred[j];
  };
  for (int j = 0; j < count; ++j) {
    const int id = s + j;
    const int64_t new_label = label_base + j;
    window->push_back(id);
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
    } else if (static_cast<int>(keyframes.size()) >= options.max_keyframes) {
      is_keyframe = false;
    } else if (options.is_keyframe) {
      is_keyframe = options.is_keyframe(id, frame_of(j));
    } else if (overlap_rule) {
      (*overlap_score)[id] = overlap_rule->Score(frame_of(j));
      is_keyframe = overlap_rule->IsKeyframe((*overlap_score)[id]);
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
  state->num_seen = static_cast<int>(std::count_if(
      label.begin(), label.end(), [](int64_t v) { return v >= 0; }));
}

// Pops the oldest frames off the window until `keep` are left, removing the
// tokens of those that are not keyframes from the memory.
void EvictFromWindow(int keep, LoopState* state, std::deque<int>* window) {
  while (static_cast<int>(window->size()) > keep) {
    const int id = window->front();
    window->pop_front();
    if (state->keyframes.count(id) == 0) {
      state->mem->RemoveLabel(state->label[id]);
    }
  }
}

// Fills result's per-frame outputs, final memory, keyframes and labels from
// the loop's end state (frames stacked when they share one shape).
void FinishResult(LoopState state,
                  const EncodedFrames& enc,
                  Must3rVideoResult* result) {
  std::vector<torch::Tensor> pts3d, pts3d_local, conf, focal, c2w;
  for (const PointmapPrediction& slot : state.slots) {
    pts3d.push_back(slot.pts3d);
    pts3d_local.push_back(slot.pts3d_local);
    conf.push_back(slot.conf);
    focal.push_back(slot.focal);
    c2w.push_back(slot.c2w);
  }
  const bool one_shape =
      std::all_of(enc.shapes.begin(), enc.shapes.end(), [&](const auto& v) {
        return v == enc.shapes[0];
      });
  if (one_shape) {
    result->frames.pts3d = torch::stack(pts3d);
    result->frames.pts3d_local = torch::stack(pts3d_local);
    result->frames.conf = torch::stack(conf);
  }
  result->frames.focal = torch::stack(focal);
  result->frames.c2w = torch::stack(c2w);
  result->per_frame = std::move(state.slots);
  result->memory = std::move(*state.mem);
  result->keyframes.assign(state.keyframes.begin(), state.keyframes.end());
  result->frame_label = state.label;
}

Must3rVideoResult RunLoop(Must3rModel& model,
                          const EncodedFrames& enc,
                          const Must3rVideoOptions& options,
                          const ProgressCallback& progress,
                          Must3rVideoResult result,
                          Clock::time_point t1) {
  const int n = static_cast<int>(enc.shapes.size());
  auto seconds = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };

  result.mem_batches =
      MemoryBatches(n, options.init_num_images, options.batch_num_views);
  std::vector<int> starts{0};
  for (int b : result.mem_batches) starts.push_back(starts.back() + b);
  const int num_batches = static_cast<int>(result.mem_batches.size());

  LoopState state = StartLoop(n, options, &result.overlap_score);
  std::optional<MemoryState>& mem = state.mem;
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
      BatchOutput out = DecodeBatch(
          model, enc, s, count, mem ? &*mem : nullptr, options.max_batch);
      Clock::time_point t2 = Now(options);
      result.timings.decoder_s += seconds(t1, t2);
      const std::vector<PointmapPrediction>& pred = out.frames;
      if (options.sync_each_call) (void)pred.back().focal.to(torch::kCPU);
      t1 = Now(options);
      result.timings.postprocess_s += seconds(t2, t1);
      mem = std::move(out.memory);
      record.nmem_after_decoder = mem->NumTokens();
      for (int j = 0; j < count; ++j) state.slots[s + j] = pred[j];
      AssignLabels(pred,
                   s,
                   count,
                   label_base,
                   options,
                   &state,
                   &window,
                   &result.overlap_score);
      EvictFromWindow(options.local_context_size, &state, &window);
      mem->num_images = state.num_seen;
      if (bi + 1 == num_batches) EvictFromWindow(0, &state, &window);
      record.nmem_after_removals = mem->NumTokens();
      result.trace.push_back(record);
      t2 = Now(options);
      result.timings.bookkeeping_s += seconds(t1, t2);
      t1 = t2;
      reporter.Update(++calls);
    }
    if (pass == 0 && options.keep_first_pass) result.first_pass = state.slots;
  }
  reporter.Finish();
  FinishResult(std::move(state), enc, &result);
  return result;
}

}  // namespace

}  // namespace vanelia::model
