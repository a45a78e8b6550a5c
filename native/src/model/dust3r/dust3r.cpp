// DUSt3R. Ports dust3r/model.py AsymmetricCroCo3DStereo (_encode_image_pairs,
// _decoder, _downstream_head, forward, load_state_dict's dec_blocks2 rule),
// dust3r/heads/linear_head.py LinearPts3d, dust3r/heads/postprocess.py and
// dust3r/model.py load_model.
#include "vanelia/model/dust3r/dust3r.hpp"

#include "vanelia/core/check.hpp"
#include "vanelia/core/error.hpp"
#include "vanelia/model/blocks/postprocess.hpp"
#include "vanelia/model/checkpoint/checkpoint.hpp"
#include "vanelia/model/checkpoint/state_dict.hpp"

#include <string>
#include <utility>

#include <torch/torch.h>

namespace vanelia::model {

namespace {

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

void Positive(const char* name, int64_t v) {
  if (v <= 0) {
    throw ModelError(std::string("Dust3rConfig::") + name + " = " +
                     std::to_string(v) + "; must be > 0");
  }
}

}  // namespace

void CheckDust3rConfig(const Dust3rConfig& config) {
  CheckEncoderConfig(config.encoder);
  Positive("dec_embed_dim", config.dec_embed_dim);
  Positive("dec_depth", config.dec_depth);
  Positive("dec_num_heads", config.dec_num_heads);
  if (config.dec_embed_dim % config.dec_num_heads != 0 ||
      (config.dec_embed_dim / config.dec_num_heads) % 4 != 0) {
    throw ModelError("Dust3rConfig::dec_embed_dim = " +
                     std::to_string(config.dec_embed_dim) +
                     "; must split into heads whose size is a multiple of 4 "
                     "(RoPE2D), dec_num_heads = " +
                     std::to_string(config.dec_num_heads));
  }
  if (config.head_type != "linear" && config.head_type != "dpt") {
    throw ModelError("Dust3rConfig::head_type = '" + config.head_type +
                     "'; must be 'linear' or 'dpt'");
  }
  if (config.output_mode != "pts3d") {
    throw ModelError("Dust3rConfig::output_mode = '" + config.output_mode +
                     "'; only 'pts3d' (with confidence) is supported");
  }
  if (config.depth_mode != "exp" && config.depth_mode != "linear" &&
      config.depth_mode != "square") {
    throw ModelError("Dust3rConfig::depth_mode = '" + config.depth_mode +
                     "'; must be 'exp', 'linear' or 'square'");
  }
  if (config.depth_min != -Dust3rConfig::kInf ||
      config.depth_max != Dust3rConfig::kInf) {
    throw ModelError("Dust3rConfig::depth_mode bounds = (" +
                     std::to_string(config.depth_min) + ", " +
                     std::to_string(config.depth_max) +
                     "); upstream only allows (-inf, inf)");
  }
  if (config.conf_mode != "exp" && config.conf_mode != "sigmoid") {
    throw ModelError("Dust3rConfig::conf_mode = '" + config.conf_mode +
                     "'; must be 'exp' or 'sigmoid'");
  }
}

CrocoEncoderLayout Dust3rEncoderLayout() {
  CrocoEncoderLayout layout;
  layout.blocks_key = "enc_blocks";
  layout.norm_key = "enc_norm";
  layout.many_ar = false;
  return layout;
}

Dust3rView ActivateDust3rHead(const torch::Tensor& raw,
                              const Dust3rConfig& config) {
  VANELIA_CHECK(raw.dim() == 4 && raw.size(3) == 4)
      << "raw head must be [B, H, W, 4]";
  const torch::Tensor xyz = raw.narrow(-1, 0, 3);
  Dust3rView view;
  // reg_dense_depth, no bounds.
  if (config.depth_mode == "linear") {
    view.pts3d = xyz;
  } else {
    const torch::Tensor d = xyz.norm(2, -1, true);
    const torch::Tensor dir = xyz / d.clamp_min(1e-8);
    view.pts3d =
        config.depth_mode == "square" ? dir * d.square() : NormExp(xyz);
  }
  // reg_dense_conf.
  const torch::Tensor x = raw.select(-1, 3);
  const double vmin = config.conf_min;
  const double vmax = config.conf_max;
  if (config.conf_mode == "sigmoid") {
    view.conf = (vmax - vmin) * torch::sigmoid(x) + vmin;
  } else {
    view.conf = vmin + x.exp().clamp_max(vmax - vmin);
  }
  return view;
}

Dust3rDecoderImpl::Dust3rDecoderImpl(const Dust3rConfig& config)
    : config_(config) {
  CheckDust3rConfig(config_);
  const int64_t d = config_.dec_embed_dim;
  const int64_t p = config_.encoder.patch_size;
  mask_token_ = register_parameter("mask_token", torch::zeros({1, 1, d}));
  decoder_embed_ = register_module(
      "decoder_embed", torch::nn::Linear(config_.encoder.embed_dim, d));
  const RoPE2D rope(config_.encoder.pos_embed);
  DecoderBlockOptions block_options;
  block_options.cross_rope = true;
  block_options.norm_y = config_.norm_im2_in_dec;
  dec_blocks_ = register_module("dec_blocks", torch::nn::ModuleList());
  dec_blocks2_ = register_module("dec_blocks2", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.dec_depth; ++i) {
    for (auto* list : {&dec_blocks_, &dec_blocks2_}) {
      (*list)->push_back(DecoderBlock(d,
                                      config_.dec_num_heads,
                                      config_.mlp_ratio,
                                      rope,
                                      MemoryMode::kRaw,
                                      block_options));
    }
  }
  dec_norm_ = register_module("dec_norm", MakeLayerNorm(d));
  if (config_.head_type == "linear") {
    linear_head1_ =
        register_module("downstream_head1", LinearHead(d, 4 * p * p, p));
    linear_head2_ =
        register_module("downstream_head2", LinearHead(d, 4 * p * p, p));
  } else {
    const DptHeadOptions o = MakeDust3rDptOptions(
        p, config_.encoder.embed_dim, d, config_.dec_depth);
    dpt_head1_ = register_module("downstream_head1", DptHead(o));
    dpt_head2_ = register_module("downstream_head2", DptHead(o));
  }
}

torch::Tensor Dust3rDecoderImpl::Head(int k,
                                      const std::vector<torch::Tensor>& tokens,
                                      int64_t height,
                                      int64_t width,
                                      torch::Tensor* projected) {
  // Upstream runs the heads with autocast off, on float32 tokens.
  std::vector<torch::Tensor> f32;
  f32.reserve(tokens.size());
  for (const auto& t : tokens) f32.push_back(t.to(torch::kFloat32));
  if (config_.head_type == "dpt") {
    return (k == 1 ? dpt_head1_ : dpt_head2_)(f32, height, width);
  }
  LinearHead& head = k == 1 ? linear_head1_ : linear_head2_;
  const torch::Tensor proj = head->Project(f32.back());
  if (projected != nullptr) *projected = proj;
  return head->Shuffle(proj, height, width);
}

std::pair<torch::Tensor, torch::Tensor> Dust3rDecoderImpl::forward(
    const torch::Tensor& f1,
    const torch::Tensor& pos1,
    const torch::Tensor& f2,
    const torch::Tensor& pos2,
    int64_t h1,
    int64_t w1,
    int64_t h2,
    int64_t w2,
    Dust3rTrace* trace) {
  std::vector<torch::Tensor> out1{f1};
  std::vector<torch::Tensor> out2{f2};
  torch::Tensor x1 = decoder_embed_(f1);
  torch::Tensor x2 = decoder_embed_(f2);
  if (trace != nullptr) {
    trace->embed1 = x1;
    trace->embed2 = x2;
  }
  for (int64_t l = 0; l < config_.dec_depth; ++l) {
    // Both branches read layer l-1's outputs.
    torch::Tensor y1 =
        dec_blocks_[l]->as<DecoderBlockImpl>()->forward(x1, x2, pos1, pos2);
    torch::Tensor y2 =
        dec_blocks2_[l]->as<DecoderBlockImpl>()->forward(x2, x1, pos2, pos1);
    x1 = std::move(y1);
    x2 = std::move(y2);
    out1.push_back(x1);
    out2.push_back(x2);
  }
  out1.back() = dec_norm_(out1.back());
  out2.back() = dec_norm_(out2.back());
  torch::Tensor proj1;
  torch::Tensor proj2;
  torch::Tensor raw1 = Head(1, out1, h1, w1, &proj1);
  torch::Tensor raw2 = Head(2, out2, h2, w2, &proj2);
  if (trace != nullptr) {
    trace->dec1.assign(out1.begin() + 1, out1.end());
    trace->dec2.assign(out2.begin() + 1, out2.end());
    trace->head1_tokens = proj1;
    trace->head2_tokens = proj2;
    trace->head1_raw = raw1;
    trace->head2_raw = raw2;
  }
  return {raw1, raw2};
}

void Dust3rDecoderImpl::SetAttentionBackend(AttentionBackend backend) {
  for (auto* list : {&dec_blocks_, &dec_blocks2_}) {
    for (const auto& block : **list) {
      block->as<DecoderBlockImpl>()->set_backend(backend);
    }
  }
}

EncoderOutput Dust3rModel::Encode(const torch::Tensor& images) {
  return encoder->Encode(images);
}

Dust3rPairOutput Dust3rModel::Decode(const EncoderOutput& e1,
                                     int64_t h1,
                                     int64_t w1,
                                     const EncoderOutput& e2,
                                     int64_t h2,
                                     int64_t w2,
                                     Dust3rTrace* trace) {
  if (e1.tokens.size(0) != e2.tokens.size(0)) {
    throw InputError("Dust3rModel::Decode: view batches differ (" +
                     std::to_string(e1.tokens.size(0)) + " vs " +
                     std::to_string(e2.tokens.size(0)) + "); must be equal");
  }
  const auto [raw1, raw2] = decoder->forward(
      e1.tokens, e1.positions, e2.tokens, e2.positions, h1, w1, h2, w2, trace);
  return {ActivateDust3rHead(raw1, config), ActivateDust3rHead(raw2, config)};
}

Dust3rPairOutput Dust3rModel::Pair(const torch::Tensor& img1,
                                   const torch::Tensor& img2,
                                   Dust3rTrace* trace) {
  const int64_t b = img1.size(0);
  if (img1.dim() != 4 || img2.dim() != 4 || img2.size(0) != b) {
    throw InputError(
        "Dust3rModel::Pair: images must be [B, 3, H, W] with one B");
  }
  EncoderOutput e1;
  EncoderOutput e2;
  if (img1.sizes() == img2.sizes()) {
    // _encode_image_pairs: one batch of 2B when the shapes agree.
    const EncoderOutput both = Encode(torch::cat({img1, img2}, 0));
    e1 = {both.tokens.narrow(0, 0, b), both.positions.narrow(0, 0, b)};
    e2 = {both.tokens.narrow(0, b, b), both.positions.narrow(0, b, b)};
  } else {
    e1 = Encode(img1);
    e2 = Encode(img2);
  }
  return Decode(
      e1, img1.size(2), img1.size(3), e2, img2.size(2), img2.size(3), trace);
}

void Dust3rModel::SetAttentionBackend(AttentionBackend backend) {
  encoder->SetAttentionBackend(backend);
  decoder->SetAttentionBackend(backend);
}

void Dust3rModel::To(torch::Device device) {
  encoder->to(device, torch::kFloat32);
  decoder->to(device, torch::kFloat32);
}

Dust3rModel MakeDust3rModel(const Dust3rConfig& config) {
  CheckDust3rConfig(config);
  Dust3rModel model;
  model.config = config;
  model.encoder = CrocoEncoder(config.encoder, Dust3rEncoderLayout());
  model.decoder = Dust3rDecoder(config);
  model.encoder->eval();
  model.decoder->eval();
  return model;
}

std::pair<StateDict, StateDict> SplitDust3rStateDict(const StateDict& sd) {
  StateDict encoder;
  StateDict rest;
  bool has_second = false;
  for (const auto& [key, value] : sd) {
    if (StartsWith(key, "patch_embed.") || StartsWith(key, "enc_blocks.") ||
        StartsWith(key, "enc_norm.")) {
      encoder.emplace(key, value);
    } else {
      rest.emplace(key, value);
      has_second = has_second || StartsWith(key, "dec_blocks2");
    }
  }
  if (!has_second) {
    // AsymmetricCroCo3DStereo.load_state_dict: the second decoder starts as
    // a copy of the first when the file has none (CroCo pretraining files).
    StateDict copies;
    for (const auto& [key, value] : rest) {
      if (StartsWith(key, "dec_blocks.")) {
        copies.emplace("dec_blocks2." + key.substr(11), value);
      }
    }
    rest.insert(copies.begin(), copies.end());
  }
  return {encoder, rest};
}

Dust3rModel LoadDust3rModel(const std::string& path) {
  const Checkpoint checkpoint = LoadCheckpoint(path);
  const Dust3rConfig config = ParseDust3rConfig(checkpoint);
  Dust3rModel model = MakeDust3rModel(config);
  const auto [encoder_sd, decoder_sd] = SplitDust3rStateDict(checkpoint.model);
  const std::string what = "checkpoint '" + path + "'";
  LoadStateDictStrict(*model.encoder, encoder_sd, what + " encoder");
  LoadStateDictStrict(*model.decoder, decoder_sd, what + " decoder");
  return model;
}

}  // namespace vanelia::model
