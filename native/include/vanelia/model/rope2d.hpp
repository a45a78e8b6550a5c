// 2-D rotary position embedding (RoPE2D) of CroCo; its options (RopeConfig:
// base `freq`, scale `f0`) come from the parsed model config, shared by the
// CroCo/DUSt3R encoder and the MUSt3R decoder. Ports croco/models/pos_embed.py
// RoPE2D (the pure-PyTorch path) and must3r/model/blocks/pos_embed.py
// get_pos_embed.
//
// A head vector of size d is split into halves: the first d/2 dims rotate
// with the token's row y, the last d/2 with its column x. In a half of size
// D: inv_freq[j] = F0 / base^(2j/D) for j < D/2, angle = pos * inv_freq, and
// out = t * cos + rotate_half(t) * sin with rotate_half(t) = [-t[D/2:],
// t[:D/2]] (element i pairs with i + D/2, not interleaved).
#pragma once

#include "vanelia/model/model_config.hpp"

#include <utility>

#include <torch/types.h>

namespace vanelia::model {

class RoPE2D {
 public:
  explicit RoPE2D(RopeConfig options = {}) : options_(std::move(options)) {}

  // tokens: [B, heads, N, d] float; positions: [B, N, 2] int64 (y, x).
  // Returns the rotated tokens, same shape and dtype.
  torch::Tensor Apply(const torch::Tensor& tokens,
                      const torch::Tensor& positions) const;

  const RopeConfig& options() const { return options_; }

 private:
  RopeConfig options_;
};

}  // namespace vanelia::model
