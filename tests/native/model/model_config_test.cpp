// Tests of the call parser, convert_decoder_args and the typed configs.
#include "vanelia/model/checkpoint/model_config.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/model/checkpoint/call_parser.hpp"

#include <cmath>
#include <functional>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vanelia {
namespace {

using ::testing::HasSubstr;

const std::string kDataDir =
    std::string(VANELIA_SOURCE_DIR) + "/tests/data/must3r/checkpoints/";

std::string MessageOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const ModelError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected ModelError";
  return "";
}

TEST(ParseCall, LiteralsPositionalAndKeywords) {
  const ParsedCall c = ParseCall(
      "Name(3, 'pos', kw=1, kw2=(128,128), s='x', t=\"y\", b=True, n=None, "
      "f=1e-6, g=-2.5, one=(7,), e=(), l=[1, 'a'], inf_=-inf, name=nn.GELU,)",
      "test");
  EXPECT_EQ(c.name, "Name");
  ASSERT_EQ(c.positional.size(), 2u);
  EXPECT_EQ(c.positional[0].int_value, 3);
  EXPECT_EQ(c.positional[1].str_value, "pos");
  EXPECT_EQ(c.Find("kw")->int_value, 1);
  EXPECT_EQ(c.Find("kw2")->Repr(), "(128, 128)");
  EXPECT_EQ(c.Find("s")->str_value, "x");
  EXPECT_EQ(c.Find("t")->str_value, "y");
  EXPECT_TRUE(c.Find("b")->bool_value);
  EXPECT_EQ(c.Find("n")->kind, CallLiteral::Kind::kNone);
  EXPECT_EQ(c.Find("f")->kind, CallLiteral::Kind::kFloat);
  EXPECT_DOUBLE_EQ(c.Find("f")->float_value, 1e-6);
  EXPECT_DOUBLE_EQ(c.Find("g")->float_value, -2.5);
  EXPECT_EQ(c.Find("one")->Repr(), "(7,)");
  EXPECT_EQ(c.Find("e")->kind, CallLiteral::Kind::kTuple);
  EXPECT_EQ(c.Find("l")->Repr(), "[1, 'a']");
  EXPECT_TRUE(std::isinf(c.Find("inf_")->float_value));
  EXPECT_LT(c.Find("inf_")->float_value, 0);
  EXPECT_EQ(c.Find("name")->kind, CallLiteral::Kind::kName);
  EXPECT_EQ(c.Find("name")->str_value, "nn.GELU");
  EXPECT_EQ(c.Find("missing"), nullptr);
}

TEST(ParseCall, MalformedStringsAreModelErrors) {
  EXPECT_THAT(MessageOf([] { ParseCall("MUSt3R(depth=3", "args.decoder"); }),
              HasSubstr("args.decoder: malformed constructor string"));
  EXPECT_THAT(MessageOf([] { ParseCall("MUSt3R(depth=3))", "d"); }),
              HasSubstr("unexpected text after the closing ')'"));
  EXPECT_THAT(MessageOf([] { ParseCall("MUSt3R(a=1, a=2)", "d"); }),
              HasSubstr("keyword 'a' given twice"));
  EXPECT_THAT(MessageOf([] { ParseCall("MUSt3R(a=1, 2)", "d"); }),
              HasSubstr("positional argument after keyword"));
  EXPECT_THAT(
      MessageOf([] { ParseCall("X(n=partial(nn.LayerNorm, eps=1e-6))", "d"); }),
      HasSubstr("a call 'partial(...)' is not a literal"));
  EXPECT_THAT(MessageOf([] { ParseCall("X(s='abc)", "d"); }),
              HasSubstr("unterminated string"));
  EXPECT_THAT(MessageOf([] { ParseCall("X(a=1.2.3)", "d"); }),
              HasSubstr("bad number"));
  EXPECT_THAT(MessageOf([] { ParseCall("__import__('os').system('x')", "d"); }),
              HasSubstr("unexpected text after the closing ')'"));
  EXPECT_THAT(MessageOf([] { ParseCall("", "d"); }),
              HasSubstr("expected a class name"));
}

TEST(ConvertDecoderArgs, MatchesUpstream) {
  // Strings as recorded in the fixture manifests (before / after).
  EXPECT_EQ(
      ConvertDecoderArgs(
          "CausalMUSt3R(img_size=(128, 128), patch_size=16, enc_embed_dim=64, "
          "embed_dim=48, depth=3, num_heads=4, output_dim=1792, "
          "feedback_type='single_mlp', memory_mode=\"kv\", mem_dropout=0.1, "
          "dropout_mode='temporary', use_xformers_mask=True, "
          "use_mem_mask=True)"),
      "MUSt3R(img_size=(128,128),patch_size=16,enc_embed_dim=64,embed_dim=48,"
      "depth=3,num_heads=4,output_dim=1792,feedback_type='single_mlp',"
      "memory_mode=\"kv\",mem_dropout=0.1,dropout_mode='temporary',use_"
      "xformers_mask=True,use_mem_mask=True,landscape_only=False)");
  EXPECT_EQ(ConvertDecoderArgs("MUSt3R(depth=3, landscape_only=True)"),
            "MUSt3R(depth=3,landscape_only=False)");
  EXPECT_EQ(ConvertDecoderArgs("MUSt3R(landscape_only=False)"),
            "MUSt3R(landscape_only=False)");
  EXPECT_EQ(ConvertDecoderArgs("CausalMUSt3R()"),
            "MUSt3R(,landscape_only=False)");  // upstream's text, verbatim
}

TEST(ParseMust3rConfig, TinyKvCheckpoint) {
  const ModelConfig c =
      ParseMust3rConfig(LoadCheckpoint(kDataDir + "tiny_kv.pth"));
  EXPECT_EQ(c.encoder.img_size_h, 128);
  EXPECT_EQ(c.encoder.patch_size, 16);
  EXPECT_EQ(c.encoder.embed_dim, 64);
  EXPECT_EQ(c.encoder.depth, 2);
  EXPECT_EQ(c.encoder.num_heads, 4);
  EXPECT_EQ(c.encoder.mlp_ratio, 4.0);
  EXPECT_EQ(c.encoder.patch_embed, PatchEmbedKind::kManyAr);
  EXPECT_EQ(c.encoder.pos_embed.freq, 100.0);
  EXPECT_EQ(c.encoder.pos_embed.f0, 1.0);
  EXPECT_EQ(c.decoder.class_name, "MUSt3R");
  EXPECT_EQ(c.decoder.enc_embed_dim, 64);
  EXPECT_EQ(c.decoder.embed_dim, 48);
  EXPECT_EQ(c.decoder.depth, 3);
  EXPECT_EQ(c.decoder.num_heads, 4);
  EXPECT_EQ(c.decoder.output_dim, 1792);
  EXPECT_EQ(c.decoder.HeadChannels(), 7);
  EXPECT_EQ(c.decoder.feedback_type, FeedbackType::kSingleMlp);
  EXPECT_EQ(c.decoder.memory_mode, MemoryMode::kKv);
  EXPECT_EQ(c.decoder.MemoryDim(), 96);
  EXPECT_FALSE(c.decoder.landscape_only);
  EXPECT_EQ(c.decoder.pointmaps_activation, PointmapsActivation::kNormExp);
  EXPECT_EQ(c.decoder.norm_eps, 1e-6);
  EXPECT_EQ(c.decoder.feedback_norm_eps, 1e-5);
  EXPECT_EQ(c.resolution, 128);
  EXPECT_EQ(
      c.ignored_decoder_keywords,
      (std::vector<std::string>{
          "mem_dropout", "dropout_mode", "use_xformers_mask", "use_mem_mask"}));
  CheckResolution(c, 128, "w");
  EXPECT_THAT(MessageOf([&] { CheckResolution(c, 512, "weights 'tiny_kv'"); }),
              HasSubstr("weights 'tiny_kv': the weights are for image size 128 "
                        "(img_size=(128, 128)), but image size 512 was "
                        "requested"));
}

TEST(ParseMust3rConfig, TinyNormyCheckpoint) {
  const ModelConfig c =
      ParseMust3rConfig(LoadCheckpoint(kDataDir + "tiny_normy.pth"));
  EXPECT_EQ(c.decoder.feedback_type, FeedbackType::kNone);
  EXPECT_EQ(c.decoder.memory_mode, MemoryMode::kNormY);
  EXPECT_EQ(c.decoder.MemoryDim(), 48);
  EXPECT_FALSE(c.decoder.landscape_only);  // was landscape_only=True
  EXPECT_TRUE(c.ignored_decoder_keywords.empty());
  EXPECT_EQ(c.decoder_string_converted,
            "MUSt3R(img_size=(128,128),patch_size=16,enc_embed_dim=64,embed_"
            "dim=48,depth=3,num_heads=4,output_dim=1792,feedback_type=None,"
            "memory_mode='norm_y',landscape_only=False)");
}

TEST(ParseMust3rConfig, RealModelStringsAndDefaults) {
  // The 512 training command of upstream's README, with the default encoder.
  const ModelConfig c = ParseMust3rConfigStrings(
      "Dust3rEncoder()",
      "CausalMUSt3R(img_size=(512, 512), feedback_type='single_mlp', "
      "memory_mode=\"kv\", mem_dropout=0.1, dropout_mode='temporary', "
      "use_xformers_mask=True, use_mem_mask=True)",
      "ckpt");
  EXPECT_EQ(c.encoder.embed_dim, 1024);
  EXPECT_EQ(c.encoder.depth, 24);
  EXPECT_EQ(c.encoder.num_heads, 16);
  EXPECT_EQ(c.encoder.patch_embed, PatchEmbedKind::kDust3r);
  EXPECT_EQ(c.decoder.embed_dim, 768);
  EXPECT_EQ(c.decoder.depth, 12);
  EXPECT_EQ(c.decoder.num_heads, 12);
  EXPECT_EQ(c.decoder.enc_embed_dim, 1024);
  EXPECT_EQ(c.resolution, 512);
  // Adaptive RoPE frequencies and positional arguments.
  const ModelConfig r = ParseMust3rConfigStrings(
      "Dust3rEncoder((224, 224), 16, pos_embed='RoPE100_224:512')",
      "MUSt3R(224, pointmaps_activation=ActivationType.LINEAR, "
      "act_layer=nn.GELU, pos_embed='RoPE100_224:512', "
      "memory_mode='raw', feedback_type='single_linear')",
      "ckpt");
  EXPECT_DOUBLE_EQ(r.encoder.pos_embed.f0, 224.0 / 512.0);
  EXPECT_DOUBLE_EQ(r.decoder.pos_embed.f0, 224.0 / 512.0);
  EXPECT_EQ(r.decoder.img_size_w, 224);
  EXPECT_EQ(r.decoder.memory_mode, MemoryMode::kRaw);
  EXPECT_EQ(r.decoder.feedback_type, FeedbackType::kSingleLinear);
  EXPECT_EQ(r.decoder.pointmaps_activation, PointmapsActivation::kLinear);
  EXPECT_EQ(r.resolution, 224);
}

TEST(ParseMust3rConfig, BadStringsAreModelErrors) {
  const std::string enc = "Dust3rEncoder(embed_dim=64, num_heads=4)";
  const std::string dec = "MUSt3R(enc_embed_dim=64)";
  EXPECT_THAT(
      MessageOf([&] { ParseMust3rConfigStrings("Evil(x=1)", dec, "c"); }),
      HasSubstr("unknown encoder class 'Evil'"));
  EXPECT_THAT(
      MessageOf([&] { ParseMust3rConfigStrings(enc, "Other(a=1)", "c"); }),
      HasSubstr("unknown decoder class 'Other'"));
  EXPECT_THAT(MessageOf([&] {
                ParseMust3rConfigStrings("Dust3rEncoder(bogus=1)", dec, "c");
              }),
              HasSubstr("unknown argument 'bogus=1'"));
  EXPECT_THAT(MessageOf([&] {
                ParseMust3rConfigStrings(
                    enc, "MUSt3R(enc_embed_dim=64, memory_mode='kq')", "c");
              }),
              HasSubstr("memory_mode='kq'; must be 'norm_y', 'kv' or 'raw'"));
  EXPECT_THAT(MessageOf([&] {
                ParseMust3rConfigStrings(
                    enc, "MUSt3R(enc_embed_dim=64, feedback_type='x')", "c");
              }),
              HasSubstr("feedback_type='x'; must be None"));
  EXPECT_THAT(MessageOf([&] {
                ParseMust3rConfigStrings(
                    enc, "MUSt3R(enc_embed_dim=64, depth='3')", "c");
              }),
              HasSubstr("depth='3'; must be an int"));
  EXPECT_THAT(MessageOf([&] {
                ParseMust3rConfigStrings(enc, "MUSt3R(enc_embed_dim=32)", "c");
              }),
              HasSubstr("decoder enc_embed_dim 32 differs from the encoder "
                        "embed_dim 64"));
  EXPECT_THAT(
      MessageOf([&] {
        ParseMust3rConfigStrings(
            "Dust3rEncoder(embed_dim=64, num_heads=4, pos_embed='cosine')",
            dec,
            "c");
      }),
      HasSubstr("pos_embed='cosine'; must be 'RoPE<freq>'"));
  EXPECT_THAT(MessageOf([&] {
                ParseMust3rConfigStrings(
                    "Dust3rEncoder(embed_dim=64, num_heads=4, patch_embed='P')",
                    dec,
                    "c");
              }),
              HasSubstr("patch embed 'P'"));
  EXPECT_THAT(MessageOf([&] {
                ParseMust3rConfigStrings(
                    "Dust3rEncoder(embed_dim=60, num_heads=4)",
                    "MUSt3R(enc_embed_dim=60)",
                    "c");
              }),
              HasSubstr("divisible by 4"));
  EXPECT_THAT(MessageOf([&] {
                ParseMust3rConfigStrings(enc, "MUSt3R(enc_embed_dim=64", "c");
              }),
              HasSubstr("malformed constructor string"));
}

}  // namespace
}  // namespace vanelia
