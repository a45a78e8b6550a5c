// Transformer building blocks shared by the CroCo/DUSt3R encoder, the DUSt3R
// decoder and the MUSt3R decoder: written once, composed differently.
// Registered submodule names equal upstream's checkpoint keys (norm1,
// attn.qkv, attn.proj, mlp.fc1, cross_attn.projq, ...).
//
// Ports must3r/model/blocks/{attention,layers,head}.py, croco/models/blocks.py
// Mlp and dust3r/patch_embed.py ManyAR_PatchEmbed.
#pragma once

#include "vanelia/model/blocks/rope2d.hpp"

#include <cstdint>
#include <optional>
#include <utility>

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace vanelia::model {

// How softmax(q k^T / sqrt(d)) v is computed. kReference is upstream's
// explicit matmul-softmax-matmul (what torch 1.13 runs); kFused is
// at::scaled_dot_product_attention (LibTorch >= 2.0 only; on older LibTorch
// it falls back to kReference).
enum class AttentionBackend { kReference, kFused };

// The default: kFused where LibTorch has it, else kReference.
AttentionBackend DefaultAttentionBackend();

// q: [B, h, Nq, d], k, v: [B, h, Nk, d]. Returns [B, Nq, h*d].
torch::Tensor MultiHeadAttention(const torch::Tensor& q,
                                 const torch::Tensor& k,
                                 const torch::Tensor& v,
                                 AttentionBackend backend);

// LayerNorm with upstream's eps (1e-6 for every norm but the feedback norm).
torch::nn::LayerNorm MakeLayerNorm(int64_t dim, double eps = 1e-6);

// fc1 -> GELU (exact erf) -> fc2.
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t in_features, int64_t hidden_features, int64_t out_features);
  // x: [..., in] -> [..., out]
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear fc1_{nullptr};
  torch::nn::Linear fc2_{nullptr};
};

TORCH_MODULE(Mlp);

// Self-attention with a fused qkv Linear ([q | k | v] along the output) and
// RoPE2D on q and k.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t num_heads, RoPE2D rope, bool qkv_bias);
  // x: [B, N, C] float; pos: [B, N, 2] int64 (y, x). Returns [B, N, C].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& pos);

  void set_backend(AttentionBackend backend) { backend_ = backend; }

 private:
  int64_t num_heads_;
  RoPE2D rope_;
  AttentionBackend backend_;
  torch::nn::Linear qkv_{nullptr};
  torch::nn::Linear proj_{nullptr};
};

TORCH_MODULE(Attention);

// Cross-attention whose keys and values are projected ahead of time
// (upstream MUSt3R CachedCrossAttention: no RoPE). With `rope` set it is
// CroCo's CrossAttention (croco/models/blocks.py, as DUSt3R uses it): q is
// rotated with the query image's positions and k with the key image's.
class CrossAttentionImpl : public torch::nn::Module {
 public:
  CrossAttentionImpl(int64_t dim,
                     int64_t num_heads,
                     bool qkv_bias,
                     std::optional<RoPE2D> rope = std::nullopt);
  // Returns (projk(key), projv(value)), each [B, Nk, C].
  std::pair<torch::Tensor, torch::Tensor> PrepareKv(const torch::Tensor& key,
                                                    const torch::Tensor& value);
  // query: [B, Nq, C]; key, value: [B, Nk, C] already projected; qpos:
  // [B, Nq, 2], kpos: [B, Nk, 2] int64 (y, x), required when the layer has
  // RoPE, ignored otherwise.
  torch::Tensor forward(const torch::Tensor& query,
                        const torch::Tensor& key,
                        const torch::Tensor& value,
                        const torch::Tensor& qpos = {},
                        const torch::Tensor& kpos = {});

  void set_backend(AttentionBackend backend) { backend_ = backend; }

 private:
  int64_t num_heads_;
  std::optional<RoPE2D> rope_;
  AttentionBackend backend_;
  torch::nn::Linear projq_{nullptr};
  torch::nn::Linear projk_{nullptr};
  torch::nn::Linear projv_{nullptr};
  torch::nn::Linear proj_{nullptr};
};

TORCH_MODULE(CrossAttention);

// Pre-norm ViT block: x += attn(norm1 x); x += mlp(norm2 x).
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(int64_t dim, int64_t num_heads, double mlp_ratio, RoPE2D rope);
  // x: [B, N, C]; pos: [B, N, 2] int64.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& pos);
  void set_backend(AttentionBackend backend);

 private:
  torch::nn::LayerNorm norm1_{nullptr};
  Attention attn_{nullptr};
  torch::nn::LayerNorm norm2_{nullptr};
  Mlp mlp_{nullptr};
};

TORCH_MODULE(Block);

// How a decoder block differs between the networks. MUSt3R's defaults:
// no RoPE in cross-attention, a norm_y LayerNorm.
struct DecoderBlockOptions {
  // Rotate the cross-attention's q and k with the query's and the key
  // image's positions (CroCo/DUSt3R DecoderBlock).
  bool cross_rope = false;
  // norm_y is a LayerNorm (CroCo norm_mem = norm_im2_in_dec = True); when
  // false it is the identity and has no weights.
  bool norm_y = true;
};

// Decoder block with cross-attention to a memory (upstream MUSt3R
// CachedDecoderBlock, CroCo DecoderBlock): x += SA(norm1 x, RoPE);
// x += CA(norm2 x, memory); x += mlp(norm3 x). What a layer stores of its
// input tokens y (MemoryMode): kNormY: norm_y(y); kKv: [projk(norm_y y) |
// projv(norm_y y)] (width 2C); kRaw: y itself (CroCo: the other image's
// tokens, normed inside forward).
class DecoderBlockImpl : public torch::nn::Module {
 public:
  DecoderBlockImpl(int64_t dim,
                   int64_t num_heads,
                   double mlp_ratio,
                   RoPE2D rope,
                   MemoryMode memory_mode,
                   DecoderBlockOptions block_options = {});
  // y: [B, M, C] layer inputs -> [B, M, memD] memory entries.
  torch::Tensor PrepareMemory(const torch::Tensor& y);
  // x: [B, N, C]; memory: [B, Nm, memD] as PrepareMemory makes it;
  // pos: [B, N, 2] int64; memory_pos: [B, Nm, 2] int64, the memory tokens'
  // positions (required with cross_rope, ignored otherwise).
  torch::Tensor forward(const torch::Tensor& x,
                        const torch::Tensor& memory,
                        const torch::Tensor& pos,
                        const torch::Tensor& memory_pos = {});
  void set_backend(AttentionBackend backend);
  int64_t memory_dim() const;

 private:
  torch::Tensor NormY(const torch::Tensor& y);

  int64_t dim_;
  MemoryMode memory_mode_;
  DecoderBlockOptions block_options_;
  torch::nn::LayerNorm norm1_{nullptr};
  Attention attn_{nullptr};
  torch::nn::LayerNorm norm2_{nullptr};
  torch::nn::LayerNorm norm_y_{nullptr};
  CrossAttention cross_attn_{nullptr};
  torch::nn::LayerNorm norm3_{nullptr};
  Mlp mlp_{nullptr};
};

TORCH_MODULE(DecoderBlock);

// Conv2d 3 -> C with kernel = stride = patch (no norm), tokens row-major
// over the patch grid, plus their (y, x) positions. ManyAR semantics
// (`many_ar`, MUSt3R): the batch tensor is landscape (W >= H); an image
// whose true_shape is portrait is stored transposed and is patched in its
// natural (portrait) order. PatchEmbedDust3R semantics (`many_ar` false, as
// DUSt3R's load_model makes it): every image in its own orientation.
class PatchEmbedImpl : public torch::nn::Module {
 public:
  PatchEmbedImpl(int64_t patch_size, int64_t embed_dim, bool many_ar = true);
  // img: [B, 3, H, W] float (W >= H under ManyAR); true_shape: [B, 2] int64
  // (h, w), equal to (H, W) without ManyAR.
  // Returns tokens [B, N, C] and positions [B, N, 2] int64.
  std::pair<torch::Tensor, torch::Tensor> forward(
      const torch::Tensor& img, const torch::Tensor& true_shape);

  int64_t patch_size() const { return patch_size_; }

 private:
  std::pair<torch::Tensor, torch::Tensor> ForwardOwnOrientation(
      const torch::Tensor& img);

  int64_t patch_size_;
  int64_t embed_dim_;
  bool many_ar_;
  torch::nn::Conv2d proj_{nullptr};
};

TORCH_MODULE(PatchEmbed);

// Token grid positions: [1, rows*cols, 2] int64 of (y, x), row-major.
torch::Tensor GridPositions(int64_t rows, int64_t cols, torch::Device device);

// Linear(D -> patch*patch*C) then pixel shuffle by `patch`: output channel c
// of pixel (p*r + i, p*s + j) is linear output c*p*p + i*p + j of token (r,s).
class LinearHeadImpl : public torch::nn::Module {
 public:
  LinearHeadImpl(int64_t embed_dim, int64_t output_dim, int64_t patch_size);
  // feats: [B, N, D] with N = (H/p)*(W/p). Returns [B, H, W, C] float.
  torch::Tensor forward(const torch::Tensor& feats,
                        int64_t height,
                        int64_t width);

  // The Linear alone: [B, N, D] -> [B, N, p*p*C] (parity traces).
  torch::Tensor Project(const torch::Tensor& feats) { return proj_(feats); }

  // The pixel shuffle of Project's output -> [B, H, W, C].
  torch::Tensor Shuffle(const torch::Tensor& projected,
                        int64_t height,
                        int64_t width) const;

 private:
  int64_t patch_size_;
  torch::nn::Linear proj_{nullptr};
};

TORCH_MODULE(LinearHead);

}  // namespace vanelia::model
