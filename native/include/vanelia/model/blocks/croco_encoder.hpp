// The CroCo/DUSt3R ViT encoder as MUSt3R uses it (upstream Dust3rEncoder):
// patch embedding (ManyAR), `depth` pre-norm ViT blocks with RoPE2D, and a
// final norm. Checkpoint keys: patch_embed.proj.*, blocks_enc.{i}.*,
// norm_enc.*. Ports must3r/model/encoder.py Dust3rEncoder.forward.
#pragma once

#include "vanelia/model/blocks/blocks.hpp"
#include "vanelia/model/checkpoint/model_config.hpp"

#include <cstdint>
#include <utility>

#include <torch/nn/modules/container/modulelist.h>

namespace vanelia::model {

// Throws ModelError naming the field when a value is unusable.
void CheckEncoderConfig(const EncoderConfig& config);

struct EncoderOutput {
  torch::Tensor tokens;     // [B, N, C] float, after norm_enc
  torch::Tensor positions;  // [B, N, 2] int64 (y, x)
};

class CrocoEncoderImpl : public torch::nn::Module {
 public:
  explicit CrocoEncoderImpl(const EncoderConfig& options);

  // Upstream's call: img [B, 3, H, W] with W >= H (portrait images stored
  // transposed), true_shape [B, 2] int64 (h, w) of each image.
  EncoderOutput forward(const torch::Tensor& img,
                        const torch::Tensor& true_shape);

  // Convenience: images [B, 3, H, W] in natural orientation, all the same
  // shape; portrait batches go through the ManyAR transposed path.
  EncoderOutput Encode(const torch::Tensor& images);

  void SetAttentionBackend(AttentionBackend backend);

  const EncoderConfig& options() const { return options_; }

 private:
  EncoderConfig options_;
  PatchEmbed patch_embed_{nullptr};
  torch::nn::ModuleList blocks_enc_{nullptr};
  torch::nn::LayerNorm norm_enc_{nullptr};
};

TORCH_MODULE(CrocoEncoder);

}  // namespace vanelia::model
