// Unit tests of the DUSt3R port beyond the golden fixtures: the checkpoint
// rules (dec_blocks2 copy, a MUSt3R file refused and the reverse), the DPT
// head's shapes, keys and consistency (no upstream fixture yet: see
// tests/data/dust3r/README.md), the decoder's symmetry and bad arguments.
#include "vanelia/core/error.hpp"
#include "vanelia/model/checkpoint/checkpoint.hpp"
#include "vanelia/model/dust3r/dust3r.hpp"
#include "vanelia/model/dust3r/scene_graph.hpp"
#include "vanelia/model/must3r/must3r.hpp"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace vanelia::model {
namespace {

const std::string kDust3rCkpt =
    std::string(VANELIA_SOURCE_DIR) + "/tests/data/dust3r/tiny_linear.pth";
const std::string kMust3rCkpt = std::string(VANELIA_SOURCE_DIR) +
                                "/tests/data/must3r/checkpoints/tiny_kv.pth";

// A small DPT configuration (upstream needs dec_depth > 9).
Dust3rConfig SmallDptConfig() {
  Dust3rConfig c;
  c.encoder.embed_dim = 32;
  c.encoder.depth = 1;
  c.encoder.num_heads = 2;
  c.encoder.patch_embed = PatchEmbedKind::kDust3r;
  c.dec_embed_dim = 16;
  c.dec_depth = 10;
  c.dec_num_heads = 2;
  c.head_type = "dpt";
  return c;
}

// max|a - b| / max|b|: the README's gate (pts3d reach ~1e3 via expm1).
double MaxRelToMax(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

torch::Tensor RandomImages(int64_t b, int64_t h, int64_t w, int seed) {
  torch::manual_seed(seed);
  return torch::rand({b, 3, h, w}) * 2.0 - 1.0;
}

TEST(Dust3rCheckpoint, Dust3rLoadsAndMust3rIsRefused) {
  const Dust3rModel model = LoadDust3rModel(kDust3rCkpt);
  EXPECT_EQ(model.config.dec_depth, 2);
  EXPECT_EQ(model.config.head_type, "linear");
  try {
    LoadDust3rModel(kMust3rCkpt);
    FAIL() << "a MUSt3R checkpoint loaded as DUSt3R";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("tiny_kv.pth"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("MUSt3R"), std::string::npos)
        << e.what();
  }
  try {
    LoadMust3rModel(kDust3rCkpt);
    FAIL() << "a DUSt3R checkpoint loaded as MUSt3R";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("tiny_linear.pth"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("DUSt3R"), std::string::npos)
        << e.what();
  }
}

TEST(Dust3rCheckpoint, SecondDecoderCopiedWhenAbsent) {
  const Checkpoint ckpt = LoadCheckpoint(kDust3rCkpt);
  StateDict first_only;
  for (const auto& [k, v] : ckpt.model) {
    if (k.rfind("dec_blocks2.", 0) != 0) first_only.emplace(k, v);
  }
  ASSERT_LT(first_only.size(), ckpt.model.size());
  const auto [enc, rest] = SplitDust3rStateDict(first_only);
  EXPECT_TRUE(enc.count("enc_blocks.0.attn.qkv.weight"));
  EXPECT_TRUE(enc.count("patch_embed.proj.weight"));
  ASSERT_TRUE(rest.count("dec_blocks2.1.cross_attn.projq.weight"));
  EXPECT_TRUE(torch::equal(rest.at("dec_blocks2.1.cross_attn.projq.weight"),
                           rest.at("dec_blocks.1.cross_attn.projq.weight")));
  // The full file keeps its own second decoder.
  const auto [enc2, rest2] = SplitDust3rStateDict(ckpt.model);
  EXPECT_FALSE(torch::equal(rest2.at("dec_blocks2.1.cross_attn.projq.weight"),
                            rest2.at("dec_blocks.1.cross_attn.projq.weight")));
  // A model loaded from the copied dict runs both decoders identically on a
  // pair of one image twice.
  Dust3rModel model = MakeDust3rModel(ParseDust3rConfig(ckpt));
  LoadStateDictStrict(*model.encoder, enc, "encoder");
  LoadStateDictStrict(*model.decoder, rest, "decoder");
  torch::NoGradGuard no_grad;
  const torch::Tensor img = RandomImages(1, 32, 48, 3);
  Dust3rTrace trace;
  model.Pair(img, img, &trace);
  EXPECT_TRUE(torch::allclose(trace.dec1.back(), trace.dec2.back()));
}

TEST(Dust3rNetwork, PairOrderSwapsViewsAndPortraitStaysPortrait) {
  Dust3rModel model = LoadDust3rModel(kDust3rCkpt);
  torch::NoGradGuard no_grad;
  // Portrait input goes through in its own orientation (no transpose).
  const torch::Tensor a = RandomImages(1, 64, 32, 5);
  const torch::Tensor b = RandomImages(1, 64, 32, 6);
  const Dust3rPairOutput ab = model.Pair(a, b);
  EXPECT_EQ(ab.view1.pts3d.sizes(), (std::vector<int64_t>{1, 64, 32, 3}));
  EXPECT_EQ(ab.view2.conf.sizes(), (std::vector<int64_t>{1, 64, 32}));
  EXPECT_GE(ab.view1.conf.min().item<double>(), 1.0);
  // Decoding cached encoder outputs equals the one-call pair.
  const EncoderOutput ea = model.Encode(a);
  const EncoderOutput eb = model.Encode(b);
  const Dust3rPairOutput cached = model.Decode(ea, 64, 32, eb, 64, 32);
  EXPECT_LT(MaxRelToMax(cached.view2.pts3d, ab.view2.pts3d), 1e-5);
  // A batch of two pairs equals the pairs one by one.
  const Dust3rPairOutput batch =
      model.Pair(torch::cat({a, b}, 0), torch::cat({b, a}, 0));
  const Dust3rPairOutput ba = model.Pair(b, a);
  EXPECT_LT(MaxRelToMax(batch.view1.pts3d.narrow(0, 1, 1), ba.view1.pts3d),
            1e-5);
  // Mixed shapes are encoded separately.
  const torch::Tensor c = RandomImages(1, 32, 64, 7);
  const Dust3rPairOutput ac = model.Pair(a, c);
  EXPECT_EQ(ac.view2.pts3d.sizes(), (std::vector<int64_t>{1, 32, 64, 3}));
}

TEST(Dust3rNetwork, DptHeadShapesKeysAndBatchConsistency) {
  const Dust3rConfig config = SmallDptConfig();
  Dust3rModel model = MakeDust3rModel(config);
  std::set<std::string> keys;
  for (const auto& p : model.decoder->named_parameters()) keys.insert(p.key());
  for (const char* k :
       {"downstream_head1.dpt.act_postprocess.0.0.weight",
        "downstream_head1.dpt.act_postprocess.0.1.weight",
        "downstream_head1.dpt.act_postprocess.3.1.bias",
        "downstream_head2.dpt.scratch.layer1_rn.weight",
        "downstream_head2.dpt.scratch.layer_rn.0.weight",
        "downstream_head2.dpt.scratch.refinenet4.resConfUnit1.conv1.weight",
        "downstream_head2.dpt.scratch.refinenet1.out_conv.bias",
        "downstream_head1.dpt.head.0.weight",
        "downstream_head1.dpt.head.2.weight",
        "downstream_head1.dpt.head.4.bias"}) {
    EXPECT_TRUE(keys.count(k)) << k;
  }
  EXPECT_FALSE(keys.count("downstream_head1.dpt.scratch.layer1_rn.bias"));
  // The two names of a scratch projection are one tensor, as in upstream's
  // checkpoint (one storage under two keys).
  const auto params = model.decoder->named_parameters();
  EXPECT_TRUE(params["downstream_head1.dpt.scratch.layer3_rn.weight"].is_same(
      params["downstream_head1.dpt.scratch.layer_rn.2."
             "weight"]));
  EXPECT_EQ(params["downstream_head1.dpt.head.4.weight"].sizes(),
            (std::vector<int64_t>{4, 128, 1, 1}));
  torch::NoGradGuard no_grad;
  // 48 x 80: odd token rows (3) exercise refinenet4's crop.
  const torch::Tensor a = RandomImages(2, 48, 80, 11);
  const torch::Tensor b = RandomImages(2, 48, 80, 12);
  const Dust3rPairOutput out = model.Pair(a, b);
  EXPECT_EQ(out.view1.pts3d.sizes(), (std::vector<int64_t>{2, 48, 80, 3}));
  EXPECT_EQ(out.view2.conf.sizes(), (std::vector<int64_t>{2, 48, 80}));
  EXPECT_TRUE(torch::isfinite(out.view1.pts3d).all().item<bool>());
  EXPECT_GE(out.view2.conf.min().item<double>(), 1.0);
  const Dust3rPairOutput one = model.Pair(a.narrow(0, 1, 1), b.narrow(0, 1, 1));
  EXPECT_LT(MaxRelToMax(one.view2.pts3d, out.view2.pts3d.narrow(0, 1, 1)),
            1e-5);
  // Heads differ (separate weights) and see the whole image: changing one
  // corner patch of image 2 changes view 2's prediction far from it too.
  torch::Tensor b2 = b.clone();
  b2.narrow(2, 0, 16).narrow(3, 0, 16).fill_(0.5);
  const Dust3rPairOutput moved = model.Pair(a, b2);
  EXPECT_FALSE(torch::allclose(moved.view2.pts3d.select(1, 47).select(1, 79),
                               out.view2.pts3d.select(1, 47).select(1, 79)));
}

TEST(Dust3rNetwork, DptNeedsDeepDecoderAndConfigIsChecked) {
  Dust3rConfig c = SmallDptConfig();
  c.dec_depth = 8;
  EXPECT_THROW(MakeDust3rModel(c), ModelError);
  c = SmallDptConfig();
  c.conf_mode = "tanh";
  try {
    MakeDust3rModel(c);
    FAIL();
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("conf_mode"), std::string::npos);
  }
  c = SmallDptConfig();
  c.dec_num_heads = 3;
  EXPECT_THROW(MakeDust3rModel(c), ModelError);
}

TEST(Dust3rNetwork, Badarg) {
  Dust3rModel model = LoadDust3rModel(kDust3rCkpt);
  torch::NoGradGuard no_grad;
  try {
    model.Pair(RandomImages(1, 40, 48, 1), RandomImages(1, 40, 48, 2));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of patch"),
              std::string::npos);
  }
  const EncoderOutput e1 = model.Encode(RandomImages(2, 32, 32, 1));
  const EncoderOutput e2 = model.Encode(RandomImages(1, 32, 32, 2));
  try {
    model.Decode(e1, 32, 32, e2, 32, 32);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("Decode"), std::string::npos);
  }
}

using Pairs = std::vector<std::pair<int64_t, int64_t>>;

TEST(Dust3rSceneGraph, BoundedNonCyclicGraphs) {
  // swin-2-noncyclic on 4 images: upstream g1's 5 pairs (10 edges).
  EXPECT_EQ(MakePairs(4, SceneGraphKind::kSwin, 2),
            (Pairs{{0, 1}, {0, 2}, {1, 2}, {1, 3}, {2, 3}}));
  // The walk is never closed: no (0, n-1) link.
  const Pairs swin = MakePairs(100, SceneGraphKind::kSwin, 3);
  EXPECT_EQ(swin.size(), 3u * 100 - 6);  // linear in the clip
  for (const auto& [i, j] : swin) EXPECT_LE(j - i, 3);
  // logwin-3: offsets 1, 2, 4.
  EXPECT_EQ(
      MakePairs(5, SceneGraphKind::kLogwin, 3),
      (Pairs{{0, 1}, {0, 2}, {0, 4}, {1, 2}, {1, 3}, {2, 3}, {2, 4}, {3, 4}}));
  EXPECT_EQ(MakePairs(4, SceneGraphKind::kOneref, 2),
            (Pairs{{2, 0}, {2, 1}, {2, 3}}));
  const Pairs sym = Symmetrize({{0, 1}, {1, 2}});
  EXPECT_EQ(sym, (Pairs{{0, 1}, {1, 2}, {1, 0}, {2, 1}}));
}

TEST(Dust3rSceneGraph, Badarg) {
  EXPECT_THROW(MakePairs(1, SceneGraphKind::kSwin, 3), InputError);
  EXPECT_THROW(MakePairs(10, SceneGraphKind::kSwin, 0), InputError);
  EXPECT_THROW(MakePairs(10, SceneGraphKind::kOneref, 10), InputError);
  try {
    SceneGraphFromName("complete", "--scene-graph");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--scene-graph 'complete'"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace vanelia::model
