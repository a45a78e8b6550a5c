// The MUSt3R decoder over images of several shapes in one call. Ports
// must3r/model/decoder.py MUSt3R.forward_list and make_mem_mask (list case).
#include "vanelia/core/error.hpp"
#include "vanelia/model/must3r.hpp"

#include <string>

#include <torch/torch.h>

namespace vanelia::model {

DecoderListOutput Must3rDecoderImpl::ForwardList(
    const std::vector<DecoderEntry>& entries,
    const MemoryState* memory,
    bool render) {
  if (entries.empty()) {
    throw InputError("Must3rDecoder::ForwardList: no entries; needs >= 1");
  }
  if (render && memory == nullptr) {
    throw InputError(
        "Must3rDecoder::ForwardList: render = true needs a memory");
  }
  const int64_t b = entries[0].x.size(0);
  const int64_t d = options_.embed_dim;
  const int64_t mem_d = memory_dim();
  const int64_t depth = options_.depth;
  const int64_t patch_area = options_.patch_size * options_.patch_size;
  const torch::Dtype dtype = feat_embed_enc_to_dec_->weight.scalar_type();

  // Embedded tokens per entry: [B*n_i, N_i, D], positions [B*n_i, N_i, 2].
  std::vector<torch::Tensor> xs;
  std::vector<torch::Tensor> positions;
  std::vector<int64_t> counts;  // n_i
  std::vector<int64_t> tokens;  // N_i
  std::vector<int64_t> offset;  // first new token of entry i in the call
  int64_t num_new = 0;          // images of the call
  int64_t new_tokens = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const DecoderEntry& e = entries[i];
    const std::string what =
        "Must3rDecoder::ForwardList: entry " + std::to_string(i);
    if (e.x.dim() != 4 || e.x.size(0) != b ||
        e.x.size(3) != options_.enc_embed_dim) {
      throw InputError(what + ": x must be [" + std::to_string(b) + ", n, N, " +
                       std::to_string(options_.enc_embed_dim) + "]");
    }
    const int64_t n = e.x.size(1);
    const int64_t t = e.x.size(2);
    if (e.height * e.width / patch_area != t) {
      throw InputError(what + ": " + std::to_string(t) +
                       " tokens per image do not match the true shape " +
                       std::to_string(e.height) + "x" +
                       std::to_string(e.width));
    }
    torch::Tensor x = feat_embed_enc_to_dec_(e.x.to(dtype));  // [B, n, N, D]
    const torch::Tensor i2e = image2_embed_.to(x.scalar_type());
    if (memory == nullptr && i == 0) {
      if (n > 1) {
        x = torch::cat({x.narrow(1, 0, 1), x.narrow(1, 1, n - 1) + i2e}, 1);
      }
    } else {
      x = x + i2e;
    }
    xs.push_back(x.reshape({b * n, t, d}));
    positions.push_back(e.pos.reshape({b * n, t, 2}));
    counts.push_back(n);
    tokens.push_back(t);
    offset.push_back(new_tokens);
    num_new += n;
    new_tokens += n * t;
  }

  MemoryState current;
  if (memory == nullptr) {
    current.layers.assign(depth, torch::zeros({b, 0, mem_d}, xs[0].options()));
    current.labels = torch::zeros(
        {b, 0},
        torch::TensorOptions().dtype(torch::kInt64).device(xs[0].device()));
  } else {
    current = *memory;
    if (static_cast<int64_t>(current.layers.size()) != depth) {
      throw InputError("Must3rDecoder::ForwardList: memory has " +
                       std::to_string(current.layers.size()) +
                       " layers; the decoder has " + std::to_string(depth));
    }
  }
  const int64_t nm = current.layers[0].size(1);
  const bool masked = !render && (nm > 0 || num_new > 1);

  std::vector<torch::Tensor> layer_inputs;  // [B, new_tokens, D] per layer
  for (int64_t k = 0; k < depth; ++k) {
    auto block = blocks_dec_[k]->as<DecoderBlockImpl>();
    torch::Tensor mem_all = current.layers[k];  // [B, Nm (+ new), memD]
    if (!render) {
      std::vector<torch::Tensor> parts;
      for (size_t i = 0; i < xs.size(); ++i) {
        parts.push_back(xs[i].view({b, counts[i] * tokens[i], d}));
      }
      const torch::Tensor y = torch::cat(parts, 1);
      layer_inputs.push_back(y);
      mem_all = torch::cat({mem_all, block->PrepareMemory(y)}, 1);
    }
    const int64_t total = mem_all.size(1);
    // Every entry's cross-attention memory is built before any entry of this
    // layer runs (upstream's mem_l).
    std::vector<torch::Tensor> mems;
    for (size_t i = 0; i < xs.size(); ++i) {
      if (masked) {
        std::vector<torch::Tensor> rows;  // image j: all but its own tokens
        for (int64_t j = 0; j < counts[i]; ++j) {
          const int64_t own = nm + offset[i] + j * tokens[i];
          const int64_t after = own + tokens[i];
          rows.push_back(torch::cat({mem_all.narrow(1, 0, own),
                                     mem_all.narrow(1, after, total - after)},
                                    1));
        }
        mems.push_back(
            torch::stack(rows, 1).reshape({b * counts[i], -1, mem_d}));
      } else {
        mems.push_back(mem_all.unsqueeze(1)
                           .expand({b, counts[i], total, mem_d})
                           .reshape({b * counts[i], total, mem_d}));
      }
    }
    for (size_t i = 0; i < xs.size(); ++i) {
      xs[i] = block->forward(xs[i], mems[i], positions[i]);
    }
  }

  DecoderListOutput out;
  if (!render) {
    if (options_.feedback_type != FeedbackType::kNone) {
      const torch::Tensor fb = Feedback(layer_inputs.back());
      for (int64_t k = 0; k + 1 < depth; ++k) {
        layer_inputs[k] = layer_inputs[k] + fb;
      }
    }
    MemoryState updated;
    for (int64_t k = 0; k < depth; ++k) {
      updated.layers.push_back(
          torch::cat({current.layers[k],
                      blocks_dec_[k]->as<DecoderBlockImpl>()->PrepareMemory(
                          layer_inputs[k])},
                     1));
    }
    std::vector<torch::Tensor> labels{current.labels};
    if (current.HostLabelsValid()) updated.host_labels = current.host_labels;
    int64_t image = current.num_images;
    for (size_t i = 0; i < xs.size(); ++i) {
      labels.push_back(torch::arange(counts[i], current.labels.options())
                           .view({1, counts[i], 1})
                           .expand({b, counts[i], tokens[i]})
                           .reshape({b, counts[i] * tokens[i]}) +
                       image);
      if (current.HostLabelsValid()) {
        for (int64_t j = 0; j < counts[i]; ++j) {
          updated.host_labels.insert(
              updated.host_labels.end(), tokens[i], image + j);
        }
      }
      image += counts[i];
    }
    updated.labels = torch::cat(labels, 1);
    updated.num_images = image;
    updated.protected_images = image;
    updated.protected_tokens = updated.labels.size(1);
    out.memory = std::move(updated);
  } else {
    out.memory = std::move(current);
  }

  for (size_t i = 0; i < xs.size(); ++i) {
    const torch::Tensor normed = norm_dec_(xs[i].to(torch::kFloat32));
    const torch::Tensor h =
        Head(normed, entries[i].height, entries[i].width);  // [B*n, H, W, C]
    out.heads.push_back(
        h.view({b, counts[i], h.size(1), h.size(2), h.size(3)}));
  }
  return out;
}

}  // namespace vanelia::model
