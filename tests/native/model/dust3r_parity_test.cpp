// Data-driven parity of the DUSt3R port against upstream's golden fixtures
// (tests/data/dust3r/README.md; the root is overridable with
// VANELIA_DUST3R_FIXTURES, e.g. ../shared/fixtures/dust3r), through the
// shared harness (testing/parity_harness.hpp).
//
// A pair case is a folder whose manifest has a `checkpoint` (a file, or a
// weight formula the harness rebuilds) and either `calls` (each {prefix,
// call: "pair", views: [a, b]}: the pair (a, b), files <prefix><name>.npy)
// or, as tiny_linear/p1, `fwd_*`/`rev_*` files ((img1, img2) and (img2,
// img1), make_pairs' symmetrisation). Every listed file must be produced.
// The alignment (g1) and preprocessing folders are run by
// dust3r_align_test.cpp and dust3r_preprocess_test.cpp; a manifest of any
// other kind fails here.
// Gate (README "Tolerances measured here"): max|d| <= 1e-4 * max|ref| per
// tensor; positions and true shapes exact. The DPT's raw output is also
// gated on its structure: max|d| <= 1e-2 * max|ref - per-channel mean|.
#include "vanelia/model/blocks/preprocess.hpp"
#include "vanelia/model/checkpoint/model_config.hpp"
#include "vanelia/model/dust3r/dust3r.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "testing/parity_harness.hpp"

namespace vanelia::model {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::Gate;

constexpr double kRelToMaxGate = 1e-4;
constexpr double kStructureGate = 1e-2;

fs::path FixtureRoot() {
  return testing::FixtureRoot("VANELIA_DUST3R_FIXTURES", "tests/data/dust3r");
}

std::string CaseName(const fs::path& dir) {
  return fs::relative(dir, FixtureRoot()).generic_string();
}

torch::Device Device() {
  return testing::ParityDevice();
}

// The model of a manifest's `checkpoint`: a file (relative to the folder,
// or beside the root as the shared fixtures keep it) or a weight formula.
Dust3rModel LoadCaseModel(const fs::path& dir, const json& manifest) {
  const json& spec = manifest.at("checkpoint");
  Dust3rModel model;
  if (spec.is_string()) {
    fs::path ckpt = dir / spec.get<std::string>();
    if (!fs::exists(ckpt)) ckpt = FixtureRoot() / ckpt.filename();
    model = LoadDust3rModel(ckpt.string());
  } else {
    const std::string what = CaseName(dir) + " formula checkpoint";
    model = MakeDust3rModel(ParseDust3rConfigString(
        spec.at("model").get<std::string>(), what + ": model"));
    const auto [encoder_sd, decoder_sd] =
        SplitDust3rStateDict(testing::FormulaStateDict(spec));
    LoadStateDictStrict(*model.encoder, encoder_sd, what + " encoder");
    LoadStateDictStrict(*model.decoder, decoder_sd, what + " decoder");
  }
  model.To(Device());
#ifdef VANELIA_PARITY_TEST_CUDA
  model.SetAttentionBackend(DefaultAttentionBackend());
#else
  model.SetAttentionBackend(AttentionBackend::kReference);
#endif
  return model;
}

// The tensors of one pair (view a, view b), keyed by file stem without the
// call's prefix ("img1_pos", "dec1_layer2", ...).
testing::Produced RunPair(Dust3rModel& model,
                          const torch::Tensor& img1,
                          const torch::Tensor& img2) {
  testing::Produced out;
  // The encoder as upstream's _encode_image_pairs calls it: one batch of 2.
  const int64_t h = img1.size(2);
  const int64_t w = img1.size(3);
  const torch::Tensor shape =
      torch::tensor({h, w}, torch::kInt64).view({1, 2}).repeat({2, 1});
  EncoderTrace etrace;
  const EncoderOutput enc =
      model.encoder->forward(torch::cat({img1, img2}, 0), shape, &etrace);
  for (int k = 0; k < 2; ++k) {
    const std::string p = "img" + std::to_string(k + 1) + "_";
    out[p + "pos"] = enc.positions.narrow(0, k, 1);
    out[p + "patch_embed"] = etrace.patch_embed.narrow(0, k, 1);
    for (size_t b = 0; b < etrace.blocks.size(); ++b) {
      out[p + "enc_block" + std::to_string(b)] =
          etrace.blocks[b].narrow(0, k, 1);
    }
    out[p + "enc_out"] = enc.tokens.narrow(0, k, 1);
  }
  Dust3rTrace trace;
  const Dust3rPairOutput pred = model.Pair(img1, img2, &trace);
  out["dec_embed1"] = trace.embed1;
  out["dec_embed2"] = trace.embed2;
  for (size_t l = 0; l < trace.dec1.size(); ++l) {
    const std::string s = "_layer" + std::to_string(l + 1);
    out["dec1" + s] = trace.dec1[l];
    out["dec2" + s] = trace.dec2[l];
  }
  if (trace.head1_tokens.defined()) {
    out["head1_proj_tokens"] = trace.head1_tokens;
    out["head2_proj_tokens"] = trace.head2_tokens;
  }
  out["head1_raw"] = trace.head1_raw.permute({0, 3, 1, 2});
  out["head2_raw"] = trace.head2_raw.permute({0, 3, 1, 2});
  out["pred1_pts3d"] = pred.view1.pts3d;
  out["pred1_conf"] = pred.view1.conf;
  out["pred2_pts3d_in_other_view"] = pred.view2.pts3d;
  out["pred2_conf"] = pred.view2.conf;
  for (auto& [name, t] : out) t = t.to(torch::kCPU);
  return out;
}

// The calls of a pair case: the manifest's, or p1's implicit fwd/rev.
json PairCalls(const json& manifest) {
  if (manifest.contains("calls")) return manifest.at("calls");
  return json::array(
      {{{"prefix", "fwd_"}, {"call", "pair"}, {"views", {"img1", "img2"}}},
       {{"prefix", "rev_"}, {"call", "pair"}, {"views", {"img2", "img1"}}}});
}

// max|got - ref| / max|ref - mean over H, W| of a [B, C, H, W] map: the
// error against the map's spatial structure rather than its offset.
double StructureError(const torch::Tensor& got, const torch::Tensor& ref) {
  const torch::Tensor r = ref.to(torch::kFloat64);
  const torch::Tensor centred = r - r.mean({2, 3}, true);
  return (got.to(torch::kCPU).to(torch::kFloat64) - r)
             .abs()
             .max()
             .item<double>() /
         std::max(centred.abs().max().item<double>(), 1e-30);
}

void RunPairCase(const fs::path& dir) {
  const json manifest = testing::ReadJson(dir / "manifest.json");
  const std::string name = CaseName(dir);
  Dust3rModel model = LoadCaseModel(dir, manifest);
  torch::NoGradGuard no_grad;
  testing::Produced produced;
  std::set<std::string> inputs;
  std::map<std::string, torch::Tensor> images;
  for (const std::string view : {"img1", "img2"}) {
    const torch::Tensor u8 = testing::LoadNpy(dir / (view + "_uint8.npy"));
    inputs.insert(view + "_uint8");
    images[view] = NormalizeImage(u8).unsqueeze(0);
    produced[view] = images[view];
    produced["true_shape" + view.substr(3)] =
        torch::tensor({u8.size(0), u8.size(1)}, torch::kInt32).view({1, 2});
  }
  int calls = 0;
  for (const json& call : PairCalls(manifest)) {
    ASSERT_EQ(call.at("call").get<std::string>(), "pair")
        << name << ": unknown call " << call.dump();
    const std::string prefix = call.at("prefix").get<std::string>();
    const auto views = call.at("views").get<std::vector<std::string>>();
    ASSERT_EQ(views.size(), 2u) << name;
    const testing::Produced out = RunPair(model,
                                          images.at(views[0]).to(Device()),
                                          images.at(views[1]).to(Device()));
    for (const auto& [stem, t] : out) produced[prefix + stem] = t;
    if (model.config.head_type == "dpt") {
      for (const std::string head : {"head1_raw", "head2_raw"}) {
        const torch::Tensor ref =
            testing::LoadNpy(dir / (prefix + head + ".npy"));
        const double e = StructureError(out.at(head), ref);
        std::cout << "PARITY " << name << " " << prefix << head
                  << " max_abs_over_max_centred_ref " << e << "\n";
        EXPECT_LE(e, kStructureGate) << name << " " << prefix << head;
      }
    }
    ++calls;
  }
  EXPECT_GT(calls, 0) << name;
  testing::CompareProduced(
      name,
      dir,
      testing::ManifestFiles(manifest),
      produced,
      inputs,
      [](const std::string&, const torch::Tensor& ref) {
        const bool exact = ref.scalar_type() != torch::kFloat32;
        return std::make_pair(exact ? Gate::kExact : Gate::kRelToMax,
                              kRelToMaxGate);
      });
}

bool IsPairCase(const json& m) {
  if (!m.contains("checkpoint") || !m.contains("files")) return false;
  if (m.contains("calls")) return true;
  for (const auto& f : testing::ManifestFiles(m)) {
    if (f.stem.find("_pred1_pts3d") != std::string::npos) return true;
  }
  return false;
}

// Folders run by the other DUSt3R tests (named, so that a new kind of
// manifest is not silently ignored).
bool IsCoveredElsewhere(const json& m) {
  const std::string s = m.value("scenario", "");
  return s.rfind("g1: global alignment", 0) == 0 ||
         s.find("preprocessing") != std::string::npos;
}

TEST(Dust3rParity, PairCasesMatchUpstream) {
  int pair_cases = 0;
  for (const fs::path& dir : testing::ManifestDirs(FixtureRoot())) {
    SCOPED_TRACE(dir.string());
    const json m = testing::ReadJson(dir / "manifest.json");
    if (IsPairCase(m)) {
      RunPairCase(dir);
      ++pair_cases;
    } else {
      EXPECT_TRUE(IsCoveredElsewhere(m))
          << CaseName(dir) << ": manifest describes no known DUSt3R scenario";
    }
  }
  // The shipped copy holds tiny_linear/p1 and tiny_dpt; a root pointed
  // elsewhere must hold at least one pair case.
  if (std::getenv("VANELIA_DUST3R_FIXTURES") == nullptr) {
    EXPECT_EQ(pair_cases, 2);
  } else {
    EXPECT_GE(pair_cases, 1);
  }
}

}  // namespace
}  // namespace vanelia::model
