// The MUSt3R decoder and its memory. Ports must3r/model/decoder.py
// MUSt3R.forward / forward_list (inference class), feedback_mechanism.py
// run_feedback_layers and engine/inference.py _remove_from_mem,
// _restore_label_in_mem, _update_in_mem.
#include "vanelia/model/must3r.hpp"

#include "vanelia/core/check.hpp"
#include "vanelia/core/error.hpp"
#include "vanelia/model/checkpoint.hpp"
#include "vanelia/model/state_dict.hpp"

#include <algorithm>
#include <string>

#include <torch/torch.h>

namespace vanelia::model {

namespace {

// Positions (int64) on `device`, through pinned memory with a non-blocking
// copy on CUDA (a pageable copy would synchronise the stream).
torch::Tensor IndexTensor(const std::vector<int64_t>& positions,
                          torch::Device device) {
  auto opts = torch::TensorOptions().dtype(torch::kInt64);
  if (device.is_cuda()) opts = opts.pinned_memory(true);
  torch::Tensor host =
      torch::empty({static_cast<int64_t>(positions.size())}, opts);
  std::copy(positions.begin(), positions.end(), host.data_ptr<int64_t>());
  return device.is_cpu() ? host : host.to(device, /*non_blocking=*/true);
}

}  // namespace

bool MemoryState::UsesStorage() const {
  if (!storage || layers.empty() || storage->used != NumTokens()) return false;
  const auto& active = storage->buffers[storage->active];
  if (active.size() != layers.size()) return false;
  for (size_t k = 0; k < layers.size(); ++k) {
    if (layers[k].data_ptr() != active[k].data_ptr()) return false;
  }
  return true;
}

void MemoryState::RemoveLabel(int64_t label) {
  if (empty()) return;
  if (HostLabelsValid()) {
    std::vector<int64_t> keep;
    std::vector<int64_t> kept_labels;
    keep.reserve(host_labels.size());
    for (size_t i = 0; i < host_labels.size(); ++i) {
      if (host_labels[i] != label) {
        keep.push_back(static_cast<int64_t>(i));
        kept_labels.push_back(host_labels[i]);
      }
    }
    if (keep.size() == host_labels.size()) return;
    const int64_t m = static_cast<int64_t>(keep.size());
    const torch::Tensor idx = IndexTensor(keep, labels.device());
    if (UsesStorage() && layers[0].size(0) == 1) {
      // Compaction into the other buffer: no allocation, no host read.
      const int other = 1 - storage->active;
      for (size_t k = 0; k < layers.size(); ++k) {
        torch::Tensor dst = storage->buffers[other][k].narrow(1, 0, m);
        torch::index_select_out(dst, layers[k], 1, idx);
        layers[k] = dst;
      }
      storage->active = other;
      storage->used = m;
    } else {
      for (auto& layer : layers) layer = layer.index_select(1, idx);
      storage.reset();
    }
    labels = labels.index_select(1, idx);
    host_labels = std::move(kept_labels);
    return;
  }
  const torch::Tensor keep = labels != label;
  const int64_t b = labels.size(0);
  for (auto& layer : layers) {
    layer = layer.index({keep}).view({b, -1, layer.size(2)});
  }
  labels = labels.index({keep}).view({b, -1});
  storage.reset();
}

void MemoryState::Relabel(int64_t from, int64_t to) {
  if (empty()) return;
  labels = labels.masked_fill(labels == from, to);
  for (int64_t& v : host_labels) {
    if (v == from) v = to;
  }
}

void MemoryState::OverwriteLabel(int64_t old_label, int64_t new_label) {
  if (HostLabelsValid()) {
    std::vector<int64_t> old_pos;
    std::vector<int64_t> new_pos;
    for (size_t i = 0; i < host_labels.size(); ++i) {
      if (host_labels[i] == old_label)
        old_pos.push_back(static_cast<int64_t>(i));
      if (host_labels[i] == new_label)
        new_pos.push_back(static_cast<int64_t>(i));
    }
    if (old_pos.size() != new_pos.size()) {
      throw InternalError("MemoryState::OverwriteLabel: label " +
                          std::to_string(old_label) + " has " +
                          std::to_string(old_pos.size()) + " tokens, label " +
                          std::to_string(new_label) + " has " +
                          std::to_string(new_pos.size()) + "; must be equal");
    }
    if (old_pos.empty()) return;
    const torch::Tensor old_idx = IndexTensor(old_pos, labels.device());
    const torch::Tensor new_idx = IndexTensor(new_pos, labels.device());
    for (auto& layer : layers) {
      layer.index_copy_(1, old_idx, layer.index_select(1, new_idx));
    }
    return;
  }
  const torch::Tensor old_mask = labels == old_label;
  const torch::Tensor new_mask = labels == new_label;
  for (auto& layer : layers) {
    layer.index_put_({old_mask}, layer.index({new_mask}));
  }
}

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

namespace {

// Chunks [0, n) into ranges of at most `max_batch` (all of it when <= 0).
std::vector<std::pair<int64_t, int64_t>> Chunks(int64_t n, int64_t max_batch) {
  std::vector<std::pair<int64_t, int64_t>> out;
  const int64_t step = max_batch > 0 ? max_batch : n;
  for (int64_t s = 0; s < n; s += step)
    out.emplace_back(s, std::min(n, s + step));
  return out;
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
  if (x_enc.dim() != 4 || x_enc.size(3) != options_.enc_embed_dim) {
    throw InputError("Must3rDecoder: x must be [B, n, N, " +
                     std::to_string(options_.enc_embed_dim) + "]");
  }
  if (render && memory == nullptr) {
    throw InputError("Must3rDecoder: render = true needs a memory");
  }
  const int64_t b = x_enc.size(0);
  const int64_t n = x_enc.size(1);
  const int64_t tokens = x_enc.size(2);
  const int64_t d = options_.embed_dim;
  const int64_t mem_d = memory_dim();
  const int64_t depth = options_.depth;
  if (height * width / (options_.patch_size * options_.patch_size) != tokens) {
    throw InputError("Must3rDecoder: " + std::to_string(tokens) +
                     " tokens per image do not match the true shape " +
                     std::to_string(height) + "x" + std::to_string(width));
  }

  // The decoder runs in the dtype of its blocks (the encoder's tokens may be
  // float32); norm_dec and the head stay float32 (see Must3rModel::To).
  const torch::Dtype dtype = feat_embed_enc_to_dec_->weight.scalar_type();
  torch::Tensor x = feat_embed_enc_to_dec_(x_enc.to(dtype));  // [B, n, N, D]
  if (trace != nullptr) trace->embed = x.clone();
  const torch::Tensor i2e = image2_embed_.to(x.scalar_type());
  if (memory == nullptr) {
    if (n > 1) {
      x = torch::cat({x.narrow(1, 0, 1), x.narrow(1, 1, n - 1) + i2e}, 1);
    }
  } else {
    x = x + i2e;
  }
  if (trace != nullptr) trace->block0_in = x.clone();

  MemoryState current;
  if (memory == nullptr) {
    current.layers.assign(depth, torch::zeros({b, 0, mem_d}, x.options()));
    current.host_labels.clear();
    current.labels = torch::zeros(
        {b, 0}, torch::TensorOptions().dtype(torch::kInt64).device(x.device()));
  } else {
    current = *memory;
    if (static_cast<int64_t>(current.layers.size()) != depth) {
      throw InputError("Must3rDecoder: memory has " +
                       std::to_string(current.layers.size()) +
                       " layers; the decoder has " + std::to_string(depth));
    }
  }
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
        // Image j sees [old | the others' prepared tokens]: written into a
        // reused work buffer (no allocation per layer and call).
        const int64_t nca = nm + (n - 1) * tokens;
        const torch::Tensor work =
            CrossAttentionWork(b * n, nca, mem_d, x.options());
        const torch::Tensor wv = work.view({b, n, work.size(1), mem_d});
        for (int64_t j = 0; j < n; ++j) {
          const torch::Tensor row = wv.select(1, j);
          if (nm > 0) row.narrow(1, 0, nm).copy_(old);
          if (j > 0) {
            row.narrow(1, nm, j * tokens)
                .copy_(prepared.narrow(1, 0, j * tokens));
          }
          if (j + 1 < n) {
            row.narrow(1, nm + j * tokens, (n - 1 - j) * tokens)
                .copy_(
                    prepared.narrow(1, (j + 1) * tokens, (n - 1 - j) * tokens));
          }
        }
        mem_k = work.narrow(1, 0, nca);
      } else {
        mem_k = torch::cat({old, prepared}, 1)
                    .unsqueeze(1)
                    .expand({b, n, -1, mem_d})
                    .reshape({b * n, -1, mem_d});
      }
    } else {
      mem_k = current.layers[k]
                  .unsqueeze(1)
                  .expand({b, n, -1, mem_d})
                  .reshape({b * n, -1, mem_d});
    }
    if (trace != nullptr) trace->ca_memory.push_back(mem_k.clone());
    if (chunks.size() == 1) {
      x = block->forward(x, mem_k, pos);
    } else {
      // Upstream's max_bs split: same maths per image, b == 1 there.
      const torch::Tensor xv = x.view({b, n, tokens, d});
      const torch::Tensor mv = mem_k.view({b, n, -1, mem_d});
      const torch::Tensor pv = pos.view({b, n, tokens, 2});
      std::vector<torch::Tensor> outs;
      for (const auto& [s, e] : chunks) {
        outs.push_back(
            block
                ->forward(
                    xv.narrow(1, s, e - s).reshape({-1, tokens, d}),
                    mv.narrow(1, s, e - s).reshape({-1, mv.size(2), mem_d}),
                    pv.narrow(1, s, e - s).reshape({-1, tokens, 2}))
                .view({b, e - s, tokens, d}));
      }
      x = torch::cat(outs, 1).reshape({b * n, tokens, d});
    }
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
    MemoryState updated;
    const int64_t add = n * tokens;
    const int64_t total = nm + add;
    std::shared_ptr<MemoryStorage> storage = current.storage;
    if (!current.UsesStorage() || storage->capacity < total ||
        storage->buffers[0][0].size(0) != b ||
        storage->buffers[0][0].scalar_type() != x.scalar_type()) {
      // A new pair of buffers with room to grow (amortised doubling); the
      // old tokens move once.
      auto fresh = std::make_shared<MemoryStorage>();
      fresh->capacity = std::max<int64_t>(2 * total, 16 * tokens);
      for (auto& buffers : fresh->buffers) {
        for (int64_t k = 0; k < depth; ++k) {
          buffers.push_back(
              torch::empty({b, fresh->capacity, mem_d}, x.options()));
        }
      }
      for (int64_t k = 0; k < depth && nm > 0; ++k) {
        fresh->buffers[0][k].narrow(1, 0, nm).copy_(current.layers[k]);
      }
      storage = std::move(fresh);
    }
    for (int64_t k = 0; k < depth; ++k) {
      const torch::Tensor& buffer = storage->buffers[storage->active][k];
      buffer.narrow(1, nm, add)
          .copy_(blocks_dec_[k]->as<DecoderBlockImpl>()->PrepareMemory(
              layer_inputs[k]));
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
    out.memory = std::move(updated);
  } else {
    out.memory = std::move(current);
  }

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
  out.head = heads.size() == 1 ? heads[0] : torch::cat(heads, 1);
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
