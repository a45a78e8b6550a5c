// Data-driven parity of the DUSt3R port against upstream's golden fixtures
// (tests/data/dust3r/README.md; override the root with
// VANELIA_DUST3R_FIXTURES, e.g. ../shared/fixtures/dust3r).
//
// Every folder under the root whose manifest.json names a `checkpoint` and
// lists `<tag>_pred1_pts3d.npy` files is a pair case: tag `fwd` runs
// (img1, img2), tag `rev` runs (img2, img1), as make_pairs' symmetrisation
// does. Every file the manifest lists must be produced and compared; one
// the harness does not know is a failure, never a skip.
// Gate (README, "Tolerances measured here"): max|d| <= 1e-4 * max|ref| per
// tensor; positions and true shapes exact. Each file prints its error as
// "PARITY <case> <file> <metric> <value>".
#include "vanelia/core/error.hpp"
#include "vanelia/model/blocks/preprocess.hpp"
#include "vanelia/model/checkpoint/checkpoint.hpp"
#include "vanelia/model/dust3r/dust3r.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "testing/npy_tensor.hpp"
#include <nlohmann/json.hpp>

namespace vanelia::model {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kRelToMaxGate = 1e-4;

fs::path FixtureRoot() {
  if (const char* env = std::getenv("VANELIA_DUST3R_FIXTURES")) return env;
  return fs::path(VANELIA_SOURCE_DIR) / "tests/data/dust3r";
}

json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

torch::Tensor LoadNpy(const fs::path& path) {
  return testing::LoadNpyTensor(path.string());
}

// max|got - ref| / max|ref| (or exact equality), printed and gated.
void ExpectClose(const std::string& case_name,
                 const std::string& file,
                 const torch::Tensor& got_in,
                 const torch::Tensor& ref_in,
                 bool exact) {
  ASSERT_EQ(got_in.sizes(), ref_in.sizes())
      << case_name << " " << file << ": shape mismatch";
  const torch::Tensor got = got_in.to(torch::kCPU).to(torch::kFloat64);
  const torch::Tensor ref = ref_in.to(torch::kCPU).to(torch::kFloat64);
  const double diff = (got - ref).abs().max().item<double>();
  const double scale = ref.abs().max().item<double>();
  const double value = exact ? diff : diff / std::max(scale, 1e-30);
  std::cout << "PARITY " << case_name << " " << file << " "
            << (exact ? "exact " : "max_abs_over_max_ref ") << value << "\n";
  EXPECT_LE(value, exact ? 0.0 : kRelToMaxGate) << case_name << " " << file;
}

// The tensors one tag of a pair case produces, keyed by file stem without
// the tag ("img1_pos", "dec1_layer2", ...).
std::map<std::string, torch::Tensor> RunPair(Dust3rModel& model,
                                             const torch::Tensor& img1,
                                             const torch::Tensor& img2,
                                             int64_t depth) {
  std::map<std::string, torch::Tensor> out;
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
  for (int64_t l = 0; l < depth; ++l) {
    const std::string s = "_layer" + std::to_string(l + 1);
    out["dec1" + s] = trace.dec1[l];
    out["dec2" + s] = trace.dec2[l];
  }
  out["head1_proj_tokens"] = trace.head1_tokens;
  out["head2_proj_tokens"] = trace.head2_tokens;
  out["head1_raw"] = trace.head1_raw.permute({0, 3, 1, 2});
  out["head2_raw"] = trace.head2_raw.permute({0, 3, 1, 2});
  out["pred1_pts3d"] = pred.view1.pts3d;
  out["pred1_conf"] = pred.view1.conf;
  out["pred2_pts3d_in_other_view"] = pred.view2.pts3d;
  out["pred2_conf"] = pred.view2.conf;
  return out;
}

torch::Tensor ToNetworkInput(const torch::Tensor& u8) {
  return NormalizeImage(u8).unsqueeze(0);
}

void RunPairCase(const fs::path& dir, const json& manifest) {
  const std::string case_name =
      fs::relative(dir, FixtureRoot()).generic_string();
  const fs::path ckpt = dir / manifest.at("checkpoint").get<std::string>();
  Dust3rModel model = LoadDust3rModel(
      fs::exists(ckpt) ? ckpt.string()
                       : (FixtureRoot() / ckpt.filename()).string());
  model.SetAttentionBackend(AttentionBackend::kReference);
  torch::NoGradGuard no_grad;
  const torch::Tensor u8_1 = LoadNpy(dir / "img1_uint8.npy");
  const torch::Tensor u8_2 = LoadNpy(dir / "img2_uint8.npy");
  const torch::Tensor img1 = ToNetworkInput(u8_1);
  const torch::Tensor img2 = ToNetworkInput(u8_2);
  std::map<std::string, std::map<std::string, torch::Tensor>> by_tag;
  by_tag["fwd"] = RunPair(model, img1, img2, model.config.dec_depth);
  by_tag["rev"] = RunPair(model, img2, img1, model.config.dec_depth);
  const std::map<std::string, torch::Tensor> inputs = {
      {"img1", img1},
      {"img2", img2},
      {"img1_uint8", u8_1},
      {"img2_uint8", u8_2},
      {"true_shape1",
       torch::tensor({u8_1.size(0), u8_1.size(1)}, torch::kInt32).view({1, 2})},
      {"true_shape2",
       torch::tensor({u8_2.size(0), u8_2.size(1)}, torch::kInt32)
           .view({1, 2})}};
  const std::regex tagged("^(fwd|rev)_(.+)$");
  int compared = 0;
  for (const auto& entry : manifest.at("files")) {
    const std::string file = entry.at("file").get<std::string>();
    const std::string stem = fs::path(file).stem().string();
    const torch::Tensor ref = LoadNpy(dir / file);
    std::smatch m;
    torch::Tensor got;
    if (std::regex_match(stem, m, tagged)) {
      const auto& produced = by_tag[m[1].str()];
      const auto it = produced.find(m[2].str());
      if (it != produced.end()) got = it->second;
    } else if (inputs.count(stem) != 0) {
      got = inputs.at(stem);
    }
    if (!got.defined()) {
      ADD_FAILURE() << case_name << ": manifest lists '" << file
                    << "', which the harness does not produce";
      continue;
    }
    const bool exact = ref.scalar_type() != torch::kFloat32;
    ExpectClose(case_name, file, got, ref, exact);
    ++compared;
  }
  EXPECT_GT(compared, 0) << case_name;
}

std::vector<fs::path> PairCaseDirs() {
  std::vector<fs::path> dirs;
  if (!fs::exists(FixtureRoot())) return dirs;
  for (const auto& e : fs::recursive_directory_iterator(FixtureRoot())) {
    if (e.path().filename() != "manifest.json") continue;
    const json m = ReadJson(e.path());
    if (!m.contains("checkpoint") || !m.contains("files")) continue;
    bool has_pred = false;
    for (const auto& f : m.at("files")) {
      has_pred = has_pred || f.at("file").get<std::string>().find(
                                 "_pred1_pts3d.npy") != std::string::npos;
    }
    if (has_pred) dirs.push_back(e.path().parent_path());
  }
  return dirs;
}

TEST(Dust3rParity, PairCasesMatchUpstream) {
  const std::vector<fs::path> dirs = PairCaseDirs();
  ASSERT_FALSE(dirs.empty()) << "no DUSt3R pair case under " << FixtureRoot();
  for (const fs::path& dir : dirs) {
    SCOPED_TRACE(dir.string());
    RunPairCase(dir, ReadJson(dir / "manifest.json"));
  }
}

}  // namespace
}  // namespace vanelia::model
