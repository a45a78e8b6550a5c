// DPT head. Ports dust3r/heads/dpt_head.py (create_dpt_head,
// DPTOutputAdapter_fix.forward) and croco/models/dpt_block.py (make_scratch,
// ResidualConvUnit_custom, FeatureFusionBlock_custom, DPTOutputAdapter.init
// and its regression head).
#include "vanelia/model/dust3r/dpt_head.hpp"

#include "vanelia/core/check.hpp"
#include "vanelia/core/error.hpp"

#include <string>

#include <torch/torch.h>

namespace vanelia::model {

namespace {

torch::nn::Conv2d Conv(int64_t in,
                       int64_t out,
                       int64_t kernel,
                       int64_t stride,
                       int64_t padding,
                       bool bias) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                               .stride(stride)
                               .padding(padding)
                               .bias(bias));
}

torch::Tensor Upsample2x(const torch::Tensor& x) {
  return torch::nn::functional::interpolate(
      x,
      torch::nn::functional::InterpolateFuncOptions()
          .scale_factor(std::vector<double>{2.0, 2.0})
          .mode(torch::kBilinear)
          .align_corners(true));
}

}  // namespace

DptHeadOptions MakeDust3rDptOptions(int64_t patch_size,
                                    int64_t enc_dim,
                                    int64_t dec_dim,
                                    int64_t dec_depth) {
  if (dec_depth <= 9) {
    throw ModelError("DPT head: dec_depth = " + std::to_string(dec_depth) +
                     "; upstream's create_dpt_head needs dec_depth > 9");
  }
  DptHeadOptions o;
  o.patch_size = patch_size;
  o.dim_tokens = {enc_dim, dec_dim, dec_dim, dec_dim};
  o.hooks = {0, dec_depth * 2 / 4, dec_depth * 3 / 4, dec_depth};
  return o;
}

ResidualConvUnitImpl::ResidualConvUnitImpl(int64_t features) {
  conv1_ = register_module("conv1", Conv(features, features, 3, 1, 1, true));
  conv2_ = register_module("conv2", Conv(features, features, 3, 1, 1, true));
}

torch::Tensor ResidualConvUnitImpl::forward(const torch::Tensor& x) {
  return conv2_(torch::relu(conv1_(torch::relu(x)))) + x;
}

FeatureFusionBlockImpl::FeatureFusionBlockImpl(int64_t features) {
  out_conv_ =
      register_module("out_conv", Conv(features, features, 1, 1, 0, true));
  res_conf_unit1_ = register_module("resConfUnit1", ResidualConvUnit(features));
  res_conf_unit2_ = register_module("resConfUnit2", ResidualConvUnit(features));
}

torch::Tensor FeatureFusionBlockImpl::forward(const torch::Tensor& prev,
                                              const torch::Tensor& skip) {
  torch::Tensor out = prev;
  if (skip.defined()) out = out + res_conf_unit1_(skip);
  out = res_conf_unit2_(out);
  return out_conv_(Upsample2x(out));
}

DptAdapterImpl::DptAdapterImpl(const DptHeadOptions& options)
    : options_(options) {
  const auto& ld = options_.layer_dims;
  const auto& dt = options_.dim_tokens;
  act_postprocess_ =
      register_module("act_postprocess", torch::nn::ModuleList());
  // Level 0: x4 (ConvTranspose 4/4), level 1: x2, level 2: as is, level 3:
  // /2 (3x3 stride 2).
  act_postprocess_->push_back(torch::nn::Sequential(
      Conv(dt[0], ld[0], 1, 1, 0, true),
      torch::nn::ConvTranspose2d(
          torch::nn::ConvTranspose2dOptions(ld[0], ld[0], 4).stride(4))));
  act_postprocess_->push_back(torch::nn::Sequential(
      Conv(dt[1], ld[1], 1, 1, 0, true),
      torch::nn::ConvTranspose2d(
          torch::nn::ConvTranspose2dOptions(ld[1], ld[1], 2).stride(2))));
  act_postprocess_->push_back(
      torch::nn::Sequential(Conv(dt[2], ld[2], 1, 1, 0, true)));
  act_postprocess_->push_back(torch::nn::Sequential(
      Conv(dt[3], ld[3], 1, 1, 0, true), Conv(ld[3], ld[3], 3, 2, 1, true)));
  scratch_ = register_module("scratch", std::make_shared<torch::nn::Module>());
  auto layer_rn = torch::nn::ModuleList();
  for (int k = 0; k < 4; ++k) {
    layer_rn_[k] = scratch_->register_module(
        "layer" + std::to_string(k + 1) + "_rn",
        Conv(ld[k], options_.feature_dim, 3, 1, 1, false));
    layer_rn->push_back(layer_rn_[k]);
  }
  scratch_->register_module("layer_rn", layer_rn);
  for (int k = 0; k < 4; ++k) {
    refinenet_[k] =
        scratch_->register_module("refinenet" + std::to_string(k + 1),
                                  FeatureFusionBlock(options_.feature_dim));
  }
  const int64_t fd = options_.feature_dim;
  head_ = register_module(
      "head",
      torch::nn::Sequential(
          Conv(fd, fd / 2, 3, 1, 1, true),
          torch::nn::Functional(Upsample2x),
          Conv(fd / 2, options_.last_dim, 3, 1, 1, true),
          torch::nn::ReLU(),
          Conv(options_.last_dim, options_.num_channels, 1, 1, 0, true)));
}

torch::Tensor DptAdapterImpl::forward(const std::vector<torch::Tensor>& tokens,
                                      int64_t height,
                                      int64_t width) {
  const int64_t nh = height / options_.patch_size;
  const int64_t nw = width / options_.patch_size;
  std::array<torch::Tensor, 4> layers;
  for (int k = 0; k < 4; ++k) {
    const int64_t hook = options_.hooks[k];
    VANELIA_CHECK(hook >= 0 && hook < static_cast<int64_t>(tokens.size()))
        << "DPT hook " << hook << " outside the head input list of "
        << tokens.size();
    const torch::Tensor& t = tokens[hook];
    VANELIA_CHECK(t.dim() == 3 && t.size(1) == nh * nw);
    // 'b (nh nw) c -> b c nh nw'
    const torch::Tensor map =
        t.transpose(1, 2).reshape({t.size(0), t.size(2), nh, nw});
    layers[k] = layer_rn_[k](
        act_postprocess_[k]->as<torch::nn::SequentialImpl>()->forward(map));
  }
  torch::Tensor path = refinenet_[3](layers[3], torch::Tensor());
  // refinenet4's output is cropped to level 3's size (odd H/16 or W/16).
  path = path.narrow(2, 0, layers[2].size(2)).narrow(3, 0, layers[2].size(3));
  for (int k = 2; k >= 0; --k) path = refinenet_[k](path, layers[k]);
  return head_->forward(path);
}

DptHeadImpl::DptHeadImpl(const DptHeadOptions& options) {
  dpt_ = register_module("dpt", DptAdapter(options));
}

torch::Tensor DptHeadImpl::forward(const std::vector<torch::Tensor>& tokens,
                                   int64_t height,
                                   int64_t width) {
  return dpt_(tokens, height, width).permute({0, 2, 3, 1});
}

}  // namespace vanelia::model
