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

#include "vanelia/model/checkpoint/model_config.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <torch/types.h>

namespace vanelia::model {

class RoPE2D {
 public:
  // Positions (y or x) must be below this bound: the cos/sin tables are
  // built once per (device, dtype, head size) for this many positions, so a
  // call never reads a position back to the host (a patch grid of 4096 rows
  // or columns is an image of 65536 pixels at patch 16).
  static constexpr int64_t kMaxPositions = 4096;

  explicit RoPE2D(RopeConfig options = {})
      : options_(std::move(options)), cache_(std::make_shared<Cache>()) {}

  // tokens: [B, heads, N, d] float; positions: [B, N, 2] int64 (y, x) in
  // [0, kMaxPositions) (checked when positions live on the CPU).
  // Returns the rotated tokens, same shape and dtype.
  torch::Tensor Apply(const torch::Tensor& tokens,
                      const torch::Tensor& positions) const;

  const RopeConfig& options() const { return options_; }

 private:
  // Tables [kMaxPositions, D] (cos, sin), per device/dtype/D. Upstream
  // builds them for max(pos) + 1 positions on every call; the rows are the
  // same values (row p depends on p alone).
  struct Cache {
    std::mutex mutex;
    std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> tables;
  };

  std::pair<torch::Tensor, torch::Tensor> Tables(torch::Device device,
                                                 torch::Dtype dtype,
                                                 int64_t d) const;

  RopeConfig options_;
  std::shared_ptr<Cache> cache_;  // shared by copies (every block's RoPE)
};

}  // namespace vanelia::model
