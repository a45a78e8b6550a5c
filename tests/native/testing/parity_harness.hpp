// The data-driven parity harness shared by the MUSt3R and DUSt3R fixture
// tests (tests/native/model/*_parity_test.cpp): what a scenario folder's
// manifest.json says, read the same way for both networks.
//
// - Fixture roots: tests/data/<net> unless the environment variable
//   (VANELIA_MUST3R_FIXTURES / VANELIA_DUST3R_FIXTURES) points elsewhere.
// - `files`: a list of {file, shape, dtype, ...} (DUSt3R) or a dict
//   file -> {shape, dtype, ...} (MUSt3R); both read as FixtureFile.
// - `checkpoint`: a path relative to the manifest's folder, or an object
//   {formula: "vanelia-sin-v1", model, keys: [[key, shape]...], shared:
//   {key: key it aliases}} that the harness rebuilds (FormulaStateDict).
// - `calls`: a list of {prefix, ...}; a call's files are <prefix><name>.npy.
// - CompareProduced: every listed file must have a produced value (a file
//   the harness cannot produce is a failure, never a skip); each comparison
//   prints "PARITY <case> <file> <metric> <value>".
#pragma once

#include "vanelia/model/checkpoint/state_dict.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "testing/npy_tensor.hpp"
#include <nlohmann/json.hpp>

namespace vanelia::testing {

namespace fs = std::filesystem;

// The device the parity cases run on: CUDA (float32, TF32 off) in the GPU
// test binary, which compiles the parity tests with VANELIA_PARITY_TEST_CUDA
// (CTest label gpu), the CPU otherwise.
inline torch::Device ParityDevice() {
#ifdef VANELIA_PARITY_TEST_CUDA
  return torch::Device(torch::kCUDA, 0);
#else
  return torch::Device(torch::kCPU);
#endif
}

inline fs::path FixtureRoot(const char* env_var, const std::string& rel) {
  if (const char* env = std::getenv(env_var)) return env;
  return fs::path(VANELIA_SOURCE_DIR) / rel;
}

inline nlohmann::json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return nlohmann::json::parse(in);
}

inline torch::Tensor LoadNpy(const fs::path& path) {
  return LoadNpyTensor(path.string());
}

// Every folder under root holding a manifest.json, sorted.
inline std::vector<fs::path> ManifestDirs(const fs::path& root) {
  std::vector<fs::path> dirs;
  if (!fs::exists(root)) return dirs;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.path().filename() == "manifest.json") {
      dirs.push_back(e.path().parent_path());
    }
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

struct FixtureFile {
  std::string file;  // "fwd_head1_raw.npy"
  std::string stem;  // "fwd_head1_raw"
  std::vector<int64_t> shape;
};

inline std::vector<FixtureFile> ManifestFiles(const nlohmann::json& m) {
  std::vector<FixtureFile> files;
  const nlohmann::json& f = m.at("files");
  auto add = [&](const std::string& name, const nlohmann::json& info) {
    files.push_back({name,
                     fs::path(name).stem().string(),
                     info.at("shape").get<std::vector<int64_t>>()});
  };
  if (f.is_array()) {
    for (const auto& e : f) add(e.at("file").get<std::string>(), e);
  } else {
    for (const auto& [name, info] : f.items()) add(name, info);
  }
  return files;
}

// kScaled: |d| / (1 + |ref|) elementwise; kPerPoint: the same per 3-vector
// (last axis); kAbs: |d|; kRelToMax: max|d| / max|ref|; kExact: max|d| = 0.
enum class Gate { kScaled, kPerPoint, kAbs, kRelToMax, kExact };

inline const char* GateName(Gate gate) {
  switch (gate) {
    case Gate::kScaled:
      return "scaled";
    case Gate::kPerPoint:
      return "scaled_per_point";
    case Gate::kAbs:
      return "abs";
    case Gate::kRelToMax:
      return "max_abs_over_max_ref";
    case Gate::kExact:
      return "exact";
  }
  return "?";
}

// The worst error of got against ref under `gate` (NaN entries must agree
// and are left out).
inline double GateError(const torch::Tensor& got_in,
                        const torch::Tensor& ref_in,
                        Gate gate) {
  torch::Tensor got = got_in.to(torch::kCPU).to(torch::kFloat64);
  torch::Tensor ref = ref_in.to(torch::kCPU).to(torch::kFloat64);
  if (got.numel() == 0) return 0.0;
  got = torch::where(got.isnan(), torch::zeros_like(got), got);
  ref = torch::where(ref.isnan(), torch::zeros_like(ref), ref);
  const torch::Tensor d = got - ref;
  switch (gate) {
    case Gate::kScaled:
      return (d.abs() / (1.0 + ref.abs())).max().item<double>();
    case Gate::kPerPoint:
      return (d.norm(2, -1) / (1.0 + ref.norm(2, -1))).max().item<double>();
    case Gate::kRelToMax:
      return d.abs().max().item<double>() /
             std::max(ref.abs().max().item<double>(), 1e-30);
    case Gate::kAbs:
    case Gate::kExact:
      return d.abs().max().item<double>();
  }
  return 0.0;
}

// Compares, prints "PARITY case file metric value" and gates at `limit`
// (0 for kExact). Returns the error.
inline double ExpectNear(const std::string& case_name,
                         const std::string& file,
                         const torch::Tensor& got,
                         const torch::Tensor& ref,
                         Gate gate,
                         double limit) {
  EXPECT_EQ(got.sizes(), ref.sizes())
      << case_name << " " << file << ": shape mismatch";
  if (got.sizes() != ref.sizes()) return INFINITY;
  const torch::Tensor got_cpu = got.to(torch::kCPU);
  EXPECT_TRUE(torch::equal(got_cpu.isnan(), ref.isnan()))
      << case_name << " " << file << ": NaN entries differ";
  const double worst = GateError(got_cpu, ref, gate);
  std::cout << "PARITY " << case_name << " " << file << " " << GateName(gate)
            << " " << worst << "\n";
  EXPECT_LE(worst, gate == Gate::kExact ? 0.0 : limit)
      << case_name << " " << file << " (" << GateName(gate) << ")";
  return worst;
}

// What the harness produced for one case, keyed by file stem (prefix
// included). Every manifest file not in `inputs` must be here.
using Produced = std::map<std::string, torch::Tensor>;

template <typename GateFor>
void CompareProduced(const std::string& case_name,
                     const fs::path& dir,
                     const std::vector<FixtureFile>& files,
                     const Produced& produced,
                     const std::set<std::string>& inputs,
                     GateFor gate_for) {
  int compared = 0;
  for (const FixtureFile& f : files) {
    if (inputs.count(f.stem) != 0) continue;
    const auto it = produced.find(f.stem);
    if (it == produced.end()) {
      ADD_FAILURE() << case_name << ": manifest lists '" << f.file
                    << "', which the harness does not produce";
      continue;
    }
    const torch::Tensor ref = LoadNpy(dir / f.file);
    EXPECT_EQ(ref.sizes().vec(), f.shape) << case_name << " " << f.file;
    const auto [gate, limit] = gate_for(f.stem, ref);
    ExpectNear(case_name, f.stem, it->second, ref, gate, limit);
    ++compared;
  }
  EXPECT_GT(compared, 0) << case_name << ": nothing compared";
}

// ------------------------------------------------ formula checkpoints

// h = (h*31 + byte) mod 1000003 over the key's UTF-8 bytes.
inline int64_t FormulaKeyHash(const std::string& key) {
  int64_t h = 0;
  for (const unsigned char c : key) h = (h * 31 + c) % 1000003;
  return h;
}

// "vanelia-sin-v1" (tests/data/dust3r/generate/make_dpt_fixture.py):
// s = sin(0.37 i + 0.001 h) in float64 over the flattened tensor; 1 + 0.1 s
// for 1-D '*norm*.weight', 0.02 s for other 1-D tensors, s / sqrt(numel /
// shape[0]) otherwise; float32.
inline torch::Tensor FormulaTensor(const std::string& key,
                                   const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (const int64_t s : shape) n *= s;
  const double phase = 0.001 * static_cast<double>(FormulaKeyHash(key));
  const torch::Tensor s =
      (torch::arange(n, torch::kFloat64) * 0.37 + phase).sin();
  torch::Tensor v;
  const bool is_norm_weight = key.find("norm") != std::string::npos &&
                              key.size() >= 7 &&
                              key.compare(key.size() - 7, 7, ".weight") == 0;
  if (shape.size() == 1) {
    v = is_norm_weight ? 1.0 + 0.1 * s : 0.02 * s;
  } else {
    const double fan = static_cast<double>(n) / static_cast<double>(shape[0]);
    v = s / std::sqrt(fan);
  }
  return v.to(torch::kFloat32).reshape(shape);
}

// The state dict a formula checkpoint object describes; the manifest's
// probes ([key, index, value]) are checked bit for bit.
inline StateDict FormulaStateDict(const nlohmann::json& spec) {
  if (spec.at("formula").get<std::string>() != "vanelia-sin-v1") {
    throw std::runtime_error("unknown weight formula " +
                             spec.at("formula").dump());
  }
  StateDict sd;
  for (const auto& entry : spec.at("keys")) {
    const std::string key = entry.at(0).get<std::string>();
    const auto shape = entry.at(1).get<std::vector<int64_t>>();
    std::string source = key;
    if (spec.contains("shared") && spec.at("shared").contains(key)) {
      source = spec.at("shared").at(key).get<std::string>();
    }
    sd[key] = FormulaTensor(source, shape);
  }
  if (spec.contains("probes")) {
    for (const auto& p : spec.at("probes")) {
      const std::string key = p.at(0).get<std::string>();
      const int64_t i = p.at(1).get<int64_t>();
      EXPECT_EQ(sd.at(key).reshape({-1})[i].item<float>(), p.at(2).get<float>())
          << "formula probe " << key << "[" << i << "]";
    }
  }
  return sd;
}

}  // namespace vanelia::testing
