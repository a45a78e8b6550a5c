// DUSt3R, the pairwise network (upstream dust3r/model.py
// AsymmetricCroCo3DStereo): the CroCo encoder of both images, two decoders
// that cross-attend to each other's previous layer, and one head per view.
// It is composed of the layers MUSt3R uses (blocks.hpp, croco_encoder.hpp):
// only the options differ (encoder keys enc_blocks/enc_norm, no ManyAR
// transposition, RoPE in cross-attention with the query's and the key's
// positions, norm_y only when norm_im2_in_dec).
//
// Conventions, as upstream behaves (see tests/data/dust3r/README.md):
// - decoder layer l: f1_l = dec_blocks[l](f1_{l-1}, f2_{l-1}) and
//   f2_l = dec_blocks2[l](f2_{l-1}, f1_{l-1}): both read layer l-1;
// - dec_norm is applied to the last layer only; the head input list is
//   [enc_out, dec_1, ..., dec_L (normed)];
// - view 1's points are in view 1's camera frame, and so are view 2's
//   (pts3d_in_other_view); conf = conf_min + exp(raw) (conf_mode exp).
#pragma once

#include "vanelia/model/blocks/blocks.hpp"
#include "vanelia/model/blocks/croco_encoder.hpp"
#include "vanelia/model/checkpoint/model_config.hpp"
#include "vanelia/model/dust3r/dpt_head.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn/modules/container/modulelist.h>

namespace vanelia::model {

// Throws ModelError naming the field when a value is unusable (dimensions,
// head_type, output_mode, depth_mode, conf_mode).
void CheckDust3rConfig(const Dust3rConfig& config);

// The encoder layout of a DUSt3R checkpoint (enc_blocks, enc_norm, images
// in their own orientation).
CrocoEncoderLayout Dust3rEncoderLayout();

// One view's activated prediction.
struct Dust3rView {
  torch::Tensor pts3d;  // [B, H, W, 3] f32, view 1's camera frame
  torch::Tensor conf;   // [B, H, W] f32, >= conf_min
};

struct Dust3rPairOutput {
  Dust3rView view1;  // pred1['pts3d'], pred1['conf']
  Dust3rView view2;  // pred2['pts3d_in_other_view'], pred2['conf']
};

// Intermediates of one pair, for parity tests (all float32).
struct Dust3rTrace {
  torch::Tensor embed1, embed2;              // [B, N, D] decoder_embed outputs
  std::vector<torch::Tensor> dec1, dec2;     // per layer [B, N, D]; last normed
  torch::Tensor head1_tokens, head2_tokens;  // linear head Linear outputs
  torch::Tensor head1_raw, head2_raw;        // [B, H, W, 4] before activation
};

// Activation of a raw head output [B, H, W, 4] (upstream
// dust3r/heads/postprocess.py: reg_dense_depth, reg_dense_conf).
Dust3rView ActivateDust3rHead(const torch::Tensor& raw,
                              const Dust3rConfig& config);

// Everything of AsymmetricCroCo3DStereo after the encoder: decoder_embed,
// dec_blocks, dec_blocks2, dec_norm, downstream_head{1,2} and mask_token
// (unused at inference, kept for strict loading).
class Dust3rDecoderImpl : public torch::nn::Module {
 public:
  explicit Dust3rDecoderImpl(const Dust3rConfig& config);

  // f1, f2: [B, N_k, enc_dim] encoder outputs; pos1, pos2: [B, N_k, 2]
  // int64; (h_k, w_k) each view's true shape. Returns the raw heads
  // [B, H_k, W_k, 4] float32 of view 1 (head 1) and view 2 (head 2).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& f1,
                                                  const torch::Tensor& pos1,
                                                  const torch::Tensor& f2,
                                                  const torch::Tensor& pos2,
                                                  int64_t h1,
                                                  int64_t w1,
                                                  int64_t h2,
                                                  int64_t w2,
                                                  Dust3rTrace* trace = nullptr);

  void SetAttentionBackend(AttentionBackend backend);

  const Dust3rConfig& config() const { return config_; }

 private:
  // head k (1 or 2) over the head input list -> [B, H, W, 4] float32.
  torch::Tensor Head(int k,
                     const std::vector<torch::Tensor>& tokens,
                     int64_t height,
                     int64_t width,
                     torch::Tensor* projected);

  Dust3rConfig config_;
  torch::Tensor mask_token_;
  torch::nn::Linear decoder_embed_{nullptr};
  torch::nn::ModuleList dec_blocks_{nullptr};
  torch::nn::ModuleList dec_blocks2_{nullptr};
  torch::nn::LayerNorm dec_norm_{nullptr};
  LinearHead linear_head1_{nullptr};
  LinearHead linear_head2_{nullptr};
  DptHead dpt_head1_{nullptr};
  DptHead dpt_head2_{nullptr};
};

TORCH_MODULE(Dust3rDecoder);

// The whole network as upstream's load_model returns it.
struct Dust3rModel {
  Dust3rConfig config;
  CrocoEncoder encoder{nullptr};
  Dust3rDecoder decoder{nullptr};

  // images [B, 3, H, W] float in [-1, 1] (one shape), in their own
  // orientation -> tokens [B, N, enc_dim] and positions [B, N, 2].
  EncoderOutput Encode(const torch::Tensor& images);

  // The pair of already encoded views (encoder outputs reused across the
  // pairs of a frame): e1, e2 of B images each, of shapes (h_k, w_k).
  Dust3rPairOutput Decode(const EncoderOutput& e1,
                          int64_t h1,
                          int64_t w1,
                          const EncoderOutput& e2,
                          int64_t h2,
                          int64_t w2,
                          Dust3rTrace* trace = nullptr);

  // upstream forward(view1, view2): both images encoded in one batch when
  // they share a shape (as _encode_image_pairs does), then Decode.
  Dust3rPairOutput Pair(const torch::Tensor& img1,
                        const torch::Tensor& img2,
                        Dust3rTrace* trace = nullptr);

  void SetAttentionBackend(AttentionBackend backend);
  // Moves both parts; float32 only (the heads and the activation are
  // float32 in upstream too).
  void To(torch::Device device);
};

// Random-weight model of the given configuration (benchmarks, tests).
Dust3rModel MakeDust3rModel(const Dust3rConfig& config);

// Loads an official DUSt3R checkpoint (safe unpickler, typed config, strict
// state dict, with upstream's rule: dec_blocks2.* copied from dec_blocks.*
// when the file has no dec_blocks2 key). ModelError naming the file and the
// problem otherwise; a MUSt3R checkpoint is refused by ParseDust3rConfig.
Dust3rModel LoadDust3rModel(const std::string& path);

// Splits a DUSt3R state dict into the encoder's part (patch_embed.*,
// enc_blocks.*, enc_norm.*) and the rest, applying the dec_blocks2 copy
// rule to the rest.
std::pair<StateDict, StateDict> SplitDust3rStateDict(const StateDict& sd);

}  // namespace vanelia::model
