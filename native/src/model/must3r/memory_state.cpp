// The MUSt3R decoder's memory: removing, relabelling and overwriting the
// tokens of an image. Ports must3r/engine/inference.py _remove_from_mem,
// _restore_label_in_mem, _update_in_mem.
#include "vanelia/model/must3r/memory_state.hpp"

#include "vanelia/core/error.hpp"

#include <algorithm>
#include <string>
#include <vector>

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

}  // namespace vanelia::model
