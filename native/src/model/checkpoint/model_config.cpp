// Typed configs from constructor strings (ports the argument handling of
// must3r/model/__init__.py load_model + convert_decoder_args, the
// constructors in must3r/model/{encoder,decoder}.py, and dust3r/model.py
// load_model + AsymmetricCroCo3DStereo / croco CroCoNet).
#include "vanelia/model/checkpoint/model_config.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/model/checkpoint/call_parser.hpp"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <vector>

namespace vanelia {
namespace {

using LitKind = CallLiteral::Kind;

// Binds positional and keyword arguments of `call` to the parameter names of
// the constructor (in declaration order), like Python does.
class BoundArgs {
 public:
  BoundArgs(const ParsedCall& call,
            const std::vector<std::string>& params,
            const std::set<std::string>& ignored,
            bool accepts_any_keyword,
            const std::string& what)
      : what_(what + " " + call.name) {
    if (call.positional.size() > params.size()) {
      throw ModelError(what_ + ": " + std::to_string(call.positional.size()) +
                       " positional arguments; at most " +
                       std::to_string(params.size()));
    }
    for (size_t i = 0; i < call.positional.size(); ++i) {
      values_.emplace_back(params[i], call.positional[i]);
    }
    for (const auto& [k, v] : call.keywords) {
      const bool known =
          std::find(params.begin(), params.end(), k) != params.end();
      if (known) {
        for (const auto& [name, unused] : values_) {
          if (name == k) {
            throw ModelError(what_ + ": argument '" + k +
                             "' given both by position and by keyword");
          }
        }
        values_.emplace_back(k, v);
      } else if (ignored.count(k) == 0 && !accepts_any_keyword) {
        throw ModelError(what_ + ": unknown argument '" + k + "=" + v.Repr() +
                         "'");
      } else {
        ignored_.push_back(k);
      }
    }
  }

  const std::vector<std::string>& Ignored() const { return ignored_; }

  const CallLiteral* Find(const std::string& name) const {
    for (const auto& [k, v] : values_) {
      if (k == name) return &v;
    }
    return nullptr;
  }

  [[noreturn]] void Wrong(const std::string& name,
                          const CallLiteral& v,
                          const std::string& rule) const {
    throw ModelError(what_ + ": " + name + "=" + v.Repr() + "; " + rule);
  }

  int Int(const std::string& name, int def, int min_value = 1) const {
    const CallLiteral* v = Find(name);
    if (v == nullptr) return def;
    if (v->kind != LitKind::kInt) Wrong(name, *v, "must be an int");
    if (v->int_value < min_value || v->int_value > 1 << 20) {
      Wrong(name, *v, "must be in [" + std::to_string(min_value) + ", 2^20]");
    }
    return static_cast<int>(v->int_value);
  }

  double Float(const std::string& name, double def) const {
    const CallLiteral* v = Find(name);
    if (v == nullptr) return def;
    if (v->kind == LitKind::kInt) return static_cast<double>(v->int_value);
    if (v->kind != LitKind::kFloat) Wrong(name, *v, "must be a number");
    return v->float_value;
  }

  bool Bool(const std::string& name, bool def) const {
    const CallLiteral* v = Find(name);
    if (v == nullptr) return def;
    if (v->kind != LitKind::kBool) Wrong(name, *v, "must be True or False");
    return v->bool_value;
  }

  std::string String(const std::string& name, const std::string& def) const {
    const CallLiteral* v = Find(name);
    if (v == nullptr) return def;
    if (v->kind != LitKind::kString) Wrong(name, *v, "must be a str");
    return v->str_value;
  }

  // img_size=n or img_size=(h, w).
  void ImgSize(int* h, int* w) const {
    const CallLiteral* v = Find("img_size");
    if (v == nullptr) return;
    if (v->kind == LitKind::kInt && v->int_value > 0) {
      *h = *w = Int("img_size", 224);
      return;
    }
    if ((v->kind == LitKind::kTuple || v->kind == LitKind::kList) &&
        v->items.size() == 2 && v->items[0].kind == LitKind::kInt &&
        v->items[1].kind == LitKind::kInt && v->items[0].int_value > 0 &&
        v->items[1].int_value > 0 && v->items[0].int_value <= 1 << 16 &&
        v->items[1].int_value <= 1 << 16) {
      *h = static_cast<int>(v->items[0].int_value);
      *w = static_cast<int>(v->items[1].int_value);
      return;
    }
    Wrong("img_size", *v, "must be a positive int or a (h, w) tuple");
  }

  // Arguments whose only supported value is the default (a callable such as
  // norm_layer): present at all is an error.
  void RejectPresent(const std::string& name, const std::string& rule) const {
    if (const CallLiteral* v = Find(name)) Wrong(name, *v, rule);
  }

  const std::string& What() const { return what_; }

 private:
  std::string what_;
  std::vector<std::pair<std::string, CallLiteral>> values_;
  std::vector<std::string> ignored_;
};

RopeConfig ParseRope(const std::string& name, const std::string& what) {
  // "RoPE<freq>" or "RoPE<freq>_<old>:<new>" (must3r get_pos_embed).
  RopeConfig rope;
  rope.name = name;
  const auto bad = [&]() {
    throw ModelError(what + ": pos_embed='" + name +
                     "'; must be 'RoPE<freq>' or 'RoPE<freq>_<old>:<new>'");
  };
  if (name.rfind("RoPE", 0) != 0) bad();
  std::string freq = name.substr(4);
  const size_t us = freq.find('_');
  if (us != std::string::npos) {
    const std::string grids = freq.substr(us + 1);
    freq = freq.substr(0, us);
    const size_t colon = grids.find(':');
    if (colon == std::string::npos) bad();
    char* end = nullptr;
    const double old_grid = std::strtod(grids.substr(0, colon).c_str(), &end);
    if (*end != '\0') bad();
    const double new_grid = std::strtod(grids.substr(colon + 1).c_str(), &end);
    if (*end != '\0' || !(old_grid > 0) || !(new_grid > 0)) bad();
    rope.f0 = old_grid / new_grid;
  }
  char* end = nullptr;
  rope.freq = std::strtod(freq.c_str(), &end);
  if (freq.empty() || *end != '\0' || !(rope.freq > 0)) bad();
  return rope;
}

PatchEmbedKind ParsePatchEmbed(const std::string& name,
                               const std::string& what) {
  if (name == "PatchEmbedDust3R") return PatchEmbedKind::kDust3r;
  if (name == "ManyAR_PatchEmbed") return PatchEmbedKind::kManyAr;
  throw ModelError(what + ": patch embed '" + name +
                   "'; must be 'PatchEmbedDust3R' or 'ManyAR_PatchEmbed'");
}

void CheckHeads(int dim, int heads, const std::string& what) {
  if (dim % heads != 0 || (dim / heads) % 4 != 0) {
    throw ModelError(what + ": embed_dim " + std::to_string(dim) +
                     " / num_heads " + std::to_string(heads) +
                     " must be a whole head dimension divisible by 4 (2-D "
                     "RoPE rotates pairs in two halves)");
  }
}

EncoderConfig ParseEncoder(const std::string& text, const std::string& what) {
  const ParsedCall call = ParseCall(text, what);
  if (call.name != "Dust3rEncoder") {
    throw ModelError(what + ": unknown encoder class '" + call.name +
                     "'; must be Dust3rEncoder");
  }
  const BoundArgs a(call,
                    {"img_size",
                     "patch_size",
                     "embed_dim",
                     "depth",
                     "num_heads",
                     "mlp_ratio",
                     "norm_layer",
                     "patch_embed",
                     "pos_embed"},
                    {},
                    false,
                    what);
  EncoderConfig c;
  c.class_name = call.name;
  a.ImgSize(&c.img_size_h, &c.img_size_w);
  c.patch_size = a.Int("patch_size", c.patch_size);
  c.embed_dim = a.Int("embed_dim", c.embed_dim);
  c.depth = a.Int("depth", c.depth);
  c.num_heads = a.Int("num_heads", c.num_heads);
  c.mlp_ratio = a.Float("mlp_ratio", c.mlp_ratio);
  a.RejectPresent("norm_layer", "only the default LayerNorm(eps=1e-6)");
  c.patch_embed =
      ParsePatchEmbed(a.String("patch_embed", "PatchEmbedDust3R"), a.What());
  c.pos_embed = ParseRope(a.String("pos_embed", "RoPE100"), a.What());
  CheckHeads(c.embed_dim, c.num_heads, a.What());
  return c;
}

// The arguments of MUSt3R(...) bound to the decoder's parameters. MUSt3R(**kv)
// swallows unknown keywords; CausalMUSt3R's own ones are the expected ones.
// Others are ignored as upstream does, and reported.
BoundArgs BindDecoderArgs(const ParsedCall& call, const std::string& what) {
  return BoundArgs(call,
                   {"img_size",
                    "enc_embed_dim",
                    "patch_size",
                    "embed_dim",
                    "output_dim",
                    "depth",
                    "num_heads",
                    "mlp_ratio",
                    "norm_layer",
                    "act_layer",
                    "pos_embed",
                    "landscape_only",
                    "head",
                    "feedback_type",
                    "memory_mode",
                    "pointmaps_activation",
                    "block_type"},
                   {"mem_dropout",
                    "dropout_mode",
                    "use_xformers_mask",
                    "use_mem_mask",
                    "protected_imgs"},
                   true,
                   what);
}

// feedback_type=None|''|'single_mlp'|'single_linear'; `def` when absent.
FeedbackType ParseFeedbackType(const BoundArgs& a, FeedbackType def) {
  const CallLiteral* v = a.Find("feedback_type");
  if (v == nullptr) return def;
  if (v->kind == LitKind::kNone ||
      (v->kind == LitKind::kString && v->str_value.empty())) {
    return FeedbackType::kNone;
  }
  if (v->kind == LitKind::kString && v->str_value == "single_mlp") {
    return FeedbackType::kSingleMlp;
  }
  if (v->kind == LitKind::kString && v->str_value == "single_linear") {
    return FeedbackType::kSingleLinear;
  }
  a.Wrong("feedback_type", *v, "must be None, 'single_mlp' or 'single_linear'");
}

// memory_mode='norm_y' (default), 'kv' or 'raw'.
MemoryMode ParseMemoryMode(const BoundArgs& a) {
  const std::string mode = a.String("memory_mode", "norm_y");
  if (mode == "norm_y") return MemoryMode::kNormY;
  if (mode == "kv") return MemoryMode::kKv;
  if (mode == "raw") return MemoryMode::kRaw;
  a.Wrong(
      "memory_mode", *a.Find("memory_mode"), "must be 'norm_y', 'kv' or 'raw'");
}

// pointmaps_activation=norm_exp|linear (or ActivationType.*); `def` when
// absent.
PointmapsActivation ParsePointmapsActivation(const BoundArgs& a,
                                             PointmapsActivation def) {
  const CallLiteral* v = a.Find("pointmaps_activation");
  if (v == nullptr) return def;
  const std::string s = v->str_value;
  if (s == "norm_exp" || s == "ActivationType.NORM_EXP") {
    return PointmapsActivation::kNormExp;
  }
  if (s == "linear" || s == "ActivationType.LINEAR") {
    return PointmapsActivation::kLinear;
  }
  a.Wrong("pointmaps_activation", *v, "must be norm_exp or linear");
}

DecoderConfig ParseDecoder(const std::string& converted,
                           const std::string& what,
                           std::vector<std::string>* ignored) {
  const ParsedCall call = ParseCall(converted, what);
  if (call.name != "MUSt3R") {
    throw ModelError(what + ": unknown decoder class '" + call.name +
                     "'; must be MUSt3R or CausalMUSt3R");
  }
  const BoundArgs a = BindDecoderArgs(call, what);
  DecoderConfig c;
  c.class_name = call.name;
  a.ImgSize(&c.img_size_h, &c.img_size_w);
  c.enc_embed_dim = a.Int("enc_embed_dim", c.enc_embed_dim);
  c.patch_size = a.Int("patch_size", c.patch_size);
  c.embed_dim = a.Int("embed_dim", c.embed_dim);
  c.output_dim = a.Int("output_dim", c.output_dim);
  c.depth = a.Int("depth", c.depth);
  c.num_heads = a.Int("num_heads", c.num_heads);
  c.mlp_ratio = a.Float("mlp_ratio", c.mlp_ratio);
  a.RejectPresent("norm_layer", "only the default LayerNorm(eps=1e-6)");
  if (const CallLiteral* v = a.Find("act_layer")) {
    if (v->kind != LitKind::kName ||
        (v->str_value != "nn.GELU" && v->str_value != "torch.nn.GELU")) {
      a.Wrong("act_layer", *v, "only nn.GELU is supported");
    }
  }
  c.pos_embed = ParseRope(a.String("pos_embed", "RoPE100"), a.What());
  c.landscape_only = a.Bool("landscape_only", true);
  if (a.String("head", "Linear") != "Linear") {
    a.Wrong("head", *a.Find("head"), "must be 'Linear'");
  }
  c.feedback_type = ParseFeedbackType(a, c.feedback_type);
  c.memory_mode = ParseMemoryMode(a);
  c.pointmaps_activation = ParsePointmapsActivation(a, c.pointmaps_activation);
  if (const CallLiteral* v = a.Find("block_type")) {
    if (v->str_value != "CachedDecoderBlock") {
      a.Wrong("block_type", *v, "only CachedDecoderBlock is supported");
    }
  }
  CheckHeads(c.embed_dim, c.num_heads, a.What());
  if (c.output_dim % (c.patch_size * c.patch_size) != 0) {
    throw ModelError(a.What() + ": output_dim " + std::to_string(c.output_dim) +
                     " is not a multiple of patch_size^2 = " +
                     std::to_string(c.patch_size * c.patch_size));
  }
  *ignored = a.Ignored();
  return c;
}

// ('exp', vmin, vmax) of depth_mode / conf_mode.
void ParseMode(const BoundArgs& a,
               const std::string& name,
               std::string* kind,
               double* vmin,
               double* vmax) {
  const CallLiteral* v = a.Find(name);
  if (v == nullptr) return;
  const auto num = [](const CallLiteral& x, double* out) {
    if (x.kind == LitKind::kInt)
      *out = static_cast<double>(x.int_value);
    else if (x.kind == LitKind::kFloat)
      *out = x.float_value;
    else
      return false;
    return true;
  };
  if (v->kind != LitKind::kTuple || v->items.size() != 3 ||
      v->items[0].kind != LitKind::kString || !num(v->items[1], vmin) ||
      !num(v->items[2], vmax)) {
    a.Wrong(name, *v, "must be a (str, min, max) tuple");
  }
  *kind = v->items[0].str_value;
}

}  // namespace

const char* FeedbackTypeName(FeedbackType t) {
  switch (t) {
    case FeedbackType::kNone:
      return "None";
    case FeedbackType::kSingleMlp:
      return "single_mlp";
    case FeedbackType::kSingleLinear:
      return "single_linear";
  }
  return "?";
}

const char* MemoryModeName(MemoryMode m) {
  switch (m) {
    case MemoryMode::kNormY:
      return "norm_y";
    case MemoryMode::kKv:
      return "kv";
    case MemoryMode::kRaw:
      return "raw";
  }
  return "?";
}

std::string ConvertDecoderArgs(const std::string& decoder_args) {
  std::string s;
  for (char c : decoder_args) {
    if (c != ' ') s.push_back(c);
  }
  const auto replace_all = [&s](const std::string& from,
                                const std::string& to) {
    for (size_t p = s.find(from); p != std::string::npos;
         p = s.find(from, p + to.size())) {
      s.replace(p, from.size(), to);
    }
  };
  replace_all("CausalMUSt3R", "MUSt3R");
  replace_all("landscape_only=True", "landscape_only=False");
  if (s.find("landscape_only=False") == std::string::npos && !s.empty()) {
    s = s.substr(0, s.size() - 1) + ",landscape_only=False)";
  }
  return s;
}

ModelConfig ParseMust3rConfigStrings(const std::string& encoder_args,
                                     const std::string& decoder_args,
                                     const std::string& what) {
  ModelConfig config;
  config.encoder_string = encoder_args;
  config.decoder_string = decoder_args;
  // Validate the stored string first: convert_decoder_args drops the last
  // character blindly, which would turn a malformed string into another one.
  ParseCall(decoder_args, what + ": args.decoder");
  config.decoder_string_converted = ConvertDecoderArgs(decoder_args);
  config.encoder = ParseEncoder(encoder_args, what + ": args.encoder");
  config.decoder =
      ParseDecoder(config.decoder_string_converted,
                   what + ": args.decoder (after convert_decoder_args)",
                   &config.ignored_decoder_keywords);
  const EncoderConfig& e = config.encoder;
  const DecoderConfig& d = config.decoder;
  if (d.enc_embed_dim != e.embed_dim) {
    throw ModelError(
        what + ": decoder enc_embed_dim " + std::to_string(d.enc_embed_dim) +
        " differs from the encoder embed_dim " + std::to_string(e.embed_dim));
  }
  if (d.patch_size != e.patch_size) {
    throw ModelError(
        what + ": decoder patch_size " + std::to_string(d.patch_size) +
        " differs from the encoder patch_size " + std::to_string(e.patch_size));
  }
  config.resolution = std::max(d.img_size_h, d.img_size_w);
  return config;
}

ModelConfig ParseMust3rConfig(const Checkpoint& checkpoint) {
  const std::string what = "checkpoint '" + checkpoint.path + "'";
  if (checkpoint.layout == CheckpointLayout::kDust3r) {
    std::string model = "?";
    if (const PyValue* m = checkpoint.args.Find("model")) {
      if (m->Is(PyNode::Kind::kString)) model = m->Node().str_value;
    }
    throw ModelError(what + " is a DUSt3R checkpoint (args.model = '" +
                     model.substr(0, 60) + (model.size() > 60 ? "...'" : "'") +
                     ", state dict under 'model'), not MUSt3R (which has "
                     "'encoder' and 'decoder' state dicts)");
  }
  if (checkpoint.layout != CheckpointLayout::kMust3r) {
    throw ModelError(what +
                     " is not a MUSt3R checkpoint: no 'encoder' and "
                     "'decoder' state dicts at the top level");
  }
  const PyValue& args = checkpoint.args;
  if (args.IsNone()) {
    throw ModelError(what +
                     ": no 'args' (the Namespace holding the encoder "
                     "and decoder constructor strings)");
  }
  const std::string& enc =
      args.Get("encoder", what + ": args").AsString(what + ": args.encoder");
  const std::string& dec =
      args.Get("decoder", what + ": args").AsString(what + ": args.decoder");
  return ParseMust3rConfigStrings(enc, dec, what);
}

void CheckResolution(const ModelConfig& config,
                     int image_size,
                     const std::string& what) {
  if (image_size != config.resolution) {
    throw ModelError(what + ": the weights are for image size " +
                     std::to_string(config.resolution) + " (img_size=(" +
                     std::to_string(config.decoder.img_size_h) + ", " +
                     std::to_string(config.decoder.img_size_w) +
                     ")), but image size " + std::to_string(image_size) +
                     " was requested; use weights trained at " +
                     std::to_string(image_size) + " or set the image size to " +
                     std::to_string(config.resolution));
  }
}

Dust3rConfig ParseDust3rConfigString(const std::string& text,
                                     const std::string& what) {
  // dust3r load_model: ManyAR_PatchEmbed -> PatchEmbedDust3R and
  // landscape_only=False, so no image is ever transposed at inference.
  const ParsedCall call = ParseCall(text, what);
  if (call.name != "AsymmetricCroCo3DStereo") {
    throw ModelError(what + ": unknown model class '" + call.name +
                     "'; must be AsymmetricCroCo3DStereo");
  }
  const BoundArgs a(
      call,
      {"output_mode",   "head_type",      "depth_mode",      "conf_mode",
       "freeze",        "landscape_only", "patch_embed_cls", "img_size",
       "patch_size",    "mask_ratio",     "enc_embed_dim",   "enc_depth",
       "enc_num_heads", "dec_embed_dim",  "dec_depth",       "dec_num_heads",
       "mlp_ratio",     "norm_layer",     "norm_im2_in_dec", "pos_embed"},
      {},
      false,
      what);
  Dust3rConfig c;
  c.model_string = text;
  EncoderConfig& e = c.encoder;
  e.class_name = call.name;
  a.ImgSize(&e.img_size_h, &e.img_size_w);
  e.patch_size = a.Int("patch_size", 16);
  e.embed_dim = a.Int("enc_embed_dim", 768);
  e.depth = a.Int("enc_depth", 12);
  e.num_heads = a.Int("enc_num_heads", 12);
  e.mlp_ratio = a.Float("mlp_ratio", 4.0);
  ParsePatchEmbed(a.String("patch_embed_cls", "PatchEmbedDust3R"), a.What());
  e.patch_embed = PatchEmbedKind::kDust3r;
  const std::string pos = a.String("pos_embed", "cosine");
  if (pos.rfind("RoPE", 0) != 0) {
    a.Wrong("pos_embed",
            *a.Find("pos_embed"),
            "only RoPE position embeddings are supported");
  }
  e.pos_embed = ParseRope(pos, a.What());
  a.RejectPresent("norm_layer", "only the default LayerNorm(eps=1e-6)");
  c.dec_embed_dim = a.Int("dec_embed_dim", c.dec_embed_dim);
  c.dec_depth = a.Int("dec_depth", c.dec_depth);
  c.dec_num_heads = a.Int("dec_num_heads", c.dec_num_heads);
  c.mlp_ratio = e.mlp_ratio;
  c.norm_im2_in_dec = a.Bool("norm_im2_in_dec", true);
  c.head_type = a.String("head_type", "linear");
  if (c.head_type != "linear" && c.head_type != "dpt") {
    a.Wrong("head_type", *a.Find("head_type"), "must be 'linear' or 'dpt'");
  }
  c.output_mode = a.String("output_mode", "pts3d");
  ParseMode(a, "depth_mode", &c.depth_mode, &c.depth_min, &c.depth_max);
  ParseMode(a, "conf_mode", &c.conf_mode, &c.conf_min, &c.conf_max);
  c.landscape_only = false;
  CheckHeads(e.embed_dim, e.num_heads, a.What());
  CheckHeads(c.dec_embed_dim, c.dec_num_heads, a.What());
  c.resolution = std::max(e.img_size_h, e.img_size_w);
  return c;
}

Dust3rConfig ParseDust3rConfig(const Checkpoint& checkpoint) {
  const std::string what = "checkpoint '" + checkpoint.path + "'";
  if (checkpoint.layout == CheckpointLayout::kMust3r) {
    throw ModelError(what +
                     " is a MUSt3R checkpoint ('encoder' and 'decoder' "
                     "state dicts), not DUSt3R (a 'model' state dict)");
  }
  if (checkpoint.layout != CheckpointLayout::kDust3r) {
    throw ModelError(what +
                     " is not a DUSt3R checkpoint: no 'model' state "
                     "dict at the top level");
  }
  const std::string& text = checkpoint.args.Get("model", what + ": args")
                                .AsString(what + ": args.model");
  return ParseDust3rConfigString(text, what + ": args.model");
}

}  // namespace vanelia
