// Unit tests of the MUSt3R port beyond the golden fixtures: the map back to
// source pixels (known answer), memory modes agreeing with each other,
// attention backends against a float64 reference, the ManyAR portrait path,
// the video loop's bounds and refinement passes, and bad arguments.
#include "vanelia/core/error.hpp"
#include "vanelia/model/blocks/postprocess.hpp"
#include "vanelia/model/blocks/preprocess.hpp"
#include "vanelia/model/must3r/must3r.hpp"
#include "vanelia/model/must3r/must3r_video.hpp"

#include <cmath>
#include <iostream>
#include <limits>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "testing/npy_tensor.hpp"

namespace vanelia::model {
namespace {

const std::string kData =
    std::string(VANELIA_SOURCE_DIR) + "/tests/data/must3r";

// A pinhole pointmap of a source frame, [3, H, W] float64: pixel (u, v) with
// centres at integers -> depth * ((u - cx) / f, (v - cy) / f, 1).
torch::Tensor PinholePointmap(int w, int h, double f, double cx, double cy) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor u = torch::arange(w, opts).view({1, w}).expand({h, w});
  const torch::Tensor v = torch::arange(h, opts).view({h, 1}).expand({h, w});
  const double depth = 3.0;
  return torch::stack({depth * (u - cx) / f,
                       depth * (v - cy) / f,
                       torch::full({h, w}, depth, opts)});
}

// Least-squares pinhole fit along one axis of a network pointmap [H, W, 3]
// (pixel index = f * X/Z + c), over the interior (the antialiasing filter
// is truncated at the borders). Returns (f, c) in network pixels.
std::pair<double, double> FitAxis(const torch::Tensor& net, int axis) {
  const int64_t h = net.size(0);
  const int64_t w = net.size(1);
  const int64_t m = 4;
  const torch::Tensor inner = net.slice(0, m, h - m).slice(1, m, w - m);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor idx;
  if (axis == 0) {
    idx = torch::arange(m, w - m, opts)
              .view({1, -1})
              .expand({h - 2 * m, w - 2 * m});
  } else {
    idx = torch::arange(m, h - m, opts)
              .view({-1, 1})
              .expand({h - 2 * m, w - 2 * m});
  }
  const torch::Tensor r = inner.select(2, axis) / inner.select(2, 2);
  const torch::Tensor rc = r - r.mean();
  const double f = ((idx - idx.mean()) * rc).sum().item<double>() /
                   (rc * rc).sum().item<double>();
  const double c = idx.mean().item<double>() - f * r.mean().item<double>();
  return {f, c};
}

// A source camera with an arbitrary principal point: crop and resize its
// pointmap as upstream does, fit the network-pixel pinhole, map it back.
void ExpectSourceIntrinsicsRecovered(
    int w, int h, int size, double f_src, double cx, double cy) {
  const ResizePlan plan = PlanResize(w, h, BucketsForSize(size));
  const torch::Tensor source = PinholePointmap(w, h, f_src, cx, cy);
  const torch::Tensor net = ApplyResizePlan(source, plan).permute({1, 2, 0});
  const auto [fx_net, cx_net] = FitAxis(net, 0);
  const auto [fy_net, cy_net] = FitAxis(net, 1);
  SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h) + " at " +
               std::to_string(size));
  const double fx = fx_net * plan.ScaleX();
  const double fy = fy_net * plan.ScaleY();
  const double cx_back = plan.SourceX(cx_net);
  const double cy_back = plan.SourceY(cy_net);
  std::cout << "SOURCE_PX " << w << "x" << h << "@" << size
            << " dfx=" << fx - f_src << " dfy=" << fy - f_src
            << " dcx=" << cx_back - cx << " dcy=" << cy_back - cy << "\n";
  EXPECT_NEAR(fx, f_src, 0.01);
  EXPECT_NEAR(fy, f_src, 0.01);
  EXPECT_NEAR(cx_back, cx, 0.01);
  EXPECT_NEAR(cy_back, cy, 0.01);
  // Upstream's to_orig (x_orig = s x + unrounded offset) is off here.
  const double upstream_cx =
      plan.upstream_to_orig[0] * cx_net + plan.upstream_to_orig[2];
  if (!plan.identity) {
    EXPECT_GT(std::abs(upstream_cx - cx), 0.1);
  }
  // The network-side focal as upstream estimates it (Weiszfeld with its
  // principal point at (W/2, H/2)) comes back through SourceIntrinsics when
  // the camera's principal point is where that convention puts it.
  const double cx0 = plan.SourceX(plan.output_width / 2.0);
  const double cy0 = plan.SourceY(plan.output_height / 2.0);
  const torch::Tensor centred =
      ApplyResizePlan(PinholePointmap(w, h, f_src, cx0, cy0), plan)
          .permute({1, 2, 0});
  const double f_net =
      EstimateFocalKnowingDepth(centred.unsqueeze(0).to(torch::kFloat32),
                                plan.output_width / 2.0,
                                plan.output_height / 2.0)
          .item<double>();
  const Intrinsics k = SourceIntrinsics(f_net, plan);
  EXPECT_NEAR(k.fx, f_src, 0.01);
  EXPECT_EQ(k.width, w);
  EXPECT_EQ(k.height, h);
}

TEST(Must3rPreprocess, SourceIntrinsicsKnownAnswer) {
  // Horizontal crop with a rounded offset (280.5 -> 280) and a 720/224 scale.
  ExpectSourceIntrinsicsRecovered(1281, 720, 224, 500.0, 633.3, 371.9);
  // Vertical crop with a rounded offset (14.5 -> 14).
  ExpectSourceIntrinsicsRecovered(1024, 701, 512, 800.0, 520.2, 344.7);
  // No crop, scale only; and a portrait frame.
  ExpectSourceIntrinsicsRecovered(1280, 720, 512, 900.0, 650.5, 355.0);
  ExpectSourceIntrinsicsRecovered(720, 1280, 512, 900.0, 362.0, 630.25);
}

TEST(Must3rPreprocess, PlanResizeBadarg) {
  EXPECT_THROW(BucketsForSize(300), InputError);
  try {
    PlanResize(0, 10, BucketsForSize(512));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("0x10"), std::string::npos);
  }
  const ResizePlan identity = PlanResize(512, 288, BucketsForSize(512));
  EXPECT_TRUE(identity.identity);
  EXPECT_DOUBLE_EQ(identity.SourceX(10.0), 10.0);
}

TEST(Must3rBlocks, AttentionBackendsMatchFloat64Reference) {
  torch::manual_seed(3);
  const torch::Tensor q = torch::randn({2, 4, 7, 8});
  const torch::Tensor k = torch::randn({2, 4, 9, 8});
  const torch::Tensor v = torch::randn({2, 4, 9, 8});
  const torch::Tensor qd = q.to(torch::kFloat64);
  const torch::Tensor ref =
      torch::softmax(
          torch::matmul(qd, k.to(torch::kFloat64).transpose(-2, -1)) /
              std::sqrt(8.0),
          -1)
          .matmul(v.to(torch::kFloat64))
          .transpose(1, 2)
          .reshape({2, 7, 32});
  for (AttentionBackend b :
       {AttentionBackend::kReference, AttentionBackend::kFused}) {
    const torch::Tensor got = MultiHeadAttention(q, k, v, b);
    EXPECT_LT((got.to(torch::kFloat64) - ref).abs().max().item<double>(), 1e-5);
  }
}

TEST(Must3rBlocks, RoPERotatesPairsAcrossHalves) {
  // One head of 8 dims: the y half is [0, 4), x half [4, 8); in a half of 4,
  // element i pairs with i + 2, inv_freq = [1, 1/10] for base 100.
  RoPE2D rope(RopeConfig{"RoPE100", 100.0, 1.0});
  const torch::Tensor t =
      torch::arange(8, torch::kFloat32).view({1, 1, 1, 8}) + 1;
  const torch::Tensor pos = torch::tensor({{{2, 0}}}, torch::kInt64);
  const torch::Tensor out = rope.Apply(t, pos);
  const double a = 2.0;  // y = 2, frequency 1
  EXPECT_NEAR(
      out[0][0][0][0].item<double>(), 1 * std::cos(a) - 3 * std::sin(a), 1e-5);
  EXPECT_NEAR(
      out[0][0][0][2].item<double>(), 3 * std::cos(a) + 1 * std::sin(a), 1e-5);
  // x = 0: the x half is unchanged.
  EXPECT_NEAR(out[0][0][0][5].item<double>(), 6.0, 1e-6);
}

// The three memory modes store different things but compute the same
// network: with the same weights, kv, norm_y and raw give the same outputs.
TEST(Must3rDecoder, MemoryModesAgree) {
  Must3rModel base = LoadMust3rModel(kData + "/checkpoints/tiny_normy.pth");
  torch::NoGradGuard no_grad;
  const torch::Tensor images =
      testing::LoadNpyTensor(kData + "/tiny_normy/s1_init/images.npy");
  const EncoderOutput enc = base.encoder->Encode(images);
  std::vector<torch::Tensor> heads;
  for (MemoryMode mode :
       {MemoryMode::kNormY, MemoryMode::kKv, MemoryMode::kRaw}) {
    DecoderConfig cfg = base.config.decoder;
    cfg.memory_mode = mode;
    Must3rDecoder dec(cfg);
    dec->eval();
    auto src = base.decoder->named_parameters();
    for (auto& p : dec->named_parameters()) p.value().copy_(src[p.key()]);
    const auto x = enc.tokens.unsqueeze(0);
    const auto pos = enc.positions.unsqueeze(0);
    DecoderOutput init = dec->forward(
        x.narrow(1, 0, 1), pos.narrow(1, 0, 1), 64, 96, nullptr, false);
    EXPECT_EQ(init.memory.layers[0].size(2), dec->memory_dim());
    DecoderOutput upd = dec->forward(
        x.narrow(1, 1, 1), pos.narrow(1, 1, 1), 64, 96, &init.memory, false);
    DecoderOutput ren = dec->forward(x, pos, 64, 96, &upd.memory, true);
    EXPECT_EQ(ren.memory.NumTokens(), 48);
    heads.push_back(torch::cat({init.head, upd.head, ren.head}, 1));
  }
  EXPECT_LT((heads[0] - heads[1]).abs().max().item<double>(), 1e-4);
  EXPECT_LT((heads[0] - heads[2]).abs().max().item<double>(), 1e-4);
}

// The preallocated memory (host label mirror, in-place append, compaction
// into the second buffer) against the device-only paths.
TEST(Must3rDecoder, PreallocatedMemoryMatchesDevicePaths) {
  Must3rModel model = LoadMust3rModel(kData + "/checkpoints/tiny_kv.pth");
  torch::NoGradGuard no_grad;
  const torch::Tensor images =
      testing::LoadNpyTensor(kData + "/tiny_kv/s1_init/images.npy");
  const EncoderOutput enc = model.encoder->Encode(images);
  const auto x = enc.tokens.unsqueeze(0);
  const auto pos = enc.positions.unsqueeze(0);
  const int64_t n = x.size(1);
  ASSERT_GE(n, 2);
  DecoderOutput init = model.decoder->forward(x, pos, 64, 96, nullptr, false);
  MemoryState fast = init.memory;
  ASSERT_TRUE(fast.UsesStorage());
  ASSERT_TRUE(fast.HostLabelsValid());
  // Appending in place keeps the buffers.
  DecoderOutput upd = model.decoder->forward(
      x.narrow(1, 0, 1), pos.narrow(1, 0, 1), 64, 96, &fast, false);
  fast = upd.memory;
  EXPECT_TRUE(fast.UsesStorage());
  EXPECT_EQ(fast.layers[0].data_ptr(), init.memory.layers[0].data_ptr());
  MemoryState slow;
  for (const auto& layer : fast.layers) slow.layers.push_back(layer.clone());
  slow.labels = fast.labels.clone();
  slow.num_images = fast.num_images;
  ASSERT_FALSE(slow.HostLabelsValid());
  const int64_t newest = n;  // the label of the update call's image
  for (MemoryState* m : {&fast, &slow}) {
    m->OverwriteLabel(1, newest);
    m->RemoveLabel(newest);
    m->Relabel(0, 7);
    m->RemoveLabel(2 < n ? 2 : 1);
  }
  EXPECT_TRUE(fast.UsesStorage());
  ASSERT_EQ(fast.NumTokens(), slow.NumTokens());
  EXPECT_TRUE(torch::equal(fast.labels, slow.labels));
  EXPECT_EQ(
      fast.host_labels,
      std::vector<int64_t>(fast.labels.data_ptr<int64_t>(),
                           fast.labels.data_ptr<int64_t>() + fast.NumTokens()));
  for (size_t k = 0; k < fast.layers.size(); ++k) {
    EXPECT_TRUE(torch::equal(fast.layers[k], slow.layers[k])) << k;
  }
  // A further update after the compaction appends into the same storage.
  DecoderOutput again = model.decoder->forward(
      x.narrow(1, 1, 1), pos.narrow(1, 1, 1), 64, 96, &fast, false);
  EXPECT_EQ(again.memory.storage, fast.storage);
  EXPECT_EQ(again.memory.NumTokens(), fast.NumTokens() + x.size(2));
}

// forward_list with entries of one shape is forward() cut into entries (the
// mixed-shape maths is checked against upstream in video_multi_ar).
TEST(Must3rDecoder, ForwardListOfOneShapeMatchesForward) {
  Must3rModel model = LoadMust3rModel(kData + "/checkpoints/tiny_kv.pth");
  torch::NoGradGuard no_grad;
  const torch::Tensor images =
      testing::LoadNpyTensor(kData + "/tiny_kv/s1_init/images.npy");
  const EncoderOutput enc = model.encoder->Encode(images);
  const auto x = enc.tokens.unsqueeze(0);
  const auto pos = enc.positions.unsqueeze(0);
  const int64_t n = x.size(1);
  ASSERT_GE(n, 2);
  // Entries of one image each (upstream's max_bs = 1 split).
  std::vector<DecoderEntry> entries;
  for (int64_t j = 0; j < n; ++j) {
    entries.push_back({x.narrow(1, j, 1), pos.narrow(1, j, 1), 64, 96});
  }
  const DecoderOutput init =
      model.decoder->forward(x, pos, 64, 96, nullptr, false);
  const DecoderListOutput list =
      model.decoder->ForwardList(entries, nullptr, false);
  ASSERT_EQ(list.heads.size(), static_cast<size_t>(n));
  EXPECT_LT((torch::cat(list.heads, 1) - init.head).abs().max().item<double>(),
            1e-5);
  EXPECT_TRUE(torch::equal(list.memory.labels, init.memory.labels));
  EXPECT_EQ(list.memory.num_images, init.memory.num_images);
  EXPECT_EQ(list.memory.host_labels, init.memory.host_labels);
  for (size_t k = 0; k < init.memory.layers.size(); ++k) {
    EXPECT_LT((list.memory.layers[k] - init.memory.layers[k])
                  .abs()
                  .max()
                  .item<double>(),
              1e-5);
  }
  // An update and a render on that memory.
  const DecoderOutput upd = model.decoder->forward(
      x.narrow(1, 0, 1), pos.narrow(1, 0, 1), 64, 96, &init.memory, false);
  const DecoderListOutput lupd =
      model.decoder->ForwardList({entries[0]}, &list.memory, false);
  EXPECT_LT((lupd.heads[0] - upd.head).abs().max().item<double>(), 1e-5);
  EXPECT_TRUE(torch::equal(lupd.memory.labels, upd.memory.labels));
  const DecoderOutput ren =
      model.decoder->forward(x, pos, 64, 96, &upd.memory, true);
  const DecoderListOutput lren =
      model.decoder->ForwardList({{x, pos, 64, 96}}, &lupd.memory, true);
  EXPECT_LT((lren.heads[0] - ren.head).abs().max().item<double>(), 1e-5);
  EXPECT_EQ(lren.memory.NumTokens(), upd.memory.NumTokens());
  // Bad arguments name the entry.
  EXPECT_THROW(model.decoder->ForwardList({}, nullptr, false), InputError);
  EXPECT_THROW(model.decoder->ForwardList(entries, nullptr, true), InputError);
  try {
    model.decoder->ForwardList(
        {{x, pos, 64, 96}, {x, pos, 96, 96}}, nullptr, false);
    FAIL() << "no throw";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("entry 1"), std::string::npos)
        << e.what();
  }
}

TEST(Must3rDecoder, SingleLinearFeedbackHasUpstreamKeys) {
  DecoderConfig cfg;
  cfg.enc_embed_dim = 64;
  cfg.embed_dim = 48;
  cfg.depth = 2;
  cfg.num_heads = 4;
  cfg.feedback_type = FeedbackType::kSingleLinear;
  Must3rDecoder dec(cfg);
  const auto params = dec->named_parameters();
  EXPECT_TRUE(params.contains("feedback_layer.weight"));
  EXPECT_TRUE(params.contains("feedback_norm.weight"));
  EXPECT_TRUE(params.contains("blocks_dec.1.cross_attn.projv.bias"));
  EXPECT_EQ(params["feedback_norm.weight"].size(0), 48);
  // The feedback changes what is stored in every layer but the last.
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  const torch::Tensor x = torch::randn({1, 2, 24, 64});
  const torch::Tensor pos =
      GridPositions(4, 6, torch::kCPU).view({1, 1, 24, 2}).repeat({1, 2, 1, 1});
  const DecoderOutput a = dec->forward(x, pos, 64, 96, nullptr, false);
  params["feedback_layer.bias"].fill_(0.5);
  const DecoderOutput b = dec->forward(x, pos, 64, 96, nullptr, false);
  EXPECT_GT(
      (a.memory.layers[0] - b.memory.layers[0]).abs().max().item<double>(),
      1e-3);
  EXPECT_EQ(
      (a.memory.layers[1] - b.memory.layers[1]).abs().max().item<double>(),
      0.0);
  EXPECT_EQ((a.head - b.head).abs().max().item<double>(), 0.0);
}

TEST(Must3rEncoder, PortraitGoesThroughManyArTransposedPath) {
  Must3rModel model = LoadMust3rModel(kData + "/checkpoints/tiny_kv.pth");
  torch::NoGradGuard no_grad;
  torch::manual_seed(2);
  const torch::Tensor portrait = torch::rand({1, 3, 96, 64}) * 2 - 1;
  const EncoderOutput enc = model.encoder->Encode(portrait);
  EXPECT_EQ(enc.positions.select(2, 0).max().item<int64_t>(), 5);  // 6 rows
  EXPECT_EQ(enc.positions.select(2, 1).max().item<int64_t>(), 3);  // 4 cols
  // Natural orientation through the raw ManyAR call is rejected.
  EXPECT_THROW(model.encoder->forward(portrait, torch::tensor({{96, 64}})),
               InputError);
  const DecoderOutput dec = model.decoder->forward(enc.tokens.unsqueeze(0),
                                                   enc.positions.unsqueeze(0),
                                                   96,
                                                   64,
                                                   nullptr,
                                                   false);
  EXPECT_EQ(dec.head.sizes(), (std::vector<int64_t>{1, 1, 96, 64, 7}));
}

torch::Tensor OrbitImages() {
  return testing::LoadNpyTensor(kData + "/video_orbit/images.npy");
}

TEST(Must3rVideo, RefinementPassKeepsKeyframeMemory) {
  Must3rModel model = LoadMust3rModel(kData + "/checkpoints/tiny_kv.pth");
  Must3rVideoOptions options;
  options.local_context_size = 5;
  options.num_refinements = 1;
  const Must3rVideoResult r = RunMust3rVideo(model, OrbitImages(), options);
  EXPECT_EQ(r.keyframes, (std::vector<int>{0, 1, 3, 6, 9, 12, 15}));
  EXPECT_EQ(r.trace.size(), 30u);
  EXPECT_EQ(r.memory.NumTokens(), 7 * 24);
  // Keyframe slots keep their first-pass labels, in first-pass order.
  const auto labels = r.memory.labels.view({7, 24}).select(1, 0);
  EXPECT_EQ(labels.to(torch::kInt64).sum().item<int64_t>(),
            0 + 1 + 3 + 6 + 9 + 12 + 15);
  // The second pass starts on the keyframe memory: no init call.
  EXPECT_EQ(r.trace[15].nmem_before, 7 * 24);
  EXPECT_TRUE(torch::isfinite(r.frames.c2w).all().item<bool>());
}

TEST(Must3rVideo, MaxKeyframesBoundsTheMemory) {
  Must3rModel model = LoadMust3rModel(kData + "/checkpoints/tiny_kv.pth");
  Must3rVideoOptions options;
  options.local_context_size = 2;
  options.max_keyframes = 3;
  const Must3rVideoResult r = RunMust3rVideo(model, OrbitImages(), options);
  EXPECT_EQ(r.keyframes, (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(r.memory.NumTokens(), 3 * 24);
}

TEST(Must3rVideo, FirstPassAndRenderWithMemory) {
  Must3rModel model = LoadMust3rModel(kData + "/checkpoints/tiny_kv.pth");
  const torch::Tensor imgs = OrbitImages().narrow(0, 0, 4);
  Must3rVideoOptions options;
  options.local_context_size = 0;
  const Must3rVideoResult plain = RunMust3rVideo(model, imgs, options);
  EXPECT_TRUE(plain.first_pass.empty());  // kept only when asked
  options.keep_first_pass = true;
  const Must3rVideoResult kept = RunMust3rVideo(model, imgs, options);
  ASSERT_EQ(kept.first_pass.size(), 4u);  // no refinement: the last pass
  EXPECT_TRUE(torch::equal(kept.first_pass[3].conf, kept.per_frame[3].conf));
  // Rendering leaves the memory as it is; chunks of 1 agree with one call.
  const torch::Tensor before = kept.memory.layers[0].clone();
  const auto one = RenderWithMemory(model, imgs, kept.memory);
  const auto chunked = RenderWithMemory(model, imgs, kept.memory, 1);
  ASSERT_EQ(one.size(), 4u);
  EXPECT_TRUE(torch::equal(before, kept.memory.layers[0]));
  for (size_t i = 0; i < 4; ++i) {
    const torch::Tensor d =
        (one[i].conf - chunked[i].conf).abs() / (1.0 + chunked[i].conf.abs());
    EXPECT_LE(d.max().item<double>(), 1e-5) << i;
  }
  EXPECT_THROW(RenderWithMemory(model, imgs, kept.memory, -1), InputError);
  EXPECT_THROW(RenderWithMemory(model, imgs[0], kept.memory), InputError);
  EXPECT_THROW(RenderWithMemory(model, imgs, MemoryState{}), InputError);
}

TEST(Must3rVideo, OptionsBadarg) {
  Must3rVideoOptions options;
  options.batch_num_views = 0;
  try {
    options.Check();
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("batch_num_views = 0"),
              std::string::npos);
  }
  EXPECT_EQ(MemoryBatches(16, 2, 1).size(), 15u);
  EXPECT_EQ(MemoryBatches(10, 8, 4), (std::vector<int>{8, 2}));
  EXPECT_EQ(MemoryBatches(3, 8, 4), (std::vector<int>{3}));
}

}  // namespace
}  // namespace vanelia::model
