// MUSt3R video-mode benchmark: random weights in the real MUSt3R_512 sizes
// (ViT-L encoder 1024/24/16, ViT-B decoder 768/12/12, kv memory, single_mlp
// feedback, linear head), video mode as upstream's must3r_inference_video.
//
//   must3r_bench [--size 224|512] [--height H] [--width W] [--frames N]
//                [--device cpu|cuda] [--dtype fp32|bf16|fp16]
//                [--encoder-dtype fp32|bf16|fp16] [--tf32 0|1]
//                [--encoder-tf32 0|1] [--sync-each-call 0|1]
//                [--attention fused|reference] [--init 8] [--batch 4]
//                [--local-context 25] [--keyframe-every 3] [--max-bs 8]
//                [--encoder-batch 32] [--repetitions 1] [--warmup 1]
//                [--warmup-frames 24]
//
// The workload: --device cuda --dtype bf16 --frames 300 (512x288)
// and --frames 100 --height 384 (512x384). --dtype is the decoder's
// (upstream's autocast dtype); --encoder-dtype defaults to fp32 as upstream
// (its encoder and head are autocast-off regions). Prints one JSON line per
// run: frames/s over the whole loop (median of the repetitions, warm-up
// untimed), peak GPU memory, and the time split of one extra run whose clock
// reads synchronize the device (encoder / decoder / postprocess /
// bookkeeping). Sanity: every output is finite.
#include "vanelia/model/must3r/must3r.hpp"
#include "vanelia/model/must3r/must3r_video.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <torch/torch.h>

#ifdef VANELIA_BENCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/cuda.h>
#endif

#include "bench_harness.hpp"

namespace {

using vanelia::model::Must3rModel;

struct Args {
  int size = 512;
  int height = 0;
  int width = 0;
  int frames = 4;
  std::string device = "cpu";
  std::string dtype = "fp32";
  std::string encoder_dtype = "fp32";
  int tf32 = 0;
  int encoder_tf32 = 0;
  int sync_each_call = 1;
  std::string attention = "fused";
  int init = 8;
  int batch = 4;
  int local_context = 25;
  int keyframe_every = 3;
  int max_bs = 8;
  int encoder_batch = 32;
  int repetitions = 1;
  int warmup = 1;
  int warmup_frames = 24;
};

constexpr const char* kUsage =
    "usage: must3r_bench [--size 224|512] [--height H] [--width W] "
    "[--frames N]\n"
    "  [--device cpu|cuda] [--dtype fp32|bf16|fp16] "
    "[--encoder-dtype fp32|bf16|fp16]\n"
    "  [--tf32 0|1] [--encoder-tf32 0|1] [--sync-each-call 0|1]\n"
    "  [--attention fused|reference] [--init 8] [--batch 4] "
    "[--local-context 25]\n"
    "  [--keyframe-every 3] [--max-bs 8] [--encoder-batch 32] "
    "[--repetitions 1]\n"
    "  [--warmup 1] [--warmup-frames 24]\n"
    "MUSt3R video mode with random weights in MUSt3R_512's sizes; one JSON "
    "line per run.\n";

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
    else if (k == "--dtype")
      a.dtype = v;
    else if (k == "--encoder-dtype")
      a.encoder_dtype = v;
    else if (k == "--tf32")
      a.tf32 = std::stoi(v);
    else if (k == "--encoder-tf32")
      a.encoder_tf32 = std::stoi(v);
    else if (k == "--sync-each-call")
      a.sync_each_call = std::stoi(v);
    else if (k == "--attention")
      a.attention = v;
    else if (k == "--init")
      a.init = std::stoi(v);
    else if (k == "--batch")
      a.batch = std::stoi(v);
    else if (k == "--local-context")
      a.local_context = std::stoi(v);
    else if (k == "--keyframe-every")
      a.keyframe_every = std::stoi(v);
    else if (k == "--max-bs")
      a.max_bs = std::stoi(v);
    else if (k == "--encoder-batch")
      a.encoder_batch = std::stoi(v);
    else if (k == "--repetitions")
      a.repetitions = std::stoi(v);
    else if (k == "--warmup")
      a.warmup = std::stoi(v);
    else if (k == "--warmup-frames")
      a.warmup_frames = std::stoi(v);
    else {
      std::fprintf(stderr, "unknown option %s\n%s", k.c_str(), kUsage);
      std::exit(2);
    }
  }
  if (a.height == 0) a.height = a.size == 224 ? 224 : 288;
  if (a.width == 0) a.width = a.size == 224 ? 224 : 512;
  return a;
}

torch::Dtype ParseDtype(const std::string& name) {
  if (name == "bf16") return torch::kBFloat16;
  if (name == "fp16") return torch::kFloat16;
  if (name == "fp32") return torch::kFloat32;
  std::fprintf(stderr, "dtype %s; must be fp32, bf16 or fp16\n", name.c_str());
  std::exit(2);
}

void SetTf32(bool allow) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  at::globalContext().setAllowTF32CuBLAS(allow);
  at::globalContext().setAllowTF32CuDNN(allow);
#pragma GCC diagnostic pop
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = ParseArgs(argc, argv);
  torch::manual_seed(0);
  vanelia::EncoderConfig enc;
  enc.img_size_h = enc.img_size_w = args.size;
  enc.embed_dim = 1024;
  enc.depth = 24;
  enc.num_heads = 16;
  enc.patch_embed = vanelia::PatchEmbedKind::kManyAr;
  vanelia::DecoderConfig dec;
  dec.img_size_h = dec.img_size_w = args.size;
  dec.enc_embed_dim = 1024;
  dec.embed_dim = 768;
  dec.depth = 12;
  dec.num_heads = 12;
  dec.memory_mode = vanelia::MemoryMode::kKv;
  dec.feedback_type = vanelia::FeedbackType::kSingleMlp;
  Must3rModel model = vanelia::model::MakeMust3rModel(enc, dec);
  const torch::Device device(args.device);
  SetTf32(args.tf32 != 0);
  model.To(device, ParseDtype(args.encoder_dtype), ParseDtype(args.dtype));
  model.encoder_tf32 = args.encoder_tf32 != 0;
  model.SetAttentionBackend(args.attention == "reference"
                                ? vanelia::model::AttentionBackend::kReference
                                : vanelia::model::AttentionBackend::kFused);
  const int64_t h = args.height;
  const int64_t w = args.width;
  const torch::Tensor images =
      (torch::rand({args.frames, 3, h, w}) * 2 - 1).to(device);
  vanelia::model::Must3rVideoOptions options;
  options.init_num_images = args.init;
  options.batch_num_views = args.batch;
  options.local_context_size = args.local_context;
  options.keyframe_every = args.keyframe_every;
  options.max_batch = args.max_bs;
  options.encoder_batch = args.encoder_batch;
  options.sync_each_call = args.sync_each_call != 0;

  std::function<void()> sync = [] {};
#ifdef VANELIA_BENCH_CUDA
  if (device.is_cuda()) sync = [] { torch::cuda::synchronize(); };
#endif

  torch::NoGradGuard no_grad;
  bool sane = true;
  auto run_once = [&](const vanelia::model::Must3rVideoOptions& o) {
    const auto r = vanelia::model::RunMust3rVideo(model, images, o);
    sane = sane && torch::isfinite(r.frames.pts3d).all().item<bool>() &&
           torch::isfinite(r.frames.c2w).all().item<bool>();
    sync();
    return r.timings;
  };
  // Warm-up on a short prefix (handles, kernels, allocator pool).
  for (int i = 0; i < args.warmup; ++i) {
    vanelia::model::RunMust3rVideo(
        model,
        images.narrow(0, 0, std::min(args.frames, args.warmup_frames)),
        options);
    sync();
  }
#ifdef VANELIA_BENCH_CUDA
  if (device.is_cuda()) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(
        device.index() < 0 ? 0 : device.index());
  }
#endif
  std::vector<double> each;
  const auto loop = vanelia::bench::Measure(
      [&] {
        const auto start = std::chrono::steady_clock::now();
        run_once(options);
        each.push_back(std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start)
                           .count());
      },
      args.repetitions,
      0);
  double peak_allocated_mib = 0.0;
  double peak_reserved_mib = 0.0;
#ifdef VANELIA_BENCH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(
        device.index() < 0 ? 0 : device.index());
    peak_allocated_mib =
        static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);
    peak_reserved_mib =
        static_cast<double>(stats.reserved_bytes[0].peak) / (1024.0 * 1024.0);
  }
#endif
  vanelia::model::Must3rVideoOptions timed = options;
  timed.timing_sync = sync;
  const auto split = run_once(timed);
  vanelia::bench::Report(
      "must3r_video_" + std::to_string(w) + "x" + std::to_string(h) + "_" +
          args.device + "_" + args.dtype + "_enc_" + args.encoder_dtype +
          (args.tf32 != 0 ? "_tf32" : "") +
          (args.encoder_tf32 != 0 ? "_enctf32" : "") +
          (args.sync_each_call != 0 ? "" : "_nosync") + "_" + args.attention,
      loop,
      {{"frames", static_cast<double>(args.frames)},
       {"height", static_cast<double>(h)},
       {"width", static_cast<double>(w)},
       {"s_per_frame", loop.median_s / args.frames},
       {"frames_per_s", args.frames / loop.median_s},
       {"first_run_frames_per_s", args.frames / each.front()},
       {"peak_allocated_mib", peak_allocated_mib},
       {"peak_reserved_mib", peak_reserved_mib},
       {"split_encoder_s", split.encoder_s},
       {"split_decoder_s", split.decoder_s},
       {"split_postprocess_s", split.postprocess_s},
       {"split_bookkeeping_s", split.bookkeeping_s},
       {"threads", static_cast<double>(torch::get_num_threads())}},
      sane);
  return sane ? 0 : 1;
}
