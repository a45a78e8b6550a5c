// Typed network configuration parsed from a checkpoint's constructor strings,
// never eval'd (call_parser.hpp does the parsing).
//
// MUSt3R: args.encoder = "Dust3rEncoder(img_size=(512, 512), ...)" is used
// as is; args.decoder goes through upstream's convert_decoder_args first
// (ports must3r/model/__init__.py convert_decoder_args): every space removed,
// "CausalMUSt3R" -> "MUSt3R", "landscape_only=True" -> "landscape_only=False",
// and ",landscape_only=False" appended before the final ')' when absent.
// Keywords upstream's MUSt3R swallows via **kv (mem_dropout, dropout_mode,
// use_xformers_mask, use_mem_mask, protected_imgs) are ignored; any other
// unknown keyword, an unknown class, a wrong literal type or a malformed
// string is a ModelError. Defaults are upstream's constructor defaults
// (must3r/model/encoder.py Dust3rEncoder, must3r/model/decoder.py MUSt3R).
//
// DUSt3R: args.model = "AsymmetricCroCo3DStereo(...)" (dust3r/model.py).
#pragma once

#include "vanelia/model/checkpoint/checkpoint.hpp"

#include <limits>
#include <string>
#include <vector>

namespace vanelia {

// pos_embed = "RoPE<freq>" or "RoPE<freq>_<old>:<new>" (F0 = old / new),
// ports must3r/model/blocks/pos_embed.py get_pos_embed.
struct RopeConfig {
  std::string name = "RoPE100";
  double freq = 100.0;  // frequency base
  double f0 = 1.0;      // frequency scale F0
};

enum class PatchEmbedKind {
  kDust3r,  // "PatchEmbedDust3R": image in its own orientation
  kManyAr,  // "ManyAR_PatchEmbed": portrait images arrive transposed
};

struct EncoderConfig {
  std::string class_name = "Dust3rEncoder";
  int img_size_h = 224;  // img_size=(h, w) or img_size=n
  int img_size_w = 224;
  int patch_size = 16;
  int embed_dim = 1024;
  int depth = 24;
  int num_heads = 16;
  double mlp_ratio = 4.0;
  PatchEmbedKind patch_embed = PatchEmbedKind::kDust3r;
  RopeConfig pos_embed;
  double norm_eps = 1e-6;  // LayerNorm eps (fixed upstream)

  int HeadDim() const { return embed_dim / num_heads; }

  int MlpHiddenDim() const { return static_cast<int>(embed_dim * mlp_ratio); }
};

enum class FeedbackType { kNone, kSingleMlp, kSingleLinear };
enum class MemoryMode { kNormY, kKv, kRaw };
enum class PointmapsActivation { kNormExp, kLinear };
enum class HeadType { kLinear };

const char* FeedbackTypeName(FeedbackType t);  // "None", "single_mlp", ...
const char* MemoryModeName(MemoryMode m);      // "norm_y", "kv", "raw"

struct DecoderConfig {
  std::string class_name = "MUSt3R";  // after convert_decoder_args
  int img_size_h = 224;
  int img_size_w = 224;
  int enc_embed_dim = 1024;
  int patch_size = 16;
  int embed_dim = 768;
  int output_dim = 1792;  // patch_size^2 * 7 for the linear head
  int depth = 12;
  int num_heads = 12;
  double mlp_ratio = 4.0;
  RopeConfig pos_embed;
  bool landscape_only = false;  // always false after convert_decoder_args
  HeadType head = HeadType::kLinear;
  FeedbackType feedback_type = FeedbackType::kNone;
  MemoryMode memory_mode = MemoryMode::kNormY;
  PointmapsActivation pointmaps_activation = PointmapsActivation::kNormExp;
  double norm_eps = 1e-6;           // every LayerNorm but feedback_norm
  double feedback_norm_eps = 1e-5;  // plain nn.LayerNorm in upstream

  int HeadDim() const { return embed_dim / num_heads; }

  int MlpHiddenDim() const { return static_cast<int>(embed_dim * mlp_ratio); }

  // Width of one stored memory token: 2 * embed_dim for kv, else embed_dim.
  int MemoryDim() const {
    return memory_mode == MemoryMode::kKv ? 2 * embed_dim : embed_dim;
  }

  // Channels per pixel of the linear head: output_dim / patch_size^2 (7).
  int HeadChannels() const { return output_dim / (patch_size * patch_size); }
};

struct ModelConfig {
  EncoderConfig encoder;
  DecoderConfig decoder;
  // Training resolution of the weights: max(decoder img_size), e.g. 224 or
  // 512 (128 for the tiny test checkpoints). The decoder's, because the
  // training command sets it there while the encoder string may keep its
  // default "Dust3rEncoder()" (img_size only sizes RoPE tables upstream).
  int resolution = 224;
  // Decoder keywords upstream's MUSt3R(**kv) swallowed (mem_dropout, ...),
  // for a log line.
  std::vector<std::string> ignored_decoder_keywords;
  // The strings as stored and as converted (for logs and messages).
  std::string encoder_string;
  std::string decoder_string;            // as stored
  std::string decoder_string_converted;  // after convert_decoder_args
};

// upstream convert_decoder_args, textually (see the file comment).
std::string ConvertDecoderArgs(const std::string& decoder_args);

// Parses the two constructor strings (decoder string as stored; it is
// converted here). `what` names the source in messages.
ModelConfig ParseMust3rConfigStrings(const std::string& encoder_args,
                                     const std::string& decoder_args,
                                     const std::string& what);

// From checkpoint.args.encoder / .decoder. ModelError when the checkpoint is
// not a MUSt3R one (e.g. a DUSt3R checkpoint: "... is a DUSt3R checkpoint
// (args.model = 'AsymmetricCroCo3DStereo(...)'), not MUSt3R"), when a field
// is missing or is a placeholder (the message names the global), or when the
// encoder and decoder disagree (enc_embed_dim, patch_size).
ModelConfig ParseMust3rConfig(const Checkpoint& checkpoint);

// ModelError unless `image_size` (the --image-size the user asked for, 224 or
// 512) equals config.resolution: "weights 'x.pth' are for image size 512
// (img_size=(512, 512)); image size 224 requested".
void CheckResolution(const ModelConfig& config,
                     int image_size,
                     const std::string& what);

// DUSt3R (dust3r/model.py AsymmetricCroCo3DStereo, croco/models/croco.py
// CroCoNet defaults). The encoder part is an EncoderConfig (enc_embed_dim,
// enc_depth, enc_num_heads, patch_embed_cls, pos_embed, img_size).
struct Dust3rConfig {
  static constexpr double kInf = std::numeric_limits<double>::infinity();
  EncoderConfig encoder;
  int dec_embed_dim = 512;
  int dec_depth = 8;
  int dec_num_heads = 16;
  double mlp_ratio = 4.0;
  bool norm_im2_in_dec = true;
  std::string head_type = "linear";  // "linear" | "dpt"
  std::string output_mode = "pts3d";
  std::string depth_mode = "exp";  // depth_mode=('exp', -inf, inf)
  double depth_min = -kInf;
  double depth_max = kInf;
  std::string conf_mode = "exp";  // conf_mode=('exp', 1, inf)
  double conf_min = 1.0;
  double conf_max = kInf;
  bool landscape_only = false;  // upstream load_model appends False
  int resolution = 224;
  std::string model_string;
};

// From checkpoint.args.model. ModelError when it is not a DUSt3R checkpoint.
Dust3rConfig ParseDust3rConfig(const Checkpoint& checkpoint);

// The constructor string itself (checkpoint.args.model), with load_model's
// rules; `what` prefixes error messages.
Dust3rConfig ParseDust3rConfigString(const std::string& text,
                                     const std::string& what);

}  // namespace vanelia
