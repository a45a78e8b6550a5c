// The CroCo/DUSt3R ViT encoder as MUSt3R uses it (upstream Dust3rEncoder):
// patch embedding (ManyAR), `depth` pre-norm ViT blocks with RoPE2D, and a
// final norm. Checkpoint keys: patch_embed.proj.*, blocks_enc.{i}.*,
// norm_enc.* (DUSt3R: enc_blocks.{i}.*, enc_norm.*, see CrocoEncoderLayout).
// Ports must3r/model/encoder.py Dust3rEncoder.forward and
// dust3r/model.py AsymmetricCroCo3DStereo._encode_image.
#pragma once

#include "vanelia/model/blocks/blocks.hpp"
#include "vanelia/model/checkpoint/model_config.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/modules/container/modulelist.h>

namespace vanelia::model {

// Throws ModelError naming the field when a value is unusable.
void CheckEncoderConfig(const EncoderConfig& config);

// Where the two networks' encoders differ: checkpoint key names and how a
// portrait image is fed. Defaults are MUSt3R's Dust3rEncoder; DUSt3R's
// AsymmetricCroCo3DStereo stores enc_blocks.{i}.* and enc_norm.* and, as
// its load_model builds it (PatchEmbedDust3R), never transposes an image.
struct CrocoEncoderLayout {
  std::string blocks_key = "blocks_enc";
  std::string norm_key = "norm_enc";
  bool many_ar = true;  // ManyAR_PatchEmbed: portrait stored transposed
};

struct EncoderOutput {
  torch::Tensor tokens;     // [B, N, C] float, after norm_enc
  torch::Tensor positions;  // [B, N, 2] int64 (y, x)
};

// Intermediates of one encoder call, for parity tests.
struct EncoderTrace {
  torch::Tensor patch_embed;          // [B, N, C] patch embedding output
  std::vector<torch::Tensor> blocks;  // per block [B, N, C], before the norm
};

class CrocoEncoderImpl : public torch::nn::Module {
 public:
  explicit CrocoEncoderImpl(const EncoderConfig& options,
                            const CrocoEncoderLayout& layout = {});

  // Upstream's call: img [B, 3, H, W] with W >= H under ManyAR (portrait
  // images stored transposed), true_shape [B, 2] int64 (h, w) of each image.
  EncoderOutput forward(const torch::Tensor& img,
                        const torch::Tensor& true_shape,
                        EncoderTrace* trace = nullptr);

  // Convenience: images [B, 3, H, W] in natural orientation, all the same
  // shape; under ManyAR portrait batches go through the transposed path.
  EncoderOutput Encode(const torch::Tensor& images);

  // The tensor Encode hands to forward for images [B, 3, H, W] in natural
  // orientation: under ManyAR a portrait batch stored transposed
  // [B, 3, W, H], otherwise the images themselves.
  torch::Tensor EncoderInput(const torch::Tensor& images) const;

  void SetAttentionBackend(AttentionBackend backend);

  const EncoderConfig& options() const { return options_; }

 private:
  EncoderConfig options_;
  CrocoEncoderLayout layout_;
  PatchEmbed patch_embed_{nullptr};
  torch::nn::ModuleList blocks_enc_{nullptr};
  torch::nn::LayerNorm norm_enc_{nullptr};
};

TORCH_MODULE(CrocoEncoder);

}  // namespace vanelia::model
