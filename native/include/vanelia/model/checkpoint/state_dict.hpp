// StateDict (name -> tensor, as in PyTorch's state_dict) and strict loading
// into a torch::nn::Module, as upstream's `load_state_dict(sd, strict=True)`.
#pragma once

#include <map>
#include <string>

#include <torch/nn/module.h>
#include <torch/types.h>

namespace vanelia {

// Keys are the checkpoint's names ("blocks_enc.0.attn.qkv.weight"); values
// are contiguous CPU float32 tensors (LoadCheckpoint casts float16, bfloat16
// and float64 storages to float32, as upstream's load_state_dict into float32
// parameters does; integer and bool tensors keep their dtype).
using StateDict = std::map<std::string, torch::Tensor>;

// Copies `sd` into module.named_parameters() + named_buffers() (recursive,
// registered names = checkpoint keys). Every parameter/buffer must have a
// key and every key a parameter/buffer with the same shape; otherwise throws
// ModelError naming `what` (e.g. "checkpoint 'x.pth' encoder"), the key and
// both shapes, e.g.
//   "checkpoint 'x.pth' decoder: key 'blocks_dec.0.norm1.weight' has shape
//    [48] in the file but [64] in the model".
// All problems are listed in one message (missing, unexpected, mis-shaped).
// Values are copied (cast to the parameter's dtype and device) without grad.
void LoadStateDictStrict(torch::nn::Module& module,
                         const StateDict& sd,
                         const std::string& what);

// "[64, 3, 16, 16]" for messages.
std::string ShapeString(const torch::Tensor& t);

}  // namespace vanelia
