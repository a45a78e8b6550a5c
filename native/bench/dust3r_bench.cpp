// DUSt3R pairs + global alignment benchmark: random weights in the real
// DUSt3R_ViTLarge_BaseDecoder_512_dpt sizes (ViT-L encoder 1024/24/16, ViT-B
// decoder 768/12/12, DPT heads; --size 224 uses the 224 checkpoint's linear
// head), then upstream's PointCloudOptimizer protocol.
//
//   dust3r_bench [--size 512|224] [--height H] [--width W] [--frames N]
//                [--device cpu|cuda] [--scene-graph swin|logwin|oneref]
//                [--window 3] [--iterations 300] [--lr 0.01]
//                [--schedule cosine|linear] [--pair-batch 8]
//                [--encoder-batch 8] [--attention fused|reference]
//                [--tf32 0|1] [--threads 0] [--repetitions 1] [--warmup 1]
//                [--network 1|0]
//
// One timed run = encode every frame once, decode every directed pair of
// the scene graph (symmetrised as make_pairs(symmetrize=True)) in batches,
// then MST init + `iterations` Adam steps on the pairwise pointmaps. With
// random weights the network's pointmaps carry no geometry (upstream's init
// takes log of a focal <= 0 and turns NaN), so, as native/bench/
// dust3r_upstream_bench.py does on the same frames, the alignment runs on
// synthetic pointmaps of the same shapes (SyntheticPairs: a pinhole camera
// sliding along x over a wavy depth field, conf in [1.5, 5.5]), built after
// the network and inside the timed region. float32 throughout, TF32 off by
// default. Prints one JSON line: frames/s (median of the repetitions,
// warm-up untimed), pairs, the split network / alignment of one extra run.
// Sanity: no NaN in the network's outputs, every final pose finite, and the
// recovered camera centres ordered along x as the synthetic cameras are.
// --network 0 times the alignment alone (no network, no encoder weights
// run); split_init_s / split_adam_s / adam_step_ms split the alignment of
// the extra run into the MST init and the Adam loop.
#include "vanelia/model/checkpoint/model_config.hpp"
#include "vanelia/model/dust3r/dust3r.hpp"
#include "vanelia/model/dust3r/global_alignment.hpp"
#include "vanelia/model/dust3r/scene_graph.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#ifdef VANELIA_BENCH_CUDA
#include <torch/cuda.h>
#endif

#include "bench_harness.hpp"

namespace {

namespace vm = vanelia::model;

struct Args {
  int size = 512;
  int height = 0;
  int width = 0;
  int frames = 30;
  std::string device = "cpu";
  std::string scene_graph = "swin";
  int window = 3;
  int iterations = 300;
  double lr = 0.01;
  std::string schedule = "cosine";
  int pair_batch = 8;
  int encoder_batch = 8;
  std::string attention = "fused";
  int tf32 = 0;
  int threads = 0;  // CPU threads; 0 leaves LibTorch's default
  int repetitions = 1;
  int warmup = 1;
  int network = 1;  // 0: alignment only
};

constexpr const char* kUsage =
    "usage: dust3r_bench [--size 512|224] [--height H] [--width W] "
    "[--frames N]\n"
    "  [--device cpu|cuda] [--scene-graph swin|logwin|oneref] [--window 3]\n"
    "  [--iterations 300] [--lr 0.01] [--schedule cosine|linear]\n"
    "  [--pair-batch 8] [--encoder-batch 8] [--attention fused|reference]\n"
    "  [--tf32 0|1] [--threads 0] [--repetitions 1] [--warmup 1]\n"
    "  [--network 1|0]\n"
    "DUSt3R pairs + global alignment with random weights in the released "
    "checkpoints' sizes; one JSON line.\n";

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "-h" || k == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "option %s needs a value\n%s", k.c_str(), kUsage);
      std::exit(2);
    }
    const std::string v = argv[i + 1];
    if (k == "--size")
      a.size = std::stoi(v);
    else if (k == "--height")
      a.height = std::stoi(v);
    else if (k == "--width")
      a.width = std::stoi(v);
    else if (k == "--frames")
      a.frames = std::stoi(v);
    else if (k == "--device")
      a.device = v;
    else if (k == "--scene-graph")
      a.scene_graph = v;
    else if (k == "--window")
      a.window = std::stoi(v);
    else if (k == "--iterations")
      a.iterations = std::stoi(v);
    else if (k == "--lr")
      a.lr = std::stod(v);
    else if (k == "--schedule")
      a.schedule = v;
    else if (k == "--pair-batch")
      a.pair_batch = std::stoi(v);
    else if (k == "--encoder-batch")
      a.encoder_batch = std::stoi(v);
    else if (k == "--attention")
      a.attention = v;
    else if (k == "--tf32")
      a.tf32 = std::stoi(v);
    else if (k == "--threads")
      a.threads = std::stoi(v);
    else if (k == "--repetitions")
      a.repetitions = std::stoi(v);
    else if (k == "--warmup")
      a.warmup = std::stoi(v);
    else if (k == "--network")
      a.network = std::stoi(v);
    else {
      std::fprintf(stderr, "unknown option %s\n%s", k.c_str(), kUsage);
      std::exit(2);
    }
  }
  if (a.height == 0) a.height = a.size == 224 ? 224 : 288;
  if (a.width == 0) a.width = a.size == 224 ? 224 : 512;
  return a;
}

// The released checkpoints' constructor strings (args.model).
std::string ModelString(int size) {
  const std::string common =
      "pos_embed='RoPE100', patch_embed_cls='ManyAR_PatchEmbed', "
      "output_mode='pts3d', depth_mode=('exp', -inf, inf), "
      "conf_mode=('exp', 1, inf), enc_embed_dim=1024, enc_depth=24, "
      "enc_num_heads=16, dec_embed_dim=768, dec_depth=12, dec_num_heads=12";
  if (size == 224) {
    return "AsymmetricCroCo3DStereo(img_size=(224, 224), head_type='linear', " +
           common + ")";
  }
  return "AsymmetricCroCo3DStereo(img_size=(512, 512), head_type='dpt', " +
         common + ")";
}

void SetTf32(bool allow) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  at::globalContext().setAllowTF32CuBLAS(allow);
  at::globalContext().setAllowTF32CuDNN(allow);
#pragma GCC diagnostic pop
}

// Camera k at world (kStep * k, 0, 0), no rotation, focal 0.8 W, principal
// point (W/2, H/2); depth_k(u, v) = 3 + 0.5 sin(0.03 u + 0.2 k) cos(0.04 v)
// and conf_k = 1.5 + 4 (0.5 + 0.5 sin(0.013 u + 0.017 v + 0.3 k)), u the
// column, v the row. Edge (i, j): image i's points and image j's points in
// camera i's frame. dust3r_upstream_bench.py builds the same arrays.
constexpr double kStep = 0.05;

std::pair<torch::Tensor, torch::Tensor> SyntheticView(int64_t k,
                                                      int64_t h,
                                                      int64_t w,
                                                      torch::Device device) {
  const auto opts =
      torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const torch::Tensor v = torch::arange(h, opts).view({h, 1}).expand({h, w});
  const torch::Tensor u = torch::arange(w, opts).view({1, w}).expand({h, w});
  const double f = 0.8 * static_cast<double>(w);
  const torch::Tensor depth =
      3.0 + 0.5 * torch::sin(0.03 * u + 0.2 * k) * torch::cos(0.04 * v);
  const torch::Tensor pts = torch::stack(
      {depth * (u - w / 2.0) / f, depth * (v - h / 2.0) / f, depth}, -1);
  const torch::Tensor conf =
      1.5 + 4.0 * (0.5 + 0.5 * torch::sin(0.013 * u + 0.017 * v + 0.3 * k));
  return {pts, conf};
}

vm::PairwisePointmaps SyntheticPairs(
    const std::vector<std::pair<int64_t, int64_t>>& edges,
    int64_t n,
    int64_t h,
    int64_t w,
    torch::Device device) {
  std::vector<torch::Tensor> pts;
  std::vector<torch::Tensor> conf;
  for (int64_t k = 0; k < n; ++k) {
    auto [p, c] = SyntheticView(k, h, w, device);
    pts.push_back(p);
    conf.push_back(c);
  }
  std::vector<torch::Tensor> pi, pj, ci, cj;
  for (const auto& [i, j] : edges) {
    const auto opts =
        torch::TensorOptions().dtype(torch::kFloat32).device(device);
    const torch::Tensor offset = torch::tensor(
        {static_cast<float>(kStep * static_cast<double>(j - i)), 0.f, 0.f},
        opts);
    pi.push_back(pts[i]);
    pj.push_back(pts[j] + offset);
    ci.push_back(conf[i]);
    cj.push_back(conf[j]);
  }
  vm::PairwisePointmaps pairs;
  pairs.edges = edges;
  pairs.pts_i = torch::stack(pi);
  pairs.pts_j = torch::stack(pj);
  pairs.conf_i = torch::stack(ci);
  pairs.conf_j = torch::stack(cj);
  return pairs;
}

struct RunResult {
  double network_s = 0.0;
  double alignment_s = 0.0;
  double init_s = 0.0;
  double adam_s = 0.0;
  bool sane = true;
  double median_step = 0.0;
};

}  // namespace

int main(int argc, char** argv) {
  const Args args = ParseArgs(argc, argv);
  torch::manual_seed(0);
  if (args.threads > 0) torch::set_num_threads(args.threads);
  const vanelia::Dust3rConfig config =
      vanelia::ParseDust3rConfigString(ModelString(args.size), "bench model");
  vm::Dust3rModel model = vm::MakeDust3rModel(config);
  const torch::Device device(args.device);
  SetTf32(args.tf32 != 0);
  model.To(device);
  model.SetAttentionBackend(args.attention == "reference"
                                ? vm::AttentionBackend::kReference
                                : vm::AttentionBackend::kFused);
  const int64_t h = args.height;
  const int64_t w = args.width;
  const int64_t n = args.frames;
  const torch::Tensor images = (torch::rand({n, 3, h, w}) * 2 - 1).to(device);
  const auto edges = vm::Symmetrize(
      vm::MakePairs(n,
                    vm::SceneGraphFromName(args.scene_graph, "--scene-graph"),
                    args.window));
  vm::GlobalAlignmentOptions align;
  align.iterations = args.iterations;
  align.lr = args.lr;
  align.schedule = args.schedule == "linear" ? vm::LrSchedule::kLinear
                                             : vm::LrSchedule::kCosine;
  align.Check();

  std::function<void()> sync = [] {};
#ifdef VANELIA_BENCH_CUDA
  if (device.is_cuda()) sync = [] { torch::cuda::synchronize(); };
#endif
  auto now = [] { return std::chrono::steady_clock::now(); };
  auto seconds = [](auto a, auto b) {
    return std::chrono::duration<double>(b - a).count();
  };

  auto run_once = [&]() {
    RunResult r;
    const auto t0 = now();
    if (args.network != 0) {
      torch::NoGradGuard no_grad;
      std::vector<torch::Tensor> tokens;
      std::vector<torch::Tensor> positions;
      for (int64_t b = 0; b < n; b += args.encoder_batch) {
        const int64_t m = std::min<int64_t>(args.encoder_batch, n - b);
        const vm::EncoderOutput e = model.Encode(images.narrow(0, b, m));
        for (int64_t k = 0; k < m; ++k) {
          tokens.push_back(e.tokens[k]);
          positions.push_back(e.positions[k]);
        }
      }
      torch::Tensor nan_count = torch::zeros({}, torch::kInt64).to(device);
      const int64_t num_edges = static_cast<int64_t>(edges.size());
      for (int64_t b = 0; b < num_edges; b += args.pair_batch) {
        const int64_t m = std::min<int64_t>(args.pair_batch, num_edges - b);
        std::vector<torch::Tensor> t1, p1, t2, p2;
        for (int64_t k = b; k < b + m; ++k) {
          t1.push_back(tokens[edges[k].first]);
          p1.push_back(positions[edges[k].first]);
          t2.push_back(tokens[edges[k].second]);
          p2.push_back(positions[edges[k].second]);
        }
        const vm::Dust3rPairOutput out =
            model.Decode({torch::stack(t1), torch::stack(p1)},
                         h,
                         w,
                         {torch::stack(t2), torch::stack(p2)},
                         h,
                         w);
        nan_count +=
            out.view1.pts3d.isnan().sum() + out.view2.pts3d.isnan().sum() +
            out.view1.conf.isnan().sum() + out.view2.conf.isnan().sum();
      }
      r.sane = nan_count.item<int64_t>() == 0;
    }
    sync();
    const auto t1 = now();
    vm::PointCloudOptimizer optimizer(SyntheticPairs(edges, n, h, w, device),
                                      align);
    optimizer.InitMst();
    sync();
    const auto t_init = now();
    optimizer.Optimize();
    const vm::AlignmentState state = optimizer.State();
    sync();
    const auto t2 = now();
    r.network_s = seconds(t0, t1);
    r.alignment_s = seconds(t1, t2);
    r.init_s = seconds(t1, t_init);
    r.adam_s = seconds(t_init, t2);
    const torch::Tensor c2w = state.c2w.to(torch::kCPU);
    const torch::Tensor x = c2w.select(2, 3).select(1, 0);
    const torch::Tensor step = x.narrow(0, 1, n - 1) - x.narrow(0, 0, n - 1);
    r.median_step = step.median().item<double>();
    // Centres along +x or all along -x (the world's orientation is free).
    const bool ordered =
        (step > 0).all().item<bool>() || (step < 0).all().item<bool>();
    r.sane = r.sane && torch::isfinite(c2w).all().item<bool>() && ordered;
    return r;
  };

  for (int i = 0; i < args.warmup; ++i) run_once();
  bool sane = true;
  const auto loop = vanelia::bench::Measure(
      [&] { sane = run_once().sane && sane; }, args.repetitions, 0);
  const RunResult split = run_once();
  sane = sane && split.sane;
  vanelia::bench::Report(
      "dust3r_pairs_align_" + std::to_string(w) + "x" + std::to_string(h) +
          "_" + args.device + "_fp32" + (args.tf32 != 0 ? "_tf32" : "") + "_" +
          config.head_type + "_" + args.scene_graph +
          std::to_string(args.window) + "_" + args.attention,
      loop,
      {{"frames", static_cast<double>(n)},
       {"pairs_directed", static_cast<double>(edges.size())},
       {"height", static_cast<double>(h)},
       {"width", static_cast<double>(w)},
       {"iterations", static_cast<double>(args.iterations)},
       {"s_per_frame", loop.median_s / n},
       {"frames_per_s", n / loop.median_s},
       {"split_network_s", split.network_s},
       {"split_alignment_s", split.alignment_s},
       {"split_init_s", split.init_s},
       {"split_adam_s", split.adam_s},
       {"adam_step_ms", 1e3 * split.adam_s / std::max(1, args.iterations)},
       {"median_camera_step", split.median_step},
       {"threads", static_cast<double>(torch::get_num_threads())}},
      sane);
  return sane ? 0 : 1;
}
