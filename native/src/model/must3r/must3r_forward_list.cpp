// The MUSt3R decoder over images of several shapes in one call. Ports
// must3r/model/decoder.py MUSt3R.forward_list and make_mem_mask (list case).
#include "vanelia/core/error.hpp"
#include "vanelia/model/must3r/must3r.hpp"

#include <string>
#include <vector>

#include <torch/torch.h>

namespace vanelia::model {

namespace {

// Where each entry's images and tokens sit among the new ones of a call.
struct EntryLayout {
  std::vector<int64_t> counts;  // n_i
  std::vector<int64_t> tokens;  // N_i
  std::vector<int64_t> offset;  // first new token of entry i in the call
  int64_t num_new = 0;          // images of the call
  int64_t new_tokens = 0;

  // Appends an entry of n images of t tokens.
  void Add(int64_t n, int64_t t) {
    counts.push_back(n);
    tokens.push_back(t);
    offset.push_back(new_tokens);
    num_new += n;
    new_tokens += n * t;
  }

  size_t size() const { return counts.size(); }
};

// Throws InputError when there are no entries or a render call has no
// memory.
void CheckListCall(const std::vector<DecoderEntry>& entries,
                   const MemoryState* memory,
                   bool render) {
  if (entries.empty()) {
    throw InputError("Must3rDecoder::ForwardList: no entries; needs >= 1");
  }
  if (render && memory == nullptr) {
    throw InputError(
        "Must3rDecoder::ForwardList: render = true needs a memory");
  }
}

// Throws InputError unless entry i's x is [b, n, N, enc_embed_dim] with N the
// token count of its true shape.
void CheckEntry(const DecoderEntry& e,
                size_t i,
                int64_t b,
                const DecoderConfig& config) {
  const int64_t patch_area = config.patch_size * config.patch_size;
  const std::string what =
      "Must3rDecoder::ForwardList: entry " + std::to_string(i);
  if (e.x.dim() != 4 || e.x.size(0) != b ||
      e.x.size(3) != config.enc_embed_dim) {
    throw InputError(what + ": x must be [" + std::to_string(b) + ", n, N, " +
                     std::to_string(config.enc_embed_dim) + "]");
  }
  const int64_t t = e.x.size(2);
  if (e.height * e.width / patch_area != t) {
    throw InputError(what + ": " + std::to_string(t) +
                     " tokens per image do not match the true shape " +
                     std::to_string(e.height) + "x" + std::to_string(e.width));
  }
}

// The layer input of all new tokens, in entry order: xs[i]: [B*n_i, N_i, D]
// -> [B, new_tokens, D].
torch::Tensor ConcatEntries(const std::vector<torch::Tensor>& xs,
                            const EntryLayout& layout,
                            int64_t b,
                            int64_t d) {
  std::vector<torch::Tensor> parts;
  for (size_t i = 0; i < xs.size(); ++i) {
    parts.push_back(xs[i].view({b, layout.counts[i] * layout.tokens[i], d}));
  }
  return torch::cat(parts, 1);
}

// Every entry's cross-attention memory from mem_all: [B, total, memD] (the
// old memory then the new tokens): per entry [B*n_i, Nca, memD], where in a
// masked call image j sees all but its own tokens.
std::vector<torch::Tensor> EntryMemories(const torch::Tensor& mem_all,
                                         const EntryLayout& layout,
                                         int64_t nm,
                                         bool masked,
                                         int64_t b,
                                         int64_t mem_d) {
  const int64_t total = mem_all.size(1);
  std::vector<torch::Tensor> mems;
  for (size_t i = 0; i < layout.size(); ++i) {
    const int64_t count = layout.counts[i];
    if (masked) {
      std::vector<torch::Tensor> rows;  // image j: all but its own tokens
      for (int64_t j = 0; j < count; ++j) {
        const int64_t own = nm + layout.offset[i] + j * layout.tokens[i];
        const int64_t after = own + layout.tokens[i];
        rows.push_back(torch::cat({mem_all.narrow(1, 0, own),
                                   mem_all.narrow(1, after, total - after)},
                                  1));
      }
      mems.push_back(torch::stack(rows, 1).reshape({b * count, -1, mem_d}));
    } else {
      mems.push_back(mem_all.unsqueeze(1)
                         .expand({b, count, total, mem_d})
                         .reshape({b * count, total, mem_d}));
    }
  }
  return mems;
}

// The memory after an update call: current's tokens then, per layer k, the
// prepared layer inputs (layer_inputs[k]: [B, new_tokens, D]), labelled from
// current.num_images on in entry order.
MemoryState AppendEntriesToMemory(
    torch::nn::ModuleList& blocks,
    const MemoryState& current,
    const std::vector<torch::Tensor>& layer_inputs,
    const EntryLayout& layout,
    int64_t b) {
  MemoryState updated;
  for (size_t k = 0; k < layer_inputs.size(); ++k) {
    updated.layers.push_back(torch::cat(
        {current.layers[k],
         blocks[k]->as<DecoderBlockImpl>()->PrepareMemory(layer_inputs[k])},
        1));
  }
  std::vector<torch::Tensor> labels{current.labels};
  if (current.HostLabelsValid()) updated.host_labels = current.host_labels;
  int64_t image = current.num_images;
  for (size_t i = 0; i < layout.size(); ++i) {
    const int64_t count = layout.counts[i];
    const int64_t tokens = layout.tokens[i];
    labels.push_back(torch::arange(count, current.labels.options())
                         .view({1, count, 1})
                         .expand({b, count, tokens})
                         .reshape({b, count * tokens}) +
                     image);
    if (current.HostLabelsValid()) {
      for (int64_t j = 0; j < count; ++j) {
        updated.host_labels.insert(
            updated.host_labels.end(), tokens, image + j);
      }
    }
    image += count;
  }
  updated.labels = torch::cat(labels, 1);
  updated.num_images = image;
  updated.protected_images = image;
  updated.protected_tokens = updated.labels.size(1);
  return updated;
}

}  // namespace

DecoderListOutput Must3rDecoderImpl::ForwardList(
    const std::vector<DecoderEntry>& entries,
    const MemoryState* memory,
    bool render) {
  CheckListCall(entries, memory, render);
  const int64_t b = entries[0].x.size(0);
  const int64_t d = options_.embed_dim;
  const int64_t mem_d = memory_dim();
  const int64_t depth = options_.depth;

  // Embedded tokens per entry: [B*n_i, N_i, D], positions [B*n_i, N_i, 2].
  std::vector<torch::Tensor> xs;
  std::vector<torch::Tensor> positions;
  EntryLayout layout;
  for (size_t i = 0; i < entries.size(); ++i) {
    const DecoderEntry& e = entries[i];
    CheckEntry(e, i, b, options_);
    const int64_t n = e.x.size(1);
    const int64_t t = e.x.size(2);
    const torch::Tensor x =
        EmbedImages(e.x, memory == nullptr && i == 0, nullptr);  // [B,n,N,D]
    xs.push_back(x.reshape({b * n, t, d}));
    positions.push_back(e.pos.reshape({b * n, t, 2}));
    layout.Add(n, t);
  }

  MemoryState current =
      StartMemory(memory, b, xs[0], "Must3rDecoder::ForwardList");
  const int64_t nm = current.layers[0].size(1);
  const bool masked = !render && (nm > 0 || layout.num_new > 1);

  std::vector<torch::Tensor> layer_inputs;  // [B, new_tokens, D] per layer
  for (int64_t k = 0; k < depth; ++k) {
    auto block = blocks_dec_[k]->as<DecoderBlockImpl>();
    torch::Tensor mem_all = current.layers[k];  // [B, Nm (+ new), memD]
    if (!render) {
      const torch::Tensor y = ConcatEntries(xs, layout, b, d);
      layer_inputs.push_back(y);
      mem_all = torch::cat({mem_all, block->PrepareMemory(y)}, 1);
    }
    // Every entry's cross-attention memory is built before any entry of this
    // layer runs (upstream's mem_l).
    const std::vector<torch::Tensor> mems =
        EntryMemories(mem_all, layout, nm, masked, b, mem_d);
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
    out.memory =
        AppendEntriesToMemory(blocks_dec_, current, layer_inputs, layout, b);
  } else {
    out.memory = std::move(current);
  }

  for (size_t i = 0; i < xs.size(); ++i) {
    const torch::Tensor normed = norm_dec_(xs[i].to(torch::kFloat32));
    const torch::Tensor h =
        Head(normed, entries[i].height, entries[i].width);  // [B*n, H, W, C]
    out.heads.push_back(
        h.view({b, layout.counts[i], h.size(1), h.size(2), h.size(3)}));
  }
  return out;
}

}  // namespace vanelia::model
