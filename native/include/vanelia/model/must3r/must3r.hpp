// The MUSt3R decoder (upstream must3r/model/decoder.py MUSt3R, the
// inference class) and the encoder + decoder pair.
//
// One call takes the encoder tokens of n images of one shape (ForwardList:
// of several shapes, one entry per shape) and either
// updates the memory (render = false; an init call when there is no memory)
// or renders against it (render = true, memory unchanged). Conventions, as
// upstream behaves (see tests/data/must3r/README.md):
// - image2_embed is added to every image but the first of an init call;
// - in an update call, in layer k, image j cross-attends to [old memory of
//   layer k] + the prepared layer-k inputs of the other images of the call,
//   in call order (never its own; an init call of one image sees itself);
// - feedback (single_mlp / single_linear): offset = F(LN_fb(y_last)), with
//   y_last the input of the last block; stored tokens of layer k < depth-1
//   are prep_k(y_k + offset), the last layer stores prep(y_last);
// - head: norm_dec, Linear(D -> p*p*7), pixel shuffle, float32.
#pragma once

#include "vanelia/model/blocks/blocks.hpp"
#include "vanelia/model/blocks/croco_encoder.hpp"
#include "vanelia/model/checkpoint/model_config.hpp"
#include "vanelia/model/must3r/memory_state.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/modulelist.h>

namespace vanelia::model {

// Throws ModelError naming the field when a value is unusable.
void CheckDecoderConfig(const DecoderConfig& config);

// Intermediate values of one decoder call, for parity tests.
struct DecoderTrace {
  torch::Tensor embed;                   // [B, n, N, D] before image2_embed
  torch::Tensor block0_in;               // [B, n, N, D]
  std::vector<torch::Tensor> ca_memory;  // per layer [B*n, Nca, memD]
  std::vector<torch::Tensor> block_out;  // per layer [B, n, N, D]
  torch::Tensor norm_out;                // [B, n, N, D]
};

struct DecoderOutput {
  MemoryState memory;  // updated (render = false) or the input (render)
  torch::Tensor head;  // [B, n, H, W, output_dim / p^2] float32
};

// One group of same-shape images in a call over several shapes.
struct DecoderEntry {
  torch::Tensor x;     // [B, n_i, N_i, enc_embed_dim]
  torch::Tensor pos;   // [B, n_i, N_i, 2] int64
  int64_t height = 0;  // true shape of the group's images
  int64_t width = 0;
};

struct DecoderListOutput {
  MemoryState memory;                // as DecoderOutput::memory
  std::vector<torch::Tensor> heads;  // per entry [B, n_i, H_i, W_i, C] f32
};

class Must3rDecoderImpl : public torch::nn::Module {
 public:
  explicit Must3rDecoderImpl(const DecoderConfig& options);

  // x: [B, n, N, enc_embed_dim]; pos: [B, n, N, 2] int64; height, width:
  // the (true) shape of all n images; memory: nullptr for an init call.
  // max_batch > 0 applies blocks and head to chunks of that many images
  // (upstream max_bs; same maths, less peak memory).
  DecoderOutput forward(const torch::Tensor& x,
                        const torch::Tensor& pos,
                        int64_t height,
                        int64_t width,
                        const MemoryState* memory,
                        bool render,
                        DecoderTrace* trace = nullptr,
                        int64_t max_batch = 0);

  // Upstream forward_list: images of several shapes in one call, one entry
  // per shape (and per max_bs chunk), as inference_video_multi_ar groups a
  // batch. The conventions of forward() over the entries' images in entry
  // order: only the first image of entry 0 of an init call goes without
  // image2_embed; image j of entry i cross-attends to [old memory | every
  // new token of the call but its own]; new tokens and labels are appended
  // in entry order. The reference path (no work buffer, no preallocated
  // memory storage, no trace).
  DecoderListOutput ForwardList(const std::vector<DecoderEntry>& entries,
                                const MemoryState* memory,
                                bool render);

  void SetAttentionBackend(AttentionBackend backend);

  // norm_dec and the head back to float32 (upstream runs them with autocast
  // off) after the module was cast to a half type.
  void KeepOutputFloat32();

  const DecoderConfig& options() const { return options_; }

  int64_t memory_dim() const;

 private:
  // Embeds encoder tokens x_enc: [B, n, N, enc_embed_dim] -> [B, n, N, D] in
  // the blocks' dtype and adds image2_embed to every image, but the first
  // one when `first_plain` (the first image of an init call).
  torch::Tensor EmbedImages(const torch::Tensor& x_enc,
                            bool first_plain,
                            DecoderTrace* trace);
  // The memory a call starts from: a copy of `memory` (checked to have one
  // layer per block), or for nullptr an empty one with b rows on the device
  // and dtype of `like`. `caller` starts the error message.
  MemoryState StartMemory(const MemoryState* memory,
                          int64_t b,
                          const torch::Tensor& like,
                          const std::string& caller) const;
  // norm_dec and the head over x: [B*n, N, D], a chunk of images at a time
  // -> [B, n, H, W, output_dim / p^2] float32.
  torch::Tensor HeadInChunks(
      const torch::Tensor& x,
      int64_t b,
      int64_t n,
      int64_t height,
      int64_t width,
      const std::vector<std::pair<int64_t, int64_t>>& chunks,
      DecoderTrace* trace);
  torch::Tensor Head(const torch::Tensor& feats, int64_t height, int64_t width);
  torch::Tensor Feedback(const torch::Tensor& y_last);
  // [rows, >= cols, dim] scratch for the per-image cross-attention memory of
  // an update call, kept between layers and calls (grown by half when too
  // small; rows = images per call).
  torch::Tensor CrossAttentionWork(int64_t rows,
                                   int64_t cols,
                                   int64_t dim,
                                   const torch::TensorOptions& opts);

  DecoderConfig options_;
  torch::nn::Linear feat_embed_enc_to_dec_{nullptr};
  torch::Tensor image2_embed_;
  torch::nn::ModuleList blocks_dec_{nullptr};
  Mlp feedback_mlp_{nullptr};
  torch::nn::Linear feedback_linear_{nullptr};
  torch::nn::LayerNorm feedback_norm_{nullptr};
  torch::nn::LayerNorm norm_dec_{nullptr};
  LinearHead head_dec_{nullptr};
  torch::Tensor ca_work_;
};

TORCH_MODULE(Must3rDecoder);

// Encoder + decoder as load_model returns them.
struct Must3rModel {
  ModelConfig config;
  CrocoEncoder encoder{nullptr};
  Must3rDecoder decoder{nullptr};
  // Let a float32 encoder use TF32 matrix units in RunMust3rVideo (the
  // global cuBLAS/cuDNN TF32 flags are set around the encoder and restored).
  bool encoder_tf32 = false;

  void SetAttentionBackend(AttentionBackend backend);
  // Moves both networks to a device with upstream's dtype policy for
  // `dtype` (its autocast): the encoder, norm_dec and the head in float32,
  // the decoder blocks (and so the memory) in `dtype`.
  void To(torch::Device device, torch::Dtype dtype = torch::kFloat32);
  // Explicit policy: encoder weights/activations in `encoder_dtype`, decoder
  // blocks in `decoder_dtype`, norm_dec and head always float32.
  void To(torch::Device device,
          torch::Dtype encoder_dtype,
          torch::Dtype decoder_dtype);
};

// Random-weight model of the given configuration (benchmarks, tests).
Must3rModel MakeMust3rModel(const EncoderConfig& encoder,
                            const DecoderConfig& decoder);

// Loads an official MUSt3R checkpoint (safe unpickler, typed config, strict
// state dicts): ModelError naming the file and the problem otherwise.
Must3rModel LoadMust3rModel(const std::string& path);

}  // namespace vanelia::model
