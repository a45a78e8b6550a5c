// The MUSt3R decoder. Ports must3r/model/decoder.py MUSt3R.forward /
// forward_list (inference class) and feedback_mechanism.py
// run_feedback_layers (the memory's own operations are in memory_state.cpp).
#include "vanelia/model/must3r/must3r.hpp"

#include "vanelia/core/check.hpp"
#include "vanelia/core/error.hpp"
#include "vanelia/model/checkpoint/checkpoint.hpp"
#include "vanelia/model/checkpoint/state_dict.hpp"

#include <algorithm>
#include <string>

#include <torch/torch.h>

namespace vanelia::model {

void CheckDecoderConfig(const DecoderConfig& config) {
  auto positive = [](const char* name, int64_t v) {
    if (v <= 0) {
      throw ModelError(std::string("DecoderConfig::") + name + " = " +
                       std::to_string(v) + "; must be > 0");
    }
  };
  positive("patch_size", config.patch_size);
  positive("enc_embed_dim", config.enc_embed_dim);
  positive("embed_dim", config.embed_dim);
  positive("depth", config.depth);
  positive("num_heads", config.num_heads);
  positive("output_dim", config.output_dim);
  if (config.embed_dim % config.num_heads != 0 ||
      (config.embed_dim / config.num_heads) % 4 != 0) {
    throw ModelError(
        "DecoderConfig::embed_dim = " + std::to_string(config.embed_dim) +
        "; must split into heads whose size is a multiple of 4 "
        "(RoPE2D), num_heads = " +
        std::to_string(config.num_heads));
  }
  if (config.output_dim % (config.patch_size * config.patch_size) != 0) {
    throw ModelError(
        "DecoderConfig::output_dim = " + std::to_string(config.output_dim) +
        "; must be a multiple of patch_size^2 = " +
        std::to_string(config.patch_size * config.patch_size));
  }
}

Must3rDecoderImpl::Must3rDecoderImpl(const DecoderConfig& options)
    : options_(options) {
  CheckDecoderConfig(options_);
  const int64_t d = options_.embed_dim;
  feat_embed_enc_to_dec_ = register_module(
      "feat_embed_enc_to_dec", torch::nn::Linear(options_.enc_embed_dim, d));
  image2_embed_ = register_parameter("image2_embed", torch::zeros({1, 1, d}));
  blocks_dec_ = register_module("blocks_dec", torch::nn::ModuleList());
  const RoPE2D rope(options_.pos_embed);
  for (int64_t i = 0; i < options_.depth; ++i) {
    blocks_dec_->push_back(DecoderBlock(
        d, options_.num_heads, options_.mlp_ratio, rope, options_.memory_mode));
  }
  if (options_.feedback_type == FeedbackType::kSingleMlp) {
    feedback_mlp_ = register_module("feedback_layer", Mlp(d, 4 * d, d));
  } else if (options_.feedback_type == FeedbackType::kSingleLinear) {
    feedback_linear_ =
        register_module("feedback_layer", torch::nn::Linear(d, d));
  }
  if (options_.feedback_type != FeedbackType::kNone) {
    // A plain nn.LayerNorm upstream: eps 1e-5, unlike every other norm.
    feedback_norm_ = register_module(
        "feedback_norm", MakeLayerNorm(d, options_.feedback_norm_eps));
  }
  norm_dec_ = register_module("norm_dec", MakeLayerNorm(d));
  head_dec_ = register_module(
      "head_dec", LinearHead(d, options_.output_dim, options_.patch_size));
}

torch::Tensor Must3rDecoderImpl::CrossAttentionWork(
    int64_t rows, int64_t cols, int64_t dim, const torch::TensorOptions& opts) {
  const bool fits = ca_work_.defined() && ca_work_.size(0) >= rows &&
                    ca_work_.size(1) >= cols && ca_work_.size(2) == dim &&
                    ca_work_.scalar_type() == opts.dtype().toScalarType() &&
                    ca_work_.device() == opts.device();
  if (!fits) {
    const int64_t keep_rows =
        ca_work_.defined() ? std::max(rows, ca_work_.size(0)) : rows;
    ca_work_ = torch::Tensor();  // release before allocating the larger one
    ca_work_ = torch::empty({keep_rows, cols + cols / 2 + 1024, dim}, opts);
  }
  return ca_work_.narrow(0, 0, rows);
}

int64_t Must3rDecoderImpl::memory_dim() const {
  return options_.memory_mode == MemoryMode::kKv ? 2 * options_.embed_dim
                                                 : options_.embed_dim;
}

void Must3rDecoderImpl::SetAttentionBackend(AttentionBackend backend) {
  for (const auto& block : *blocks_dec_) {
    block->as<DecoderBlockImpl>()->set_backend(backend);
  }
}

torch::Tensor Must3rDecoderImpl::Feedback(const torch::Tensor& y_last) {
  const torch::Tensor normed = feedback_norm_(y_last);
  if (options_.feedback_type == FeedbackType::kSingleMlp) {
    return feedback_mlp_(normed);
  }
  return feedback_linear_(normed);
}

torch::Tensor Must3rDecoderImpl::Head(const torch::Tensor& feats,
                                      int64_t height,
                                      int64_t width) {
  // The head runs in float32 whatever the decoder dtype (autocast off).
  const torch::Tensor f = feats.to(torch::kFloat32);
  const bool portrait = height > width;
  if (options_.landscape_only && portrait) {
    return head_dec_(f, width, height).transpose(1, 2);
  }
  return head_dec_(f, height, width);
}

torch::Tensor Must3rDecoderImpl::EmbedImages(const torch::Tensor& x_enc,
                                             bool first_plain,
                                             DecoderTrace* trace) {
  // The decoder runs in the dtype of its blocks (the encoder's tokens may be
  // float32); norm_dec and the head stay float32 (see Must3rModel::To).
  const torch::Dtype dtype = feat_embed_enc_to_dec_->weight.scalar_type();
  torch::Tensor x = feat_embed_enc_to_dec_(x_enc.to(dtype));  // [B, n, N, D]
  if (trace != nullptr) trace->embed = x.clone();
  const torch::Tensor i2e = image2_embed_.to(x.scalar_type());
  const int64_t n = x_enc.size(1);
  if (first_plain) {
    if (n > 1) {
      x = torch::cat({x.narrow(1, 0, 1), x.narrow(1, 1, n - 1) + i2e}, 1);
    }
  } else {
    x = x + i2e;
  }
  return x;
}

MemoryState Must3rDecoderImpl::StartMemory(const MemoryState* memory,
                                           int64_t b,
                                           const torch::Tensor& like,
                                           const std::string& caller) const {
  const int64_t depth = options_.depth;
  MemoryState current;
  if (memory == nullptr) {
    current.layers.assign(depth,
                          torch::zeros({b, 0, memory_dim()}, like.options()));
    current.host_labels.clear();
    current.labels = torch::zeros(
        {b, 0},
        torch::TensorOptions().dtype(torch::kInt64).device(like.device()));
  } else {
    current = *memory;
    if (static_cast<int64_t>(current.layers.size()) != depth) {
      throw InputError(caller + ": memory has " +
                       std::to_string(current.layers.size()) +
                       " layers; the decoder has " + std::to_string(depth));
    }
  }
  return current;
}

torch::Tensor Must3rDecoderImpl::HeadInChunks(
    const torch::Tensor& x,
    int64_t b,
    int64_t n,
    int64_t height,
    int64_t width,
    const std::vector<std::pair<int64_t, int64_t>>& chunks,
    DecoderTrace* trace) {
  const int64_t tokens = x.size(1);  // x: [B*n, N, D]
  const int64_t d = options_.embed_dim;
  // Upstream: norm_dec under autocast (a float32 op) then the head with
  // autocast off: float32 from the last block's output on.
  const torch::Tensor normed = norm_dec_(x.to(torch::kFloat32));
  if (trace != nullptr)
    trace->norm_out = normed.view({b, n, tokens, d}).clone();
  std::vector<torch::Tensor> heads;
  const torch::Tensor nv = normed.view({b, n, tokens, d});
  for (const auto& [s, e] : chunks) {
    const torch::Tensor h =
        Head(nv.narrow(1, s, e - s).reshape({-1, tokens, d}), height, width);
    heads.push_back(h.view({b, e - s, h.size(1), h.size(2), h.size(3)}));
  }
  return heads.size() == 1 ? heads[0] : torch::cat(heads, 1);
}

namespace {

// Chunks [0, n) into ranges of at most `max_batch` (all of it when <= 0).
std::vector<std::pair<int64_t, int64_t>> Chunks(int64_t n, int64_t max_batch) {
  std::vector<std::pair<int64_t, int64_t>> out;
  const int64_t step = max_batch > 0 ? max_batch : n;
  for (int64_t s = 0; s < n; s += step)
    out.emplace_back(s, std::min(n, s + step));
  return out;
}

// The sizes of one forward() call.
struct CallShape {
  int64_t b = 0;       // batch rows
  int64_t n = 0;       // images per row
  int64_t tokens = 0;  // N: tokens per image
  int64_t d = 0;       // decoder width D
  int64_t mem_d = 0;   // memory token width memD
  int64_t depth = 0;   // decoder layers
};

// Throws InputError unless x_enc is [B, n, N, enc_embed_dim] with N the
// token count of a height x width image, and a render call has a memory.
void CheckForwardInputs(const DecoderConfig& config,
                        const torch::Tensor& x_enc,
                        int64_t height,
                        int64_t width,
                        const MemoryState* memory,
                        bool render) {
  if (x_enc.dim() != 4 || x_enc.size(3) != config.enc_embed_dim) {
    throw InputError("Must3rDecoder: x must be [B, n, N, " +
                     std::to_string(config.enc_embed_dim) + "]");
  }
  if (render && memory == nullptr) {
    throw InputError("Must3rDecoder: render = true needs a memory");
  }
  const int64_t tokens = x_enc.size(2);
  if (height * width / (config.patch_size * config.patch_size) != tokens) {
    throw InputError("Must3rDecoder: " + std::to_string(tokens) +
                     " tokens per image do not match the true shape " +
                     std::to_string(height) + "x" + std::to_string(width));
  }
}

// The cross-attention memory of a masked update call, written into a reused
// work buffer (no allocation per layer and call): image j sees [old | the
// others' prepared tokens]. work: [B*n, >= nca, memD]; old: [B, nm, memD];
// prepared: [B, n*N, memD] -> [B*n, nca, memD], nca = nm + (n-1)*N.
torch::Tensor FillMaskedMemory(const torch::Tensor& work,
                               const torch::Tensor& old,
                               const torch::Tensor& prepared,
                               int64_t nm,
                               int64_t nca,
                               const CallShape& s) {
  const int64_t n = s.n;
  const int64_t tokens = s.tokens;
  const torch::Tensor wv = work.view({s.b, n, work.size(1), s.mem_d});
  for (int64_t j = 0; j < n; ++j) {
    const torch::Tensor row = wv.select(1, j);
    if (nm > 0) row.narrow(1, 0, nm).copy_(old);
    if (j > 0) {
      row.narrow(1, nm, j * tokens).copy_(prepared.narrow(1, 0, j * tokens));
    }
    if (j + 1 < n) {
      row.narrow(1, nm + j * tokens, (n - 1 - j) * tokens)
          .copy_(prepared.narrow(1, (j + 1) * tokens, (n - 1 - j) * tokens));
    }
  }
  return work.narrow(1, 0, nca);
}

// The same memory for every image of the call: mem: [B, M, memD] ->
// [B*n, M, memD].
torch::Tensor SameMemoryPerImage(const torch::Tensor& mem, const CallShape& s) {
  return mem.unsqueeze(1)
      .expand({s.b, s.n, -1, s.mem_d})
      .reshape({s.b * s.n, -1, s.mem_d});
}

// One decoder block on x: [B*n, N, D] against mem_k: [B*n, Nca, memD] (pos:
// [B*n, N, 2]), over the images in `chunks`.
torch::Tensor RunBlock(DecoderBlockImpl& block,
                       const torch::Tensor& x,
                       const torch::Tensor& mem_k,
                       const torch::Tensor& pos,
                       const std::vector<std::pair<int64_t, int64_t>>& chunks,
                       const CallShape& s) {
  if (chunks.size() == 1) return block.forward(x, mem_k, pos);
  // Upstream's max_bs split: same maths per image, b == 1 there.
  const int64_t b = s.b;
  const int64_t tokens = s.tokens;
  const int64_t d = s.d;
  const torch::Tensor xv = x.view({b, s.n, tokens, d});
  const torch::Tensor mv = mem_k.view({b, s.n, -1, s.mem_d});
  const torch::Tensor pv = pos.view({b, s.n, tokens, 2});
  std::vector<torch::Tensor> outs;
  for (const auto& [start, end] : chunks) {
    outs.push_back(
        block
            .forward(xv.narrow(1, start, end - start).reshape({-1, tokens, d}),
                     mv.narrow(1, start, end - start)
                         .reshape({-1, mv.size(2), s.mem_d}),
                     pv.narrow(1, start, end - start).reshape({-1, tokens, 2}))
            .view({b, end - start, tokens, d}));
  }
  return torch::cat(outs, 1).reshape({b * s.n, tokens, d});
}

// Buffers with room for `total` tokens: current's storage when it fits, else
// a new pair with room to grow (amortised doubling) into which current's
// tokens move once. x: the call's tokens (their dtype and device).
std::shared_ptr<MemoryStorage> StorageWithRoom(const MemoryState& current,
                                               int64_t total,
                                               const CallShape& s,
                                               const torch::Tensor& x) {
  const int64_t nm = current.layers[0].size(1);
  std::shared_ptr<MemoryStorage> storage = current.storage;
  if (!current.UsesStorage() || storage->capacity < total ||
      storage->buffers[0][0].size(0) != s.b ||
      storage->buffers[0][0].scalar_type() != x.scalar_type()) {
    // A new pair of buffers with room to grow (amortised doubling); the
    // old tokens move once.
    auto fresh = std::make_shared<MemoryStorage>();
    fresh->capacity = std::max<int64_t>(2 * total, 16 * s.tokens);
    for (auto& buffers : fresh->buffers) {
      for (int64_t k = 0; k < s.depth; ++k) {
        buffers.push_back(
            torch::empty({s.b, fresh->capacity, s.mem_d}, x.options()));
      }
    }
    for (int64_t k = 0; k < s.depth && nm > 0; ++k) {
      fresh->buffers[0][k].narrow(1, 0, nm).copy_(current.layers[k]);
    }
    storage = std::move(fresh);
  }
  return storage;
}

// The memory after an update call: current's tokens, then per layer k the
// prepared layer inputs (layer_inputs[k]: [B, n*N, D]) of the call's images,
// labelled from current.num_images on in call order. x: the call's tokens.
MemoryState AppendToMemory(torch::nn::ModuleList& blocks,
                           const MemoryState& current,
                           const std::vector<torch::Tensor>& layer_inputs,
                           const CallShape& s,
                           const torch::Tensor& x) {
  const int64_t b = s.b;
  const int64_t n = s.n;
  const int64_t tokens = s.tokens;
  const int64_t nm = current.layers[0].size(1);
  MemoryState updated;
  const int64_t add = n * tokens;
  const int64_t total = nm + add;
  std::shared_ptr<MemoryStorage> storage =
      StorageWithRoom(current, total, s, x);
  for (int64_t k = 0; k < s.depth; ++k) {
    const torch::Tensor& buffer = storage->buffers[storage->active][k];
    buffer.narrow(1, nm, add)
        .copy_(
            blocks[k]->as<DecoderBlockImpl>()->PrepareMemory(layer_inputs[k]));
    updated.layers.push_back(buffer.narrow(1, 0, total));
  }
  storage->used = total;
  updated.storage = storage;
  if (current.HostLabelsValid()) {
    updated.host_labels = current.host_labels;
    for (int64_t j = 0; j < n; ++j) {
      updated.host_labels.insert(
          updated.host_labels.end(), tokens, current.num_images + j);
    }
  }
  const torch::Tensor new_labels = torch::arange(n, current.labels.options())
                                       .view({1, n, 1})
                                       .expand({b, n, tokens})
                                       .reshape({b, n * tokens}) +
                                   current.num_images;
  updated.labels = torch::cat({current.labels, new_labels}, 1);
  updated.num_images = current.num_images + n;
  updated.protected_images = updated.num_images;
  updated.protected_tokens = updated.labels.size(1);
  return updated;
}

}  // namespace

DecoderOutput Must3rDecoderImpl::forward(const torch::Tensor& x_enc,
                                         const torch::Tensor& pos_in,
                                         int64_t height,
                                         int64_t width,
                                         const MemoryState* memory,
                                         bool render,
                                         DecoderTrace* trace,
                                         int64_t max_batch) {
  CheckForwardInputs(options_, x_enc, height, width, memory, render);
  const int64_t b = x_enc.size(0);
  const int64_t n = x_enc.size(1);
  const int64_t tokens = x_enc.size(2);
  const int64_t d = options_.embed_dim;
  const int64_t mem_d = memory_dim();
  const int64_t depth = options_.depth;
  const CallShape shape{b, n, tokens, d, mem_d, depth};

  torch::Tensor x = EmbedImages(x_enc, memory == nullptr, trace);
  if (trace != nullptr) trace->block0_in = x.clone();

  MemoryState current = StartMemory(memory, b, x, "Must3rDecoder");
  const int64_t nm = current.layers[0].size(1);
  const bool masked = !render && (nm > 0 || n > 1);

  x = x.reshape({b * n, tokens, d});
  const torch::Tensor pos = pos_in.reshape({b * n, tokens, 2});
  const auto chunks = Chunks(n, max_batch);
  std::vector<torch::Tensor> layer_inputs;  // [B, n*N, D]
  for (int64_t k = 0; k < depth; ++k) {
    auto block = blocks_dec_[k]->as<DecoderBlockImpl>();
    torch::Tensor mem_k;  // [B*n, Nca, memD]
    if (!render) {
      const torch::Tensor y = x.view({b, n * tokens, d});
      layer_inputs.push_back(y);
      const torch::Tensor prepared = block->PrepareMemory(y);
      const torch::Tensor& old = current.layers[k];
      if (masked) {
        const int64_t nca = nm + (n - 1) * tokens;
        const torch::Tensor work =
            CrossAttentionWork(b * n, nca, mem_d, x.options());
        mem_k = FillMaskedMemory(work, old, prepared, nm, nca, shape);
      } else {
        mem_k = SameMemoryPerImage(torch::cat({old, prepared}, 1), shape);
      }
    } else {
      mem_k = SameMemoryPerImage(current.layers[k], shape);
    }
    if (trace != nullptr) trace->ca_memory.push_back(mem_k.clone());
    x = RunBlock(*block, x, mem_k, pos, chunks, shape);
    if (trace != nullptr) {
      trace->block_out.push_back(x.view({b, n, tokens, d}).clone());
    }
  }

  DecoderOutput out;
  if (!render) {
    if (options_.feedback_type != FeedbackType::kNone) {
      const torch::Tensor offset = Feedback(layer_inputs.back());
      for (int64_t k = 0; k + 1 < depth; ++k) {
        layer_inputs[k] = layer_inputs[k] + offset;
      }
    }
    out.memory = AppendToMemory(blocks_dec_, current, layer_inputs, shape, x);
  } else {
    out.memory = std::move(current);
  }
  out.head = HeadInChunks(x, b, n, height, width, chunks, trace);
  return out;
}

void Must3rModel::SetAttentionBackend(AttentionBackend backend) {
  encoder->SetAttentionBackend(backend);
  decoder->SetAttentionBackend(backend);
}

void Must3rModel::To(torch::Device device, torch::Dtype dtype) {
  To(device, torch::kFloat32, dtype);
}

void Must3rModel::To(torch::Device device,
                     torch::Dtype encoder_dtype,
                     torch::Dtype decoder_dtype) {
  encoder->to(device, encoder_dtype);
  decoder->to(device, decoder_dtype);
  decoder->KeepOutputFloat32();
}

void Must3rDecoderImpl::KeepOutputFloat32() {
  norm_dec_->to(torch::kFloat32);
  head_dec_->to(torch::kFloat32);
}

Must3rModel MakeMust3rModel(const EncoderConfig& encoder,
                            const DecoderConfig& decoder) {
  if (encoder.embed_dim != decoder.enc_embed_dim) {
    throw ModelError("DecoderConfig::enc_embed_dim = " +
                     std::to_string(decoder.enc_embed_dim) +
                     "; must equal the encoder's embed_dim = " +
                     std::to_string(encoder.embed_dim));
  }
  Must3rModel model;
  model.config.encoder = encoder;
  model.config.decoder = decoder;
  model.encoder = CrocoEncoder(encoder);
  model.decoder = Must3rDecoder(decoder);
  model.encoder->eval();
  model.decoder->eval();
  return model;
}

Must3rModel LoadMust3rModel(const std::string& path) {
  const Checkpoint checkpoint = LoadCheckpoint(path);
  const ModelConfig config = ParseMust3rConfig(checkpoint);
  Must3rModel model = MakeMust3rModel(config.encoder, config.decoder);
  model.config = config;
  LoadStateDictStrict(
      *model.encoder, checkpoint.encoder, "checkpoint '" + path + "' encoder");
  LoadStateDictStrict(
      *model.decoder, checkpoint.decoder, "checkpoint '" + path + "' decoder");
  return model;
}

}  // namespace vanelia::model
