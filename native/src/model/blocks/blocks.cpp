// Shared transformer blocks, RoPE2D and the CroCo encoder.
// Ports croco/models/pos_embed.py RoPE2D, croco/models/blocks.py Mlp,
// must3r/model/blocks/{attention,layers,head}.py, dust3r/patch_embed.py
// ManyAR_PatchEmbed and must3r/model/encoder.py Dust3rEncoder.
#include "vanelia/model/blocks/blocks.hpp"

#include "vanelia/core/check.hpp"
#include "vanelia/core/error.hpp"
#include "vanelia/model/blocks/croco_encoder.hpp"

#include <cmath>
#include <string>

#include <torch/torch.h>
#include <torch/version.h>

namespace vanelia::model {

namespace {

// t: [B, h, N, D]; cos/sin tables [maxpos, D]; pos1d [B, N].
torch::Tensor ApplyRope1d(const torch::Tensor& t,
                          const torch::Tensor& pos1d,
                          const torch::Tensor& cos,
                          const torch::Tensor& sin) {
  const torch::Tensor c = cos.index_select(0, pos1d.reshape({-1}))
                              .view({pos1d.size(0), 1, pos1d.size(1), -1});
  const torch::Tensor s = sin.index_select(0, pos1d.reshape({-1}))
                              .view({pos1d.size(0), 1, pos1d.size(1), -1});
  const int64_t half = t.size(-1) / 2;
  const torch::Tensor rotated = torch::cat(
      {-t.narrow(-1, half, t.size(-1) - half), t.narrow(-1, 0, half)}, -1);
  return t * c + rotated * s;
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> RoPE2D::Tables(torch::Device device,
                                                       torch::Dtype dtype,
                                                       int64_t d) const {
  const std::string key = device.str() + "/" +
                          std::string(c10::toString(dtype)) + "/" +
                          std::to_string(d);
  std::lock_guard<std::mutex> lock(cache_->mutex);
  auto it = cache_->tables.find(key);
  if (it != cache_->tables.end()) return it->second;
  const auto fopts =
      torch::TensorOptions().dtype(torch::kFloat32).device(device);
  // Same float32 operations as upstream's get_cos_sin.
  const torch::Tensor exponent =
      torch::arange(0, d, 2, fopts) / static_cast<double>(d);
  const torch::Tensor inv_freq =
      options_.f0 / torch::pow(options_.freq, exponent);
  const torch::Tensor t = torch::arange(kMaxPositions, fopts);
  torch::Tensor freqs = torch::outer(t, inv_freq).to(dtype);
  freqs = torch::cat({freqs, freqs}, -1);
  auto tables = std::make_pair(freqs.cos(), freqs.sin());
  cache_->tables.emplace(key, tables);
  return tables;
}

torch::Tensor RoPE2D::Apply(const torch::Tensor& tokens,
                            const torch::Tensor& positions) const {
  VANELIA_CHECK(tokens.dim() == 4 && tokens.size(3) % 2 == 0);
  const int64_t d = tokens.size(3) / 2;
  if (positions.device().is_cpu() && positions.numel() > 0) {
    const int64_t lo = positions.min().item<int64_t>();
    const int64_t hi = positions.max().item<int64_t>();
    if (lo < 0 || hi >= kMaxPositions) {
      throw InputError("RoPE2D: token positions span [" + std::to_string(lo) +
                       ", " + std::to_string(hi) + "]; must lie in [0, " +
                       std::to_string(kMaxPositions) + ")");
    }
  }
  const auto [cos, sin] = Tables(tokens.device(), tokens.scalar_type(), d);
  const auto halves = tokens.chunk(2, -1);
  const torch::Tensor y =
      ApplyRope1d(halves[0], positions.select(2, 0), cos, sin);
  const torch::Tensor x =
      ApplyRope1d(halves[1], positions.select(2, 1), cos, sin);
  return torch::cat({y, x}, -1);
}

AttentionBackend DefaultAttentionBackend() {
#if TORCH_VERSION_MAJOR >= 2
  return AttentionBackend::kFused;
#else
  return AttentionBackend::kReference;
#endif
}

torch::Tensor MultiHeadAttention(const torch::Tensor& q,
                                 const torch::Tensor& k,
                                 const torch::Tensor& v,
                                 AttentionBackend backend) {
  const int64_t batch = q.size(0);
  const int64_t nq = q.size(2);
  const int64_t channels = q.size(1) * q.size(3);
  torch::Tensor out;
#if TORCH_VERSION_MAJOR >= 2
  if (backend == AttentionBackend::kFused) {
    out = at::scaled_dot_product_attention(q, k, v);
  }
#else
  (void)backend;
#endif
  if (!out.defined()) {
    const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
    const torch::Tensor attn =
        (torch::matmul(q, k.transpose(-2, -1)) * scale).softmax(-1);
    out = torch::matmul(attn, v);
  }
  return out.transpose(1, 2).reshape({batch, nq, channels});
}

torch::nn::LayerNorm MakeLayerNorm(int64_t dim, double eps) {
  return torch::nn::LayerNorm(
      torch::nn::LayerNormOptions({dim}).eps(eps).elementwise_affine(true));
}

MlpImpl::MlpImpl(int64_t in_features,
                 int64_t hidden_features,
                 int64_t out_features) {
  fc1_ =
      register_module("fc1", torch::nn::Linear(in_features, hidden_features));
  fc2_ =
      register_module("fc2", torch::nn::Linear(hidden_features, out_features));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return fc2_(torch::gelu(fc1_(x)));
}

AttentionImpl::AttentionImpl(int64_t dim,
                             int64_t num_heads,
                             RoPE2D rope,
                             bool qkv_bias)
    : num_heads_(num_heads), rope_(rope), backend_(DefaultAttentionBackend()) {
  qkv_ = register_module(
      "qkv",
      torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * dim).bias(qkv_bias)));
  proj_ = register_module("proj", torch::nn::Linear(dim, dim));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x,
                                     const torch::Tensor& pos) {
  const int64_t b = x.size(0);
  const int64_t n = x.size(1);
  const int64_t c = x.size(2);
  // [B, N, 3, h, d] -> [B, h, 3, N, d] as upstream's transpose(1, 3).
  const torch::Tensor qkv =
      qkv_(x).reshape({b, n, 3, num_heads_, c / num_heads_}).transpose(1, 3);
  const torch::Tensor q = rope_.Apply(qkv.select(2, 0), pos);
  const torch::Tensor k = rope_.Apply(qkv.select(2, 1), pos);
  const torch::Tensor v = qkv.select(2, 2);
  return proj_(MultiHeadAttention(q, k, v, backend_));
}

CrossAttentionImpl::CrossAttentionImpl(int64_t dim,
                                       int64_t num_heads,
                                       bool qkv_bias,
                                       std::optional<RoPE2D> rope)
    : num_heads_(num_heads),
      rope_(std::move(rope)),
      backend_(DefaultAttentionBackend()) {
  const auto lin = torch::nn::LinearOptions(dim, dim).bias(qkv_bias);
  projq_ = register_module("projq", torch::nn::Linear(lin));
  projk_ = register_module("projk", torch::nn::Linear(lin));
  projv_ = register_module("projv", torch::nn::Linear(lin));
  proj_ = register_module("proj", torch::nn::Linear(dim, dim));
}

std::pair<torch::Tensor, torch::Tensor> CrossAttentionImpl::PrepareKv(
    const torch::Tensor& key, const torch::Tensor& value) {
  return {projk_(key), projv_(value)};
}

torch::Tensor CrossAttentionImpl::forward(const torch::Tensor& query,
                                          const torch::Tensor& key,
                                          const torch::Tensor& value,
                                          const torch::Tensor& qpos,
                                          const torch::Tensor& kpos) {
  const int64_t b = query.size(0);
  const int64_t c = query.size(2);
  const int64_t d = c / num_heads_;
  torch::Tensor q = projq_(query)
                        .reshape({b, query.size(1), num_heads_, d})
                        .permute({0, 2, 1, 3});
  torch::Tensor k =
      key.reshape({b, key.size(1), num_heads_, d}).permute({0, 2, 1, 3});
  if (rope_.has_value()) {
    VANELIA_CHECK(qpos.defined() && kpos.defined())
        << "cross-attention with RoPE needs query and key positions";
    q = rope_->Apply(q, qpos);
    k = rope_->Apply(k, kpos);
  }
  const torch::Tensor v =
      value.reshape({b, value.size(1), num_heads_, d}).permute({0, 2, 1, 3});
  return proj_(MultiHeadAttention(q, k, v, backend_));
}

BlockImpl::BlockImpl(int64_t dim,
                     int64_t num_heads,
                     double mlp_ratio,
                     RoPE2D rope) {
  norm1_ = register_module("norm1", MakeLayerNorm(dim));
  attn_ = register_module("attn", Attention(dim, num_heads, rope, true));
  norm2_ = register_module("norm2", MakeLayerNorm(dim));
  mlp_ = register_module("mlp",
                         Mlp(dim, static_cast<int64_t>(dim * mlp_ratio), dim));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x,
                                 const torch::Tensor& pos) {
  torch::Tensor y = x + attn_(norm1_(x), pos);
  return y + mlp_(norm2_(y));
}

void BlockImpl::set_backend(AttentionBackend backend) {
  attn_->set_backend(backend);
}

DecoderBlockImpl::DecoderBlockImpl(int64_t dim,
                                   int64_t num_heads,
                                   double mlp_ratio,
                                   RoPE2D rope,
                                   MemoryMode memory_mode,
                                   DecoderBlockOptions block_options)
    : dim_(dim), memory_mode_(memory_mode), block_options_(block_options) {
  norm1_ = register_module("norm1", MakeLayerNorm(dim));
  attn_ = register_module("attn", Attention(dim, num_heads, rope, true));
  norm2_ = register_module("norm2", MakeLayerNorm(dim));
  if (block_options_.norm_y) {
    norm_y_ = register_module("norm_y", MakeLayerNorm(dim));
  }
  cross_attn_ = register_module(
      "cross_attn",
      CrossAttention(dim,
                     num_heads,
                     true,
                     block_options_.cross_rope ? std::optional<RoPE2D>(rope)
                                               : std::nullopt));
  norm3_ = register_module("norm3", MakeLayerNorm(dim));
  mlp_ = register_module("mlp",
                         Mlp(dim, static_cast<int64_t>(dim * mlp_ratio), dim));
}

int64_t DecoderBlockImpl::memory_dim() const {
  return memory_mode_ == MemoryMode::kKv ? 2 * dim_ : dim_;
}

torch::Tensor DecoderBlockImpl::NormY(const torch::Tensor& y) {
  return block_options_.norm_y ? norm_y_(y) : y;
}

torch::Tensor DecoderBlockImpl::PrepareMemory(const torch::Tensor& y) {
  if (memory_mode_ == MemoryMode::kRaw) return y;
  const torch::Tensor normed = NormY(y);
  if (memory_mode_ == MemoryMode::kNormY) return normed;
  auto [k, v] = cross_attn_->PrepareKv(normed, normed);
  return torch::cat({k, v}, -1);
}

torch::Tensor DecoderBlockImpl::forward(const torch::Tensor& x,
                                        const torch::Tensor& memory,
                                        const torch::Tensor& pos,
                                        const torch::Tensor& memory_pos) {
  torch::Tensor y = x + attn_(norm1_(x), pos);
  torch::Tensor key;
  torch::Tensor value;
  if (memory_mode_ == MemoryMode::kKv) {
    key = memory.narrow(-1, 0, dim_);
    value = memory.narrow(-1, dim_, dim_);
  } else {
    const torch::Tensor m =
        memory_mode_ == MemoryMode::kRaw ? NormY(memory) : memory;
    std::tie(key, value) = cross_attn_->PrepareKv(m, m);
  }
  y = y + cross_attn_(norm2_(y), key, value, pos, memory_pos);
  return y + mlp_(norm3_(y));
}

void DecoderBlockImpl::set_backend(AttentionBackend backend) {
  attn_->set_backend(backend);
  cross_attn_->set_backend(backend);
}

torch::Tensor GridPositions(int64_t rows, int64_t cols, torch::Device device) {
  const auto opts = torch::TensorOptions().dtype(torch::kInt64).device(device);
  const torch::Tensor y =
      torch::arange(rows, opts).view({rows, 1}).expand({rows, cols});
  const torch::Tensor x =
      torch::arange(cols, opts).view({1, cols}).expand({rows, cols});
  return torch::stack({y, x}, -1).reshape({1, rows * cols, 2});
}

PatchEmbedImpl::PatchEmbedImpl(int64_t patch_size,
                               int64_t embed_dim,
                               bool many_ar)
    : patch_size_(patch_size), embed_dim_(embed_dim), many_ar_(many_ar) {
  proj_ = register_module(
      "proj",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(3, embed_dim, patch_size)
                            .stride(patch_size)
                            .bias(true)));
}

std::pair<torch::Tensor, torch::Tensor> PatchEmbedImpl::forward(
    const torch::Tensor& img, const torch::Tensor& true_shape) {
  const int64_t b = img.size(0);
  const int64_t h = img.size(2);
  const int64_t w = img.size(3);
  if (!many_ar_) return ForwardOwnOrientation(img);
  if (w < h) {
    throw InputError("patch embedding: image tensor is " + std::to_string(h) +
                     "x" + std::to_string(w) +
                     " (HxW); must be landscape (W >= H), portrait images "
                     "stored transposed");
  }
  if (h % patch_size_ != 0 || w % patch_size_ != 0) {
    throw InputError("patch embedding: image " + std::to_string(h) + "x" +
                     std::to_string(w) + " must be a multiple of patch " +
                     std::to_string(patch_size_));
  }
  VANELIA_CHECK(true_shape.dim() == 2 && true_shape.size(0) == b &&
                true_shape.size(1) == 2);
  const int64_t rows = h / patch_size_;
  const int64_t cols = w / patch_size_;
  // true_shape on the CPU (what Encode passes): orientations are decided on
  // the host, and a batch of one orientation needs no index_put (no device
  // to host read in the loop).
  const torch::Tensor shape_cpu = true_shape.to(torch::kCPU);
  if (true_shape.device().is_cpu()) {
    const int64_t landscape = (shape_cpu.select(1, 1) >= shape_cpu.select(1, 0))
                                  .sum()
                                  .item<int64_t>();
    if (landscape == b || landscape == 0) {
      const bool portrait = landscape == 0;
      const torch::Tensor patches =
          proj_(portrait ? img.transpose(-1, -2) : img)
              .permute({0, 2, 3, 1})
              .flatten(1, 2);
      const torch::Tensor pos =
          (portrait ? GridPositions(cols, rows, img.device())
                    : GridPositions(rows, cols, img.device()))
              .expand({b, rows * cols, 2})
              .contiguous();
      return {patches, pos};
    }
  }
  const torch::Tensor is_landscape =
      (shape_cpu.select(1, 1) >= shape_cpu.select(1, 0)).to(img.device());
  const torch::Tensor is_portrait = is_landscape.logical_not();
  torch::Tensor x = torch::zeros({b, rows * cols, embed_dim_}, img.options());
  torch::Tensor pos =
      torch::zeros({b, rows * cols, 2}, img.options().dtype(torch::kInt64));
  if (is_landscape.any().item<bool>()) {
    x.index_put_(
        {is_landscape},
        proj_(img.index({is_landscape})).permute({0, 2, 3, 1}).flatten(1, 2));
    pos.index_put_({is_landscape}, GridPositions(rows, cols, img.device()));
  }
  if (is_portrait.any().item<bool>()) {
    x.index_put_({is_portrait},
                 proj_(img.index({is_portrait}).transpose(-1, -2))
                     .permute({0, 2, 3, 1})
                     .flatten(1, 2));
    pos.index_put_({is_portrait}, GridPositions(cols, rows, img.device()));
  }
  return {x, pos};
}

std::pair<torch::Tensor, torch::Tensor> PatchEmbedImpl::ForwardOwnOrientation(
    const torch::Tensor& img) {
  const int64_t h = img.size(2);
  const int64_t w = img.size(3);
  if (h % patch_size_ != 0 || w % patch_size_ != 0) {
    throw InputError("patch embedding: image " + std::to_string(h) + "x" +
                     std::to_string(w) + " must be a multiple of patch " +
                     std::to_string(patch_size_));
  }
  const int64_t rows = h / patch_size_;
  const int64_t cols = w / patch_size_;
  const torch::Tensor patches = proj_(img).permute({0, 2, 3, 1}).flatten(1, 2);
  const torch::Tensor pos = GridPositions(rows, cols, img.device())
                                .expand({img.size(0), rows * cols, 2})
                                .contiguous();
  return {patches, pos};
}

LinearHeadImpl::LinearHeadImpl(int64_t embed_dim,
                               int64_t output_dim,
                               int64_t patch_size)
    : patch_size_(patch_size) {
  proj_ = register_module("proj", torch::nn::Linear(embed_dim, output_dim));
}

torch::Tensor LinearHeadImpl::forward(const torch::Tensor& feats,
                                      int64_t height,
                                      int64_t width) {
  return Shuffle(proj_(feats), height, width);
}

torch::Tensor LinearHeadImpl::Shuffle(const torch::Tensor& projected,
                                      int64_t height,
                                      int64_t width) const {
  const int64_t b = projected.size(0);
  const torch::Tensor x = projected.transpose(-1, -2).reshape(
      {b, -1, height / patch_size_, width / patch_size_});
  return torch::pixel_shuffle(x, patch_size_).permute({0, 2, 3, 1});
}

void CheckEncoderConfig(const EncoderConfig& config) {
  auto positive = [](const char* name, int64_t v) {
    if (v <= 0) {
      throw ModelError(std::string("EncoderConfig::") + name + " = " +
                       std::to_string(v) + "; must be > 0");
    }
  };
  positive("patch_size", config.patch_size);
  positive("embed_dim", config.embed_dim);
  positive("depth", config.depth);
  positive("num_heads", config.num_heads);
  if (config.embed_dim % config.num_heads != 0 ||
      (config.embed_dim / config.num_heads) % 4 != 0) {
    throw ModelError(
        "EncoderConfig::embed_dim = " + std::to_string(config.embed_dim) +
        "; must split into heads whose size is a multiple of 4 "
        "(RoPE2D), num_heads = " +
        std::to_string(config.num_heads));
  }
}

CrocoEncoderImpl::CrocoEncoderImpl(const EncoderConfig& options,
                                   const CrocoEncoderLayout& layout)
    : options_(options), layout_(layout) {
  CheckEncoderConfig(options_);
  const RoPE2D rope(options_.pos_embed);
  patch_embed_ = register_module(
      "patch_embed",
      PatchEmbed(options_.patch_size, options_.embed_dim, layout_.many_ar));
  blocks_enc_ = register_module(layout_.blocks_key, torch::nn::ModuleList());
  for (int64_t i = 0; i < options_.depth; ++i) {
    blocks_enc_->push_back(Block(
        options_.embed_dim, options_.num_heads, options_.mlp_ratio, rope));
  }
  norm_enc_ =
      register_module(layout_.norm_key, MakeLayerNorm(options_.embed_dim));
}

EncoderOutput CrocoEncoderImpl::forward(const torch::Tensor& img,
                                        const torch::Tensor& true_shape,
                                        EncoderTrace* trace) {
  auto [x, pos] = patch_embed_(img, true_shape);
  if (trace != nullptr) trace->patch_embed = x;
  for (const auto& block : *blocks_enc_) {
    x = block->as<BlockImpl>()->forward(x, pos);
    if (trace != nullptr) trace->blocks.push_back(x);
  }
  return {norm_enc_(x), pos};
}

EncoderOutput CrocoEncoderImpl::Encode(const torch::Tensor& images) {
  if (images.dim() != 4 || images.size(1) != 3) {
    throw InputError("CrocoEncoder::Encode: images must be [B, 3, H, W], got " +
                     std::string(images.sizes().size() == 4 ? "" : "rank ") +
                     std::to_string(images.dim()) + "-d");
  }
  const int64_t h = images.size(2);
  const int64_t w = images.size(3);
  const torch::Tensor true_shape = torch::tensor({h, w}, torch::kInt64)
                                       .view({1, 2})
                                       .repeat({images.size(0), 1});
  const torch::Tensor stored = EncoderInput(images);
  // Runs in the dtype of the weights (float32 by upstream's policy: its
  // encoder is an autocast-off region).
  const torch::Dtype dtype = norm_enc_->weight.scalar_type();
  return forward(stored.to(dtype), true_shape);
}

torch::Tensor CrocoEncoderImpl::EncoderInput(
    const torch::Tensor& images) const {
  const bool portrait = images.size(-1) < images.size(-2);
  return portrait && layout_.many_ar ? images.transpose(-1, -2) : images;
}

void CrocoEncoderImpl::SetAttentionBackend(AttentionBackend backend) {
  for (const auto& block : *blocks_enc_) {
    block->as<BlockImpl>()->set_backend(backend);
  }
}

}  // namespace vanelia::model
