// Global alignment against upstream's fixtures: every folder under the
// DUSt3R root whose manifest runs a PointCloudOptimizer (today
// tiny_linear/g1, README "tiny_linear/g1"): the spanning-tree init and the
// Adam steps, every recorded state compared under the README's gates, and
// the recovery of the synthetic ground truth compared with upstream's.
//
// Gates (README "Tolerances measured here"): init 1e-4 (poses absolute,
// depths and points relative to their max, focals absolute px); final c2w
// and pairwise poses 1e-4, focal 1e-2 px, depth and points 5e-3 of max,
// loss history 1e-3 relative. Raw parameters follow their getter's gate.
// Compiled into the GPU binary too (VANELIA_PARITY_TEST_CUDA): the pairs
// then live on CUDA, so the optimiser runs there, under the same gates.
#include "vanelia/core/error.hpp"
#include "vanelia/model/dust3r/global_alignment.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "testing/npy_tensor.hpp"
#include <nlohmann/json.hpp>

namespace vanelia::model {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

#ifdef VANELIA_PARITY_TEST_CUDA
const torch::Device kDevice(torch::kCUDA, 0);
#else
const torch::Device kDevice(torch::kCPU);
#endif

fs::path Root() {
  const char* env = std::getenv("VANELIA_DUST3R_FIXTURES");
  return env ? fs::path(env)
             : fs::path(VANELIA_SOURCE_DIR) / "tests/data/dust3r";
}

// The alignment case the helpers read (g1 unless a loop over the cases set
// another one).
fs::path& CurrentCase() {
  static fs::path dir = Root() / "tiny_linear/g1";
  return dir;
}

fs::path G1() {
  return CurrentCase();
}

// Every folder under the root whose manifest runs a PointCloudOptimizer.
std::vector<fs::path> AlignmentCases() {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::recursive_directory_iterator(Root())) {
    if (e.path().filename() != "manifest.json") continue;
    std::ifstream in(e.path());
    const json m = json::parse(in);
    if (m.contains("settings") &&
        m["settings"].value("mode", "") == "PointCloudOptimizer") {
      dirs.push_back(e.path().parent_path());
    }
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

torch::Tensor Npy(const std::string& name) {
  return testing::LoadNpyTensor((G1() / name).string()).to(torch::kFloat32);
}

json Manifest() {
  std::ifstream in(G1() / "manifest.json");
  return json::parse(in);
}

PairwisePointmaps G1Pairs() {
  PairwisePointmaps p;
  const torch::Tensor edges = Npy("edges.npy").to(torch::kInt64);
  for (int64_t e = 0; e < edges.size(0); ++e) {
    p.edges.emplace_back(edges[e][0].item<int64_t>(),
                         edges[e][1].item<int64_t>());
  }
  p.pts_i = Npy("pred1_pts3d.npy").to(kDevice);
  p.pts_j = Npy("pred2_pts3d_in_other_view.npy").to(kDevice);
  p.conf_i = Npy("pred1_conf.npy").to(kDevice);
  p.conf_j = Npy("pred2_conf.npy").to(kDevice);
  return p;
}

GlobalAlignmentOptions G1Options(const json& m) {
  const json& s = m.at("settings");
  GlobalAlignmentOptions o;
  o.iterations = s.at("niter").get<int>();
  o.lr = s.at("lr").get<double>();
  o.lr_min = s.at("lr_min").get<double>();
  o.schedule = s.at("schedule").get<std::string>() == "linear"
                   ? LrSchedule::kLinear
                   : LrSchedule::kCosine;
  o.min_conf_thr = s.at("min_conf_thr").get<double>();
  o.base_scale = s.at("base_scale").get<double>();
  o.focal_break = s.at("focal_break").get<double>();
  o.pnp_iterations = s.at("niter_PnP").get<int>();
  return o;
}

enum class Metric { kAbs, kRelToMax, kRelElementwise };

double Compare(const std::string& name,
               const torch::Tensor& got_in,
               const torch::Tensor& ref_in,
               Metric metric,
               double gate) {
  EXPECT_EQ(got_in.sizes(), ref_in.sizes()) << name;
  if (got_in.sizes() != ref_in.sizes()) return INFINITY;
  const torch::Tensor got = got_in.to(torch::kCPU, torch::kFloat64);
  const torch::Tensor ref = ref_in.to(torch::kCPU, torch::kFloat64);
  double v = 0.0;
  const char* label = "abs";
  if (metric == Metric::kAbs) {
    v = (got - ref).abs().max().item<double>();
  } else if (metric == Metric::kRelToMax) {
    label = "max_abs_over_max_ref";
    v = (got - ref).abs().max().item<double>() / ref.abs().max().item<double>();
  } else {
    label = "max_rel";
    v = ((got - ref).abs() / ref.abs()).max().item<double>();
  }
  std::cout << "PARITY g1 " << name << " " << label << " " << v << " (gate "
            << gate << ")\n";
  EXPECT_LE(v, gate) << name;
  return v;
}

// The recorded state `prefix` (init_ or final_) against ours.
void CompareState(const std::string& prefix,
                  const AlignmentState& s,
                  bool final_state,
                  std::map<std::string, bool>* covered) {
  const double pose = 1e-4;
  const double depth = final_state ? 5e-3 : 1e-4;
  const double focal = final_state ? 1e-2 : 1e-4;
  const double focal_param = focal * 20.0 / 75.0;  // 20 log f near f = 80
  auto cmp = [&](const std::string& stem,
                 const torch::Tensor& got,
                 Metric m,
                 double gate) {
    const std::string file = prefix + stem + ".npy";
    (*covered)[file] = true;
    Compare(file, got, Npy(file), m, gate);
  };
  cmp("c2w", s.c2w, Metric::kAbs, pose);
  cmp("focals", s.focals, Metric::kAbs, focal);
  cmp("pp", s.pp, Metric::kAbs, 0.0);
  cmp("depthmaps", s.depthmaps, Metric::kRelToMax, depth);
  cmp("pts3d", s.pts3d, Metric::kRelToMax, depth);
  cmp("pw_poses", s.pw_poses, Metric::kAbs, pose);
  cmp("pw_scale", s.pw_scale, Metric::kAbs, pose);
  cmp("param_pw_poses", s.param_pw_poses, Metric::kAbs, pose);
  cmp("param_im_poses", s.param_im_poses, Metric::kAbs, pose);
  cmp("param_im_focals", s.param_im_focals, Metric::kAbs, focal_param);
  // log depth: compared as depth (the getter's gate).
  const std::string file = prefix + "param_im_depthmaps.npy";
  (*covered)[file] = true;
  Compare(file,
          s.param_im_depthmaps.exp(),
          Npy(file).exp(),
          Metric::kRelToMax,
          depth);
}

struct Recovery {
  double focal_px = 0;   // mean |f - f_gt|
  double depth_rel = 0;  // mean |s d - d_gt| / d_gt, one global s
  double rot_deg = 0;    // mean relative-rotation error over pairs
  double trans_rel = 0;  // mean |s t_ij - t_ij_gt| / |t_ij_gt|
};

Recovery Recover(const torch::Tensor& c2w_in,
                 const torch::Tensor& focals_in,
                 const torch::Tensor& depth_in) {
  const torch::Tensor gt_c2w = Npy("gt_c2w.npy").to(torch::kFloat64);
  const torch::Tensor gt_depth = Npy("gt_depth.npy").to(torch::kFloat64);
  const torch::Tensor gt_focal = Npy("gt_focal.npy").to(torch::kFloat64);
  const torch::Tensor c2w = c2w_in.to(torch::kCPU, torch::kFloat64);
  const torch::Tensor focals = focals_in.to(torch::kCPU, torch::kFloat64);
  const torch::Tensor depth = depth_in.to(torch::kCPU, torch::kFloat64);
  Recovery r;
  r.focal_px = (focals - gt_focal).abs().mean().item<double>();
  const double s = (gt_depth / depth).median().item<double>();
  r.depth_rel = ((depth * s - gt_depth).abs() / gt_depth).mean().item<double>();
  const int64_t n = c2w.size(0);
  int pairs = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i + 1; j < n; ++j) {
      const torch::Tensor rel = torch::linalg_inv(c2w[i]).matmul(c2w[j]);
      const torch::Tensor gt = torch::linalg_inv(gt_c2w[i]).matmul(gt_c2w[j]);
      const torch::Tensor dr = rel.narrow(0, 0, 3).narrow(1, 0, 3).t().matmul(
          gt.narrow(0, 0, 3).narrow(1, 0, 3));
      const double c =
          std::clamp((dr.trace().item<double>() - 1.0) / 2.0, -1.0, 1.0);
      r.rot_deg += std::acos(c) * 180.0 / M_PI;
      const torch::Tensor t = rel.narrow(0, 0, 3).select(1, 3) * s;
      const torch::Tensor tg = gt.narrow(0, 0, 3).select(1, 3);
      r.trans_rel += ((t - tg).norm() / tg.norm()).item<double>();
      ++pairs;
    }
  }
  r.rot_deg /= pairs;
  r.trans_rel /= pairs;
  return r;
}

// Upstream's PnP results as recorded in the manifest (OpenCV's RANSAC picks
// its inliers from seeded EPnP samples; see ../pnp.hpp).
PnpFunction RecordedPnp(const json& m) {
  return [m](int64_t image, const torch::Tensor&, double, const torch::Tensor&)
             -> std::optional<std::pair<double, torch::Tensor>> {
    for (const auto& call : m.at("pnp_calls")) {
      if (call.at("image").get<int64_t>() != image) continue;
      std::vector<float> c2w;
      for (const auto& row : call.at("result_c2w")) {
        for (const auto& v : row) c2w.push_back(v.get<float>());
      }
      return std::make_pair(call.at("result_focal").get<double>(),
                            torch::tensor(c2w).view({4, 4}).to(kDevice));
    }
    ADD_FAILURE() << "PnP asked for image " << image
                  << ", which upstream did not run";
    return std::nullopt;
  };
}

// The init report against the manifest: tree, scores, PnP inputs, poses.
void CheckInitReport(const MstInitReport& init,
                     const json& m,
                     double pnp_gate) {
  // init_log: " init edge (2*,1*) score=17.64..." per tree edge, in order.
  const std::regex edge_re(
      R"(init edge \((\d+)\*?,(\d+)\*?\) score=([-+0-9.eE]+))");
  size_t k = 0;
  for (const auto& line : m.at("init_log")) {
    const std::string text = line.get<std::string>();
    std::smatch match;
    if (!std::regex_search(text, match, edge_re)) continue;
    ASSERT_LT(k, init.tree_edges.size()) << text;
    EXPECT_EQ(std::get<0>(init.tree_edges[k]), std::stoll(match[1].str()));
    EXPECT_EQ(std::get<1>(init.tree_edges[k]), std::stoll(match[2].str()));
    EXPECT_NEAR(std::get<2>(init.tree_edges[k]),
                std::stod(match[3].str()),
                1e-5 * std::stod(match[3].str()));
    ++k;
  }
  EXPECT_EQ(k, init.tree_edges.size());
  EXPECT_EQ(k + 1, static_cast<size_t>(m.at("n_images").get<int>()));
  const json& pnp = m.at("pnp_calls");
  ASSERT_EQ(init.pnp_calls.size(), pnp.size());
  for (size_t k = 0; k < pnp.size(); ++k) {
    const PnpCall& c = init.pnp_calls[k];
    EXPECT_EQ(c.image, pnp[k].at("image").get<int64_t>());
    EXPECT_EQ(c.num_masked, pnp[k].at("n_mask").get<int64_t>());
    EXPECT_NEAR(c.focal_px, pnp[k].at("focal_in").get<double>(), 1e-3);
    ASSERT_TRUE(c.success);
    std::vector<float> ref;
    for (const auto& row : pnp[k].at("result_c2w")) {
      for (const auto& v : row) ref.push_back(v.get<float>());
    }
    Compare("pnp_calls[" + std::to_string(k) + "].result_c2w",
            c.c2w,
            torch::tensor(ref).view({4, 4}),
            Metric::kAbs,
            pnp_gate);
  }
}

Recovery UpstreamRecovery() {
  return Recover(Npy("final_c2w.npy"),
                 Npy("final_focals.npy"),
                 Npy("final_depthmaps.npy"));
}

void PrintRecovery(const std::string& who, const Recovery& r) {
  std::cout << "RECOVERY g1 " << who << ": focal " << r.focal_px
            << " px, depth " << r.depth_rel << " (mean rel), rot " << r.rot_deg
            << " deg, trans " << r.trans_rel << " (mean rel)\n";
}

void RunParityCase() {
  const json m = Manifest();
  PointCloudOptimizer opt(G1Pairs(), G1Options(m));
  std::map<std::string, bool> covered;
  for (const char* input : {"edges.npy",
                            "pred1_pts3d.npy",
                            "pred1_conf.npy",
                            "pred2_pts3d_in_other_view.npy",
                            "pred2_conf.npy",
                            "gt_c2w.npy",
                            "gt_depth.npy",
                            "gt_focal.npy"}) {
    covered[input] = true;  // inputs and the recovery tests' ground truth
  }
  covered["im_conf.npy"] = true;
  Compare("im_conf.npy",
          opt.image_confidence(),
          Npy("im_conf.npy"),
          Metric::kAbs,
          0.0);
  const MstInitReport init = opt.InitMst(RecordedPnp(m));
  CheckInitReport(init, m, 0.0);
  EXPECT_NEAR(init.init_loss,
              m.at("init_loss").get<double>(),
              1e-4 * m.at("init_loss").get<double>());
  CompareState("init_", opt.State(), false, &covered);
  const std::vector<double> history = opt.Optimize();
  covered["loss_history.npy"] = true;
  Compare("loss_history.npy",
          torch::tensor(history),
          Npy("loss_history.npy"),
          Metric::kRelElementwise,
          1e-3);
  std::vector<double> lrs;
  const GlobalAlignmentOptions o = G1Options(m);
  for (int k = 0; k < o.iterations; ++k) {
    lrs.push_back(
        ScheduledLr(o.schedule, double(k) / o.iterations, o.lr, o.lr_min));
  }
  covered["lr_history.npy"] = true;
  Compare("lr_history.npy",
          torch::tensor(lrs),
          Npy("lr_history.npy"),
          Metric::kRelElementwise,
          1e-6);
  const AlignmentState final_state = opt.State();
  CompareState("final_", final_state, true, &covered);
  for (const auto& f : m.at("files")) {
    const std::string file = f.at("file").get<std::string>();
    if (file.rfind("img", 0) == 0 && file.find("_uint8") != std::string::npos) {
      // The rendered images: no effect on the alignment (manifest).
      EXPECT_EQ(Npy(file).size(0), final_state.depthmaps.size(1)) << file;
      continue;
    }
    EXPECT_TRUE(covered.count(file))
        << "manifest lists '" << file << "', which the test does not check";
  }
  const Recovery ours =
      Recover(final_state.c2w, final_state.focals, final_state.depthmaps);
  const Recovery up = UpstreamRecovery();
  PrintRecovery("ours (recorded PnP, 50 steps)", ours);
  PrintRecovery("upstream (50 steps)", up);
  EXPECT_LE(ours.focal_px, up.focal_px * 1.01 + 1e-3);
  EXPECT_LE(ours.depth_rel, up.depth_rel * 1.01 + 1e-5);
  EXPECT_LE(ours.rot_deg, up.rot_deg * 1.01 + 1e-3);
  EXPECT_LE(ours.trans_rel, up.trans_rel * 1.01 + 1e-5);
}

// Our own PnP: image 0 agrees with OpenCV to 1e-4; image 1 differs by
// ~3e-3 because OpenCV solved on its RANSAC inliers (all 6115 points lie
// within 1.5 px of either pose; ours has the lower SQPnP cost over all of
// them, 4.9585 vs 4.9604, measured with numpy). With the default 300
// steps, the ground truth is recovered at least as well as upstream's
// recorded 50-step result.
void RunRecoveryCase() {
  const json m = Manifest();
  GlobalAlignmentOptions o = G1Options(m);
  o.iterations = GlobalAlignmentOptions().iterations;
  PointCloudOptimizer opt(G1Pairs(), o);
  const MstInitReport init = opt.InitMst();
  CheckInitReport(init, m, 5e-3);
  Compare("init_c2w.npy (own PnP)",
          opt.State().c2w,
          Npy("init_c2w.npy"),
          Metric::kAbs,
          5e-3);
  opt.Optimize();
  const AlignmentState s = opt.State();
  const Recovery ours = Recover(s.c2w, s.focals, s.depthmaps);
  const Recovery up = UpstreamRecovery();
  PrintRecovery("ours (own PnP, 300 steps)", ours);
  PrintRecovery("upstream (50 steps)", up);
  EXPECT_LE(ours.focal_px, up.focal_px);
  EXPECT_LE(ours.depth_rel, up.depth_rel);
  EXPECT_LE(ours.rot_deg, up.rot_deg);
  EXPECT_LE(ours.trans_rel, up.trans_rel);
  // A real recovery, not two equal failures.
  EXPECT_LT(ours.focal_px, 0.01 * Npy("gt_focal.npy").mean().item<double>());
  EXPECT_LT(ours.depth_rel, 0.01);
  EXPECT_LT(ours.rot_deg, 1.0);
}

TEST(Dust3rGlobalAlignment, G1MatchesUpstream) {
  const std::vector<fs::path> cases = AlignmentCases();
  ASSERT_FALSE(cases.empty()) << "no alignment case under " << Root();
  for (const fs::path& dir : cases) {
    SCOPED_TRACE(dir.string());
    CurrentCase() = dir;
    RunParityCase();
  }
  CurrentCase() = Root() / "tiny_linear/g1";
}

TEST(Dust3rGlobalAlignment, G1OwnPnpRecoversGroundTruth) {
  for (const fs::path& dir : AlignmentCases()) {
    SCOPED_TRACE(dir.string());
    CurrentCase() = dir;
    RunRecoveryCase();
  }
  CurrentCase() = Root() / "tiny_linear/g1";
}

TEST(Dust3rGlobalAlignment, FixedFocalStaysFixedAndLinearScheduleRuns) {
  GlobalAlignmentOptions o = G1Options(Manifest());
  o.fixed_focal_px = 80.0;
  o.schedule = LrSchedule::kLinear;
  o.iterations = 10;
  PointCloudOptimizer opt(G1Pairs(), o);
  opt.InitMst();
  // The tracker runs everything under NoGradGuard: Optimize turns it on.
  torch::NoGradGuard no_grad;
  const std::vector<double> h = opt.Optimize();
  ASSERT_EQ(h.size(), 10u);
  for (double v : h) EXPECT_TRUE(std::isfinite(v));
  const AlignmentState s = opt.State();
  EXPECT_TRUE(
      torch::allclose(s.focals.cpu(), torch::full({4}, 80.0f), 0, 1e-3));
  EXPECT_NEAR(ScheduledLr(LrSchedule::kLinear, 0.5, 0.01, 0.0), 0.005, 1e-12);
  // One shared focal: every image reports the same value, optimised.
  GlobalAlignmentOptions shared = G1Options(Manifest());
  shared.shared_focal = true;
  shared.iterations = 20;
  PointCloudOptimizer opt_shared(G1Pairs(), shared);
  opt_shared.InitMst();
  const float f0 = opt_shared.State().focals[0].item<float>();
  opt_shared.Optimize();
  const AlignmentState ss = opt_shared.State();
  EXPECT_EQ(ss.param_im_focals.sizes(), (std::vector<int64_t>{1, 1}));
  EXPECT_TRUE(torch::all(ss.focals == ss.focals[0]).item<bool>());
  EXPECT_NE(ss.focals[0].item<float>(), f0);
  EXPECT_NEAR(ss.focals[0].item<float>(), 80.0, 2.0);
  // Cancel: the callback's false stops after that step.
  PointCloudOptimizer opt2(G1Pairs(), o);
  opt2.InitMst();
  int calls = 0;
  const auto h2 = opt2.Optimize([&](int) { return ++calls < 3; });
  EXPECT_EQ(h2.size(), 3u);
}

TEST(Dust3rGlobalAlignment, Badarg) {
  GlobalAlignmentOptions o;
  o.lr = 0;
  try {
    o.Check();
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("lr"), std::string::npos);
  }
  o = GlobalAlignmentOptions();
  o.fixed_focal_px = -1.0;
  EXPECT_THROW(o.Check(), InputError);
  PairwisePointmaps p = G1Pairs();
  p.edges.pop_back();
  try {
    PointCloudOptimizer opt(p, GlobalAlignmentOptions());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("pts_i"), std::string::npos);
  }
  p = G1Pairs();
  p.edges[0] = {1, 1};
  EXPECT_THROW(PointCloudOptimizer(p, GlobalAlignmentOptions()), InputError);
}

}  // namespace
}  // namespace vanelia::model
