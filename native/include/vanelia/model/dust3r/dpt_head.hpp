// The DPT head of DUSt3R's released 512 checkpoint (upstream
// dust3r/heads/dpt_head.py PixelwiseTaskWithDPT + DPTOutputAdapter_fix and
// croco/models/dpt_block.py): four hooked token lists reshaped to feature
// maps, per-level projection (act_postprocess), 3x3 projection to 256
// channels (scratch.layer_rn), bottom-up fusion (refinenet4..1, each
// RCU + bilinear x2 + 1x1 conv) and a small conv head. Registered names are
// upstream's keys under `dpt.` (scratch.layer{k}_rn and scratch.layer_rn.{k-1}
// are one module under two names, as in the checkpoint).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace vanelia::model {

struct DptHeadOptions {
  int64_t patch_size = 16;
  // Token widths of the four hooked entries: [enc_dim, dec, dec, dec].
  std::array<int64_t, 4> dim_tokens = {1024, 768, 768, 768};
  // Indices into the head input list [enc_out, dec_1, ..., dec_L]:
  // upstream's [0, L*2/4, L*3/4, L].
  std::array<int64_t, 4> hooks = {0, 6, 9, 12};
  std::array<int64_t, 4> layer_dims = {96, 192, 384, 768};  // fixed upstream
  int64_t feature_dim = 256;                                // fixed upstream
  int64_t last_dim = 128;                                   // feature_dim / 2
  int64_t num_channels = 4;                                 // xyz + conf
};

// Upstream's hooks for a decoder of depth L (it refuses L <= 9).
DptHeadOptions MakeDust3rDptOptions(int64_t patch_size,
                                    int64_t enc_dim,
                                    int64_t dec_dim,
                                    int64_t dec_depth);

// x -> x + conv2(relu(conv1(relu(x)))) (ResidualConvUnit_custom, no BN).
class ResidualConvUnitImpl : public torch::nn::Module {
 public:
  explicit ResidualConvUnitImpl(int64_t features);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
};

TORCH_MODULE(ResidualConvUnit);

// FeatureFusionBlock_custom: out = prev + RCU1(skip) (when a skip is
// given), then RCU2, bilinear x2 (align_corners), 1x1 out_conv.
class FeatureFusionBlockImpl : public torch::nn::Module {
 public:
  explicit FeatureFusionBlockImpl(int64_t features);
  // skip undefined for refinenet4.
  torch::Tensor forward(const torch::Tensor& prev, const torch::Tensor& skip);

 private:
  torch::nn::Conv2d out_conv_{nullptr};
  ResidualConvUnit res_conf_unit1_{nullptr};
  ResidualConvUnit res_conf_unit2_{nullptr};
};

TORCH_MODULE(FeatureFusionBlock);

// DPTOutputAdapter_fix (registered as `dpt` inside DptHead).
class DptAdapterImpl : public torch::nn::Module {
 public:
  explicit DptAdapterImpl(const DptHeadOptions& options);
  // tokens: the head input list, entries [B, N, C_k]; (height, width) the
  // image size. Returns [B, num_channels, H, W].
  torch::Tensor forward(const std::vector<torch::Tensor>& tokens,
                        int64_t height,
                        int64_t width);

 private:
  DptHeadOptions options_;
  torch::nn::ModuleList act_postprocess_{nullptr};
  std::shared_ptr<torch::nn::Module> scratch_;
  std::array<torch::nn::Conv2d, 4> layer_rn_{
      {nullptr, nullptr, nullptr, nullptr}};
  std::array<FeatureFusionBlock, 4> refinenet_{
      {nullptr, nullptr, nullptr, nullptr}};
  torch::nn::Sequential head_{nullptr};
};

TORCH_MODULE(DptAdapter);

// PixelwiseTaskWithDPT without the activation: forward returns the raw
// output channels last, [B, H, W, num_channels] float.
class DptHeadImpl : public torch::nn::Module {
 public:
  explicit DptHeadImpl(const DptHeadOptions& options);
  torch::Tensor forward(const std::vector<torch::Tensor>& tokens,
                        int64_t height,
                        int64_t width);

 private:
  DptAdapter dpt_{nullptr};
};

TORCH_MODULE(DptHead);

}  // namespace vanelia::model
