// The MUSt3R decoder's memory: what upstream passes around as the tuple
// (mem list, mem_labels, mem_nimgs, mem_protected_imgs, mem_protected_tokens),
// as a named struct.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/types.h>

namespace vanelia::model {

// Preallocated device buffers behind a memory: per layer two buffers
// [B, capacity, memD] (the active one holds the tokens; the other receives
// compactions), so that appending a batch and removing frames move tokens
// within fixed allocations instead of concatenating new tensors every call.
struct MemoryStorage {
  std::vector<torch::Tensor> buffers[2];
  int active = 0;
  int64_t capacity = 0;
  int64_t used = 0;  // tokens held by the newest MemoryState using it
};

struct MemoryState {
  // One tensor per decoder layer: [B, Nmem, memD] (memD = 2D for kv, else D).
  std::vector<torch::Tensor> layers;
  // [B, Nmem] int64: the image label of each memory token, insertion order.
  torch::Tensor labels;
  // Label base of the next update call (upstream element 2, mem_nimgs).
  int64_t num_images = 0;
  // Upstream elements 3 and 4, kept as the last update call set them. They
  // go stale in video mode: never use them as the token count.
  int64_t protected_images = 0;
  int64_t protected_tokens = 0;

  // Host copy of labels (row 0; every row is equal by construction), so
  // that removals need no device-to-host read. Empty when unknown (then the
  // device paths are used).
  std::vector<int64_t> host_labels;
  // Set when `layers` are views of preallocated buffers (the decoder makes
  // them). Copies of a MemoryState share it: a mutating call (RemoveLabel,
  // OverwriteLabel) or an update call on one of them may overwrite the
  // tokens that other copies view; use one live state, as the video loop
  // does.
  std::shared_ptr<MemoryStorage> storage;

  int64_t NumTokens() const { return labels.defined() ? labels.size(1) : 0; }

  bool HostLabelsValid() const {
    return static_cast<int64_t>(host_labels.size()) == NumTokens();
  }

  // Whether `layers` are the leading views of storage's active buffers.
  bool UsesStorage() const;

  bool empty() const { return NumTokens() == 0; }

  // Removes every token whose label is `label` from all layers.
  void RemoveLabel(int64_t label);
  // Relabels tokens `from` -> `to`.
  void Relabel(int64_t from, int64_t to);
  // Overwrites, in every layer, the tokens labelled `old_label` with those
  // labelled `new_label` (same count; upstream _update_in_mem).
  void OverwriteLabel(int64_t old_label, int64_t new_label);
};

}  // namespace vanelia::model
